"""The training set on the device: compact storage and chunked minibatches."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist._training import data as _training_data
from skmnist._training.data import DeviceData, minibatches, value_codes

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CPU = torch.device("cpu")


@pytest.fixture
def compact_on_cpu(monkeypatch):
    """Store training sets as codes on the CPU too (by default only on GPUs)."""
    monkeypatch.setattr(_training_data, "COMPACT_DEVICE_TYPES", frozenset({"cpu"}))


def _pixels(n=23, d=6, seed=0):
    rng = np.random.RandomState(seed)
    raw = rng.randint(256, size=(n, d)).astype(np.uint8)
    return PixelScaler().fit_transform(raw), rng.randint(5, size=n)


def test_value_codes_give_back_the_values_exactly():
    X = torch.from_numpy(_pixels(200, 30)[0])
    values, codes = value_codes(X)
    assert codes.dtype == torch.uint8 and codes.shape == X.shape
    assert torch.equal(values, torch.unique(X))
    assert torch.equal(values[codes.long()], X)


def test_value_codes_refuse_more_than_256_values():
    X = torch.arange(257, dtype=torch.float32).reshape(1, -1) / 7
    assert value_codes(X) is None
    assert value_codes(X[:, :256]) is not None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pixel_data_is_stored_as_codes_where_enabled(compact_on_cpu, dtype):
    X, y = _pixels()
    data = DeviceData.from_numpy(X, y, None, CPU, dtype)
    assert data.X.dtype == torch.uint8 and data.values.dtype == dtype
    assert data.dtype == dtype
    assert torch.equal(data.rows(data.X), torch.as_tensor(X, dtype=dtype))


def test_data_with_many_values_stays_as_it_is(compact_on_cpu):
    X = np.random.RandomState(0).rand(100, 6)  # 600 distinct values
    data = DeviceData.from_numpy(X, np.zeros(100), None, CPU, torch.float64)
    assert data.values is None and data.X.dtype == torch.float64


def test_cpu_data_is_shared_with_the_callers_array_by_default():
    X, y = _pixels()
    data = DeviceData.from_numpy(X, y, None, CPU, torch.float32)
    assert data.values is None
    assert data.X.data_ptr() == X.__array_interface__["data"][0]


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("gather_bytes", [1, 2 * 4 * 6 * 8, 2**30])
def test_minibatches_gathered_in_chunks_are_the_shuffled_rows(
    monkeypatch, compact, shuffle, weighted, gather_bytes
):
    # 6 float32 features: 24 bytes a row; chunks of 1, 2 and all minibatches.
    monkeypatch.setattr(_training_data, "GATHER_BYTES", gather_bytes)
    if compact:
        monkeypatch.setattr(_training_data, "COMPACT_DEVICE_TYPES", frozenset({"cpu"}))
    X, y = _pixels()
    w = np.random.RandomState(1).rand(23) + 0.5
    data = DeviceData.from_numpy(X, y, w if weighted else None, CPU, torch.float32)
    assert (data.values is not None) == compact
    order = torch.randperm(23)[None] if shuffle else None
    expected = np.arange(23) if order is None else order[0].numpy()

    starts = []
    for start, xb, yb, wb in minibatches(data, order, batch_size=4):
        xb, yb, wb = xb[0], yb[0], None if wb is None else wb[0]
        starts.append(start)  # a minibatch is valid until the next is drawn
        rows = expected[start : start + 4]
        assert xb.dtype == torch.float32
        assert np.array_equal(xb.numpy(), X[rows])
        assert np.array_equal(yb.numpy(), y[rows])
        if weighted:
            assert_allclose(wb.numpy(), (w / w.mean())[rows], rtol=1e-6)
        else:
            assert wb is None
    assert starts == list(range(0, 23, 4))


def test_fit_does_not_depend_on_the_gather_chunk(monkeypatch):
    rng = np.random.RandomState(0)
    X, y = rng.rand(200, 10).astype(np.float32), rng.randint(3, size=200)
    params = dict(max_iter=2, batch_size=16, random_state=0, device="cpu")
    monkeypatch.setattr(_training_data, "GATHER_BYTES", 1)
    one_batch_at_a_time = MLPDigitClassifier(**params).fit(X, y)
    monkeypatch.setattr(_training_data, "GATHER_BYTES", 2**30)
    all_at_once = MLPDigitClassifier(**params).fit(X, y)
    assert one_batch_at_a_time.loss_curve_ == all_at_once.loss_curve_
    assert np.array_equal(
        one_batch_at_a_time.predict_proba(X), all_at_once.predict_proba(X)
    )


@pytest.mark.parametrize("augment", [False, True])
def test_fit_on_codes_equals_fit_on_floats(monkeypatch, augment):
    X, y = _pixels(300, 64, seed=2)  # 8 x 8 images, for the distortions
    params = dict(
        hidden_layer_sizes=(16,),
        max_iter=3,
        batch_size=32,
        augment=augment,
        random_state=0,
        device="cpu",
    )
    floats = MLPDigitClassifier(**params).fit(X, y)
    monkeypatch.setattr(_training_data, "COMPACT_DEVICE_TYPES", frozenset({"cpu"}))
    stored = []
    monkeypatch.setattr(
        _training_data,
        "value_codes",
        lambda X: stored.append(value_codes(X)) or stored[-1],
    )
    codes = MLPDigitClassifier(**params).fit(X, y)
    assert len(stored) == 1 and stored[0][1].dtype == torch.uint8
    assert codes.loss_curve_ == floats.loss_curve_
    assert np.array_equal(codes.predict_proba(X), floats.predict_proba(X))
