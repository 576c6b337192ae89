"""Searches that fit all candidates and folds together, as batched networks.

:class:`BatchedGridSearchCV` is a drop-in for :class:`~sklearn.model_selection.
GridSearchCV` over an :class:`~skmnist.MLPDigitClassifier` (or a pipeline ending
in one): instead of one small fit after another, the models of all
candidates and folds that share a network shape train at once, one batched
matrix product per layer and step (:func:`fit_many`). On a GPU that keeps the
device busy; every model still trains exactly as it would alone.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_features,
    check_is_fitted,
    indexable,
)

from . import _batched, _engine
from .classifier import MLPDigitClassifier

__all__ = ["BatchedGridSearchCV", "fit_many"]


# ------------------------------------------------------------ fit_many


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
    )


def fit_many(
    estimators: Sequence[MLPDigitClassifier],
    datasets: Sequence[tuple[Any, Any]],
    *,
    max_models: int = 64,
) -> list[MLPDigitClassifier]:
    """Fit several classifiers, each on its own data, as few batched networks.

    The estimators whose networks have the same shape and training loop
    (layer sizes, activation, batch size, ``max_iter``, ``shuffle``, solver,
    device and precision) train together, ``max_models`` at a time; any other
    parameter (learning rate and schedule, ``alpha``, betas, momentum,
    ``label_smoothing``, ``dropout``, ``class_weight``, ``random_state``) and
    the data may differ. Without dropout each model ends as the same
    estimator fitted alone would, up to floating-point rounding: same
    initial weights, minibatches, updates and stopping rules. Estimators with
    ``early_stopping``, ``callbacks``, ``augment`` or a warm start are fitted
    one by one.
    ``verbose`` is ignored in batched fits.

    Parameters
    ----------
    estimators : sequence of MLPDigitClassifier
        The estimators to fit, in place (as their ``fit`` would).
    datasets : sequence of (X, y) or (X, y, sample_weight)
        The training data of each estimator. Pass the same array objects for
        estimators that share data (e.g. the candidates of one fold): they
        are then moved to the device once.
    max_models : int, default=64
        Most models trained in one batch; lower it if the device runs out of
        memory.

    Returns
    -------
    list of MLPDigitClassifier
        The fitted estimators (the same objects).

    Examples
    --------
    >>> from skmnist import MLPDigitClassifier
    >>> from skmnist.datasets import load_mnist
    >>> from skmnist.model_selection import fit_many
    >>> X, y = load_mnist(source="sample", return_X_y=True)
    >>> X = X[:1000] / 255.0
    >>> models = [
    ...     MLPDigitClassifier((32,), learning_rate_init=lr, max_iter=3, random_state=0)
    ...     for lr in (1e-3, 3e-3)
    ... ]
    >>> fitted = fit_many(models, [(X, y[:1000])] * 2)
    >>> [m.n_iter_ for m in fitted]
    [3, 3]
    """
    if len(estimators) != len(datasets):
        raise ValueError(
            f"fit_many got {len(estimators)} estimators but {len(datasets)} "
            "datasets; pass one (X, y) per estimator."
        )
    if not isinstance(max_models, Integral) or max_models < 1:
        raise ValueError(f"max_models must be a positive int, got {max_models!r}.")
    for estimator in estimators:
        if not isinstance(estimator, MLPDigitClassifier):
            raise TypeError(
                "fit_many fits MLPDigitClassifier estimators, got "
                f"{type(estimator).__name__}."
            )
    saved = [dict(e.__dict__) for e in estimators]
    converted: dict[int, np.ndarray] = {}
    try:
        groups: dict[tuple, list] = defaultdict(list)
        for estimator, dataset in zip(estimators, datasets, strict=True):
            X, y, weight = _unpack(dataset)
            if isinstance(X, np.ndarray) and X.dtype not in (np.float32, np.float64):
                # Convert shared integer images once, so folds stay shared.
                X = converted.setdefault(id(X), np.ascontiguousarray(X, np.float32))
            if not _batchable(estimator) or np.ndim(y) == 2:  # lbfgs, multilabel
                estimator.fit(X, y, sample_weight=weight)
                continue
            estimator._validate_params()
            plan = estimator._plan_fit(X, y, weight, None, False, False)
            groups[_group_key(estimator, plan)].append((estimator, plan))
        for members in groups.values():
            for start in range(0, len(members), max_models):
                _fit_group(members[start : start + max_models])
    except BaseException:
        for estimator, state in zip(estimators, saved, strict=True):
            estimator.__dict__.clear()
            estimator.__dict__.update(state)
        raise
    return list(estimators)


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


# ------------------------------------------------- the grid search


def _final_step(estimator) -> tuple[str | None, MLPDigitClassifier]:
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        return name, last
    return None, estimator


class BatchedGridSearchCV(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Exhaustive search over an MLPDigitClassifier's parameters, batched.

    It evaluates the same candidates on the same folds as
    :class:`~sklearn.model_selection.GridSearchCV`, with the same scores, but
    fits the classifiers of all candidates and folds together with
    :func:`fit_many`. Parameters of a pipeline's earlier steps may be
    searched too: those steps are fitted once per fold and setting.

    Parameters
    ----------
    estimator : MLPDigitClassifier or Pipeline
        The classifier, or a pipeline whose last step is one.
    param_grid : dict or list of dict
        Parameter names (with ``step__`` prefixes for a pipeline) mapped to
        lists of values, as for GridSearchCV.
    scoring : str, callable or None, default=None
        One scorer (see :func:`sklearn.metrics.check_scoring`); None uses
        the estimator's ``score`` (accuracy).
    cv : int, cross-validation generator or iterable, default=None
        As for GridSearchCV: None is 5-fold stratified.
    refit : bool, default=True
        Refit the best candidate on the whole data (a plain ``fit``).
    max_models : int, default=64
        Most models trained in one batch.

    Attributes
    ----------
    cv_results_ : dict of numpy arrays
        GridSearchCV's keys for one metric: ``params``, ``param_<name>``,
        ``split<k>_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``, ``mean_fit_time``, ``std_fit_time``,
        ``mean_score_time``, ``std_score_time``. Models trained together
        have no fit time of their own: the whole search's fitting time (the
        earlier pipeline steps, the batches and the models fitted alone) is
        shared equally among all fits, so ``mean_fit_time`` is the same for
        every candidate and ``std_fit_time`` is zero.
    best_index_ : int
        Index of the best candidate in ``cv_results_``.
    best_params_ : dict
        Parameters of the best candidate.
    best_score_ : float
        Its mean cross-validated score.
    best_estimator_ : estimator
        The best candidate refitted on all the data (with ``refit=True``).
    refit_time_ : float
        Seconds spent refitting the best candidate.
    scorer_ : callable
        The scorer used.
    n_splits_ : int
        Number of cross-validation splits.
    classes_ : ndarray of shape (n_classes,)
        The classes of the best estimator.
    n_features_in_ : int
        Number of features of ``X``.
    search_time_ : float
        Seconds spent fitting and scoring the candidates (without the refit).

    See Also
    --------
    sklearn.model_selection.GridSearchCV : The one-fit-at-a-time search.
    fit_many : Fits a list of classifiers as batched networks.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skmnist import MLPDigitClassifier, PixelScaler
    >>> from skmnist.datasets import load_mnist
    >>> from skmnist.model_selection import BatchedGridSearchCV
    >>> X, y = load_mnist(source="sample", return_X_y=True)
    >>> pipe = make_pipeline(
    ...     PixelScaler(), MLPDigitClassifier((32,), max_iter=3, random_state=0)
    ... )
    >>> search = BatchedGridSearchCV(
    ...     pipe, {"mlpdigitclassifier__alpha": [1e-4, 1e-2]}, cv=3
    ... ).fit(X[:1500], y[:1500])
    >>> sorted(search.best_params_)
    ['mlpdigitclassifier__alpha']
    >>> search.cv_results_["split2_test_score"].shape
    (2,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "param_grid": [dict, list],
        "scoring": [str, callable, None],
        "cv": ["cv_object"],
        "refit": ["boolean"],
        "max_models": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        scoring=None,
        cv=None,
        refit=True,
        max_models=64,
    ):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.max_models = max_models

    def fit(self, X, y, groups=None, sample_weight=None):
        """Evaluate every candidate on every fold, then refit the best.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Labels.
        groups : array-like of shape (n_samples,), default=None
            Group labels for group-aware splitters.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples, as GridSearchCV uses them: the
            classifier trains on each fold's part (and on all of them in the
            refit) and the test scores are weighted. Earlier pipeline steps
            are fitted unweighted.

        Returns
        -------
        self : BatchedGridSearchCV
            The fitted search.
        """
        self._validate_params()
        step_name, final = _final_step(self.estimator)
        if not isinstance(final, MLPDigitClassifier):
            raise ValueError(
                "BatchedGridSearchCV needs an MLPDigitClassifier or a pipeline "
                f"ending in one, got {type(final).__name__}; use GridSearchCV "
                "for other estimators."
            )
        candidates = list(ParameterGrid(self.param_grid))
        if not candidates:
            raise ValueError("param_grid has no candidates.")
        X, y, groups = indexable(X, y, groups)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        cv = check_cv(self.cv, y, classifier=True)
        splits = list(cv.split(X, y, groups))
        scorer = check_scoring(self.estimator, self.scoring)
        prefix = "" if step_name is None else step_name + "__"

        started = time.perf_counter()
        models, datasets, where = [], [], []
        prepared: dict[tuple, tuple] = {}
        for c, params in enumerate(candidates):
            candidate = clone(self.estimator).set_params(**params)
            head_params = (
                tuple(
                    sorted(
                        (k, repr(v))
                        for k, v in params.items()
                        if not k.startswith(prefix)
                    )
                )
                if prefix
                else ()
            )
            for k, (train, test) in enumerate(splits):
                key = (head_params, k)
                if key not in prepared:  # fit the earlier steps once per fold
                    prepared[key] = _prepare_fold(candidate, X, y, train, test)
                head, X_train, y_train, X_test, y_test = prepared[key]
                classifier = clone(_final_step(candidate)[1])  # one per fold
                models.append((candidate, classifier, head))
                weight = None if sample_weight is None else sample_weight[train]
                datasets.append((X_train, y_train, weight))
                where.append((c, k, X_test, y_test))
        fit_many([m[1] for m in models], datasets, max_models=self.max_models)
        fit_time = (time.perf_counter() - started) / len(models)

        scores = np.empty((len(candidates), len(splits)))
        score_times = np.empty_like(scores)
        for (candidate, classifier, head), (c, k, X_test, y_test) in zip(
            models, where, strict=True
        ):
            fitted = _assemble(candidate, head, classifier)
            tick = time.perf_counter()
            if sample_weight is None:
                scores[c, k] = scorer(fitted, X_test, y_test)
            else:  # weighted test scores, as GridSearchCV computes them
                test_weight = sample_weight[splits[k][1]]
                scores[c, k] = scorer(fitted, X_test, y_test, sample_weight=test_weight)
            score_times[c, k] = time.perf_counter() - tick
        self.search_time_ = time.perf_counter() - started
        self.cv_results_ = _results(candidates, scores, fit_time, score_times)
        self.best_index_ = int(np.argmin(self.cv_results_["rank_test_score"]))
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        self.scorer_ = scorer
        self.n_splits_ = len(splits)
        if self.refit:
            tick = time.perf_counter()
            weight_name = "sample_weight" if prefix == "" else prefix + "sample_weight"
            weights = {} if sample_weight is None else {weight_name: sample_weight}
            self.best_estimator_ = (
                clone(self.estimator)
                .set_params(**self.best_params_)
                .fit(X, y, **weights)
            )
            self.refit_time_ = time.perf_counter() - tick
        self.n_features_in_ = _num_features(X)
        return self

    def _check_refitted(self):
        check_is_fitted(self)
        if not self.refit:
            raise AttributeError(
                "This BatchedGridSearchCV was fitted with refit=False: it has no "
                "best_estimator_ to predict with."
            )
        return True

    @property
    def classes_(self):
        """Class labels of the best estimator."""
        self._check_refitted()
        return self.best_estimator_.classes_

    @available_if(lambda self: self.refit)
    def predict(self, X):
        """Predict with the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        self._check_refitted()
        return self.best_estimator_.predict(X)

    @available_if(lambda self: self.refit)
    def predict_proba(self, X):
        """Class probabilities from the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns ordered as ``classes_``.
        """
        self._check_refitted()
        return self.best_estimator_.predict_proba(X)

    @available_if(lambda self: self.refit)
    def predict_log_proba(self, X):
        """Log-probabilities of the classes from the best estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns ordered as ``classes_``.
        """
        self._check_refitted()
        return self.best_estimator_.predict_log_proba(X)

    @available_if(lambda self: self.refit)
    def score(self, X, y):
        """Score of the best estimator with the search's scorer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples,)
            True labels.

        Returns
        -------
        score : float
            ``scorer_(best_estimator_, X, y)``.
        """
        self._check_refitted()
        return self.scorer_(self.best_estimator_, X, y)


