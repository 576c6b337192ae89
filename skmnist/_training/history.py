"""A network's training history and scikit-learn's MLP stopping rules."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .optimizers import OptimizerConfig

__all__ = ["StoppingConfig", "TrainingState", "no_progress", "record_epoch"]


@dataclass
class StoppingConfig:
    """When to stop before ``max_iter`` epochs (scikit-learn's MLP rules)."""

    tol: float = 1e-4
    n_iter_no_change: int | float = 10
    early_stopping: bool = False


@dataclass
class TrainingState:
    """Everything the training history consists of; survives partial_fit calls."""

    loss_curve: list[float] = field(default_factory=list)
    validation_scores: list[float] = field(default_factory=list)
    best_loss: float = math.inf
    best_validation_score: float = -math.inf
    no_improvement_count: int = 0
    n_iter: int = 0
    t: int = 0
    learning_rate: float | None = None
    converged: bool = False
    diverged: bool = False
    interrupted: bool = False
    stopped_by_callback: bool = False
    final_loss: float | None = None


def record_epoch(
    state: TrainingState, loss: float, score: float | None, tol: float
) -> bool:
    """Append an epoch to the history; True when it is the best validation epoch."""
    state.n_iter += 1
    state.loss_curve.append(loss)
    best = False
    if score is None:
        improved = loss < state.best_loss - tol
        state.best_loss = min(state.best_loss, loss)
    else:
        state.validation_scores.append(score)
        improved = score > state.best_validation_score + tol
        best = score > state.best_validation_score
        state.best_validation_score = max(state.best_validation_score, score)
    state.no_improvement_count = 0 if improved else state.no_improvement_count + 1
    return best


def no_progress(
    state: TrainingState,
    stopping: StoppingConfig,
    config: OptimizerConfig,
    verbose: int,
) -> bool:
    """scikit-learn's rule: stop after n_iter_no_change epochs without progress.

    With the "adaptive" schedule the learning rate is divided by 5 instead,
    until it falls below 1e-6.
    """
    if state.no_improvement_count <= stopping.n_iter_no_change:
        return False
    if config.learning_rate == "adaptive" and state.learning_rate > 1e-6:
        state.learning_rate /= 5.0
        state.no_improvement_count = 0
        if verbose:
            print(f"Setting learning rate to {state.learning_rate:.6g}")
        return False
    if verbose:
        what = "Validation score" if state.validation_scores else "Training loss"
        print(
            f"{what} did not improve more than tol={stopping.tol} for "
            f"{stopping.n_iter_no_change} consecutive epochs. Stopping."
        )
    return True
