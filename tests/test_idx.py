"""Tests of read_idx and write_idx: the IDX format, round trips, malformed files."""

import gzip
import hashlib
import io
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skmnist.datasets import read_idx, write_idx
from skmnist.datasets._idx import _read_idx_md5, idx_md5

# The six IDX types: type code -> dtype.
CODES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.int16,
    0x0C: np.int32,
    0x0D: np.float32,
    0x0E: np.float64,
}
DTYPES = list(CODES.values())
SHAPES = [(), (0,), (7,), (3, 4), (2, 0, 3), (2, 3, 4, 5)]


def header(code: int, *dims: int) -> bytes:
    """An IDX header built by hand from the specification."""
    return struct.pack(f">BBBB{len(dims)}I", 0, 0, code, len(dims), *dims)


def example(dtype, shape) -> np.ndarray:
    """Values that use the whole range of the type (negative, fractional...)."""
    size = int(np.prod(shape))
    values = np.linspace(-1e4, 1e4, size) if size else np.empty(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = np.arange(size) * 7919 % (int(info.max) - int(info.min)) + info.min
    return np.asarray(values).astype(dtype).reshape(shape)


class Unseekable(io.RawIOBase):
    """A stream that can only be read forward, like a pipe or a socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._data.readinto(buffer)


def failing_read_peak_memory(stream, match: str) -> tuple[int, str]:
    """Peak memory (NumPy included) while read_idx fails, and the error message."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as error:
            read_idx(stream)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, str(error.value)


# ---------------------------------------------------------------------------
# The format itself, independently of write_idx
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("code, dtype", CODES.items())
def test_read_hand_built_file_of_every_type(tmp_path, code, dtype):
    expected = example(dtype, (2, 3))
    path = tmp_path / "data.idx"
    data = expected.astype(np.dtype(dtype).newbyteorder(">")).tobytes()
    path.write_bytes(header(code, 2, 3) + data)
    array = read_idx(path)
    assert array.dtype == dtype and array.dtype.isnative
    assert array.flags.writeable
    np.testing.assert_array_equal(array, expected)


@pytest.mark.parametrize("code, dtype", CODES.items())
def test_write_produces_the_specified_bytes(code, dtype):
    array = example(dtype, (3, 2))
    buffer = io.BytesIO()
    write_idx(buffer, array)
    big_endian = array.astype(np.dtype(dtype).newbyteorder(">")).tobytes()
    assert buffer.getvalue() == header(code, 3, 2) + big_endian


def test_read_official_mnist_labels(mnist_dir):
    labels = read_idx(mnist_dir / "train-labels-idx1-ubyte.gz")
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    assert np.bincount(labels)[1] == 6742
    raw = gzip.decompress((mnist_dir / "train-labels-idx1-ubyte.gz").read_bytes())
    assert hashlib.md5(raw).hexdigest() == "a25bea736e30d166cdddb491f175f624"


def test_zero_dimensional_array(tmp_path):
    path = tmp_path / "scalar.idx"
    path.write_bytes(header(0x0C) + struct.pack(">i", -5))
    array = read_idx(path)
    assert array.shape == () and array.dtype == np.int32 and array == -5


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda dtype: np.dtype(dtype).name)
def test_round_trip_path(tmp_path, dtype, shape, compress):
    array = example(dtype, shape)
    path = tmp_path / "array.idx"
    write_idx(path, array, compress=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") is compress
    result = read_idx(str(path))
    assert result.dtype == array.dtype and result.shape == array.shape
    assert result.tobytes() == array.tobytes()


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda dtype: np.dtype(dtype).name)
def test_round_trip_file_object(tmp_path, dtype, compress):
    array = example(dtype, (4, 5))
    path = tmp_path / "array.idx"
    with open(path, "wb") as f:
        write_idx(f, array, compress=compress)
    with open(path, "rb") as f:
        result = read_idx(f)
    np.testing.assert_array_equal(result, array)
    assert result.dtype == array.dtype


@settings(max_examples=60, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from(DTYPES),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
    ),
    compress=st.booleans(),
)
def test_round_trip_is_exact(array, compress):
    buffer = io.BytesIO()
    write_idx(buffer, array, compress=compress)
    buffer.seek(0)
    result = read_idx(buffer)
    assert result.dtype == array.dtype and result.shape == array.shape
    assert result.tobytes() == array.tobytes()  # NaN and -0.0 included


