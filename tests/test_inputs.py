"""The input types MLPDigitClassifier takes: scipy sparse matrices, torch tensors.

Sparse input must train and predict as its dense equivalent does, densified
a minibatch (or prediction batch) at a time on the device, never as a whole;
a tensor must behave as the NumPy array of its values does, and a tensor that
cannot be read as one must be refused with a message naming the problem.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal

from skmnist import MLPDigitClassifier
from skmnist._inputs import host_array
from skmnist._training import data as _training_data
from skmnist._training.prediction import predict_batches
from skmnist.datasets import load_mnist
from skmnist.model_selection import fit_many

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Each scipy sparse container, half of them in float64.
SPARSE_CASES = [
    (sp.csr_matrix, np.float32),
    (sp.csc_matrix, np.float32),
    (sp.coo_matrix, np.float32),
    (sp.csr_array, np.float64),
    (sp.csc_array, np.float64),
]


@pytest.fixture(scope="module")
def digits():
    """300 real MNIST images scaled to [0, 1] (about 80 % zeros), and labels."""
    X, y = load_mnist(source="sample", return_X_y=True)
    return (X[:300] / 255.0).astype(np.float32), y[:300]


def model(**params):
    defaults = {
        "hidden_layer_sizes": (16,),
        "max_iter": 2,
        "batch_size": 32,
        "device": "cpu",
        "random_state": 0,
    }
    return MLPDigitClassifier(**{**defaults, **params})


def assert_same_model(a, b, X):
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-5, atol=1e-6)
    assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)


@pytest.fixture
def no_whole_densify(monkeypatch):
    """Record the rows of every densified block; forbid scipy's densifying calls."""
    rows = []
    densify = _training_data.densify_rows

    def spy(sparse, index=None):
        out = densify(sparse, index)
        rows.append(out.numel() // out.shape[-1])
        return out

    def refuse(self, *args, **kwargs):
        raise AssertionError("the whole sparse matrix was densified")

    monkeypatch.setattr(_training_data, "densify_rows", spy)
    for kind in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array):
        monkeypatch.setattr(kind, "toarray", refuse)
        monkeypatch.setattr(kind, "todense", refuse)
    return rows


# ------------------------------------------------------------------- sparse


@pytest.mark.parametrize("kind, dtype", SPARSE_CASES)
def test_sparse_fit_equals_dense_fit(digits, kind, dtype):
    X, y = digits
    X = X.astype(dtype)
    dense = model().fit(X, y)
    sparse = model().fit(kind(X), y)
    assert (
        next(sparse.module_.parameters()).dtype
        == next(dense.module_.parameters()).dtype
    )
    assert_same_model(sparse, dense, X)
    assert_array_equal(sparse.predict(kind(X)), dense.predict(X))
    assert_allclose(
        sparse.predict_proba(kind(X)), dense.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    assert sparse.score(kind(X), y) == dense.score(X, y)


def test_sparse_partial_fit_equals_dense(digits):
    X, y = digits
    dense, sparse = model(), model()
    for part in (slice(0, 150), slice(150, 300)):
        dense.partial_fit(X[part], y[part], classes=np.arange(10))
        sparse.partial_fit(sp.csr_matrix(X[part]), y[part], classes=np.arange(10))
    assert_same_model(sparse, dense, X)


def test_sparse_integer_pixels_train_in_float32(digits):
    X, y = digits
    raw = np.round(X * 255).astype(np.uint8)
    sparse = model().fit(sp.csr_matrix(raw), y)
    assert next(sparse.module_.parameters()).dtype == torch.float32
    assert_same_model(sparse, model().fit(raw, y), raw.astype(np.float32))


def test_sparse_with_duplicate_entries_sums_them():
    """A non-canonical CSR (repeated entries) means their sum, as in scipy."""
    rng = np.random.RandomState(0)
    X = rng.rand(60, 5)
    X[X < 0.3] = 0
    y = np.arange(60) % 3
    csr = sp.csr_matrix(X)
    # Every entry stored twice, as two halves: a matrix scipy does not canonicalise.
    halves = sp.csr_matrix(
        (np.repeat(csr.data / 2, 2), np.repeat(csr.indices, 2), 2 * csr.indptr),
        shape=X.shape,
    )
    assert not halves.has_canonical_format and halves.nnz == 2 * csr.nnz
    clf = model().fit(halves, y)
    assert_same_model(clf, model().fit(X, y), X)
    assert_allclose(clf.predict_proba(halves), clf.predict_proba(X), rtol=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        {"early_stopping": True, "validation_fraction": 0.2, "max_iter": 3},
        {"augment": True},
        {"shuffle": False},
        {"class_weight": "balanced"},
        {"solver": "sgd", "hidden_layer_sizes": (16, 8)},
        {"activation": "gelu", "dropout": 0.2},
    ],
)
def test_sparse_options_equal_dense(digits, params):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of some settings
        dense = model(**params).fit(X, y)
        sparse = model(**params).fit(sp.csr_matrix(X), y)
    assert_same_model(sparse, dense, X)
    if params.get("early_stopping"):
        assert sparse.validation_scores_ == dense.validation_scores_


