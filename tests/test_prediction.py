"""Predictions from host arrays: bounded memory, exact results, CUDA staging."""

from __future__ import annotations

import copy
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _versions import requires
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist._training import prediction
from skmnist._training.data import host_tensor
from skmnist._training.prediction import predict_batches
from skmnist.datasets import load_mnist
from skmnist.preprocessing import ScaledPixels

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
SMALL = {"hidden_layer_sizes": (32,), "max_iter": 2, "random_state": 0}
OUTPUTS = {
    "logits": lambda z: z,
    "proba": lambda z: torch.softmax(z, dim=1),
    "argmax": lambda z: z.argmax(dim=1),
    "positive": lambda z: z > 0,
}


@pytest.fixture(scope="module")
def sample():
    X, y = load_mnist(source="sample", return_X_y=True)
    return X[:1500], y[:1500]


def fitted(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.fixture(scope="module")
def classifier(sample):
    X, y = sample
    return fitted(MLPDigitClassifier(**SMALL), X / np.float32(255), y)


@torch.inference_mode()
def blockwise_reference(module, X, output, batch_rows):
    """The algorithm of the previous version: a list of blocks, then one cat."""
    dtype = next(module.parameters()).dtype
    blocks = [
        output(module(host_tensor(X[start : start + batch_rows]).to(dtype=dtype)))
        for start in range(0, X.shape[0], batch_rows)
    ]
    return torch.cat(blocks).numpy()


# ------------------------------------------------------------------ CPU path


@pytest.mark.parametrize("name", OUTPUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_rows", [7, 128, 8192])
def test_cpu_results_equal_the_blockwise_reference(
    classifier, sample, name, dtype, batch_rows
):
    X = (sample[0][:300] / 255).astype(dtype)
    got = predict_batches(
        classifier.module_, X, output=OUTPUTS[name], batch_rows=batch_rows
    )
    expected = blockwise_reference(classifier.module_, X, OUTPUTS[name], batch_rows)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


class Recorder(torch.nn.Module):
    """Wraps a network and records what each call is given."""

    def __init__(self, network, fail_above=None):
        super().__init__()
        self.network = network
        self.fail_above = fail_above
        self.inputs: list[tuple[int, int, torch.dtype]] = []

    def forward(self, x):
        if self.fail_above is not None and x.shape[0] > self.fail_above:
            raise torch.OutOfMemoryError("simulated")
        self.inputs.append((x.data_ptr(), x.shape[0], x.dtype))
        return self.network(x)


def test_cpu_reads_rows_of_the_network_dtype_in_place(classifier, sample):
    X = np.ascontiguousarray(sample[0] / np.float32(255))
    recorder = Recorder(classifier.module_)
    predict_batches(recorder, X, batch_rows=100)
    first, row_bytes = X.ctypes.data, X.strides[0]
    assert [ptr for ptr, _, _ in recorder.inputs] == [
        first + start * row_bytes for start in range(0, len(X), 100)
    ]


def test_results_go_into_one_preallocated_array(classifier, sample, monkeypatch):
    def no_cat(*args, **kwargs):
        raise AssertionError("the blocks' results were concatenated")

    monkeypatch.setattr(torch, "cat", no_cat)
    X = sample[0] / np.float32(255)
    proba = predict_batches(classifier.module_, X, batch_rows=100)
    assert proba.shape == (len(X), 10)


def test_empty_input_gives_an_empty_result(classifier):
    out = predict_batches(classifier.module_, np.zeros((0, 784), np.float32))
    assert out.shape == (0, 10)


def test_prepare_runs_on_each_block_of_raw_rows(classifier, sample):
    X = sample[0]
    seen = []

    def prepare(block):
        seen.append((block.dtype, block.shape[0]))
        return block.to(torch.float32) / 255

    got = predict_batches(classifier.module_, X, batch_rows=600, prepare=prepare)
    assert seen == [(torch.uint8, 600), (torch.uint8, 600), (torch.uint8, 300)]
    # The same blocks: a CPU's float32 products can round by block size.
    expected = predict_batches(classifier.module_, X / np.float32(255), batch_rows=600)
    np.testing.assert_array_equal(got, expected)


def test_out_of_memory_with_prepare_retries_smaller_blocks(classifier, sample):
    X = sample[0]
    scaler = PixelScaler(defer=True).fit(X)
    deferred = scaler.transform(X)
    expected = predict_batches(classifier.module_, np.asarray(deferred))
    recorder = Recorder(classifier.module_, fail_above=100)
    got = predict_batches(recorder, X, prepare=deferred.scale_block)
    # Smaller blocks than expected's: float32 products may round otherwise
    # (oneDNN on Intel Xeons blocks by the number of rows).
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert max(rows for _, rows, _ in recorder.inputs) <= 100


# ------------------------------------------------- PixelScaler(defer=True)


@pytest.mark.parametrize("standardize", [False, True, "mnist"])
@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int64, np.float32, np.float64, np.dtype(">u2")]
)
def test_deferred_scaling_equals_transform_exactly(sample, standardize, clip, dtype):
    X = sample[0][:300]
    if np.dtype(dtype).kind in "if":  # some values below 0, for clip to act on
        X = X.astype(np.int64) - 3
    X = X.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = PixelScaler(standardize=standardize, clip=clip, defer=False).fit(X)
        deferred = PixelScaler(standardize=standardize, clip=clip, defer=True).fit(X)
        expected = plain.transform(X)
        lazy = deferred.transform(X)
    assert isinstance(lazy, ScaledPixels) and lazy.pixels is not None
    assert lazy.shape == X.shape and lazy.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(lazy), expected)
    native = X.astype(X.dtype.newbyteorder("="))
    if native.dtype not in prediction._TORCH_DTYPES:  # as predict_batches reads it
        native = native.astype(np.float32)
    block = lazy.scale_block(torch.from_numpy(native))
    np.testing.assert_array_equal(block.numpy(), expected)


