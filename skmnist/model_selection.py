"""Searches that fit all candidates and folds together, as batched networks.

:class:`BatchedGridSearchCV` is a drop-in for :class:`~sklearn.model_selection.
GridSearchCV` over an :class:`~skmnist.MLPDigitClassifier` (or a pipeline ending
in one): instead of one small fit after another, the models of all
candidates and folds that share a network shape train at once, one batched
matrix product per layer and step (:func:`fit_many`). On a GPU that keeps the
device busy; every model still trains exactly as it would alone.
"""

from __future__ import annotations

import copy
import time
import traceback
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import joblib
import numpy as np
from sklearn.base import _fit_context, clone, is_classifier
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.model_selection._validation import (
    _insert_error_scores,
    _score,
    _warn_or_raise_about_fit_failures,
)
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params, _num_samples, indexable

from ._fit_many import _fit_models
from ._fitted_state import restore_attributes, saved_attributes
from .classifier import MLPDigitClassifier

__all__ = ["BatchedGridSearchCV", "fit_many"]


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
    initial weights, minibatches, distortions, updates, stopping rules and
    early stopping (for ``precision="float32"`` and float64 fits; the
    stacked networks train as a single fit's autograd path does, so where a
    model fitted alone takes the bfloat16 hand step, under ``"auto"`` on
    hardware with bfloat16 matrix units, the two agree to bfloat16 rounding
    only). Estimators with ``early_stopping``, ``callbacks``,
    ``augment``, class weights or a warm start train together too; each
    model's callbacks see its own epochs, and a model that stops waits,
    unchanged, for the others. ``solver="lbfgs"`` and multilabel fits are
    fitted one by one. ``verbose`` is ignored in batched fits.

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
    saved = [saved_attributes(e) for e in estimators]
    try:
        _fit_models(list(estimators), datasets, max_models)
    except KeyboardInterrupt:
        raise  # each estimator is left as its interrupted fit would leave it
    except BaseException:
        for estimator, state in zip(estimators, saved, strict=True):
            restore_attributes(estimator, state)
        raise
    return list(estimators)


# ------------------------------------------------- the grid search


def _final_step(estimator) -> tuple[str | None, Any]:
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        return name, last
    return None, estimator


class _FinalStepStandIn:
    """Takes a pipeline's last step's place in ``fit``: records what it gets.

    So the pipeline's own ``fit`` fits and applies the earlier steps, with its
    own routing of the fit parameters, and the classifier trains later, batched
    with the others. It answers routing requests as the classifier would.
    """

    def __init__(self, estimator):
        self.estimator = estimator
        self.fit_args = None

    def fit(self, X, y=None, **params):
        self.fit_args = (X, y, params)
        return self

    def get_metadata_routing(self):
        return self.estimator.get_metadata_routing()


