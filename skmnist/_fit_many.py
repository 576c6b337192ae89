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

from ._fit_plan import plan_fit
from ._training.fit import stack_key, train
from ._user_warning import warn_user
from .classifier import MLPDigitClassifier


def _restore(estimator: MLPDigitClassifier, state: dict) -> None:
    estimator.__dict__.clear()
    estimator.__dict__.update(state)


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
    """
    saved = [dict(e.__dict__) for e in estimators]

    def attempt(index, action, *args, **kwargs):
        if failures is None:
            return action(*args, **kwargs)
        try:
            return action(*args, **kwargs)
        except Exception:
            _restore(estimators[index], saved[index])
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
                _fit_group([(estimators[i], plan) for i, plan, _ in chunk])
            except Exception as error:
                if failures is None:
                    raise
                warn_user(
                    f"Training {len(chunk)} models together failed ({error}); "
                    "fitting them one at a time.",
                    UserWarning,
                )
                for i, _, (X, y, weight) in chunk:
                    _restore(estimators[i], saved[i])
                    attempt(i, estimators[i].fit, X, y, sample_weight=weight)


def _unpack(dataset) -> tuple:
    if not isinstance(dataset, (tuple, list)) or len(dataset) not in (2, 3):
        raise ValueError(
            "each dataset must be a tuple (X, y) or (X, y, sample_weight), got "
            f"{type(dataset).__name__}"
            + (f" of length {len(dataset)}." if hasattr(dataset, "__len__") else ".")
        )
    return (*dataset, None) if len(dataset) == 2 else tuple(dataset)


def _fit_group(members: list) -> None:
    """Train the planned fits of one stack key together; store each result."""
    jobs = [plan.job for _, plan in members]
    for job in jobs:
        job.run.verbose = 0  # verbose is ignored in batched fits
    outcomes = train(jobs)
    for (estimator, plan), outcome in zip(members, outcomes, strict=True):
        estimator._finish_fit(plan, outcome, False)