def test_sparse_sample_weight_equals_dense(digits):
    X, y = digits
    weight = np.random.RandomState(1).rand(len(y))
    dense = model().fit(X, y, sample_weight=weight)
    sparse = model().fit(sp.csr_matrix(X), y, sample_weight=weight)
    assert_same_model(sparse, dense, X)


def test_sparse_input_is_never_densified_whole(digits, no_whole_densify):
    X, y = digits
    X_sparse = sp.csr_matrix(X)
    batch_size = 32
    clf = model(batch_size=batch_size, max_iter=3).fit(X_sparse, y)
    trained = list(no_whole_densify)
    assert max(trained) <= batch_size
    assert sum(trained) == 3 * len(y)  # every sample once per epoch
    no_whole_densify.clear()
    predict_rows = 100

    proba = predict_batches(clf.module_, X_sparse, batch_rows=predict_rows)
    assert proba.shape == (len(y), 10)
    assert max(no_whole_densify) <= predict_rows
    assert sum(no_whole_densify) == len(y)
    no_whole_densify.clear()
    clf.predict(X_sparse)
    clf.predict_proba(sp.csc_matrix(X))
    assert no_whole_densify and sum(no_whole_densify) == 2 * len(y)


def test_sparse_early_stopping_never_densifies_whole(digits, no_whole_densify):
    X, y = digits
    model(early_stopping=True, max_iter=2).fit(sp.csr_matrix(X), y)
    assert max(no_whole_densify) <= 32


def test_fit_many_with_sparse_equals_single_dense_fits(digits, no_whole_densify):
    X, y = digits
    X64 = X.astype(np.float64)
    X_sparse = sp.csr_matrix(X64)
    params = [{"learning_rate_init": 1e-3}, {"learning_rate_init": 3e-3, "alpha": 1e-2}]
    batched = fit_many(
        [model(**p) for p in params], [(X_sparse, y), (X_sparse[:200], y[:200])]
    )
    assert max(no_whole_densify) <= 2 * 32  # one step of both models at a time
    alone = [model(**params[0]).fit(X64, y), model(**params[1]).fit(X64[:200], y[:200])]
    for a, b in zip(batched, alone, strict=True):
        for wa, wb in zip(a.coefs_, b.coefs_, strict=True):
            assert_allclose(wa, wb, rtol=0, atol=1e-12)


def test_fit_many_with_mixed_dense_and_sparse_data(digits):
    X, y = digits
    X64 = X.astype(np.float64)
    batched = fit_many([model(), model()], [(sp.csr_matrix(X64), y), (X64, y)])
    for wa, wb in zip(batched[0].coefs_, batched[1].coefs_, strict=True):
        assert_allclose(wa, wb, rtol=0, atol=1e-12)


def test_sparse_features_are_checked_at_predict(digits):
    X, y = digits
    clf = model().fit(sp.csr_matrix(X), y)
    with pytest.raises(ValueError, match="X has 700 features"):
        clf.predict(sp.csr_matrix(X[:, :700]))


def test_sparse_with_nan_is_refused(digits):
    X, y = digits
    X_bad = sp.csr_matrix(X)
    X_bad.data[0] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        model().fit(X_bad, y)


# ------------------------------------------------------------------ tensors


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tensor_trains_in_its_precision(digits, dtype):
    X, y = digits
    X_t = torch.tensor(X, dtype=dtype)
    clf = model().fit(X_t, torch.as_tensor(y))
    assert next(clf.module_.parameters()).dtype == dtype
    same = model().fit(X_t.numpy(), y)
    assert_same_model(clf, same, X_t.numpy())
    assert_array_equal(clf.predict(X_t), same.predict(X_t.numpy()))
    assert isinstance(clf.classes_, np.ndarray)
    assert clf.score(X_t, torch.as_tensor(y)) == same.score(X_t.numpy(), y)


def test_tensor_that_requires_grad_is_read_as_its_values(digits):
    X, y = digits
    X_t = torch.tensor(X, requires_grad=True)
    clf = model().fit(X_t, y)
    assert_same_model(clf, model().fit(X, y), X)
    clf.predict_proba(X_t)
    assert X_t.grad is None  # the input is not part of any graph
    parameter = torch.nn.Parameter(torch.tensor(X))
    assert_array_equal(clf.predict(parameter), clf.predict(X))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_tensors_train_in_float32(digits, dtype):
    X, y = digits
    X_t = torch.tensor(X).to(dtype)
    exact = X_t.float().numpy()  # every bfloat16 and float16 value is a float32
    clf = model().fit(X_t, y)
    assert next(clf.module_.parameters()).dtype == torch.float32
    assert_same_model(clf, model().fit(exact, y), exact)
    assert_array_equal(clf.predict(X_t), clf.predict(exact))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool])