@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.float64, np.dtype(">u2")])
def test_deferred_pipeline_predicts_exactly_as_the_default(sample, standardize, dtype):
    X, y = sample
    X = X.astype(dtype)
    plain = fitted(
        make_pipeline(
            PixelScaler(standardize=standardize, defer=False),
            MLPDigitClassifier(**SMALL),
        ),
        X,
        y,
    )
    deferred = fitted(
        make_pipeline(
            PixelScaler(standardize=standardize, defer=True),
            MLPDigitClassifier(**SMALL),
        ),
        X,
        y,
    )
    for method in ("predict", "predict_proba", "predict_log_proba"):
        np.testing.assert_array_equal(
            getattr(deferred, method)(X), getattr(plain, method)(X)
        )
    assert deferred.score(X, y) == plain.score(X, y)


def test_other_consumers_read_deferred_pixels_as_the_array(sample):
    X, y = sample[0][:300], sample[1][:300]
    plain = make_pipeline(PixelScaler(), LogisticRegression(max_iter=20))
    deferred = make_pipeline(PixelScaler(defer=True), LogisticRegression(max_iter=20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        np.testing.assert_array_equal(
            fitted(deferred, X, y).predict_proba(X),
            fitted(plain, X, y).predict_proba(X),
        )
    lazy = deferred[0].transform(X)
    assert np.asarray(lazy, dtype=np.float64).dtype == np.float64
    assert len(lazy) == len(X) and "ScaledPixels(shape=(300, 784)" in repr(lazy)


@requires("numpy", "2", "np.asarray's copy argument")
def test_deferred_pixels_refuse_a_view(sample):
    lazy = PixelScaler(defer=True).fit(sample[0][:10]).transform(sample[0][:10])
    with pytest.raises(ValueError, match="without a copy"):
        np.asarray(lazy, copy=False)


def test_defer_leaves_sparse_and_other_containers_alone(sample):
    pd = pytest.importorskip("pandas")
    X = sample[0][:50]
    scaler = PixelScaler(defer=True).fit(X)
    sparse = scaler.transform(sp.csr_matrix(X))
    assert sp.issparse(sparse) and sparse.dtype == np.float32
    frame = PixelScaler(defer=True).set_output(transform="pandas").fit(X).transform(X)
    assert isinstance(frame, pd.DataFrame)
    np.testing.assert_array_equal(frame.to_numpy(), PixelScaler().fit_transform(X))


def test_defer_is_validated():
    with pytest.raises(ValueError, match="defer"):
        PixelScaler(defer="yes").fit(np.zeros((2, 3)))


# ------------------------------------------------------------ memory bounds


def test_deferred_pipeline_never_makes_a_numpy_copy_of_the_input(sample):
    X, y = sample
    model = fitted(
        make_pipeline(PixelScaler(defer=True), MLPDigitClassifier(**SMALL)), X, y
    )
    many = np.resize(X, (20_000, X.shape[1]))  # 15.7 MB of uint8
    tracemalloc.start()
    try:
        model.predict_proba(many)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < many.nbytes / 4  # a float32 copy would be 4 x many.nbytes


def _resident_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def test_deferred_predict_peak_resident_memory_is_bounded(sample):
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak (Linux)
    except OSError:
        pytest.skip("the peak resident size cannot be reset here")
    X, y = sample
    model = fitted(
        make_pipeline(PixelScaler(defer=True), MLPDigitClassifier(**SMALL)), X, y
    )
    many = np.resize(X, (80_000, X.shape[1]))  # 63 MB of uint8, 251 MB as float32
    model.predict_proba(many[:10_000])  # torch's first-call allocations
    before = _resident_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    model.predict_proba(many)
    growth = (_resident_kib("VmHWM") - before) * 1024
    # Blocks of 8,192 rows: tens of MB; a float32 copy of it all: 4 x many.nbytes.
    assert growth < 2 * many.nbytes


# -------------------------------------------------------------- CUDA path


@cuda
@pytest.mark.parametrize("name", OUTPUTS)
def test_cuda_staged_predictions_match_the_cpu(classifier, sample, name):
    X = sample[0] / np.float32(255)
    network = classifier.module_
    expected = predict_batches(network, X, output=OUTPUTS[name], batch_rows=97)
    gpu_network = copy.deepcopy(network).to("cuda")
    got = predict_batches(gpu_network, X, output=OUTPUTS[name], batch_rows=97)
    if name in ("argmax", "positive"):
        assert np.mean(got == expected) > 0.99
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@cuda
def test_cuda_ships_uint8_through_pinned_buffers_and_a_copy_stream(
    classifier, sample, monkeypatch
):
    made = []
    original = prediction._CudaStaging.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(prediction._CudaStaging, "__init__", spy)
    X = sample[0]
    deferred = PixelScaler(defer=True).fit(X).transform(X)
    gpu_network = copy.deepcopy(classifier.module_).to("cuda")
    got = predict_batches(gpu_network, X, batch_rows=100, prepare=deferred.scale_block)
    (staging,) = made
    assert all(buffer.is_pinned() for buffer in staging.host + staging.results)
    assert staging.host[0].dtype == torch.uint8
    assert staging.copy_stream != torch.cuda.current_stream()
    expected = predict_batches(gpu_network, np.asarray(deferred), batch_rows=100)
    np.testing.assert_array_equal(got, expected)  # scaled exactly as on the host


@cuda
def test_cuda_scale_block_equals_numpy_exactly(sample):
    X = sample[0]
    for standardize in (False, True, "mnist"):
        lazy = PixelScaler(standardize=standardize, defer=True).fit(X).transform(X)
        on_gpu = lazy.scale_block(torch.from_numpy(X).cuda()).cpu().numpy()
        np.testing.assert_array_equal(on_gpu, np.asarray(lazy))


@cuda
def test_cuda_out_of_memory_retries_smaller_blocks(classifier, sample):
    X = sample[0] / np.float32(255)
    gpu_network = copy.deepcopy(classifier.module_).to("cuda")
    expected = predict_batches(gpu_network, X)
    recorder = Recorder(gpu_network, fail_above=100)
    got = predict_batches(recorder, X, batch_rows=512)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert max(rows for _, rows, _ in recorder.inputs) <= 100
    assert sum(rows for _, rows, _ in recorder.inputs) == len(X)


@cuda
def test_cuda_classifier_predicts_deferred_pipeline_like_the_default(sample):
    X, y = sample
    params = dict(SMALL, device="cuda")
    plain = fitted(
        make_pipeline(PixelScaler(defer=False), MLPDigitClassifier(**params)), X, y
    )
    deferred = fitted(
        make_pipeline(PixelScaler(defer=True), MLPDigitClassifier(**params)), X, y
    )
    np.testing.assert_allclose(
        deferred.predict_proba(X), plain.predict_proba(X), rtol=1e-5, atol=1e-6
    )
