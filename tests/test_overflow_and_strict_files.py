"""Inputs that overflow the network; image and model files that hide work or data."""

import io
import struct

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.persistence import load_model, save_model

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


@pytest.fixture(scope="module")
def classifier(digits):
    X, y = digits
    clf = MLPDigitClassifier((8,), max_iter=2, random_state=0)
    return clf.fit(X.astype(np.float32), y)


# ------------------------------------------------- outputs that overflow
@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "score"]
)
def test_rows_that_overflow_the_network_are_an_error_not_nan(
    classifier, digits, method
):
    X, y = digits
    X = X[:20].astype(np.float64)
    X[3, 10] = 1e300  # finite in float64, infinite once in float32
    args = (X, y[:20]) if method == "score" else (X,)
    with pytest.raises(ValueError, match="outputs overflow for some rows of X"):
        getattr(classifier, method)(*args)


def test_a_scaler_without_clipping_that_overflows_is_an_error(digits):
    X, y = digits
    pipe = make_pipeline(
        PixelScaler(max_value=16, clip=False),
        MLPDigitClassifier((8,), max_iter=2, random_state=0),
    ).fit(X, y)
    bad = X[:5].astype(np.float64)
    bad[0, 0] = 1e300
    with pytest.raises(ValueError, match=r"overflow|infinity"):
        pipe.predict_proba(bad)


def test_invscaling_with_a_large_power_t_decays_to_zero(digits):
    X, y = digits
    clf = MLPDigitClassifier(
        (8,), solver="sgd", learning_rate="invscaling", power_t=400.0, max_iter=3
    )
    clf.fit(X, y)  # OverflowError from (t + 1) ** power_t before
    assert clf.n_iter_ == 3


# ------------------------------------------------- progressive JPEGs
def _progressive_jpeg(side: int, extra_scans: int = 0) -> bytes:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", progressive=True)
    data = bytearray(buffer.getvalue())
    frame = data.find(b"\xff\xc2")
    struct.pack_into(">HH", data, frame + 5, side, side)
    first = data.find(b"\xff\xda")
    after = data.find(b"\xff", first + 2)
    while data[after + 1] == 0:  # stuffed bytes of the scan's data
        after = data.find(b"\xff", after + 2)
    return bytes(data[:first] + data[first:after] * (1 + extra_scans) + data[first:])


def test_a_progressive_jpeg_is_bounded_by_its_full_size(tmp_path):
    from skmnist.images import read_digit_image

    path = tmp_path / "huge.jpg"
    path.write_bytes(_progressive_jpeg(13000))  # 7 KB; took 1.6 GB to decode
    with pytest.raises(ValueError, match="13000 x 13000 pixels"):
        read_digit_image(path)


def test_a_progressive_jpeg_of_many_scans_is_refused(tmp_path):
    from skmnist.images import read_digit_image

    path = tmp_path / "scans.jpg"
    path.write_bytes(_progressive_jpeg(2000, extra_scans=300))  # 13.5 s before
    with pytest.raises(ValueError, match=r"progressive JPEG of 3\d\d scans"):
        read_digit_image(path)


# ------------------------------------------------- bytes outside a model file
@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory, classifier):
    path = tmp_path_factory.mktemp("model") / "model.skmnist"
    save_model(classifier, path)
    return path.read_bytes()


@pytest.mark.parametrize(
    "edit",
    [
        lambda data: data + data,  # two archives: readers disagree on which
        lambda data: data + b"junk",
        lambda data: b"PK\x03\x04" + bytes(26) + data,
    ],
    ids=["two-archives", "trailing-bytes", "leading-bytes"],
)
def test_bytes_outside_the_archive_are_refused(tmp_path, model_bytes, edit):
    path = tmp_path / "bad.skmnist"
    path.write_bytes(edit(model_bytes))
    with pytest.raises(ValueError, match=r"bad\.skmnist"):
        load_model(path)


def test_an_unchanged_file_still_loads(tmp_path, model_bytes, classifier, digits):
    path = tmp_path / "good.skmnist"
    path.write_bytes(model_bytes)
    X = digits[0][:10].astype(np.float32)
    np.testing.assert_array_equal(
        load_model(path, device="cpu").predict_proba(X), classifier.predict_proba(X)
    )
