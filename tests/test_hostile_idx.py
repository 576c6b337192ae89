"""read_idx on hostile input: 10,000 generated malformed files, clean errors only.

Every input must either parse (a file that happens to be valid) or raise
ValueError / OSError with a message; never another exception, never a large
allocation because a header says so, never a hang (each test is time-bounded by
its example count and hypothesis' deadline is off only to absorb machine noise).
"""

import gzip
import io
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skmnist.datasets import read_idx, write_idx

pytestmark = pytest.mark.slow  # hypothesis reads thousands of files

TYPE_CODES = [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]
FUZZ = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],
    "database": None,
}
ALLOCATION_LIMIT = 64 * 2**20  # no single read may allocate more than 64 MB


def read_cleanly(payload: bytes) -> None:
    """Read ``payload``; only a result, ValueError or OSError (with text) may come."""
    tracemalloc.start()
    try:
        array = read_idx(io.BytesIO(payload))
    except (ValueError, OSError) as exc:
        assert str(exc), "an error without a message"
    else:
        assert isinstance(array, np.ndarray)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < ALLOCATION_LIMIT, f"read allocated {peak} bytes"


def header(type_code: int, dims: list[int], magic: bytes = b"\0\0") -> bytes:
    return magic + bytes([type_code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


@settings(max_examples=4000, **FUZZ)
@given(st.binary(max_size=96), st.booleans())
def test_random_bytes(payload, compress):
    read_cleanly(gzip.compress(payload) if compress else payload)


@settings(max_examples=3000, **FUZZ)
@given(
    magic=st.sampled_from([b"\0\0", b"\0\1", b"\x1f\x8b", b"PK"]),
    type_code=st.one_of(st.sampled_from(TYPE_CODES), st.integers(0, 255)),
    dims=st.lists(
        st.one_of(st.integers(0, 8), st.integers(2**20, 2**32 - 1)), max_size=6
    ),
    body=st.binary(max_size=256),
    compress=st.booleans(),
)
def test_lying_headers(magic, type_code, dims, body, compress):
    """Headers whose sizes, types or magic do not match the bytes that follow."""
    payload = header(type_code, dims, magic) + body
    read_cleanly(gzip.compress(payload) if compress else payload)


@pytest.fixture(scope="module")
def valid_files():
    files = []
    for dtype in ["u1", "i1", ">i2", ">i4", ">f4", ">f8"]:
        for compress in (False, True):
            buffer = io.BytesIO()
            array = np.arange(24).reshape(2, 3, 4).astype(dtype)
            write_idx(buffer, array, compress=compress)
            files.append(buffer.getvalue())
    return files


@settings(max_examples=3000, **FUZZ)
@given(data=st.data())
def test_mutated_valid_files(valid_files, data):
    """Valid files (plain and gzip) with bytes flipped, cut off or appended."""
    payload = bytearray(data.draw(st.sampled_from(valid_files)))
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "truncate", "append"]))
        if action == "flip" and payload:
            index = data.draw(st.integers(0, len(payload) - 1))
            payload[index] = data.draw(st.integers(0, 255))
        elif action == "truncate":
            payload = payload[: data.draw(st.integers(0, len(payload)))]
        else:
            payload += data.draw(st.binary(min_size=1, max_size=16))
    read_cleanly(bytes(payload))
