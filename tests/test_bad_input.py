"""The bad-input matrix: what each kind of wrong input does, and its message.

Every case here has a row, under the same name, in the table of
docs/user_guide/bad_input.rst; test_every_case_is_documented keeps the two in step.
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skmnist import MLPDigitClassifier, PixelScaler

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DOC = Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "bad_input.rst"
RNG = np.random.RandomState(0)
X = RNG.rand(40, 4).astype(np.float32)
Y = np.arange(40) % 2


def model(**params):
    return MLPDigitClassifier(
        hidden_layer_sizes=(8,), max_iter=2, device="cpu", random_state=0, **params
    )


def fitted(**params):
    return model(**params).fit(X, Y)


def with_value(value, where=(0, 0), dtype=np.float64):
    X_bad = X.astype(dtype)
    X_bad[where] = value
    return X_bad


def pandas_frame(columns):
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(X, columns=columns)


NAMES = ["a", "b", "c", "d"]

# name: (action, expected outcome, message fragment)
# The outcome is an exception class, a warning class, or None (works).
CASES = {
    "nan_in_X": (
        lambda: model().fit(with_value(np.nan), Y),
        ValueError,
        "contains NaN",
    ),
    "inf_in_X": (
        lambda: model().fit(with_value(np.inf), Y),
        ValueError,
        "contains infinity",
    ),
    "1d_X": (lambda: model().fit(X[:, 0], Y), ValueError, "Expected 2D array"),
    "3d_X": (lambda: model().fit(X.reshape(40, 2, 2), Y), ValueError, "dim 3"),
    "empty_X": (lambda: model().fit(X[:0], Y[:0]), ValueError, "0 sample(s)"),
    "no_features": (lambda: model().fit(X[:, :0], Y), ValueError, "0 feature(s)"),
    "strings_in_X": (
        lambda: model().fit(with_value("seven", dtype=object), Y),
        ValueError,
        "could not convert",
    ),
    "numbers_as_objects_in_X": (
        lambda: model().fit(X.astype(object), Y),
        None,
        "",
    ),
    "complex_X": (
        lambda: model().fit(X.astype(np.complex64), Y),
        ValueError,
        "Complex data not supported",
    ),
    "boolean_X": (lambda: model().fit(X > 0.5, Y), None, ""),
    "sparse_X": (lambda: model().fit(sp.csr_matrix(X), Y), None, ""),
    "tensor_requiring_grad_X": (
        lambda: model().fit(torch.tensor(X, requires_grad=True), Y),
        None,
        "",
    ),
    "bfloat16_tensor_X": (
        lambda: model().fit(torch.tensor(X).to(torch.bfloat16), Y),
        None,
        "",
    ),
    "meta_tensor_X": (
        lambda: model().fit(torch.empty(X.shape, device="meta"), Y),
        ValueError,
        "X is a tensor on the meta device",
    ),
    # As MLPClassifier: a fit on one class predicts that class.
    "single_class": (lambda: model().fit(X, np.zeros(40)), None, ""),
    "continuous_y": (lambda: model().fit(X, X[:, 0]), ValueError, "Unknown label type"),
    "nan_in_y": (
        lambda: model().fit(X, np.where(Y == 1, np.nan, 0.0)),
        ValueError,
        "contains NaN",
    ),
    "y_of_other_length": (
        lambda: model().fit(X, Y[:-1]),
        ValueError,
        "inconsistent numbers of samples",
    ),
    "negative_sample_weight": (
        lambda: model().fit(X, Y, sample_weight=-np.ones(40)),
        ValueError,
        "Negative values",
    ),
    "class_weight_for_unknown_label": (
        lambda: model(class_weight={7: 2.0}).fit(X, Y),
        ValueError,
        "class_weight names labels that are not classes",
    ),
    "batch_size_larger_than_data": (
        lambda: model(batch_size=1000).fit(X, Y),
        UserWarning,
        "clipped to the number of samples",
    ),
    "invalid_parameter_value": (
        lambda: model(learning_rate_init=-1).fit(X, Y),
        InvalidParameterError,
        "'learning_rate_init' parameter",
    ),
    "unknown_device": (
        lambda: MLPDigitClassifier(device="tpu").fit(X, Y),
        InvalidParameterError,
        "is not a device",
    ),
    "hidden_layer_size_not_positive": (
        lambda: model().set_params(hidden_layer_sizes=(8, 0)).fit(X, Y),
        InvalidParameterError,
        "hidden_layer_sizes must be positive integers",
    ),
    "callback_not_callable": (
        lambda: model(callbacks=[1]).fit(X, Y),
        InvalidParameterError,
        "callbacks must be callables",
    ),
    "warm_fit_with_other_layers": (
        lambda: fitted(warm_start=True).set_params(activation="tanh").fit(X, Y),
        ValueError,
        "continues training the fitted network",
    ),
    "partial_fit_classes_not_1d": (
        lambda: model().partial_fit(X, Y, classes=np.arange(4).reshape(2, 2)),
        ValueError,
        "classes must be a 1-D array",
    ),
    "cuda_without_gpu": (
        lambda: MLPDigitClassifier(device="cuda").fit(X, Y),
        ValueError,
        "CUDA is not available",
    ),
    "wrong_number_of_features_at_predict": (
        lambda: fitted().predict(X[:, :3]),
        ValueError,
        "X has 3 features, but MLPDigitClassifier is expecting 4",
    ),
    "predict_before_fit": (
        lambda: model().predict(X),
        NotFittedError,
        "is not fitted yet",
    ),
    "pandas_feature_names_differ_at_predict": (
        lambda: model().fit(pandas_frame(NAMES), Y).predict(pandas_frame(NAMES[::-1])),
        ValueError,
        "feature names should match",
    ),
    "pandas_at_fit_array_at_predict": (
        lambda: model().fit(pandas_frame(NAMES), Y).predict(X),
        UserWarning,
        "X does not have valid feature names",
    ),
    "array_at_fit_pandas_at_predict": (
        lambda: fitted().predict(pandas_frame(NAMES)),
        UserWarning,
        "X has feature names, but MLPDigitClassifier was fitted without",
    ),
    "partial_fit_without_classes": (
        lambda: model().partial_fit(X, Y),
        ValueError,
        "classes must be passed on the first call",
    ),
    "partial_fit_label_not_in_classes": (
        lambda: model().partial_fit(X, Y + 5, classes=[0, 1]),
        ValueError,
        "not among the classes",
    ),
    "partial_fit_other_number_of_features": (
        lambda: model().partial_fit(X, Y, classes=[0, 1]).partial_fit(X[:, :2], Y),
        ValueError,
        "X has 2 features",
    ),
    "pixels_outside_scaler_range": (
        lambda: np.testing.assert_array_equal(
            PixelScaler().fit_transform([[-20.0, 300.0, 51.0]]),
            np.array([[0.0, 1.0, 0.2]], dtype=np.float32),
        ),
        None,
        "",
    ),
    "nan_pixels_in_scaler": (
        lambda: PixelScaler().fit_transform([[np.nan, 3.0]]),
        ValueError,
        "contains NaN",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case):
    action, outcome, fragment = CASES[case]
    if case == "cuda_without_gpu" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if outcome is None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            # max_iter=2 ends before the loss converges, and says so.
            warnings.simplefilter("ignore", ConvergenceWarning)
            action()
    elif issubclass(outcome, Warning):
        with pytest.warns(outcome, match=re.escape(fragment)):
            action()
    else:
        with pytest.raises(outcome, match=re.escape(fragment)):
            action()


def test_every_case_is_documented():
    table = DOC.read_text()
    missing = [case for case in CASES if f"``{case}``" not in table]
    assert not missing, f"add these cases to {DOC.name}: {missing}"


def test_failed_fit_keeps_the_previous_model():
    clf = fitted()
    proba = clf.predict_proba(X)
    bad_inputs = [
        (with_value(np.nan), Y),
        (X[:, :3], X[:, 0]),
        (X.astype(np.complex64), Y),
        (X, X[:, 0]),
    ]
    for X_bad, y_bad in bad_inputs:
        with pytest.raises((ValueError, TypeError)):
            clf.fit(X_bad, y_bad)
        np.testing.assert_array_equal(clf.predict_proba(X), proba)
        assert clf.n_features_in_ == 4
