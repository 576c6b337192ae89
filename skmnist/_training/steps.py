"""The step plug-ins of the epoch loop, and the steps of a single network.

The loop (:func:`~skmnist._training.loop.train_epochs`) owns everything
around a minibatch step: the minibatches, schedules, stopping, checkpoints,
callbacks and random streams. A step trains every network of a fit on one
minibatch each. Three kinds exist:

* :class:`SingleStep` over :class:`AutogradKernel`: one network of any kind
  (dropout, any activation, autocast, multilabel targets), differentiated by
  autograd and updated by its torch optimizer;
* :class:`SingleStep` over :class:`~skmnist._training.hand_step.FastStep`:
  one plain MLP with the backward pass written out;
* :class:`~skmnist._training.stacked.StackedStep`: ``k > 1`` same-shaped
  networks stacked into batched matrix products.

Every step has the interface of :class:`Step`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np
import torch
from torch import nn

from .cuda_graph import graphed
from .hand_step import FastStep
from .loss import sample_losses
from .numerics import float_state
from .optimizers import set_learning_rate
from .plain_optim import plain_step
from .precision import autograd_autocast, hand_step_dtype, products_precision

__all__ = ["AutogradKernel", "SingleStep", "Step", "single_step"]


class Step(Protocol):
    """What the epoch loop asks of a step plug-in (``k`` networks)."""

    n_networks: int
    #: What the matrix products run in: ``"bfloat16"``, else the dtype's name.
    precision: str

    def begin_epoch(self, rates: np.ndarray, counts: np.ndarray) -> None:
        """Take the epoch's ``(n_steps, k)`` learning rates and rows per step.

        A network with 0 rows in a step is left exactly as it is by that step.
        """

    def __call__(
        self,
        index: int,
        X: torch.Tensor,
        y: torch.Tensor,
        weight: torch.Tensor | None,
        log_likelihood: torch.Tensor,
    ) -> None:
        """Train on minibatch ``index`` of the epoch: ``X`` is ``(k, rows, d)``.

        Minus each sample's (weighted) loss is written into ``log_likelihood``
        (``(k, rows)``).
        """

    def parameters(self, network: int) -> list[torch.Tensor]:
        """Tensors holding network ``network``'s weights (for checkpoints)."""

    def network(self, network: int) -> nn.Module:
        """Network ``network`` as a module with its current weights."""

    def reset_optimizer(self, network: int) -> None:
        """Forget network ``network``'s optimizer state (after divergence)."""

    def float_state(self) -> Iterable[torch.Tensor]:
        """Parameters and moments, for the subnormal flush."""

    def finish(self) -> None:
        """Leave the final weights in the modules, in evaluation mode."""


class AutogradKernel:
    """Forward, autograd backward and optimizer step of one network."""

    row_dtype = None  # the minibatches' own

    def __init__(
        self,
        module: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        autocast: Callable[[], contextlib.AbstractContextManager],
        label_smoothing: float,
    ) -> None:
        self.module, self.optimizer = module, optimizer
        self.autocast, self.label_smoothing = autocast, label_smoothing
        self.parameters = list(module.parameters())
        self.precision = products_precision(autocast, self.parameters[0].dtype)

    def __call__(self, X, y, weight, log_likelihood) -> None:
        with self.autocast():
            logits = self.module(X)
        losses = sample_losses(
            logits.to(log_likelihood.dtype), y, weight, self.label_smoothing
        )
        for parameter in self.parameters:
            parameter.grad = None
        (losses.sum() / len(y)).backward()
        plain_step(self.optimizer)
        torch.neg(losses.detach(), out=log_likelihood)


class SingleStep:
    """The step of a single network (``k = 1``) around a kernel.

    The kernel (:class:`AutogradKernel` or
    :class:`~skmnist._training.hand_step.FastStep`) trains one minibatch at
    the learning rate set in the optimizer.
    """

    n_networks = 1

    def __init__(
        self, module: nn.Module, optimizer: torch.optim.Optimizer, kernel: Callable
    ) -> None:
        self.module, self.optimizer, self.kernel = module, optimizer, kernel
        self.rates: list[float] = []
        #: The dtype the kernel wants the minibatches' rows in, if not theirs.
        self.row_dtype: torch.dtype | None = kernel.row_dtype
        #: What the kernel's matrix products run in (see ``Outcome``).
        self.precision: str = kernel.precision

    def begin_epoch(self, rates: np.ndarray, counts: np.ndarray) -> None:
        self.rates = rates[:, 0].tolist()
        self.module.train()

    def __call__(self, index, X, y, weight, log_likelihood) -> None:
        set_learning_rate(self.optimizer, self.rates[index])
        self.kernel(
            X[0], y[0], None if weight is None else weight[0], log_likelihood[0]
        )

    def parameters(self, network: int) -> list[torch.Tensor]:
        return list(self.module.state_dict().values())  # aliases, updated in place

    def network(self, network: int) -> nn.Module:
        return self.module

    def reset_optimizer(self, network: int) -> None:
        self.optimizer.state.clear()  # its moments are no longer finite either

    def float_state(self) -> Iterable[torch.Tensor]:
        return float_state(self.module, self.optimizer)

    def finish(self) -> None:
        release = getattr(self.kernel, "release", None)
        if release is not None:  # a CUDA graph's memory
            release()
        self.module.eval()


def single_step(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    multilabel: bool,
    label_smoothing: float,
    precision: str = "auto",
) -> SingleStep:
    """The fastest step that trains ``module``: hand-derived where it can be.

    The hand-derived step knows plain MLPs with a softmax cross-entropy; it
    multiplies in bfloat16 where ``precision`` says so
    (:func:`~skmnist._training.precision.hand_step_dtype`); on a GPU it is
    replayed from a CUDA graph (:mod:`.cuda_graph`). Other networks take the
    autograd step, under the autocast ``precision`` asks for
    (:func:`~skmnist._training.precision.autograd_autocast`).
    """
    parameter = next(module.parameters())
    device, dtype = parameter.device, parameter.dtype
    kernel = (
        None
        if multilabel
        else FastStep.create(
            module,
            optimizer,
            autocast=False,
            label_smoothing=label_smoothing,
            matmul_dtype=hand_step_dtype(precision, device, dtype),
        )
    )
    if kernel is not None:
        kernel = graphed(kernel, optimizer, device)
    else:
        kernel = AutogradKernel(
            module,
            optimizer,
            autocast=autograd_autocast(device, dtype, precision),
            label_smoothing=label_smoothing,
        )
    return SingleStep(module, optimizer, kernel)
