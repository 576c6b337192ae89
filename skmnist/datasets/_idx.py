"""Read and write IDX files, the format of the original MNIST distribution.

An IDX file is a header followed by the array data in C order, big-endian::

    byte 0-1   two zero bytes
    byte 2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
               0x0D float32, 0x0E float64
    byte 3     number of dimensions ``ndim`` (0 to 255)
    then       ``ndim`` big-endian uint32 sizes, then the data

A file may be gzip-compressed as a whole; compression is recognised from the
content (the gzip magic bytes ``1f 8b``), never from the file name.
"""

import gzip
import hashlib
import io
import math
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import ArrayLike

from .._atomic import atomic_write

__all__ = ["read_idx", "write_idx"]

IdxFile = str | os.PathLike[str] | BinaryIO

# Type code -> on-disk (big-endian) dtype.
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# (kind, itemsize) of any byte order -> type code.
_CODES = {(dtype.kind, dtype.itemsize): code for code, dtype in _DTYPES.items()}
_SUPPORTED = "uint8, int8, int16, int32, float32 and float64"
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_NDIM = 255
_MAX_DIM = 2**32 - 1
# DEFLATE cannot expand data by more than 1032:1, so a gzip stream of n bytes
# never decompresses to more than 1032 * n bytes.
_MAX_DEFLATE_RATIO = 1032
_INITIAL_BUFFER = 1 << 20  # grown geometrically, only as data arrives


def _display_name(file: object) -> str:
    """Name used in error messages: the path, a file object's name, or a stub."""
    if isinstance(file, str | bytes | os.PathLike):
        return os.fsdecode(file)
    name = getattr(file, "name", None)
    if isinstance(name, str | bytes | os.PathLike):
        return os.fsdecode(name)
    return "<file object>"


def _invalid(name: str, problem: str) -> ValueError:
    return ValueError(f"Invalid IDX file {name!r}: {problem}")


@contextmanager
def _open_binary(file: IdxFile, mode: str) -> Iterator[BinaryIO]:
    """Open a path, or pass an already open binary file object through.

    A path is written atomically: the previous file stays whole on a failure.
    """
    if isinstance(file, str | bytes | os.PathLike):
        with open(file, mode) if mode == "rb" else atomic_write(file, mode) as f:
            yield f
        return
    if isinstance(file, io.TextIOBase):
        raise TypeError(
            f"{_display_name(file)!r} is opened in text mode; IDX files are "
            "binary: open it with mode 'rb' or 'wb', or pass its path"
        )
    yield file


def _remaining_size(f: BinaryIO) -> int | None:
    """Bytes left from the current position, or None if it cannot be known."""
    try:
        if not f.seekable():
            return None
        position = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(position)
    except (OSError, ValueError, AttributeError):
        return None
    return end - position


