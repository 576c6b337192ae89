"""ONNX export: onnxruntime must reproduce predict and predict_proba."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

import skl2onnx  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skmnist import MLPDigitClassifier, PixelScaler  # noqa: E402
from skmnist.datasets import load_mnist  # noqa: E402
from skmnist.onnx import register_onnx_converters, to_onnx  # noqa: E402

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ATOL = 1e-5


@pytest.fixture(scope="module")
def digits():
    """600 raw MNIST sample images (uint8 values as float32) and their labels."""
    X, y = load_mnist(source="sample", subset="test", return_X_y=True)
    return np.asarray(X[:600], dtype=np.float32), np.asarray(y[:600]).astype(np.int64)


def _tiny(**params) -> MLPDigitClassifier:
    defaults = dict(hidden_layer_sizes=(16,), max_iter=2, random_state=0, device="cpu")
    return MLPDigitClassifier(**{**defaults, **params})


def _run(onx, X):
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    name = session.get_inputs()[0].name
    return session.run(None, {name: X})


def _check(model, X, onx, zipmap=False):
    labels, proba = _run(onx, X)
    expected_labels = model.predict(X)
    if zipmap:
        assert isinstance(proba, list) and isinstance(proba[0], dict)
        proba = np.array([[row[c] for c in model.classes_] for row in proba])
    np.testing.assert_array_equal(labels, expected_labels)
    if expected_labels.dtype.kind in "iu":
        assert labels.dtype == np.int64
    expected_proba = model.predict_proba(X)
    np.testing.assert_allclose(proba, expected_proba, rtol=0, atol=ATOL)
    return float(np.abs(proba - expected_proba).max())


def _op_types(onx) -> set[str]:
    return {node.op_type for node in onx.graph.node}


@pytest.mark.parametrize("zipmap", [False, True])
def test_pipeline_on_raw_pixels(digits, zipmap):
    X, y = digits
    pipe = make_pipeline(PixelScaler(standardize="mnist"), _tiny()).fit(X, y)
    register_onnx_converters()
    onx = skl2onnx.to_onnx(pipe, X[:1], options={id(pipe[-1]): {"zipmap": zipmap}})
    _check(pipe, X, onx, zipmap=zipmap)
    assert {"Div", "Clip", "Sub", "Mul", "Gemm", "Softmax"} <= _op_types(onx)


@pytest.mark.parametrize(
    "activation", ["relu", "logistic", "tanh", "identity", "gelu", "silu"]
)
def test_activations_with_dropout(digits, activation):
    X, y = digits
    pipe = make_pipeline(
        PixelScaler(),
        _tiny(hidden_layer_sizes=(16, 8), activation=activation, dropout=0.2),
    ).fit(X, y)
    _check(pipe, X, to_onnx(pipe, X[:1], options={"zipmap": False}))


def test_gelu_erf_formula_before_opset_20(digits):
    X, y = digits
    pipe = make_pipeline(PixelScaler(), _tiny(activation="gelu")).fit(X, y)
    onx = to_onnx(pipe, X[:1], options={"zipmap": False}, target_opset=17)
    assert "Erf" in _op_types(onx) and "Gelu" not in _op_types(onx)
    _check(pipe, X, onx)
    assert "Gelu" in _op_types(to_onnx(pipe, X[:1], target_opset=20))


@pytest.mark.parametrize("zipmap", [False, True])
@pytest.mark.parametrize("binary", [False, True])
def test_classifier_string_labels(digits, zipmap, binary):
    X, y = digits
    X = X / np.float32(255)
    names = np.array(["zero", "one", "two", "three", "four"] * 2)
    labels = np.where(y % 2 == 0, "even", "odd") if binary else names[y]
    clf = _tiny().fit(X, labels)
    onx = to_onnx(clf, X[:1], options={"zipmap": zipmap})
    _check(clf, X, onx, zipmap=zipmap)


@pytest.mark.parametrize("zipmap", [False, True])
def test_classifier_binary_int_labels_convert_sklearn(digits, zipmap):
    from skl2onnx.common.data_types import FloatTensorType

    X, y = digits
    X = X / np.float32(255)
    labels = np.where(y < 5, 3, 7)
    clf = _tiny(activation="tanh").fit(X, labels)
    register_onnx_converters()
    register_onnx_converters()  # idempotent
    onx = skl2onnx.convert_sklearn(
        clf,
        initial_types=[("pixels", FloatTensorType([None, X.shape[1]]))],
        options={"zipmap": zipmap},
    )
    _check(clf, X, onx, zipmap=zipmap)


def test_float64_model_and_input(digits):
    X, y = digits
    X = X.astype(np.float64) / 255
    clf = _tiny().fit(X, y)  # trains and predicts in float64
    onx = to_onnx(clf, X[:1], options={"zipmap": False})
    labels, proba = _run(onx, X)
    assert proba.dtype == np.float64
    np.testing.assert_array_equal(labels, clf.predict(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=1e-12)
    # float32 input to a float64 model: the graph still computes in float64
    _check(clf, X.astype(np.float32), to_onnx(clf, X[:1].astype(np.float32)), True)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"clip": False},
        {"standardize": True},
        {"max_value": "auto", "standardize": "mnist", "clip": False},
    ],
)
def test_pixel_scaler_matches_transform(digits, params):
    X, _ = digits
    X = X.copy()
    X[:3, :5] = [-20, 300, 128, 0, 255]  # out-of-range values exercise the clip
    scaler = PixelScaler(**params).fit(X)
    (out,) = _run(to_onnx(scaler, X[:1]), X)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, scaler.transform(X))
    (out64,) = _run(to_onnx(scaler, X[:1].astype(np.float64)), X.astype(np.float64))
    np.testing.assert_array_equal(out64, scaler.transform(X.astype(np.float64)))


def test_pixel_scaler_skips_no_op_steps(digits):
    X, _ = digits
    scaler = PixelScaler(max_value=1.0, clip=False).fit(X)
    assert _op_types(to_onnx(scaler, X[:1])) <= {"Identity"}


def test_float_labels_become_int64(digits):
    X, y = digits
    X = X / np.float32(255)
    clf = _tiny().fit(X, y.astype(np.float64))
    labels, _ = _run(to_onnx(clf, X[:1], options={"zipmap": False}), X)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, clf.predict(X))


def test_missing_skl2onnx_names_the_extra(monkeypatch):
    import skmnist.onnx as skmnist_onnx

    monkeypatch.setitem(__import__("sys").modules, "skl2onnx", None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[onnx\]'"):
        skmnist_onnx.to_onnx(_tiny(), np.zeros((1, 4), np.float32))


def test_integer_sample_input_is_refused_clearly(digits):
    X, y = digits
    pipe = make_pipeline(PixelScaler(), _tiny()).fit(X, y)
    with pytest.raises(ValueError, match=r"dtype uint8.*astype\(np.float32\)"):
        to_onnx(pipe, X[:1].astype(np.uint8))
    _check(pipe, X, to_onnx(pipe, X[:1]), zipmap=True)
    # skl2onnx types int64 input, which the scaler casts.
    as_int = X.astype(np.int64)
    _check(pipe, as_int, to_onnx(pipe, as_int[:1]), zipmap=True)
