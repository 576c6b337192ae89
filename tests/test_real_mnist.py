"""The classifier on real MNIST digits from ../shared/data/mnist (skipped without)."""

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.slow
def test_pipeline_on_an_mnist_subset(mnist_dir):
    X_train, y_train = load_mnist(
        mnist_dir, subset="train", source="idx", return_X_y=True
    )
    X_test, y_test = load_mnist(mnist_dir, subset="test", source="idx", return_X_y=True)
    clf = make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(
            hidden_layer_sizes=(256,),
            max_iter=5,
            batch_size=64,
            learning_rate_init=3e-3,
            random_state=0,
        ),
    )
    clf.fit(X_train[:10_000], y_train[:10_000])
    # scikit-learn's MLPClassifier with the same settings reaches 95.7 %.
    assert clf.score(X_test, y_test) > 0.945
    assert clf[-1].loss_curve_[-1] < 0.15
    proba = clf.predict_proba(X_test)
    assert proba.shape == (10_000, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_cross_val_score_on_real_digits(mnist_dir):
    X, y = load_mnist(mnist_dir, subset="test", source="idx", return_X_y=True)
    scores = cross_val_score(
        make_pipeline(
            PixelScaler(),
            MLPDigitClassifier(
                hidden_layer_sizes=(64,),
                max_iter=5,
                batch_size=32,
                learning_rate_init=3e-3,
                random_state=0,
            ),
        ),
        X[:3_000],
        y[:3_000],
        cv=3,
    )
    assert scores.shape == (3,) and scores.min() > 0.85
