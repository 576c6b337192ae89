"""The tests of the vendored scikit-learn suite (test_sklearn_mlp.py) not run.

One list, each entry with its reason; ``tests/conftest.py`` applies it. Only
tests of MLPClassifier's private internals are excluded: they are expected to
fail (strict: one that starts passing fails). The suite's MLPRegressor cases
run scikit-learn's own MLPRegressor, as the vendored file imports it.

The file is scikit-learn 1.9.1's: a few of its tests check what older
releases (down to skmnist's floor, ``make test-min``) do not have, and skip
there (:data:`NEEDS_SCIKIT_LEARN`).
"""

import pytest
from _versions import requires

#: Test name (a node id inside test_sklearn_mlp.py, with or without its
#: parameters) -> reason.
EXCLUDED = {
    "test_fit": (
        "private internals: sets MLPClassifier's _coef_grads, _intercept_velocity "
        "and a one-output logistic network for a binary problem by hand"
    ),
    "test_gradient": "private internals: MLPClassifier._loss_grad_lbfgs",
    "test_learning_rate_warmstart": (
        "private internals: MLPClassifier._optimizer.learning_rate"
    ),
    "test_adaptive_learning_rate": (
        "private internals: MLPClassifier._optimizer.learning_rate"
    ),
}

#: Test name -> (the scikit-learn release it needs, what that release added).
NEEDS_SCIKIT_LEARN = {
    "test_mlp_sample_weight_with_early_stopping": (
        "1.7",
        "sample_weight in MLPRegressor.fit",
    ),
    "test_mlp_vs_poisson_glm_equivalent": ("1.7", "MLPRegressor(loss='poisson')"),
    "test_minimum_input_sample_size": (
        "1.7",
        "MLPRegressor's error for a validation set too small",
    ),
    "test_early_stopping_stratified": (
        "1.8",
        "the wording of StratifiedShuffleSplit's error for a class of one member",
    ),
}

#: The slowest tests, each many full fits: ``make test-fast`` leaves them out.
SLOW = {
    "test_n_iter_no_change_inf",
    "test_partial_fit_classification",
    "test_n_iter_no_change",
    "test_mlp_warm_start_no_convergence",
    "test_early_stopping",
}

#: Test name -> a warning it leaves unchecked, ignored: lbfgs reaches its
#: max_iter=200 on this data and says so; the test checks the multilabel
#: probabilities, not convergence.
IGNORED_WARNINGS = {
    "test_predict_proba_multilabel": "ignore::sklearn.exceptions.ConvergenceWarning",
}


def mark_excluded(items) -> None:
    """Mark the vendored tests named in :data:`EXCLUDED` as strict xfails.

    Those of :data:`NEEDS_SCIKIT_LEARN` skip where scikit-learn is older,
    those of :data:`SLOW` are marked ``slow`` and those of
    :data:`IGNORED_WARNINGS` get their warning filter.
    """
    for item in items:
        if item.path.name != "test_sklearn_mlp.py":
            continue
        name = item.originalname or item.name
        reason = EXCLUDED.get(name)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
        if name in NEEDS_SCIKIT_LEARN:
            item.add_marker(requires("scikit-learn", *NEEDS_SCIKIT_LEARN[name]))
        if name in SLOW:
            item.add_marker(pytest.mark.slow)
        if name in IGNORED_WARNINGS:
            item.add_marker(pytest.mark.filterwarnings(IGNORED_WARNINGS[name]))
