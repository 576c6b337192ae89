"""Full-batch training with L-BFGS (``solver="lbfgs"``)."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn

from .._user_warning import warn_user
from .data import DeviceData
from .history import TrainingState
from .loss import l2_penalty, sample_losses
from .plain_optim import construct, plain_step
from .threads import ThreadTuner

__all__ = ["train_lbfgs"]


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


#: Rows of a block of the L-BFGS objective (as many as a prediction batch).
_LBFGS_BLOCK_ROWS = 8192


def train_lbfgs(
    module: nn.Module,
    data: DeviceData,
    state: TrainingState,
    *,
    alpha: float,
    max_iter: int,
    max_fun: int,
    tol: float,
    label_smoothing: float = 0.0,
    threads: ThreadTuner | None = None,
) -> TrainingState:
    """Minimise the full-batch loss plus ``alpha / 2 * ||W||^2`` with L-BFGS.

    torch's :class:`torch.optim.LBFGS` with a strong-Wolfe line search and a
    history of 10 corrections, as scipy's L-BFGS-B that MLPClassifier uses:
    it stops when the largest gradient entry falls to ``tol``, the loss
    stops changing, ``max_iter`` iterations are done or ``max_fun`` loss
    evaluations are spent. ``state.n_iter`` gains the iterations run,
    ``state.loss_curve`` is left as it is, and ``state.converged`` tells
    whether it stopped before a budget ran out. If the loss becomes
    non-finite the weights are restored with a warning. ``threads``, when
    given, times each loss evaluation (:class:`ThreadTuner`).
    """
    parameters = list(module.parameters())
    optimizer = construct(
        torch.optim.LBFGS,
        parameters,
        lr=1.0,
        max_iter=max_iter,
        max_eval=max_fun,
        tolerance_grad=tol,
        tolerance_change=float(np.finfo(np.float64).eps * 1e7),  # scipy's ftol
        history_size=10,
        line_search_fn="strong_wolfe",
    )
    initial = _snapshot(module)
    module.train()

    n_samples = len(data)

    def objective(backward: bool) -> torch.Tensor:
        # The mean loss over blocks of rows (each block's graph freed by its
        # backward pass), so sparse data are densified a block at a time.
        total = torch.zeros((), device=data.device, dtype=data.dtype)
        for start in range(0, n_samples, _LBFGS_BLOCK_ROWS):
            rows = slice(start, min(start + _LBFGS_BLOCK_ROWS, n_samples))
            X = data.X.dense(rows) if data.sparse else data.X[rows]
            weight = None if data.weight is None else data.weight[rows]
            part = (
                sample_losses(
                    module(data.rows(X)), data.y[rows], weight, label_smoothing
                ).sum()
                / n_samples
            )
            if backward:
                part.backward()
            total += part.detach()
        penalty = l2_penalty(module, alpha)
        if backward:
            penalty.backward()
        return total + penalty.detach()

    timed = threads if threads is not None else contextlib.nullcontext()

    def closure() -> torch.Tensor:
        for parameter in parameters:
            parameter.grad = None
        with timed:
            return objective(backward=True)

    loss = float(plain_step(optimizer, closure).detach())
    with torch.no_grad():
        final = float(objective(backward=False))
    lbfgs_state = optimizer.state[next(module.parameters())]
    n_iter = int(lbfgs_state.get("n_iter", 0))
    evaluations = int(lbfgs_state.get("func_evals", 0))
    module.eval()
    if not (math.isfinite(loss) and math.isfinite(final)):
        module.load_state_dict(initial)
        state.diverged = True
        warn_user(
            f"L-BFGS diverged: the loss is {final}. The initial weights were kept. "
            "Scale the input (e.g. with PixelScaler) or raise alpha.",
            RuntimeWarning,
        )
        return state
    state.n_iter += n_iter
    state.t += n_iter * len(data)
    state.best_loss = min(state.best_loss, final)
    state.final_loss = final
    state.converged = n_iter < max_iter and evaluations < max_fun
    return state