def test_round_trip_large_zero_size_dimension():
    array = np.empty((0, 2**32 - 1), dtype=np.float32)
    buffer = io.BytesIO()
    write_idx(buffer, array)
    buffer.seek(0)
    assert read_idx(buffer).shape == (0, 2**32 - 1)


@pytest.mark.parametrize("dtype", [">i4", "<i4", ">f8", "<i2"])
def test_write_accepts_any_byte_order(dtype):
    array = np.arange(-3, 3).astype(dtype)
    buffer = io.BytesIO()
    write_idx(buffer, array)
    buffer.seek(0)
    result = read_idx(buffer)
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, array)


def test_write_accepts_non_contiguous_arrays():
    array = np.arange(24, dtype=np.int16).reshape(4, 6)[:, ::2].T
    buffer = io.BytesIO()
    write_idx(buffer, array)
    buffer.seek(0)
    np.testing.assert_array_equal(read_idx(buffer), array)


def test_file_object_at_an_offset(tmp_path):
    array = example(np.int32, (3, 3))
    idx = io.BytesIO()
    write_idx(idx, array)
    path = tmp_path / "container.bin"
    path.write_bytes(b"PREFIX" + idx.getvalue())
    with open(path, "rb") as f:
        f.seek(6)
        np.testing.assert_array_equal(read_idx(f), array)
        f.seek(6)
        np.testing.assert_array_equal(read_idx(f, mmap=True), array)


@pytest.mark.parametrize("compress", [False, True])
def test_unseekable_stream(compress):
    array = example(np.float32, (5, 2))
    buffer = io.BytesIO()
    write_idx(buffer, array, compress=compress)
    result = read_idx(Unseekable(buffer.getvalue()))
    np.testing.assert_array_equal(result, array)


