"""skmnist.datasets.read_samples: the input files of `skmnist predict`, in Python."""

import pickle
import tracemalloc

import numpy as np
import pytest

from skmnist.datasets import load_mnist, read_samples, write_idx


@pytest.fixture(scope="module")
def digits():
    """Eight real MNIST test digits, shape (8, 784), uint8."""
    X, _ = load_mnist(subset="test", source="sample", return_X_y=True)
    return X[:8]


def write_npy_header(path, descr, shape, data=b""):
    """A .npy file whose header claims ``descr`` and ``shape``, then ``data``."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": descr, "fortran_order": False, "shape": shape}
        )
        f.write(data)
    return path


# --------------------------------------------------------------- IDX and .npy
@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
@pytest.mark.parametrize("shape", [(8, 28, 28), (8, 784)])
def test_idx_files(digits, tmp_path, name, shape):
    path = tmp_path / name
    write_idx(path, digits.reshape(shape))
    X = read_samples(path)
    assert X.dtype == np.uint8
    np.testing.assert_array_equal(X, digits)


@pytest.mark.parametrize(
    "shape, rows",
    [((8, 784), 8), ((8, 28, 28), 8), ((28, 28), 1), ((784,), 1)],
)
def test_npy_shapes(digits, tmp_path, shape, rows):
    path = tmp_path / "digits.npy"
    np.save(path, digits[:rows].reshape(shape))
    for file in (path, str(path)):
        X = read_samples(file)
        np.testing.assert_array_equal(X, digits[:rows])


def test_values_and_dtype_are_kept(digits, tmp_path):
    scaled = digits[:3].astype(np.float32) / 255
    np.save(tmp_path / "scaled.npy", np.asfortranarray(scaled))
    X = read_samples(tmp_path / "scaled.npy")
    assert X.dtype == np.float32 and X.flags.writeable
    np.testing.assert_array_equal(X, scaled)


def test_other_feature_counts(tmp_path):
    np.save(tmp_path / "square.npy", np.ones((2, 10, 10)))
    assert read_samples(tmp_path / "square.npy", n_features=100).shape == (2, 100)
    np.save(tmp_path / "rows.npy", np.ones((3, 50)))
    assert read_samples(tmp_path / "rows.npy", n_features=50).shape == (3, 50)


# ----------------------------------------------------------------- images
def test_image_file_is_one_normalised_row(digits, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    from skmnist.images import read_digit_image

    path = tmp_path / "paper.png"  # dark ink on white paper, twice MNIST's size
    Image.fromarray(255 - digits[0].reshape(28, 28)).resize((56, 56)).save(path)
    X = read_samples(path)
    assert X.shape == (1, 784) and X.dtype == np.uint8
    np.testing.assert_array_equal(X[0], read_digit_image(path))
    with pytest.warns(UserWarning, match="holds no ink"):  # light ink: none here
        never = read_samples(path, invert="never")
    with pytest.warns(UserWarning, match="holds no ink"):
        np.testing.assert_array_equal(never[0], read_digit_image(path, invert="never"))
    small = read_samples(path, n_features=16 * 16)
    np.testing.assert_array_equal(small[0], read_digit_image(path, side=16))


def test_image_needs_a_square_feature_count(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    Image.new("L", (28, 28), 255).save(tmp_path / "blank.png")
    with pytest.raises(ValueError, match=r"blank\.png.*not the pixels of a square"):
        read_samples(tmp_path / "blank.png", n_features=50)


# ------------------------------------------------------------- wrong shapes
@pytest.mark.parametrize(
    "shape", [(3, 100), (2, 28, 27), (2, 1, 28, 28), (783,), (), (0,)]
)
def test_wrong_shapes_name_the_file_and_the_shapes_taken(tmp_path, shape):
    np.save(tmp_path / "odd.npy", np.zeros(shape, dtype=np.uint8))
    with pytest.raises(ValueError) as info:
        read_samples(tmp_path / "odd.npy")
    message = str(info.value)
    assert "odd.npy" in message and f"shape {shape}" in message
    assert "784 features" in message and "(n, 28, 28) or (28, 28)" in message


def test_wrong_idx_shape(tmp_path):
    write_idx(tmp_path / "labels-idx1-ubyte", np.arange(10, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"labels-idx1-ubyte.*shape \(10,\)"):
        read_samples(tmp_path / "labels-idx1-ubyte")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_features": 0}, "n_features must be a positive"),
        ({"n_features": 78.4}, "n_features must be a positive"),
        ({"n_features": True}, "n_features must be a positive"),
        ({"invert": "yes"}, "invert must be one of"),
    ],
)
def test_invalid_arguments(digits, tmp_path, kwargs, match):
    np.save(tmp_path / "digits.npy", digits)
    with pytest.raises(ValueError, match=match):
        read_samples(tmp_path / "digits.npy", **kwargs)


# ----------------------------------------------------------- hostile files
def test_npy_pickle_is_never_loaded(tmp_path, write_malicious_pickle):
    marker = tmp_path / "pwned.txt"
    payload = write_malicious_pickle(tmp_path / "payload.pkl", marker).read_bytes()
    path = write_npy_header(tmp_path / "evil.npy", "|O", (1,), payload)
    with pytest.raises(ValueError, match=r"evil\.npy.*not a readable \.npy"):
        read_samples(path)
    assert not marker.exists()
    pickle.loads(payload)  # the payload is real: loading it runs its code
    assert marker.read_text() == "PWNED"


def test_npy_header_claiming_more_than_the_file_allocates_nothing(tmp_path):
    # 200 MB claimed, 100 bytes present: np.load alone would allocate 200 MB.
    path = write_npy_header(tmp_path / "liar.npy", "|u1", (255_102, 784), b"\0" * 100)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"liar\.npy.*not a readable \.npy"):
            read_samples(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000


def test_npy_header_claiming_terabytes(tmp_path):
    path = write_npy_header(tmp_path / "huge.npy", "<f8", (2**37, 784))
    with pytest.raises(ValueError, match=r"huge\.npy.*not a readable \.npy"):
        read_samples(path)


@pytest.mark.parametrize(
    "content",
    [b"\x93NUMPY\x01\x00garbage", b"\x93NUMPY\x09\x00\x10\x00{'descr': '<f8'}"],
)
def test_corrupt_npy(tmp_path, content):
    (tmp_path / "corrupt.npy").write_bytes(content)
    with pytest.raises(ValueError, match=r"corrupt\.npy.*not a readable \.npy"):
        read_samples(tmp_path / "corrupt.npy")


@pytest.mark.parametrize(
    "array", [np.array(["x" * 784]), np.zeros((2, 784), dtype=complex)]
)
def test_npy_of_values_that_are_not_intensities(tmp_path, array):
    np.save(tmp_path / "text.npy", array)
    with pytest.raises(ValueError, match=r"text\.npy.*not pixel intensities"):
        read_samples(tmp_path / "text.npy")


def test_truncated_idx_names_the_file(digits, tmp_path):
    path = tmp_path / "cut-idx3-ubyte"
    write_idx(path, digits.reshape(8, 28, 28))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"cut-idx3-ubyte.*truncated"):
        read_samples(path)


@pytest.mark.parametrize("content", [b"just some notes\n", b"", b"\x00", b"\xff\xd8"])
def test_files_that_are_nothing_readable(tmp_path, content):
    pytest.importorskip("PIL")
    (tmp_path / "notes.txt").write_bytes(content)
    with pytest.raises(ValueError, match=r"notes\.txt.*is not a \.npy array, an IDX"):
        read_samples(tmp_path / "notes.txt")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_samples(tmp_path / "absent.npy")
    with pytest.raises(IsADirectoryError):
        read_samples(tmp_path)
