"""Predictions hold no full-size converted copy of their input.

The peak resident memory of ``predict_proba``, ``predict_log_proba``,
``predict`` and ``score`` on 200,000 uint8 MNIST rows (157 MB; their float32
copy: 627 MB) and 50,000 float32 or float64 rows (157 or 314 MB; the scaler's
float32 copy: 157 MB) is measured in a fresh process, through the classifier
alone, the default pipeline and a pipeline saved and loaded again. The
predictions are those of the float32 array that validation used to make, bit
for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist
from skmnist.preprocessing import ScaledPixels

REPO = Path(__file__).resolve().parents[1]
SMALL = {"hidden_layer_sizes": (32,), "max_iter": 1, "random_state": 0}
MB = 2**20
#: What a prediction may hold beyond its input: blocks of 8,192 rows, the
#: network's activations and the output.
BOUND_MB = 100


def _fitted(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def _resident_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _growth_mb(call) -> float:
    """How far the resident size rises above its level before ``call()``."""
    import gc

    gc.collect()
    before = _resident_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM
    call()
    return (_resident_kib("VmHWM") - before) / 1024


def measure() -> dict:
    """Each case's growth of the resident size (MB), in this process."""
    from skmnist.persistence import load_model, save_model

    X, y = load_mnist(source="sample", return_X_y=True)
    classifier = _fitted(MLPDigitClassifier(**SMALL), X, y)
    pipeline = _fitted(make_pipeline(PixelScaler(), MLPDigitClassifier(**SMALL)), X, y)
    path = Path(sys.argv[1]) / "pipeline.skmnist"
    save_model(pipeline, path)
    loaded = load_model(path)
    pixels = np.resize(X, (200_000, X.shape[1]))  # uint8
    floats = {
        dtype: pixels[:50_000].astype(dtype) for dtype in (np.float32, np.float64)
    }
    labels = np.resize(y, len(pixels))
    # Torch's first-call allocations, and the allocator's cache of a few blocks.
    for model in (classifier, pipeline, loaded):
        for rows in (pixels, *floats.values()):
            model.predict_proba(rows[:20_000])
    calls = {
        "classifier uint8 predict_proba": lambda: classifier.predict_proba(pixels),
        "classifier float64 predict": lambda: classifier.predict(floats[np.float64]),
        "pipeline uint8 predict_proba": lambda: pipeline.predict_proba(pixels),
        "pipeline uint8 score": lambda: pipeline.score(pixels, labels),
        "pipeline float32 predict_log_proba": lambda: pipeline.predict_log_proba(
            floats[np.float32]
        ),
        "pipeline float64 predict_proba": lambda: pipeline.predict_proba(
            floats[np.float64]
        ),
        "loaded pipeline uint8 predict": lambda: loaded.predict(pixels),
    }
    return {case: _growth_mb(call) for case, call in calls.items()}


