"""The training loss: weighted, label-smoothed cross-entropy, and the L2 term.

:func:`sample_losses` is the one definition of the loss that autograd
differentiates, for a single network and for stacked ones; the hand-derived
step (:mod:`.hand_step`) writes out its gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["l2_penalty", "sample_losses"]


def sample_losses(
    logits: torch.Tensor,
    y: torch.Tensor,
    weight: torch.Tensor | None,
    label_smoothing: float | torch.Tensor,
) -> torch.Tensor:
    """Each sample's label-smoothed cross-entropy, times its weight if any.

    ``logits`` are ``(n, classes)`` for one network, ``(n_models, n,
    classes)`` for stacked ones, whose ``label_smoothing`` may be a tensor
    of one value per model, shaped ``(n_models, 1)``. A float ``y`` shaped
    like the logits is a multilabel indicator matrix: each label has its own
    logistic output, and a sample's loss is the sum of its labels'
    log-losses (smoothed targets move towards 0.5).
    """
    if y.ndim == logits.ndim:
        target = (
            y
            if not label_smoothing
            else y * (1 - label_smoothing) + (0.5 * label_smoothing)
        )
        losses = F.binary_cross_entropy_with_logits(
            logits, target, reduction="none"
        ).sum(dim=-1)
    elif isinstance(label_smoothing, torch.Tensor):  # one value per stacked model
        log_proba = logits.log_softmax(dim=-1)
        nll = -log_proba.gather(-1, y.unsqueeze(-1)).squeeze(-1)
        smooth = (1 - label_smoothing) * nll - label_smoothing * log_proba.mean(dim=-1)
        losses = torch.where(label_smoothing > 0, smooth, nll)  # no 0 * inf
    else:
        losses = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            y.reshape(-1),
            reduction="none",
            label_smoothing=label_smoothing,
        ).view(y.shape)
    return losses if weight is None else losses * weight


def l2_penalty(module: nn.Module, alpha: float) -> torch.Tensor:
    """``alpha / 2`` times the squared norm of the weights (not the biases)."""
    total = sum(
        (p * p).sum()
        for name, p in module.named_parameters()
        if name.endswith("weight")
    )
    return 0.5 * alpha * total