def _take(data, rows):
    return data.iloc[rows] if hasattr(data, "iloc") else np.asarray(data)[rows]


def _prepare_fold(candidate, X, y, train, test):
    """Fit a pipeline's earlier steps on a fold; the final step's train/test data."""
    X_train, y_train = _take(X, train), _take(y, train)
    X_test, y_test = _take(X, test), _take(y, test)
    if not isinstance(candidate, Pipeline) or len(candidate) == 1:
        return None, X_train, y_train, X_test, y_test
    head = clone(candidate[:-1]).fit(X_train, y_train)
    return head, head.transform(X_train), y_train, X_test, y_test


def _assemble(candidate, head, classifier):
    """The fitted candidate: the fold's fitted earlier steps and the classifier."""
    if head is None:
        return classifier
    return Pipeline([*head.steps, (candidate.steps[-1][0], classifier)])


def _results(candidates, scores, fit_time, score_times) -> dict:
    n_candidates, n_splits = scores.shape
    results: dict[str, Any] = {
        "mean_fit_time": np.full(n_candidates, fit_time),
        "std_fit_time": np.zeros(n_candidates),
        "mean_score_time": score_times.mean(axis=1),
        "std_score_time": score_times.std(axis=1),
    }
    names = sorted({name for params in candidates for name in params})
    for name in names:
        column = np.ma.MaskedArray(np.empty(n_candidates, dtype=object), mask=True)
        for i, params in enumerate(candidates):
            if name in params:
                column[i] = params[name]
        results[f"param_{name}"] = column
    results["params"] = candidates
    for k in range(n_splits):
        results[f"split{k}_test_score"] = scores[:, k]
    means = scores.mean(axis=1)
    results["mean_test_score"] = means
    results["std_test_score"] = scores.std(axis=1)
    # Equal scores share the best rank and NaN ranks last, as in scikit-learn.
    ranks = rankdata(-np.where(np.isnan(means), -np.inf, means), method="min")
    ranks = ranks.astype(np.int32)
    results["rank_test_score"] = ranks
    return results