def _read_upto(read: Callable[[int], bytes], size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of file."""
    chunks, missing = [], size
    while missing > 0:
        chunk = read(missing)
        if not chunk:
            break
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _readinto(stream: BinaryIO, target: memoryview) -> int:
    """Read into ``target``; return the number of bytes read, 0 at end of file."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return readinto(target) or 0
    chunk = stream.read(len(target))
    target[: len(chunk)] = chunk
    return len(chunk)


def _read_bounded(f: BinaryIO, limit: int, initial: int = _INITIAL_BUFFER) -> bytearray:
    """Read at most ``limit`` bytes into a buffer that grows only as data arrives.

    A header that lies about the size, or a gzip bomb, therefore costs no more
    memory than the data actually present (and never more than ``limit``).
    """
    buffer = bytearray(min(limit, initial))
    filled = 0
    while filled < limit:
        if filled == len(buffer):
            buffer.extend(bytes(min(len(buffer), limit - len(buffer))))
        with memoryview(buffer) as view, view[filled:] as target:
            count = _readinto(f, target)
        if not count:
            break
        filled += count
    del buffer[filled:]
    return buffer


class _Prefixed(io.RawIOBase):
    """An unseekable stream with a few already-read bytes pushed back in front."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        if not self._prefix:
            return _readinto(self._stream, target)
        count = min(len(target), len(self._prefix))
        target[:count] = self._prefix[:count]
        self._prefix = self._prefix[count:]
        return count


class _Hashing(io.RawIOBase):
    """A stream that feeds every byte read through it to a hashlib digest."""

    def __init__(self, stream: BinaryIO, digest: Any) -> None:
        self._stream = stream
        self._digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        count = _readinto(self._stream, target)
        with memoryview(target) as view, view[:count] as chunk:
            self._digest.update(chunk)
        return count

    def drain(self) -> None:
        """Hash the bytes that the reader left unread (none for a valid file)."""
        while self.read(_INITIAL_BUFFER):
            pass


def _parse_header(f: BinaryIO, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """Return the on-disk dtype, the shape and the header length in bytes."""
    magic = _read_upto(f.read, 4)
    if len(magic) < 4:
        raise _invalid(
            name,
            f"too short for an IDX header: {len(magic)} bytes, an IDX file "
            "starts with at least 4",
        )
    if magic[:2] != b"\x00\x00":
        raise _invalid(
            name,
            f"wrong magic number 0x{magic.hex()}: the first two bytes of an IDX "
            "file must be zero",
        )
    code, ndim = magic[2], magic[3]
    if code not in _DTYPES:
        known = ", ".join(f"0x{known:02X}" for known in _DTYPES)
        raise _invalid(name, f"unknown type code 0x{code:02X} (known: {known})")
    sizes = _read_upto(f.read, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise _invalid(
            name,
            f"too short for its header: {ndim} dimensions need a header of "
            f"{4 + 4 * ndim} bytes, the file has only {4 + len(sizes)}",
        )
    shape = struct.unpack(f">{ndim}I", sizes)
    return _DTYPES[code], shape, 4 + 4 * ndim


def _describe(dtype: np.dtype, shape: tuple[int, ...], expected: int) -> str:
    return (
        f"the header declares shape {shape} of {dtype.newbyteorder('=').name}, "
        f"that is {expected} bytes of data"
    )


def _size_mismatch(
    name: str,
    dtype: np.dtype,
    shape: tuple[int, ...],
    expected: int,
    actual: int,
    *,
    exact: bool = True,
) -> ValueError:
    declared = _describe(dtype, shape, expected)
    if actual < expected:
        return _invalid(
            name, f"truncated: {declared}, but only {actual} bytes follow the header"
        )
    found = str(actual) if exact else f"more than {expected}"
    return _invalid(
        name, f"trailing bytes: {declared}, but {found} bytes follow the header"
    )


def _to_array(buffer: bytearray, dtype: np.dtype, shape: tuple[int, ...]):
    """View the buffer as a native-byte-order array of the given shape (no copy)."""
    array = np.frombuffer(buffer, dtype=dtype)
    if not dtype.isnative:
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array.reshape(shape)


def _read_data(
    f: BinaryIO,
    name: str,
    dtype: np.dtype,
    shape: tuple[int, ...],
    expected: int,
    *,
    size_checked: bool = False,
) -> np.ndarray:
    # When the file size was checked, one exact allocation; else grow as needed.
    initial = expected + 1 if size_checked else _INITIAL_BUFFER
    data = _read_bounded(f, expected + 1, initial)
    if len(data) != expected:
        raise _size_mismatch(name, dtype, shape, expected, len(data), exact=False)
    return _shaped(name, shape, lambda: _to_array(data, dtype, shape))


def _check_gzip_bound(
    name: str, dtype: np.dtype, shape: tuple[int, ...], expected: int, size: int
) -> None:
    """Reject, before reading, a header that the compressed size cannot hold."""
    bound = _MAX_DEFLATE_RATIO * size
    if expected > bound:
        raise _invalid(
            name,
            f"truncated: {_describe(dtype, shape, expected)}, but {size} bytes "
            f"of gzip data decompress to at most {bound} bytes",
        )


def _read_gzip(
    f: BinaryIO, name: str, compressed_size: int | None, *, mmap: bool
) -> np.ndarray:
    if mmap:
        raise ValueError(
            f"{name!r} is gzip-compressed and cannot be memory-mapped: "
            "decompress it first (e.g. with gunzip) or pass mmap=False"
        )
    try:
        with gzip.GzipFile(fileobj=f, mode="rb") as stream:
            dtype, shape, _ = _parse_header(stream, name)
            expected = math.prod(shape) * dtype.itemsize
            if compressed_size is not None:
                _check_gzip_bound(name, dtype, shape, expected, compressed_size)
            return _read_data(stream, name, dtype, shape, expected)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _invalid(name, f"corrupt gzip data ({exc})") from exc


def _shaped(name: str, shape: tuple[int, ...], make: Callable[[], np.ndarray]):
    """Build the array, explaining NumPy's own limit on the number of dimensions."""
    try:
        return make()
    except ValueError as exc:
        if len(shape) <= 32:
            raise
        raise ValueError(
            f"{name!r} holds a valid {len(shape)}-dimensional IDX array, but this "
            f"NumPy cannot represent that many dimensions ({exc})"
        ) from exc


def _read_plain(
    f: BinaryIO, name: str, size: int | None, start: int | None, *, mmap: bool
) -> np.ndarray:
    if mmap and size is None:
        raise ValueError(
            f"{name!r} is not a regular file and cannot be memory-mapped; "
            "pass mmap=False"
        )
    dtype, shape, header_size = _parse_header(f, name)
    expected = math.prod(shape) * dtype.itemsize
    if size is not None and size - header_size != expected:
        raise _size_mismatch(name, dtype, shape, expected, size - header_size)
    if not mmap:
        checked = size is not None
        return _read_data(f, name, dtype, shape, expected, size_checked=checked)
    if expected == 0:  # an empty region cannot be mapped
        array = _shaped(name, shape, lambda: np.empty(shape, dtype=dtype))
        array.flags.writeable = False
        return array
    try:
        f.fileno()
    except (OSError, AttributeError) as exc:
        raise ValueError(
            f"{name!r} is not backed by a file descriptor and cannot be "
            "memory-mapped; pass mmap=False"
        ) from exc
    offset = start + header_size
    return _shaped(
        name,
        shape,
        lambda: np.memmap(f, dtype=dtype, mode="r", offset=offset, shape=shape),
    )


def read_idx(file: IdxFile, *, mmap: bool = False) -> np.ndarray:
    """Read an array from an IDX file, gzip-compressed or not.

    Every type of the IDX specification is supported (unsigned and signed
    bytes, int16, int32, float32, float64), with any number of dimensions that
    NumPy supports. Compression is detected from the content (the gzip magic
    bytes), not from the file name. The header is validated against the file
    size before any data is allocated, so a corrupt or hostile header cannot
    make this function allocate more than the data actually present.

    Parameters
    ----------
    file : str, os.PathLike or binary file object
        Path of the file, or a file object opened in binary mode and positioned
        at the start of the IDX data.
    mmap : bool, default=False
        Memory-map the data instead of reading it (uncompressed files on disk
        only). The result is then a read-only :class:`numpy.memmap`; since
        byte-swapping would need a copy, types wider than one byte keep the
        file's big-endian dtype (for instance ``>i4``, with the same values).
        A zero-size array is returned as an ordinary read-only array.

    Returns
    -------
    array : ndarray
        The data with the shape of the header, in native byte order (see
        ``mmap`` for the exception) with its natural dtype: uint8, int8,
        int16, int32, float32 or float64.

    Raises
    ------
    ValueError
        If the file is not a valid IDX file: too short for a header, a non-zero
        magic prefix, an unknown type code, a data length that does not match
        the header (truncated or trailing bytes), or corrupt gzip data; also if
        ``mmap=True`` for gzip-compressed data or a file object that is not a
        regular file. The message names the file and the problem.
    FileNotFoundError
        If ``file`` is a path that does not exist.
    TypeError
        If ``file`` is a file object opened in text mode.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from skmnist.datasets import read_idx, write_idx
    >>> buffer = io.BytesIO()
    >>> write_idx(buffer, np.arange(6, dtype=np.int16).reshape(2, 3))
    >>> _ = buffer.seek(0)
    >>> read_idx(buffer)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int16)
    >>> read_idx(io.BytesIO(b"\\x00\\x00\\x08\\x01\\x00\\x00\\x00\\x03\\x07"))
    Traceback (most recent call last):
    ...
    ValueError: Invalid IDX file '<file object>': truncated: ...
    """
    return _read(file, mmap=mmap)[0]


def _read(file: IdxFile, *, mmap: bool, digest: Any = None) -> tuple[np.ndarray, bool]:
    """The array and whether the file is gzipped; ``digest`` hashes the file.

    ``digest`` (a :mod:`hashlib` object) is updated with the file's bytes as
    stored (the compressed ones for a gzip file) while they are read: the data
    are not read twice.
    """
    name = _display_name(file)
    with _open_binary(file, "rb") as f:
        size = _remaining_size(f)
        start = f.tell() if size is not None else None
        head = _read_upto(f.read, 2)
        if start is not None:
            f.seek(start)
        if start is None:  # unseekable: push the two bytes back in front
            f = _Prefixed(head, f)
        if digest is not None and not mmap:
            f = _Hashing(f, digest)
        compressed = head == _GZIP_MAGIC
        if compressed:
            array = _read_gzip(f, name, size, mmap=mmap)
        else:
            array = _read_plain(f, name, size, start, mmap=mmap)
        if isinstance(f, _Hashing):
            f.drain()
        return array, compressed


def _read_idx_md5(file: IdxFile) -> tuple[np.ndarray, str, bool]:
    """Read an IDX file and compute the md5 of its bytes while reading them.

    Returns the array (as :func:`read_idx`), the md5 of the file as stored (of
    the compressed bytes for a gzip file) and whether the file is gzipped.
    """
    digest = hashlib.md5()
    array, compressed = _read(file, mmap=False, digest=digest)
    return array, digest.hexdigest(), compressed


def _type_code(dtype: np.dtype) -> int:
    code = _CODES.get((dtype.kind, dtype.itemsize))
    if code is None or dtype.fields is not None:
        raise TypeError(
            f"IDX cannot store dtype {dtype}: the supported types are {_SUPPORTED}; "
            "convert the array first, e.g. array.astype(np.int32)"
        )
    return code


def _header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """The IDX header of an array with the given dtype and shape."""
    code = _type_code(dtype)
    if len(shape) > _MAX_NDIM:
        raise ValueError(
            f"IDX stores at most {_MAX_NDIM} dimensions, the array has {len(shape)}"
        )
    if any(size > _MAX_DIM for size in shape):
        raise ValueError(
            f"IDX stores dimensions below 2**32, the array has shape {shape}"
        )
    return struct.pack(f">BBBB{len(shape)}I", 0, 0, code, len(shape), *shape)


def _big_endian_bytes(array: np.ndarray) -> np.ndarray:
    """The array's data as a flat uint8 array in IDX order (C order, big-endian)."""
    data = array.astype(array.dtype.newbyteorder(">"), order="C", copy=False)
    return data.reshape(-1).view(np.uint8)


def idx_md5(array: np.ndarray) -> str:
    """The md5 of the uncompressed IDX file that holds ``array``.

    An IDX file is exactly its header followed by its data, so this is also the
    md5 of any uncompressed file that :func:`read_idx` returned ``array`` from.
    """
    array = np.asarray(array)
    digest = hashlib.md5(_header(array.dtype, array.shape))
    digest.update(_big_endian_bytes(array))
    return digest.hexdigest()


def write_idx(file: IdxFile, array: ArrayLike, *, compress: bool | None = None) -> None:
    """Write an array to an IDX file, optionally gzip-compressed.

    ``read_idx(file)`` returns an exact copy of the array (values, dtype and
    shape, zero-size dimensions included).

    Parameters
    ----------
    file : str, os.PathLike or binary file object
        Path of the file to create (replaced if it exists, atomically: on a
        failure an existing file stays as it was), or a file object opened
        in binary mode.
    array : array-like
        The data. Its dtype must be one of uint8, int8, int16, int32, float32
        and float64, in any byte order; it has at most 255 dimensions, each
        smaller than 2**32.
    compress : bool or None, default=None
        Whether to gzip the file. None compresses if and only if the path (or
        the file object's ``name``) ends in ``.gz``. The output does not depend
        on the time of writing.

    Raises
    ------
    TypeError
        If the dtype cannot be stored in IDX (for instance bool, int64,
        uint16 or float16), or ``compress`` is not a bool or None.
    ValueError
        If the array has more than 255 dimensions or a dimension of 2**32 or
        more.

    Examples
    --------
    A float32 array comes back with its dtype and shape, here from a file
    gzip-compressed because its name ends in ``.gz``:

    >>> import io
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from skmnist.datasets import read_idx, write_idx
    >>> scores = np.array([[0.5, -1.0, 2.0], [0.0, 3.25, -0.125]], dtype=np.float32)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "scores-idx2-float.gz")
    ...     write_idx(path, scores)
    ...     copy = read_idx(path)
    >>> copy.dtype, copy.shape, bool((copy == scores).all())
    (dtype('float32'), (2, 3), True)

    int64 (NumPy's default integer) is not an IDX type:

    >>> write_idx(io.BytesIO(), np.array([1, 2, 3], dtype=np.int64))
    Traceback (most recent call last):
    ...
    TypeError: IDX cannot store dtype int64: ... e.g. array.astype(np.int32)
    """
    array = np.asarray(array)
    header = _header(array.dtype, array.shape)
    if compress is None:
        compress = _display_name(file).lower().endswith(".gz")
    elif not isinstance(compress, bool):
        raise TypeError(f"compress must be True, False or None, got {compress!r}")
    data = _big_endian_bytes(array)
    with _open_binary(file, "wb") as f:
        if compress:
            # The name in the gzip header is the file's, not the temporary one's.
            path = isinstance(file, str | bytes | os.PathLike)
            name = os.fsdecode(file) if path else None  # None: the object's name
            with gzip.GzipFile(name, "wb", fileobj=f, mtime=0) as stream:
                stream.write(header)
                stream.write(data)
        else:
            f.write(header)
            f.write(data)