@pytest.fixture(scope="module")
def growth(tmp_path_factory):
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("the peak resident size cannot be reset here (Linux only)")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), *sys.path]))
    folder = tmp_path_factory.mktemp("predict_memory")
    done = subprocess.run(
        [sys.executable, __file__, str(folder)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    [
        "classifier uint8 predict_proba",
        "classifier float64 predict",
        "pipeline uint8 predict_proba",
        "pipeline uint8 score",
        "pipeline float32 predict_log_proba",
        "pipeline float64 predict_proba",
        "loaded pipeline uint8 predict",
    ],
)
def test_prediction_peak_memory_is_the_input_plus_a_bound(growth, case):
    # A float32 copy of the input would add 627 MB (uint8) or 157 MB (float).
    assert growth[case] < BOUND_MB, growth


# ------------------------------------------------- bit-identical predictions


@pytest.fixture(scope="module")
def sample():
    X, y = load_mnist(source="sample", return_X_y=True)
    return X[:1000], y[:1000]


@pytest.fixture(scope="module", params=[np.float32, np.float64])
def classifier(sample, request):
    """A classifier whose network computes in float32, or in float64."""
    X, y = sample
    return _fitted(MLPDigitClassifier(**SMALL), X.astype(request.param), y)


def _as_validation_made_it(X: np.ndarray) -> np.ndarray:
    """The array validation used to make: float32 and float64 kept, else float32."""
    if X.dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        return np.array(X)
    return np.array(X, dtype=np.float32)


DTYPES = [np.uint8, np.int8, np.int16, np.int64, np.uint16, np.bool_, np.float16]


@pytest.mark.parametrize("dtype", [*DTYPES, np.float32, np.float64, ">f8", ">i4"])
def test_blockwise_conversion_predicts_exactly_as_a_whole_copy(
    classifier, sample, dtype
):
    X = sample[0].astype(dtype)
    if X.dtype.kind == "i" and X.dtype.itemsize >= 4:
        X[:, ::7] += 2**28 + 1  # values that float32 rounds: torch might differ
    expected = _as_validation_made_it(X)
    for method in ("predict_proba", "predict_log_proba"):
        np.testing.assert_array_equal(
            getattr(classifier, method)(X), getattr(classifier, method)(expected)
        )


def test_views_tensors_and_sparse_rows_predict_as_arrays(classifier, sample):
    X = sample[0]
    for view in (X[::-1], np.asfortranarray(X), X[:, ::-1]):
        np.testing.assert_array_equal(
            classifier.predict_proba(view),
            classifier.predict_proba(_as_validation_made_it(view)),
        )
    expected = classifier.predict_proba(X.astype(np.float32))
    tensor = classifier.predict_proba(torch.from_numpy(X))
    np.testing.assert_array_equal(tensor, expected)
    sparse = classifier.predict_proba(sp.csr_matrix(X))
    np.testing.assert_allclose(sparse, expected, rtol=1e-5, atol=1e-6)


def test_validation_still_refuses_bad_values(classifier, sample):
    X = sample[0][:10].astype(np.float32)
    X[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        classifier.predict(X)
    with pytest.raises(ValueError, match="784 features"):
        classifier.predict(sample[0][:, :100])
    with pytest.raises(ValueError, match="Complex"):
        classifier.predict(sample[0][:10].astype(np.complex64))
    with pytest.raises(ValueError, match="convert"):
        classifier.predict(np.full((2, 784), "a", dtype=object))


# --------------------------------------------------- PixelScaler(defer="auto")


class Spy(MLPDigitClassifier):
    """Records the type of what each prediction is given."""

    def _predict(self, X, output):
        self.seen_.append(type(X))
        return super()._predict(X, output)


@pytest.fixture(scope="module")
def pipelines(sample):
    X, y = sample
    deferring = _fitted(make_pipeline(PixelScaler(), Spy(**SMALL)), X, y)
    plain = _fitted(make_pipeline(PixelScaler(defer=False), Spy(**SMALL)), X, y)
    return deferring, plain


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "score"]
)
def test_default_scaler_defers_to_the_classifier_after_it(pipelines, sample, method):
    X, y = sample
    deferring, plain = pipelines
    arguments = (X, y) if method == "score" else (X,)
    deferring[-1].seen_ = []
    plain[-1].seen_ = []
    got = getattr(deferring, method)(*arguments)
    np.testing.assert_array_equal(got, getattr(plain, method)(*arguments))
    assert deferring[-1].seen_ == [ScaledPixels]
    assert plain[-1].seen_ == [np.ndarray]


def test_default_scaler_returns_arrays_everywhere_else(pipelines, sample):
    X, y = sample
    deferring = pipelines[0]
    assert type(deferring[0].transform(X)) is np.ndarray
    assert type(deferring[:-1].transform(X)) is np.ndarray
    assert type(PixelScaler().fit_transform(X)) is np.ndarray
    other = _fitted(make_pipeline(PixelScaler(), LogisticRegression(max_iter=5)), X, y)
    assert other.predict(X).shape == (len(X),)  # LogisticRegression read arrays


def test_default_scaler_defers_past_passthrough_and_with_routing(pipelines, sample):
    X = sample[0]
    scaler, spy = pipelines[0][0], pipelines[0][-1]
    spy.seen_ = []
    make_pipeline(scaler, "passthrough", spy).predict(X)
    with sklearn.config_context(enable_metadata_routing=True):
        make_pipeline(scaler, spy).predict(X)
    assert spy.seen_ == [ScaledPixels, ScaledPixels]


def test_defer_auto_survives_saving(pipelines, sample, tmp_path):
    from skmnist.persistence import load_model, save_model

    X = sample[0]
    path = tmp_path / "model.skmnist"
    save_model(
        _fitted(
            make_pipeline(PixelScaler(), MLPDigitClassifier(**SMALL)), X, sample[1]
        ),
        path,
    )
    loaded = load_model(path)
    assert loaded[0].defer == "auto"
    np.testing.assert_array_equal(
        loaded.predict_proba(X), loaded[-1].predict_proba(loaded[0].transform(X))
    )


if __name__ == "__main__":
    print(json.dumps(measure()))
