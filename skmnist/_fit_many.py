"""Fitting many MLPDigitClassifiers as few batched networks (see ``fit_many``).

The estimators are grouped by network shape and training loop; each group
trains as one batched network (:func:`skmnist._batched.train_batched`), the
others are fitted one by one.
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch

from ._training import engine as _engine
from ._training import stacked as _batched
from ._user_warning import warn_user
from .classifier import MLPDigitClassifier


def _batchable(estimator: MLPDigitClassifier) -> bool:
    warm = estimator.warm_start and hasattr(estimator, "module_")
    return not (
        estimator.early_stopping
        or estimator.callbacks
        or estimator.augment
        or warm
        or estimator.solver == "lbfgs"
    )


def _group_key(estimator: MLPDigitClassifier, plan) -> tuple:
    arch = plan.architecture
    return (
        arch["n_features"],
        tuple(arch["hidden_layer_sizes"]),
        arch["n_outputs"],
        arch["activation"],
        plan.batch_size,
        plan.max_iter,
        estimator.shuffle,
        estimator.solver,
        estimator.nesterovs_momentum and estimator.momentum > 0,
        str(plan.device),
        plan.dtype,
        plan.precision,
    )


def _restore(estimator: MLPDigitClassifier, state: dict) -> None:
    estimator.__dict__.clear()
    estimator.__dict__.update(state)


def _plan(estimator: MLPDigitClassifier, X, y, weight):
    estimator._validate_params()
    return estimator._plan_fit(X, y, weight, None, False, False)


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
        if not _batchable(estimator) or np.ndim(y) == 2:  # lbfgs, multilabel
            attempt(index, estimator.fit, X, y, sample_weight=weight)
            continue
        plan = attempt(index, _plan, estimator, X, y, weight)
        if plan is not None:
            groups[_group_key(estimator, plan)].append((index, plan, (X, y, weight)))
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
    first_estimator, first_plan = members[0]
    device, dtype = first_plan.device, first_plan.dtype
    jobs = []
    for estimator, plan in members:
        with _engine.seeded(device, plan.seed):
            module = plan.build_module()
            random_state = _engine.get_rng_states(device)
        jobs.append(
            _batched.BatchedJob(
                module=module,
                X=plan.X,
                y=plan.y,
                weight=plan.weight,
                config=plan.optimizer_config,
                stopping=plan.stopping,
                label_smoothing=float(estimator.label_smoothing),
                dropout=float(estimator.dropout),
                random_state=random_state,
            )
        )
    seeds = [plan.seed for _, plan in members]
    dropout_seed = int(np.random.SeedSequence(seeds).generate_state(1)[0])
    with _engine.flush_denormals():
        try:
            states, optimizer = _batched.train_batched(
                jobs,
                batch_size=first_plan.batch_size,
                max_iter=first_plan.max_iter,
                shuffle=first_estimator.shuffle,
                device=device,
                dtype=dtype,
                dropout_seed=dropout_seed,
                precision=first_plan.precision,
            )
        except torch.OutOfMemoryError:
            raise MemoryError(
                f"The {device} device ran out of memory training {len(jobs)} "
                "models at once; lower max_models (or batch_size)."
            ) from None
    for index, ((estimator, plan), job, state) in enumerate(
        zip(members, jobs, states, strict=True)
    ):
        torch_optimizer = _engine.make_optimizer(job.module, plan.optimizer_config)
        optimizer.load_into(index, torch_optimizer)
        estimator._finish_fit(plan, job.module, torch_optimizer, state, False)