# ---------------------------------------------------------------------------
# Compression
# ---------------------------------------------------------------------------
def test_compress_default_follows_the_suffix(tmp_path):
    array = example(np.uint8, (2, 2))
    write_idx(tmp_path / "a.idx.gz", array)
    write_idx(tmp_path / "b.idx", array)
    assert (tmp_path / "a.idx.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "b.idx").read_bytes()[:4] == b"\x00\x00\x08\x02"


def test_gzip_detected_by_content_not_name(tmp_path):
    array = example(np.int16, (3, 2))
    gzipped_without_suffix = tmp_path / "data.idx"
    plain_with_suffix = tmp_path / "data.idx.gz"
    write_idx(gzipped_without_suffix, array, compress=True)
    write_idx(plain_with_suffix, array, compress=False)
    np.testing.assert_array_equal(read_idx(gzipped_without_suffix), array)
    np.testing.assert_array_equal(read_idx(plain_with_suffix), array)


def test_gzip_output_is_reproducible(tmp_path):
    array = example(np.float64, (10,))
    write_idx(tmp_path / "a.gz", array)
    first = (tmp_path / "a.gz").read_bytes()
    write_idx(tmp_path / "a.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == first


# ---------------------------------------------------------------------------
# Memory mapping
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda dtype: np.dtype(dtype).name)
def test_mmap(tmp_path, dtype):
    array = example(dtype, (6, 4))
    path = tmp_path / "array.idx"
    write_idx(path, array)
    mapped = read_idx(path, mmap=True)
    assert isinstance(mapped, np.memmap)
    assert not mapped.flags.writeable
    assert mapped.shape == array.shape
    assert mapped.dtype.newbyteorder("=") == array.dtype  # big-endian if wider
    np.testing.assert_array_equal(mapped, array)
    with pytest.raises(ValueError, match="read-only"):
        mapped[0, 0] = 1


def test_mmap_zero_size(tmp_path):
    path = tmp_path / "empty.idx"
    write_idx(path, np.empty((0, 3), dtype=np.uint8))
    mapped = read_idx(path, mmap=True)
    assert mapped.shape == (0, 3) and not mapped.flags.writeable


def test_mmap_of_gzip_is_refused(tmp_path):
    path = tmp_path / "array.idx.gz"
    write_idx(path, example(np.uint8, (2, 2)))
    with pytest.raises(ValueError, match="gzip-compressed and cannot be memory-mapped"):
        read_idx(path, mmap=True)


def test_mmap_of_in_memory_file_is_refused():
    buffer = io.BytesIO()
    write_idx(buffer, example(np.uint8, (2, 2)))
    buffer.seek(0)
    with pytest.raises(ValueError, match="cannot be memory-mapped"):
        read_idx(buffer, mmap=True)
    with pytest.raises(ValueError, match="cannot be memory-mapped"):
        read_idx(Unseekable(buffer.getvalue()), mmap=True)


# ---------------------------------------------------------------------------
# Malformed files
# ---------------------------------------------------------------------------
MALFORMED = {
    "empty": (b"", "too short for an IDX header"),
    "three bytes": (b"\x00\x00\x08", "too short for an IDX header"),
    "first byte": (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"x", "magic"),
    "second byte": (b"\x00\x01\x08\x01" + struct.pack(">I", 1) + b"x", "magic"),
    "type 0x07": (header(0x07, 1) + b"x", "unknown type code 0x07"),
    "type 0x0A": (header(0x0A, 1) + b"x", "unknown type code 0x0A"),
    "short header": (b"\x00\x00\x08\x03" + b"\x00" * 9, "3 dimensions need a header"),
    "truncated": (header(0x08, 2, 5) + bytes(7), "truncated"),
    "truncated int32": (header(0x0C, 2) + bytes(7), "8 bytes of data"),
    "trailing": (header(0x08, 3) + bytes(5), "trailing bytes"),
    "absurd": (header(0x08, 2**31, 2**31) + bytes(8), "4611686018427387904 bytes"),
}


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("content, fragment", MALFORMED.values(), ids=MALFORMED)
def test_malformed_file(tmp_path, content, fragment, compressed):
    path = tmp_path / "bad.idx"
    path.write_bytes(gzip.compress(content) if compressed else content)
    with pytest.raises(ValueError, match=fragment) as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_size_mismatch_reports_expected_and_actual(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(header(0x0B, 4, 5) + bytes(39))
    with pytest.raises(ValueError, match=r"shape \(4, 5\) of int16") as error:
        read_idx(path)
    assert "40 bytes of data" in str(error.value)
    assert "only 39 bytes" in str(error.value)
    path.write_bytes(header(0x0B, 4, 5) + bytes(41))
    with pytest.raises(ValueError, match="but 41 bytes follow the header"):
        read_idx(path)


@pytest.mark.parametrize(
    "make",
    [
        lambda content: io.BytesIO(content),
        lambda content: Unseekable(content),
        lambda content: io.BytesIO(gzip.compress(content)),
        lambda content: Unseekable(gzip.compress(content)),
    ],
    ids=["plain", "plain-unseekable", "gzip", "gzip-unseekable"],
)
def test_absurd_header_allocates_nothing(make):
    # 2**31 x 2**31 float64 would be 32 EiB; the file holds 8 bytes.
    content = header(0x0E, 2**31, 2**31) + bytes(8)
    peak, _ = failing_read_peak_memory(make(content), "truncated")
    assert peak < 10_000_000


def test_lying_header_over_big_gzip_costs_only_the_real_data():
    # The header claims 1 TiB; 16 MiB of real data follow, compressed to ~16 KiB.
    content = gzip.compress(header(0x08, 2**20, 2**20) + bytes(2**24), 1)
    for stream in (io.BytesIO(content), Unseekable(content)):
        peak, _ = failing_read_peak_memory(stream, "truncated")
        assert peak < 80_000_000


def test_gzip_bomb_is_not_decompressed():
    # The header claims 10 bytes; 64 MiB of zeros follow.
    content = gzip.compress(header(0x08, 10) + bytes(2**26), 1)
    peak, message = failing_read_peak_memory(io.BytesIO(content), "trailing bytes")
    assert peak < 10_000_000
    assert "more than 10 bytes" in message


def _corrupt_gzip() -> dict[str, bytes]:
    valid = gzip.compress(header(0x08, 1024) + bytes(range(256)) * 4)
    flipped = bytearray(valid)
    flipped[-12] ^= 0xFF  # in the deflate data, just before the 8-byte trailer
    return {
        "cut trailer": valid[:-4],
        "cut stream": valid[: len(valid) // 2],
        "flipped byte": bytes(flipped),
        "bad crc": valid[:-8] + bytes(4) + valid[-4:],
        "garbage after magic": b"\x1f\x8b" + b"not gzip at all",
    }


@pytest.mark.parametrize("content", _corrupt_gzip().values(), ids=_corrupt_gzip())
def test_corrupt_gzip(tmp_path, content):
    path = tmp_path / "bad.idx.gz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="corrupt gzip data") as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_error_names_file_object(tmp_path):
    with pytest.raises(ValueError, match="'<file object>': wrong magic"):
        read_idx(io.BytesIO(b"\x01\x02\x03\x04"))
    path = tmp_path / "named.idx"
    path.write_bytes(b"\x01\x02\x03\x04")
    with open(path, "rb") as f, pytest.raises(ValueError, match=r"named\.idx"):
        read_idx(f)


def test_more_dimensions_than_numpy_supports(tmp_path):
    path = tmp_path / "deep.idx"
    path.write_bytes(header(0x08, *([1] * 100)) + b"x")
    with pytest.raises(ValueError, match="100-dimensional"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing.idx")


def test_text_mode_file_object(tmp_path):
    path = tmp_path / "array.idx"
    write_idx(path, example(np.uint8, (2,)))
    with open(path) as f, pytest.raises(TypeError, match="text mode"):
        read_idx(f)


# ---------------------------------------------------------------------------
# write_idx validation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dtype", [bool, np.int64, np.uint16, np.uint32, np.float16, np.complex64, object]
)
def test_write_rejects_unsupported_dtype(dtype):
    array = np.zeros(3, dtype=dtype)
    with pytest.raises(TypeError, match=f"dtype {np.dtype(dtype)}"):
        write_idx(io.BytesIO(), array)


def test_write_rejects_strings_and_structured_arrays():
    for array in (np.array(["a", "b"]), np.zeros(2, dtype=[("x", "u1")])):
        with pytest.raises(TypeError, match="IDX cannot store dtype"):
            write_idx(io.BytesIO(), array)


def test_write_rejects_dimension_of_2_to_the_32():
    with pytest.raises(ValueError, match="below 2\\*\\*32"):
        write_idx(io.BytesIO(), np.empty((0, 2**32), dtype=np.uint8))


def test_write_rejects_bad_compress():
    with pytest.raises(TypeError, match="compress"):
        write_idx(io.BytesIO(), np.zeros(2, np.uint8), compress="yes")


# ---------------------------------------------------------------------------
# md5 while reading (what load_mnist identifies files by)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("how", ["path", "file object", "unseekable"])
def test_md5_of_the_stored_bytes_computed_while_reading(tmp_path, compress, how):
    array = example(np.int16, (40, 7))
    path = tmp_path / "a.idx"
    write_idx(path, array, compress=compress)
    stored = path.read_bytes()
    source = {
        "path": lambda: path,
        "file object": lambda: io.BytesIO(stored),
        "unseekable": lambda: Unseekable(stored),
    }[how]()
    result, md5, compressed = _read_idx_md5(source)
    np.testing.assert_array_equal(result, array)
    assert md5 == hashlib.md5(stored).hexdigest()
    assert compressed is compress


def test_md5_covers_bytes_after_the_data_too(tmp_path):
    """A gzip file with a second, empty member: the md5 is of the whole file."""
    array = example(np.uint8, (4, 4))
    buffer = io.BytesIO()
    write_idx(buffer, array, compress=True)
    stored = buffer.getvalue() + gzip.compress(b"", mtime=0)
    result, md5, _ = _read_idx_md5(io.BytesIO(stored))
    np.testing.assert_array_equal(result, array)
    assert md5 == hashlib.md5(stored).hexdigest()


def test_md5_of_official_mnist_labels(mnist_dir):
    path = mnist_dir / "t10k-labels-idx1-ubyte.gz"
    labels, md5, compressed = _read_idx_md5(path)
    assert compressed and md5 == hashlib.md5(path.read_bytes()).hexdigest()
    assert (
        idx_md5(labels) == hashlib.md5(gzip.decompress(path.read_bytes())).hexdigest()
    )
