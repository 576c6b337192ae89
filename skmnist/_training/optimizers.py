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
        {"params": weights, "weight_decay": float(config.alpha)},
        {"params": others, "weight_decay": 0.0},
    ]
    device = next(module.parameters()).device
    fast = {"fused": True} if device.type in ("cuda", "cpu") else {}
    # Python floats: torch refuses betas of mixed types (0 and 0.999).
    lr = float(config.learning_rate_init)
    if config.solver == "sgd":
        return construct(
            torch.optim.SGD,
            groups,
            lr=lr,
            momentum=float(config.momentum),
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
        betas=(float(config.beta_1), float(config.beta_2)),
        eps=float(config.epsilon),
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


_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
#: The state torch keeps per parameter, by solver: moments, and step counts.
_STATE_KEYS = {
    "adam": {"step", "exp_avg", "exp_avg_sq"},
    "adamw": {"step", "exp_avg", "exp_avg_sq"},
    "sgd": {"momentum_buffer"},
}


def optimizer_from_numpy(module: nn.Module, saved: dict) -> torch.optim.Optimizer:
    """Rebuild an optimizer over ``module`` from :func:`optimizer_to_numpy`'s output.

    ``saved`` may come from a file: it is checked against the network first
    (see :func:`_check_saved_state`), since torch trusts a moment's shape and
    a wrong one would make the next step write past the parameter's memory.

    Raises
    ------
    ValueError
        If ``saved`` is not the state of a solver's optimizer over ``module``.

    Examples
    --------
    >>> from skmnist._training.network import build_mlp
    >>> from skmnist._training.optimizers import optimizer_from_numpy
    >>> saved = {"solver": "adam", "state": {0: {}}}
    >>> optimizer_from_numpy(build_mlp(4, (), 2), saved)
    Traceback (most recent call last):
    ...
    ValueError: The stored optimizer state has no entry for parameters [1].
    """
    solver = saved.get("solver") if isinstance(saved, dict) else None
    if solver not in _STATE_KEYS or set(saved) != {"solver", "state"}:
        raise ValueError("The stored optimizer state is not one skmnist writes.")
    optimizer = make_optimizer(module, OptimizerConfig(solver=solver))
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    _check_saved_state(parameters, solver, saved["state"])
    state = plain_method(optimizer, "state_dict")()
    state["state"] = {
        index: {key: torch.from_numpy(value) for key, value in entries.items()}
        for index, entries in saved["state"].items()
    }
    plain_method(optimizer, "load_state_dict")(state)
    return optimizer


def _check_saved_state(parameters: list, solver: str, state: object) -> None:
    """Raise ValueError unless ``state`` is the solver's state of ``parameters``.

    Every parameter (by its index) has the solver's keys: moments of its
    shape and dtype, finite (Adam's second moment non-negative), and a step
    count that is a finite whole number of at least one; or the state is
    empty (no step taken, or SGD without momentum).
    """
    indices = list(range(len(parameters)))
    if not isinstance(state, dict) or not all(type(i) is int for i in state):
        raise ValueError("The stored optimizer state is not indexed by parameter.")
    if state and sorted(state) != indices:  # empty: no step taken yet
        missing = sorted(set(indices) - set(state))
        raise ValueError(
            f"The stored optimizer state has no entry for parameters {missing}."
            if missing
            else "The stored optimizer state has "
            f"parameters {sorted(set(state) - set(indices))}, which the network lacks."
        )
    for index, entries in state.items():
        parameter = parameters[index]
        if not isinstance(entries, dict) or set(entries) != _STATE_KEYS[solver]:
            raise ValueError(
                f"The stored optimizer state of parameter {index} does not hold "
                f"{sorted(_STATE_KEYS[solver])}."
            )
        for key, value in entries.items():
            step = key == "step"
            own = _NUMPY_DTYPES[parameter.dtype]
            dtypes = (np.float32, np.float64) if step else (own,)
            shape = () if step else tuple(parameter.shape)
            if not (
                isinstance(value, np.ndarray)
                and value.shape == shape
                and value.dtype in dtypes
                and np.isfinite(value).all()
                and (
                    (value >= 1 and value == np.floor(value))
                    if step
                    else key != "exp_avg_sq" or (value >= 0).all()
                )
            ):
                raise ValueError(
                    f"The stored optimizer state {key} of parameter {index} is not "
                    + (
                        "a whole number of steps"
                        if step
                        else f"a finite array of shape {shape} and dtype "
                        f"{np.dtype(own).name}"
                        + (", non-negative" if key == "exp_avg_sq" else "")
                    )
                    + "."
                )


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
        try:
            return base / (t + 1) ** config.power_t
        except OverflowError:  # power_t=400: the rate has decayed to nothing
            return 0.0
    return base
