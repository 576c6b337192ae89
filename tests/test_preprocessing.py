"""PixelScaler: its range warnings (never on real images) and sparse input."""

import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmnist import PixelScaler
from skmnist.datasets import load_mnist
from skmnist.preprocessing import PixelRangeWarning

MNIST_DIR = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "mnist"
)


@pytest.fixture(scope="module")
def sample():
    return load_mnist(source="sample", return_X_y=True)


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def range_warnings(action):
    """The PixelRangeWarnings that ``action()`` emits (all of them, repeats too)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [w for w in caught if issubclass(w.category, PixelRangeWarning)]


def assert_one_warning(action, *fragments):
    caught = range_warnings(action)
    assert len(caught) == 1, [str(w.message) for w in caught]
    message = str(caught[0].message)
    for fragment in fragments:
        assert fragment in message, message
    assert caught[0].filename == __file__  # points at the caller's line
    return message


# ------------------------------------------------------------- warnings in fit
def test_digits_scale_warns_naming_range_and_fix(digits):
    X, _ = digits
    assert_one_warning(
        lambda: PixelScaler().fit(X),
        "values from 0 to 16",
        "6.3%",
        "max_value=16",
        "max_value='auto'",
        "leave PixelScaler out",
    )


def test_standardised_data_warn_about_clipped_negatives():
    X = StandardScaler().fit_transform(load_iris().data)
    share = f"{np.mean(X < 0):.0%}"
    for scaler in (PixelScaler(), PixelScaler(max_value="auto")):
        assert_one_warning(
            lambda scaler=scaler: scaler.fit(X),
            f"values from {X.min():g} to {X.max():g}",
            f"every negative value ({share} of them) to 0",
            "standardised",
            "clip=False",
        )


def test_floats_in_unit_range_warn(sample):
    X = sample[0] / 255.0
    assert_one_warning(
        lambda: PixelScaler().fit(X),
        "values from 0 to 1",
        "already scaled to [0, 1]",
        "max_value=1",
    )


def test_sixteen_bit_images_warn_about_clipping():
    X = np.array([[0, 1000, 65535, 30000]])
    assert_one_warning(
        lambda: PixelScaler().fit(X), "values from 0 to 65535", "(75% of them) to 1"
    )


def test_fit_transform_warns_once_and_transform_of_same_data_not_again(digits):
    X, _ = digits
    assert_one_warning(lambda: PixelScaler().fit_transform(X), "0 to 16")
    with pytest.warns(PixelRangeWarning):
        scaler = PixelScaler().fit(X)
    assert range_warnings(lambda: scaler.transform(X[:5])) == []


def test_naive_pipeline_on_digits_is_told(digits):
    X, y = digits
    model = make_pipeline(PixelScaler(), MLPClassifier(max_iter=5, random_state=0))
    with pytest.warns(PixelRangeWarning, match="max_value=16"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)


# ------------------------------------------------------- warnings in transform
def test_transform_warns_on_data_unlike_the_fits(sample):
    X = sample[0]
    scaler = PixelScaler().fit(X)
    assert_one_warning(
        lambda: scaler.transform(X[:3] / 255.0),
        "data_max_=255",
        "values from 0 to 1",
        "multiply them by 255",
    )
    assert_one_warning(
        lambda: scaler.transform(X[:3] / 255.0 - 0.5), "every negative value"
    )


def test_restored_scaler_without_fit_record_still_checks(sample):
    scaler = PixelScaler().fit(sample[0])
    del scaler._fit_problem  # as restored from a file that does not record it
    assert_one_warning(lambda: scaler.transform(sample[0][:2] / 255.0), "[0, 1]")
    assert range_warnings(lambda: scaler.transform(sample[0][:2])) == []


# ------------------------------------------------------ no warning on real data
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda X: X, id="uint8 sample"),
        pytest.param(lambda X: X.astype(np.float64), id="float sample"),
        pytest.param(lambda X: X[X.max(axis=1) == 254], id="batch with max 254"),
        pytest.param(lambda X: X[:1] // 3, id="faint digit, max 85"),
        pytest.param(lambda X: np.zeros((2, 784)), id="blank images"),
        pytest.param(
            lambda X: np.clip(X[:50] * 1.15 - 20.0, -25, 295),
            id="resampling over- and undershoot",
        ),
    ],
)
def test_real_images_never_warn(sample, make):
    X = make(sample[0])
    scaler = PixelScaler()
    assert range_warnings(lambda: scaler.fit(X).transform(X)) == []
    fitted = PixelScaler().fit(sample[0])
    assert range_warnings(lambda: fitted.transform(X)) == []


def test_right_settings_never_warn(digits, sample):
    X, _ = digits
    for scaler, data in [
        (PixelScaler(max_value=16), X),
        (PixelScaler(max_value="auto"), X),
        (PixelScaler(standardize=True), X),  # learned standardisation rescales
        (PixelScaler(max_value=1), sample[0] / 255.0),
        (PixelScaler(max_value="auto", clip=False), X - 8.0),
    ]:
        action = lambda s=scaler, d=data: s.fit(d).transform(d)  # noqa: E731
        assert range_warnings(action) == [], scaler


@pytest.mark.skipif(
    not os.path.isdir(MNIST_DIR), reason="the MNIST files in ../shared/data are absent"
)
def test_full_mnist_never_warns():
    X, _ = load_mnist(MNIST_DIR, subset="all", source="idx", return_X_y=True)
    scaler = PixelScaler()
    assert range_warnings(lambda: scaler.fit(X[:60000]).transform(X[60000:])) == []


# ----------------------------------------------------------------- sparse input
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_array, sp.coo_matrix])
def test_sparse_input_is_scaled_and_stays_sparse(sample, container):
    X = sample[0][:200].astype(np.float64)
    X_sparse = container(X)
    before = X_sparse.copy()
    scaler = PixelScaler().fit(X_sparse)
    out = scaler.transform(X_sparse)
    assert sp.issparse(out) and out.dtype == np.float32
    expected_format = "csc" if X_sparse.format == "csc" else "csr"
    assert out.format == expected_format
    np.testing.assert_array_equal(out.toarray(), PixelScaler().fit_transform(X))
    assert (X_sparse != before).nnz == 0  # the input is not changed
    back = scaler.inverse_transform(out)
    assert sp.issparse(back)
    np.testing.assert_allclose(back.toarray(), X, rtol=1e-6)


def test_sparse_auto_maximum_counts_implicit_zeros():
    X = sp.csr_matrix(np.array([[0.0, -3.0], [0.0, -1.0]]))
    assert PixelScaler(max_value="auto", clip=False).fit(X).data_max_ == 1.0


@pytest.mark.parametrize("standardize", [True, "mnist"])
def test_sparse_standardisation_is_refused_clearly(sample, standardize):
    X = sp.csr_matrix(sample[0][:20])
    with pytest.raises(ValueError, match="cannot take sparse X: centring"):
        PixelScaler(standardize=standardize).fit(X)
    fitted = PixelScaler(standardize=standardize).fit(sample[0][:20])
    for method in (fitted.transform, fitted.inverse_transform):
        with pytest.raises(ValueError, match="standardises"):
            method(X)


def test_sparse_pipeline_into_mlpclassifier(sample):
    X, y = sample
    X_sparse = sp.csr_matrix(X[:300])
    model = make_pipeline(PixelScaler(), MLPClassifier(max_iter=3, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_sparse, y[:300])
        dense = make_pipeline(PixelScaler(), MLPClassifier(max_iter=3, random_state=0))
        dense.fit(X[:300], y[:300])
    np.testing.assert_allclose(
        model.predict_proba(X_sparse[:20]), dense.predict_proba(X[:20]), atol=1e-5
    )


def test_torch_tensors_are_scaled_as_their_arrays():
    import torch

    X = np.random.default_rng(0).integers(0, 256, size=(20, 784)).astype(np.float64)
    expected = PixelScaler().fit_transform(X)
    tensor = torch.tensor(X, requires_grad=True)
    np.testing.assert_array_equal(PixelScaler().fit_transform(tensor), expected)
    np.testing.assert_array_equal(
        PixelScaler().fit(X).transform(tensor.to(torch.bfloat16)),
        PixelScaler()
        .fit(X)
        .transform(tensor.detach().to(torch.bfloat16).float().numpy()),
    )