class BatchedGridSearchCV(BaseSearchCV):
    """Exhaustive search over an MLPDigitClassifier's parameters, batched.

    A drop-in for :class:`~sklearn.model_selection.GridSearchCV`: the same
    candidates on the same folds, fit parameters and metadata routing, scorers
    (one or several), ``refit``, ``error_score`` and ``cv_results_``. The
    difference is how the candidates train: the classifiers of all candidates
    and folds that share a network shape train together with :func:`fit_many`.
    Parameters of a pipeline's earlier steps may be searched too: those steps
    are fitted once per fold and setting, by the pipeline's own ``fit``.

    Parameters
    ----------
    estimator : MLPDigitClassifier or Pipeline
        The classifier, or a pipeline whose last step is one.
    param_grid : dict or list of dict
        Parameter names (with ``step__`` prefixes for a pipeline) mapped to
        lists of values, as for GridSearchCV.
    scoring : str, callable, list, tuple, dict or None, default=None
        As for GridSearchCV: one scorer, several (a list or tuple of names, a
        dict of names to scorers, or a callable returning a dict), or None for
        the estimator's ``score`` (accuracy).
    refit : bool, str or callable, default=True
        Refit the best candidate on the whole data (a plain ``fit``). With
        several scorers, the name of the one that picks the best candidate, or
        a callable taking ``cv_results_`` and returning the best index.
    cv : int, cross-validation generator or iterable, default=None
        As for GridSearchCV: None is 5-fold stratified.
    error_score : 'raise' or float, default=np.nan
        The score of a candidate whose fit fails on a fold (with a
        :class:`~sklearn.exceptions.FitFailedWarning`), or ``'raise'`` to raise
        the error.
    return_train_score : bool, default=False
        Also score each fold's model on its training part.
    max_models : int, default=64
        Most models trained in one batch.

    Attributes
    ----------
    cv_results_ : dict of numpy arrays
        GridSearchCV's ``cv_results_``, equal to it but for the timings. Models
        trained together have no fit time of their own: the whole search's
        fitting time (the earlier pipeline steps, the batches and the models
        fitted alone) is shared equally among all fits, so ``mean_fit_time``
        is the same for every candidate and ``std_fit_time`` is zero.
    best_estimator_ : estimator
        The best candidate refitted on all the data (with ``refit``).
    best_score_ : float
        Mean cross-validated score of the best candidate (not with a callable
        ``refit``).
    best_params_ : dict
        Parameters of the best candidate.
    best_index_ : int
        Index of the best candidate in ``cv_results_``.
    scorer_ : callable or dict
        The scorer, or a dict of them with several.
    n_splits_ : int
        Number of cross-validation splits.
    refit_time_ : float
        Seconds spent refitting the best candidate.
    multimetric_ : bool
        Whether several scorers were used.
    classes_ : ndarray of shape (n_classes,)
        The classes of the best estimator.
    n_features_in_ : int
        Number of features seen by the best estimator.
    search_time_ : float
        Seconds spent fitting and scoring the candidates (without the refit).

    See Also
    --------
    sklearn.model_selection.GridSearchCV : The one-fit-at-a-time search.
    fit_many : Fits a list of classifiers as batched networks.

    Notes
    -----
    GridSearchCV's ``n_jobs``, ``pre_dispatch`` and ``verbose`` are not
    parameters here: the candidates train together in this process.
    scikit-learn's fit callbacks are not supported.

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
    >>> grid = {
    ...     "pixelscaler__standardize": [False, True],  # one fit per fold and value
    ...     "mlpdigitclassifier__alpha": [1e-4, 1e-2],  # trained in one batch
    ... }
    >>> search = BatchedGridSearchCV(pipe, grid, cv=2).fit(X[:1000], y[:1000])
    >>> search.cv_results_["params"][0]
    {'mlpdigitclassifier__alpha': 0.0001, 'pixelscaler__standardize': False}
    >>> search.cv_results_["mean_test_score"].shape, search.n_splits_
    ((4,), 2)
    >>> search.best_params_ == search.cv_results_["params"][search.best_index_]
    True
    >>> len(set(search.cv_results_["mean_fit_time"]))  # one time, shared by all
    1
    """

    _parameter_constraints: dict = {
        **{
            key: value
            for key, value in BaseSearchCV._parameter_constraints.items()
            if key not in ("n_jobs", "pre_dispatch", "verbose")
        },
        "estimator": [HasMethods(["fit", "predict"])],
        "param_grid": [dict, list],
        "max_models": [Interval(Integral, 1, None, closed="left")],
    }

    # BaseSearchCV.__init__ is not called: it would set n_jobs, pre_dispatch
    # and verbose, which are not parameters here.
    def __init__(
        self,
        estimator,
        param_grid,
        *,
        scoring=None,
        refit=True,
        cv=None,
        error_score=np.nan,
        return_train_score=False,
        max_models=64,
    ):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.refit = refit
        self.cv = cv
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.max_models = max_models

    # BaseSearchCV.fit evaluates each candidate on each fold with its own
    # _fit_and_score call, inside a closure: nothing there lets the fits run
    # together. So this fit is BaseSearchCV.fit with the evaluation batched
    # (_evaluate_batched, which returns _fit_and_score's results) and
    # scikit-learn's helpers for the rest: scorers, routing, the failure
    # warnings, cv_results_, the best candidate and the refit.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **params):
        """Evaluate every candidate on every fold, then refit the best.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Labels.
        **params : dict of str -> object
            As for GridSearchCV: ``groups`` for the splitter and the fit
            parameters of the estimator, split along the folds: a pipeline
            takes ``step__param`` names (e.g.
            ``mlpdigitclassifier__sample_weight``), a classifier
            ``sample_weight``. A ``sample_weight`` also weights the test scores
            when the scorer accepts it. With metadata routing enabled, the
            metadata go where the estimator, scorer and splitter request them.

        Returns
        -------
        self : BatchedGridSearchCV
            The fitted search.
        """
        if getattr(self, "_skl_callbacks", None):
            raise ValueError(
                "BatchedGridSearchCV does not support callbacks; use GridSearchCV."
            )
        final = _final_step(self.estimator)[1]
        if not isinstance(final, MLPDigitClassifier):
            raise ValueError(
                "BatchedGridSearchCV needs an MLPDigitClassifier or a pipeline "
                f"ending in one, got {type(final).__name__}; use GridSearchCV "
                "for other estimators."
            )
        candidates = list(ParameterGrid(self.param_grid))
        if not candidates:
            raise ValueError("param_grid has no candidates.")
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed_params = self._get_routed_params_for_fit(params)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        split_params = routed_params.splitter.split
        self.n_splits_ = cv.get_n_splits(X, y, **split_params)
        splits = list(cv.split(X, y, **split_params))
        if len(splits) != self.n_splits_:
            raise ValueError(
                "cv.split and cv.get_n_splits return inconsistent results. "
                f"Expected {self.n_splits_} splits, got {len(splits)}"
            )

        started = time.perf_counter()
        out = _evaluate_batched(self, candidates, X, y, splits, routed_params, scorers)
        self.search_time_ = time.perf_counter() - started
        _warn_or_raise_about_fit_failures(out, self.error_score)
        if callable(self.scoring):
            _insert_error_scores(out, self.error_score)
        results = self._format_results(candidates, self.n_splits_, out)
        first_test_score = out[0]["test_scores"]
        self.multimetric_ = isinstance(first_test_score, dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first_test_score)
            refit_metric = self.refit

        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(
                self.refit, refit_metric, results
            )
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][
                    self.best_index_
                ]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self.best_estimator_ = clone(self.estimator).set_params(
                **clone(self.best_params_, safe=False)
            )
            tick = time.perf_counter()
            self.best_estimator_.fit(X, y, **routed_params.estimator.fit)
            self.refit_time_ = time.perf_counter() - tick
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        if isinstance(scorers, _MultimetricScorer):
            self.scorer_ = scorers._scorers
        else:
            self.scorer_ = scorers
        self.cv_results_ = results
        return self