def test_integer_and_boolean_tensors_train_in_float32(digits, dtype):
    X, y = digits
    X_t = torch.tensor(X > 0.5 if dtype == torch.bool else X * 255).to(dtype)
    clf = model().fit(X_t, y)
    assert next(clf.module_.parameters()).dtype == torch.float32
    assert_same_model(clf, model().fit(X_t.numpy(), y), X_t.numpy().astype(np.float32))


def test_non_contiguous_tensor(digits):
    X, y = digits
    X_t = torch.tensor(X.T.copy()).t()  # a transposed view
    assert not X_t.is_contiguous()
    assert_same_model(model().fit(X_t, y), model().fit(X, y), X)


def test_tensor_sample_weight_and_classes(digits):
    X, y = digits
    weight = np.random.RandomState(1).rand(len(y))
    clf = model().partial_fit(
        torch.tensor(X),
        torch.tensor(y),
        classes=torch.arange(10),
        sample_weight=torch.tensor(weight, requires_grad=True),
    )
    same = model().partial_fit(X, y, classes=np.arange(10), sample_weight=weight)
    assert_same_model(clf, same, X)


@pytest.mark.parametrize("layout", ["coo", "csr", "csc"])
def test_sparse_tensor_equals_dense(digits, layout):
    X, y = digits
    dense = torch.tensor(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's CSR and CSC are beta features
        sparse = {
            "coo": dense.to_sparse,
            "csr": dense.to_sparse_csr,
            "csc": dense.to_sparse_csc,
        }[layout]()
    clf = model().fit(sparse, y)
    assert_same_model(clf, model().fit(X, y), X)
    assert_array_equal(clf.predict(sparse), clf.predict(X))


class _GPUTensor(torch.Tensor):
    """Acts as a CUDA tensor on a machine without one: it names a CUDA device
    and, like a CUDA tensor, cannot be read as a NumPy array before ``.cpu()``."""

    copies = 0

    @property
    def device(self):
        return torch.device("cuda", 0)

    @property
    def is_cuda(self):
        return True

    def numpy(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy.")

    def __array__(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy.")

    def cpu(self, *args, **kwargs):
        type(self).copies += 1
        return self.as_subclass(torch.Tensor).clone()


def test_tensor_on_another_device_is_copied_to_the_host(digits):
    X, y = digits
    if torch.cuda.is_available():
        X_t = torch.tensor(X).cuda()
    else:
        X_t = torch.tensor(X).as_subclass(_GPUTensor)
        _GPUTensor.copies = 0
    clf = model().fit(X_t, y)
    proba = clf.predict_proba(X_t)
    if not torch.cuda.is_available():
        assert _GPUTensor.copies == 2
    assert_allclose(proba, model().fit(X, y).predict_proba(X), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda X: torch.empty(X.shape, device="meta"), "on the meta device"),
        (lambda X: torch.tensor(X).to(torch.complex64), "Complex data not supported"),
        (lambda X: torch.tensor(X)[None], "dim 3"),
        (
            lambda X: torch.tensor(X).to_sparse_bsr((2, 2)),
            "sparse tensor of layout torch.sparse_bsr",
        ),
    ],
)
def test_unreadable_tensors_are_refused_clearly(digits, make, fragment):
    X, y = digits
    with pytest.raises((ValueError, TypeError), match=re.escape(fragment)):
        model().fit(make(X), y)
    clf = model().fit(X, y)
    with pytest.raises((ValueError, TypeError), match=re.escape(fragment)):
        clf.predict(make(X))


def test_tensor_y_on_the_meta_device_is_refused(digits):
    X, y = digits
    with pytest.raises(ValueError, match=re.escape("y is a tensor on the meta device")):
        model().fit(X, torch.empty(len(y), device="meta"))


def test_dtypes_numpy_lacks_are_widened_exactly():
    values = torch.tensor([[0.5, -1.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: quantized and complex32 are dated
        quantized = torch.quantize_per_tensor(values, 0.5, 0, torch.qint8)
        complex_half = values.to(torch.complex32)
    for tensor in (values.to(torch.bfloat16), values.to(torch.float8_e4m3fn)):
        array = host_array(tensor, "X")
        assert array.dtype == np.float32
        assert_array_equal(array, values.numpy())
    assert_array_equal(host_array(quantized, "X"), values.numpy())
    assert host_array(complex_half, "X").dtype == np.complex64
    with pytest.raises(ValueError, match="Complex data not supported"):
        model().fit(complex_half.expand(20, 3), np.arange(20) % 2)
