"""The optimizers of a single network, their state, and the learning-rate schedule.

``alpha`` is an L2 penalty on the weights (not the biases), applied as the
optimizer's weight decay. The optimizers are ordinary torch optimizers, built
and stepped through :mod:`.plain_optim` so that torch._dynamo is never
imported.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .plain_optim import construct, plain_method

__all__ = [
    "OptimizerConfig",
    "make_optimizer",
    "optimizer_from_numpy",
    "optimizer_to_numpy",
    "resume_optimizer",
    "scheduled_rate",
    "set_learning_rate",
]


@dataclass
class OptimizerConfig:
    """Hyper-parameters of the optimizer and of the learning-rate schedule."""

    solver: str = "adam"
    learning_rate_init: float = 1e-3
    learning_rate: str = "constant"
    power_t: float = 0.5
    alpha: float = 0.0
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8


def make_optimizer(module: nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    """Create the optimizer; ``alpha`` is an L2 penalty on weights, not biases."""
    weights = [p for name, p in module.named_parameters() if name.endswith("weight")]
    others = [p for name, p in module.named_parameters() if not name.endswith("weight")]
    groups = [
        {"params": weights, "weight_decay": config.alpha},
        {"params": others, "weight_decay": 0.0},
    ]
    device = next(module.parameters()).device
    fast = {"fused": True} if device.type in ("cuda", "cpu") else {}
    lr = config.learning_rate_init
    if config.solver == "sgd":
        return construct(
            torch.optim.SGD,
            groups,
            lr=lr,
            momentum=config.momentum,
            nesterov=config.nesterovs_momentum and config.momentum > 0,
            **fast,
        )
    optimizer_class = (
        torch.optim.AdamW if config.solver == "adamw" else torch.optim.Adam
    )
    return construct(
        optimizer_class,
        groups,
        lr=lr,
        betas=(config.beta_1, config.beta_2),
        eps=config.epsilon,
        **fast,
    )


def resume_optimizer(
    optimizer: torch.optim.Optimizer, previous: torch.optim.Optimizer | None
) -> None:
    """Carry the per-parameter state (moments, step counts) of ``previous`` over.

    The hyper-parameters stay those of ``optimizer`` (the estimator's current
    parameters), the state is copied so that a failed fit cannot alter the
    previous optimizer, and nothing is carried across a change of solver.
    """
    if previous is None or type(previous) is not type(optimizer):
        return
    state = plain_method(optimizer, "state_dict")()
    state["state"] = copy.deepcopy(plain_method(previous, "state_dict")()["state"])
    plain_method(optimizer, "load_state_dict")(state)


_SOLVERS = {"Adam": "adam", "AdamW": "adamw", "SGD": "sgd"}


def optimizer_to_numpy(optimizer: torch.optim.Optimizer) -> dict:
    """The optimizer's per-parameter state (moments, step counts) as host arrays.

    Used when a pickle is asked to keep the optimizer state; the
    hyper-parameters are not stored, they come from the estimator.
    """
    return {
        "solver": _SOLVERS[type(optimizer).__name__],
        "state": {
            index: {
                key: value.detach().cpu().numpy().copy()
                if torch.is_tensor(value)
                else value
                for key, value in entries.items()
            }
            for index, entries in plain_method(optimizer, "state_dict")()[
                "state"
            ].items()
        },
    }


def optimizer_from_numpy(module: nn.Module, saved: dict) -> torch.optim.Optimizer:
    """Rebuild an optimizer over ``module`` from :func:`optimizer_to_numpy`'s output."""
    optimizer = make_optimizer(module, OptimizerConfig(solver=saved["solver"]))
    state = plain_method(optimizer, "state_dict")()
    state["state"] = {
        index: {
            key: torch.from_numpy(value) if isinstance(value, np.ndarray) else value
            for key, value in entries.items()
        }
        for index, entries in saved["state"].items()
    }
    plain_method(optimizer, "load_state_dict")(state)
    return optimizer


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def scheduled_rate(
    config: OptimizerConfig, base: float, t: int, step: int, total_steps: int
) -> float:
    if config.learning_rate == "cosine" and total_steps > 0:
        return (
            base
            * 0.5
            * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
        )
    if config.learning_rate == "invscaling":
        return base / (t + 1) ** config.power_t
    return base