class _Fold:
    """One split's data and fit/score parameters, shared by all candidates."""

    def __init__(self, estimator, X, y, train, test, routed_params):
        self.X_train, self.y_train = _safe_split(estimator, X, y, train)
        self.X_test, self.y_test = _safe_split(estimator, X, y, test, train)
        fit, score = routed_params.estimator.fit, routed_params.scorer.score
        self.fit_params = _check_method_params(X, params=fit, indices=train)
        self.score_train = _check_method_params(X, params=score, indices=train)
        self.score_test = _check_method_params(X, params=score, indices=test)


def _evaluate_batched(search, candidates, X, y, splits, routed_params, scorers):
    """Fit and score every candidate on every fold, as ``_fit_and_score`` would.

    Returns one dict per candidate and fold (candidate-major, as GridSearchCV
    orders them) with ``_fit_and_score``'s keys.
    """
    base = clone(search.estimator)
    folds = [_Fold(base, X, y, train, test, routed_params) for train, test in splits]
    started = time.perf_counter()
    fitted, errors = _fit_candidates(search, base, candidates, folds)
    fit_time = (time.perf_counter() - started) / len(fitted)
    out = []
    for at, estimator in enumerate(fitted):
        fold = folds[at % len(folds)]
        result = {"fit_time": fit_time, "n_test_samples": _num_samples(fold.X_test)}
        tick = time.perf_counter()
        if at in errors:  # as _fit_and_score scores a failed fit
            if isinstance(scorers, _MultimetricScorer):
                test_scores = {name: search.error_score for name in scorers._scorers}
            else:
                test_scores = search.error_score
            train_scores = copy.copy(test_scores)
        else:
            error_score = search.error_score
            test_scores = _score(
                estimator,
                fold.X_test,
                fold.y_test,
                scorers,
                fold.score_test,
                error_score,
            )
            if search.return_train_score:
                train_scores = _score(
                    estimator,
                    fold.X_train,
                    fold.y_train,
                    scorers,
                    fold.score_train,
                    error_score,
                )
        result["score_time"] = 0.0 if at in errors else time.perf_counter() - tick
        result["test_scores"] = test_scores
        if search.return_train_score:
            result["train_scores"] = train_scores
        result["fit_error"] = errors.get(at)
        out.append(result)
    return out


