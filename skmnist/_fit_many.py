"""Fitting many MLPDigitClassifiers as few batched networks (see ``fit_many``).

The estimators are planned as their ``fit`` plans them and grouped by what
their networks must share to train as one stack
(:func:`skmnist._training.fit.stack_key`); each group trains together, in
the engine's one epoch loop. L-BFGS and multilabel fits are fitted one by
one.
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from ._fit_plan import interruption, plan_fit
from ._fitted_state import restore_attributes, saved_attributes
from ._training.fit import stack_key, train
from ._training.loop import TrainingInterrupted
from ._user_warning import warn_user
from .classifier import MLPDigitClassifier


def _plan(estimator: MLPDigitClassifier, X, y, weight):
    """Validate as ``fit`` does, and plan the fit (a warm one continues)."""
    estimator._validate_params()
    incremental = estimator.warm_start and hasattr(estimator, "module_")
    return plan_fit(estimator, X, y, weight, None, incremental, False)


def _fit_models(
    estimators: list, datasets: Sequence, max_models: int, failures: dict | None = None
) -> None:
    """Fit ``estimators`` in place, batching those that can train together.

    Without ``failures`` the first error propagates. With a dict, the
    estimators train as far as they can, as separate fits would: one that
    fails is left as it was and ``failures[index]`` holds its traceback; a
    batch that fails as a whole (e.g. out of memory) is fitted again one model
    at a time, with a warning.

    A ``KeyboardInterrupt`` propagates, with each estimator as its own
    interrupted ``fit`` would leave it: those fitted keep their fit, those
    interrupted after a complete epoch keep their complete epochs, and the
    others are left as they were.
    """
    saved = [saved_attributes(e) for e in estimators]
    settled: set[int] = set()  # fitted, or left consistent by their own fit
    try:
        _fit_all(estimators, datasets, max_models, failures, saved, settled)
    except KeyboardInterrupt:
        for index, estimator in enumerate(estimators):
            if index not in settled:
                restore_attributes(estimator, saved[index])
        raise


def _fit_all(estimators, datasets, max_models, failures, saved, settled) -> None:
    """:func:`_fit_models`' work; ``settled`` gains each estimator it is done with."""

    def attempt(index, action, *args, **kwargs):
        if failures is None:
            return action(*args, **kwargs)
        try:
            return action(*args, **kwargs)
        except Exception:
            restore_attributes(estimators[index], saved[index])
            failures[index] = traceback.format_exc()
            return None

    converted: dict[int, np.ndarray] = {}
    groups: dict[tuple, list] = defaultdict(list)
    for index, (estimator, dataset) in enumerate(
        zip(estimators, datasets, strict=True)
    ):
        X, y, weight = _unpack(dataset)
        if isinstance(X, np.ndarray) and X.dtype not in (np.float32, np.float64):
            # Convert shared integer images once, so folds stay shared.
            X = converted.setdefault(id(X), np.ascontiguousarray(X, np.float32))
        if estimator.solver == "lbfgs" or np.ndim(y) == 2:  # not stackable
            settled.add(index)  # its fit restores it, or keeps its epochs
            attempt(index, estimator.fit, X, y, sample_weight=weight)
            continue
        plan = attempt(index, _plan, estimator, X, y, weight)
        if plan is not None:
            # A job that cannot stack trains alone, in a group of its own.
            key = stack_key(plan.job) or ("alone", index)
            groups[key].append((index, plan, (X, y, weight)))
    for members in groups.values():
        for start in range(0, len(members), max_models):
            chunk = members[start : start + max_models]
            try:
                _fit_group([(i, estimators[i], plan) for i, plan, _ in chunk], settled)
            except Exception as error:
                if failures is None:
                    raise
                warn_user(
                    f"Training {len(chunk)} models together failed ({error}); "
                    "fitting them one at a time.",
                    UserWarning,
                )
                for i, _, (X, y, weight) in chunk:
                    restore_attributes(estimators[i], saved[i])
                    settled.add(i)
                    attempt(i, estimators[i].fit, X, y, sample_weight=weight)


def _unpack(dataset) -> tuple:
    if not isinstance(dataset, (tuple, list)) or len(dataset) not in (2, 3):
        raise ValueError(
            "each dataset must be a tuple (X, y) or (X, y, sample_weight), got "
            f"{type(dataset).__name__}"
            + (f" of length {len(dataset)}." if hasattr(dataset, "__len__") else ".")
        )
    return (*dataset, None) if len(dataset) == 2 else tuple(dataset)


def _fit_group(members: list, settled: set[int]) -> None:
    """Train the planned fits of one stack key together; store each result.

    ``members`` are ``(index, estimator, plan)``; ``settled`` gains the index
    of each estimator stored. Interrupted, the estimators with a complete
    epoch of their own keep their epochs, as in an interrupted ``fit``.
    """
    jobs = [plan.job for _, _, plan in members]
    for job in jobs:
        job.run.verbose = 0  # verbose is ignored in batched fits
    try:
        outcomes = train(jobs)
    except TrainingInterrupted as interrupted:
        for (index, estimator, plan), outcome in zip(
            members, interrupted.outcomes, strict=True
        ):
            if interruption(plan, outcome)[0]:
                estimator._finish_fit(plan, outcome, False)
                settled.add(index)
        raise KeyboardInterrupt(
            "fit_many was interrupted; each model keeps its complete epochs, "
            "or is left as it was before the call if it had none."
        ) from None
    for (index, estimator, plan), outcome in zip(members, outcomes, strict=True):
        estimator._finish_fit(plan, outcome, False)
        settled.add(index)
