"""MLPClassifier's meanings of shared names: lbfgs, n_iter_, loss_, coefs_."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from skmnist import MLPDigitClassifier


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def small(**params):
    return MLPDigitClassifier(
        hidden_layer_sizes=(10,), random_state=0, device="cpu", **params
    )


def l2_term(clf):
    return clf.alpha / 2 * sum(float((W**2).sum()) for W in clf.coefs_)


def test_lbfgs_converges_on_a_small_problem(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = small(solver="lbfgs").fit(X, y)
    assert clf.score(X, y) > 0.95
    assert 0 < clf.n_iter_ < 200  # stopped on its tolerance, not on max_iter
    assert clf.t_ == clf.n_iter_ * len(X)


def test_lbfgs_warns_at_max_fun_and_has_no_partial_fit(iris):
    X, y = iris
    clf = small(solver="lbfgs", max_fun=5)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        clf.fit(X, y)
    assert clf.n_iter_ <= 5
    assert not hasattr(clf, "partial_fit")  # as MLPClassifier: available_if
    with pytest.raises(AttributeError):
        clf.partial_fit(X, y)


def test_n_iter_counts_the_last_call(iris):
    X, y = iris
    clf = small(max_iter=3, warm_start=True, learning_rate="constant")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        clf.fit(X, y)
    assert clf.n_iter_ == 3  # this fit's epochs, not the 6 since initialisation
    assert len(clf.loss_curve_) == 6 and clf.t_ == 6 * len(X)  # these accumulate
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 7


def test_loss_is_the_last_epoch_loss_with_the_l2_term(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = small(max_iter=5, alpha=0.1).fit(X, y)
    assert clf.loss_ == pytest.approx(clf.loss_curve_[-1] + l2_term(clf), rel=1e-9)
    assert clf.loss_ > clf.loss_curve_[-1]


def test_lbfgs_loss_is_the_final_objective(iris):
    X, y = iris
    clf = small(solver="lbfgs", alpha=0.1, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    expected = log_loss(y, clf.predict_proba(X)) + l2_term(clf)
    assert clf.loss_ == pytest.approx(expected, rel=1e-6)


def test_coefs_and_intercepts_can_be_set(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = small(max_iter=2).fit(X, y)
    coefs = [np.zeros_like(W) for W in clf.coefs_]
    intercepts = [np.zeros_like(b) for b in clf.intercepts_]
    intercepts[-1][2] = 1.0  # every sample's logits now favour class 2
    clf.coefs_ = coefs
    clf.intercepts_ = intercepts
    assert (clf.predict(X) == 2).all()
    assert all((W == 0).all() for W in clf.coefs_)
    assert clf.intercepts_[-1].tolist() == [0.0, 0.0, 1.0]


def test_setting_coefs_checks_every_array_before_writing(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = small(max_iter=2).fit(X, y)
    before = clf.predict_proba(X)
    wrong = [np.zeros_like(W) for W in clf.coefs_]
    wrong[-1] = np.zeros((3, 10))  # transposed: (n_out, n_in)
    with pytest.raises(ValueError, match=r"coefs_\[1\] has shape \(3, 10\)"):
        clf.coefs_ = wrong
    with pytest.raises(ValueError, match="must hold 2 arrays"):
        clf.coefs_ = wrong[:1]
    with pytest.raises(ValueError, match="NaN"):
        clf.intercepts_ = [np.full(10, np.nan), np.zeros(3)]
    np.testing.assert_array_equal(clf.predict_proba(X), before)  # nothing written