def _attempt(catch: bool, action, *args, **kwargs) -> tuple:
    """``(action(...), None)``; ``(None, traceback)`` on an error if ``catch``."""
    if not catch:
        return action(*args, **kwargs), None
    try:
        return action(*args, **kwargs), None
    except Exception:
        return None, traceback.format_exc()


def _fit_candidates(search, base, candidates, folds) -> tuple[list, dict]:
    """Each candidate fitted on each fold, and the tracebacks of failed fits.

    A pipeline's earlier steps are fitted by its own ``fit`` (the last step
    stood in for), once per fold and setting of those steps; then all the
    classifiers train together (:func:`_fit_models`). Without a numeric
    ``error_score``, the first error propagates.
    """
    catch = search.error_score != "raise"
    name = _final_step(base)[0]
    prefix = "" if name is None else name + "__"
    fitted, errors = [], {}
    batched, datasets, batched_at = [], [], []
    heads: dict[tuple, tuple] = {}
    for params in candidates:
        head_key = joblib.hash(
            {k: v for k, v in params.items() if prefix and not k.startswith(prefix)}
        )
        for k, fold in enumerate(folds):
            at = len(fitted)
            candidate = clone(base).set_params(**clone(params, safe=False))
            fitted.append(candidate)
            classifier = _final_step(candidate)[1]
            if not isinstance(classifier, MLPDigitClassifier):  # swapped out
                _, error = _attempt(
                    catch, candidate.fit, fold.X_train, fold.y_train, **fold.fit_params
                )
                if error is not None:
                    errors[at] = error
                continue
            if (head_key, k) not in heads:
                heads[head_key, k] = _attempt(catch, _fit_head, candidate, fold)
            head, error = heads[head_key, k]
            if error is not None:
                errors[at] = error
                continue
            head_steps, X_final, y_final, final_params = head
            if isinstance(candidate, Pipeline):
                candidate.steps = [*head_steps, (name, classifier)]
            if set(final_params) <= {"sample_weight"}:
                batched.append(classifier)
                datasets.append((X_final, y_final, final_params.get("sample_weight")))
                batched_at.append(at)
            else:  # parameters a classifier's fit would reject: it does so
                _, error = _attempt(
                    catch, classifier.fit, X_final, y_final, **final_params
                )
                if error is not None:
                    errors[at] = error
    failures: dict[int, str] = {}
    _fit_models(batched, datasets, search.max_models, failures if catch else None)
    errors.update({batched_at[i]: error for i, error in failures.items()})
    return fitted, errors


def _fit_head(candidate, fold: _Fold) -> tuple:
    """Fit a candidate's steps before the classifier on a fold.

    Returns the fitted earlier steps and what the classifier's ``fit`` would
    get: the transformed data, labels and its fit parameters.
    """
    if not isinstance(candidate, Pipeline):
        return [], fold.X_train, fold.y_train, fold.fit_params
    name, classifier = candidate.steps[-1]
    stand_in = _FinalStepStandIn(classifier)
    candidate.steps = [*candidate.steps[:-1], (name, stand_in)]
    candidate.fit(fold.X_train, fold.y_train, **fold.fit_params)
    X_final, y_final, final_params = stand_in.fit_args
    return candidate.steps[:-1], X_final, y_final, final_params
