"""The container checks of secure model files: work linear in the file's size.

Before :mod:`zipfile` checks the CRC-32 of the members and before skops
builds anything, a model file is checked to describe no more than it holds:

- :func:`read_model_file` reads a regular file of at most
  :data:`MAX_FILE_SIZE` bytes, exactly the size it has when opened (not a
  device, a FIFO or a folder, which would be read without end or block);
- :func:`check_members` checks that the members are stored (not compressed),
  have distinct names and sane sizes, and that their local headers and data
  lie inside the file without overlapping, so that reading every member (the
  CRC-32 check, then skops) reads each byte of the file at most once;
- :func:`check_expansion` bounds what ``schema.json`` describes once its
  shared references are expanded (:data:`MAX_NODES` objects), and checks
  that each array member holds exactly the data its ``.npy`` header
  describes, so that its arrays, counted as often as they are referred to,
  hold no more elements than the file has bytes.

Each raises :class:`FileError` (a ValueError) naming the file and what is
wrong.
"""

from __future__ import annotations

import math
import os
import stat
import struct
import zipfile
from typing import Any, BinaryIO

import numpy as np

#: The largest model file read, in bytes (2 GiB). The largest network
#: skmnist trains in practice, ``(1500, 1000, 500)`` on MNIST in float64 with
#: Adam's state kept, makes a file of about 80 MB.
MAX_FILE_SIZE = 2**31

#: The most objects a model file may describe once every shared reference
#: counts as a full copy of what it refers to, unless the file writes out
#: more (a file that shares nothing is bounded by its size already). Real
#: model files describe 166 (a classifier) to 296 objects (a pipeline with
#: Adam's state kept), plus one for each epoch of their training history (two
#: with early stopping): a million is over 400,000 epochs.
MAX_NODES = 10**6

_END_RECORD = b"PK\x05\x06"
_END_SIZE = 22


class FileError(ValueError):
    """A complete error message about the file (it names the file)."""


# --------------------------------------------------------------------------
# The file
# --------------------------------------------------------------------------
def open_model_file(path: str | os.PathLike) -> BinaryIO:
    """The file, opened for reading without blocking, if it is a regular file.

    A FIFO would block ``open`` until someone writes to it, and a device such
    as ``/dev/zero`` would be read without end: both, and anything else that
    is not a regular file, are refused with a ValueError. A folder gives an
    ``IsADirectoryError``, as :func:`open` does.
    """
    name = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)  # OSError: missing, unreadable
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory", name)
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or a socket"
            raise FileError(
                f"{name!r} is not a regular file ({kind}): a model file is "
                "read only from a regular file."
            )
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_model_file(file: BinaryIO, name: str) -> bytes:
    """All the bytes of an open regular file, at most :data:`MAX_FILE_SIZE`."""
    size = os.fstat(file.fileno()).st_size
    if size > MAX_FILE_SIZE:
        raise FileError(
            f"{name!r} is too large to be a skmnist model file ({size} bytes; "
            f"the limit is {MAX_FILE_SIZE})."
        )
    file.seek(0)
    data = file.read(size)
    if len(data) != size:
        raise FileError(f"{name!r} changed while it was read: load it again.")
    return data


# --------------------------------------------------------------------------
# The zip archive
# --------------------------------------------------------------------------
_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_HEADER_SIZE = 30


def check_members(data: bytes, infos: list[zipfile.ZipInfo], name: str) -> None:
    """Refuse members that are not stored, share a name, or overlap.

    Each member's span is its local header (30 bytes, its name and its extra
    field, whose lengths are read from the local header itself) and its data
    (``compress_size`` bytes). The spans must lie inside the file without
    overlapping, so that reading all members reads at most the file's size
    (their sizes add up to less than the file's).
    """
    seen = set()
    for info in infos:
        if info.filename in seen:
            raise FileError(
                f"{name!r} is corrupted (two members are named {info.filename})."
            )
        seen.add(info.filename)
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise FileError(
                f"{name!r} holds a compressed or encrypted member "
                f"({info.filename}), which is not read: save the model without "
                "compression (the default of save_model and skops.io.dump)."
            )
        if not info.file_size == info.compress_size <= len(data):
            raise FileError(
                f"{name!r} is corrupted (member {info.filename} claims "
                f"{info.file_size} bytes in a file of {len(data)})."
            )
    end, previous = 0, None
    for info in sorted(infos, key=lambda info: info.header_offset):
        start = info.header_offset
        header_end = start + _LOCAL_HEADER_SIZE
        if (
            start < 0
            or header_end > len(data)
            or data[start : start + 4] != _LOCAL_HEADER
        ):
            raise FileError(
                f"{name!r} is corrupted (member {info.filename} has no local "
                "header where the directory says)."
            )
        if start < end:
            raise FileError(
                f"{name!r} is corrupted (members {previous} and {info.filename} "
                "overlap)."
            )
        if start > end:
            raise FileError(
                f"{name!r} is corrupted (bytes before member {info.filename} "
                "belong to no member)."
            )
        name_length, extra_length = struct.unpack_from("<HH", data, start + 26)
        end = header_end + name_length + extra_length + info.compress_size
        if end > len(data):
            raise FileError(
                f"{name!r} is corrupted (member {info.filename} ends past the "
                "end of the file)."
            )
        _check_local_header(data, start, info, name)
        previous = info.filename
    _check_end_record(data, len(infos), end, name)


def _check_local_header(
    data: bytes, start: int, info: zipfile.ZipInfo, name: str
) -> None:
    """Refuse a local header that disagrees with the central directory.

    :mod:`zipfile` reads the directory and passes over the local header's
    copy of the name, method, CRC-32 and sizes; another reader might take the
    local copy, so a file whose two copies differ is refused, not guessed at.
    (A member with a data descriptor, flag bit 3, may leave the CRC-32 and
    sizes of its local header zero.)
    """
    flags, method, _, _, crc, compressed, size, name_length = struct.unpack_from(
        "<HHHHIIIH", data, start + 6
    )
    stored_name = data[start + 30 : start + 30 + name_length]
    described = (info.CRC, info.compress_size, info.file_size)
    if not (
        method == info.compress_type
        and stored_name
        == info.orig_filename.encode("utf-8" if flags & 0x800 else "cp437", "replace")
        and (
            (crc, compressed, size) == described
            or (flags & 0x8 and not (crc or compressed or size))
        )
    ):
        raise FileError(
            f"{name!r} is corrupted (the local header of member {info.filename} "
            "disagrees with the archive's directory)."
        )


def _check_end_record(data: bytes, count: int, members_end: int, name: str) -> None:
    """Refuse an end record that miscounts, or bytes outside the archive's parts.

    The members (from offset 0, checked above not to overlap), the central
    directory right after them, then the end record and its comment, ending
    the file: nothing before, between or after, where a second archive (which
    another zip reader might take for the model) could hide.
    """
    end = data.rfind(_END_RECORD, max(0, len(data) - _END_SIZE - 0xFFFF))
    if end < 0 or len(data) - end < _END_SIZE:
        raise FileError(f"{name!r} is corrupted (no end-of-directory record).")
    on_disk, total, size, offset, comment = struct.unpack_from("<HHIIH", data, end + 8)
    if not on_disk == total == count:
        raise FileError(
            f"{name!r} is corrupted (its end record counts {on_disk} and {total} "
            f"members, its directory {count})."
        )
    if not (
        offset == members_end
        and offset + size == end
        and end + _END_SIZE + comment == len(data)
    ):
        raise FileError(
            f"{name!r} is corrupted (it holds bytes outside its members, "
            "directory and end record)."
        )


# --------------------------------------------------------------------------
# What schema.json describes
# --------------------------------------------------------------------------
def array_sizes(archive: zipfile.ZipFile, files: set[str], name: str) -> dict:
    """The element count of each array member, checked against its size.

    The ``.npy`` header of each member (read by NumPy's public header
    readers) must describe a non-object array whose data is exactly the rest
    of the member: NumPy would otherwise allocate what the header claims
    before finding the data short.
    """
    sizes = {}
    for file in sorted(files):
        member = archive.getinfo(file)
        with archive.open(member) as stream:
            try:
                version = np.lib.format.read_magic(stream)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
                else:
                    raise ValueError(f"a .npy header of version {version}")
            except (ValueError, OSError, SyntaxError, TypeError) as exc:
                raise FileError(
                    f"{name!r} is not a valid skmnist model file: its member "
                    f"{file} is not a NumPy array ({exc})."
                ) from None
            header = stream.tell()
        if dtype.hasobject:
            raise FileError(
                f"{name!r} is not a valid skmnist model file: its member {file} "
                "is an array of Python objects (a pickle), which is never read: "
                "arrays are read with allow_pickle=False."
            )
        count = math.prod(shape)
        if header + count * dtype.itemsize != member.file_size:
            raise FileError(
                f"{name!r} is not a valid skmnist model file: its member {file} "
                f"describes {count} elements of {dtype} in {member.file_size} bytes."
            )
        sizes[file] = count
    return sizes


def check_expansion(schema: dict, arrays: dict[str, int], name: str, size: int) -> None:
    """Refuse a schema that describes more than its file could hold.

    A node whose ``"__id__"`` was seen before is, for skops, that earlier
    object again: a file of a kilobyte can describe lists of lists that
    expand to 10**12 elements. The expansion (see :func:`expansion`) may hold
    at most :data:`MAX_NODES` nodes (or as many as the file writes, if more),
    and arrays of at most ``size`` (the file's size in bytes) elements in all.
    """
    cap = max(MAX_NODES, size) + 1
    written, nodes, elements = expansion(schema, arrays, name, cap)
    if nodes > max(MAX_NODES, written):
        excess = f"more than {max(MAX_NODES, written)} objects"
    elif elements > size:
        excess = f"arrays of more than {size} elements (the file's size in bytes)"
    else:
        return
    raise FileError(
        f"{name!r} is not a valid skmnist model file: its shared references "
        f"describe {excess}, far more than any skmnist model; it is refused "
        "before anything is built."
    )


def expansion(
    schema: dict, arrays: dict[str, int], name: str, cap: int
) -> tuple[int, int, int]:
    """The nodes of a schema; its nodes and array elements, references expanded.

    Each node counts as the full size of what it refers to (when several
    nodes carry one id, as the largest of them), computed once per node and
    id, so this takes time linear in the schema; counts stop at ``cap``. A
    reference to an unknown object, or an object that holds itself, is
    refused.
    """
    loaders, ids, children, elements = _flatten(schema, arrays, name)
    definitions: dict[int, list[int]] = {}
    for index, (loader, key) in enumerate(zip(loaders, ids, strict=True)):
        if key is not None and loader != "CachedNode":
            definitions.setdefault(key, []).append(index)
    for loader, key in zip(loaders, ids, strict=True):
        if loader == "CachedNode" and key not in definitions:
            raise FileError(
                f"{name!r} is not a valid skmnist model file: a shared reference "
                f"names an object ({key!r}) that the file does not hold."
            )

    def value(index: int) -> tuple[str, Any]:  # a child: itself, or its id
        return ("id", ids[index]) if ids[index] is not None else ("node", index)

    def dependencies(vertex: tuple[str, Any]) -> list:
        kind, key = vertex
        if kind == "node":
            return [value(child) for child in children[key]]
        return [("node", index) for index in definitions[key]]

    def combine(vertex: tuple[str, Any], parts: list) -> tuple[int, int]:
        kind, key = vertex
        if kind == "node":
            nodes = 1 + sum(part[0] for part in parts)
            total = elements[key] + sum(part[1] for part in parts)
        else:
            nodes, total = max(part[0] for part in parts), max(p[1] for p in parts)
        return min(nodes, cap), min(total, cap)

    done: dict = {}
    active = set()  # the vertices being computed: a path from the root
    stack = [(("node", 0), False)]
    while stack:
        vertex, finished = stack.pop()
        if finished:
            done[vertex] = combine(vertex, [done[d] for d in dependencies(vertex)])
            active.discard(vertex)
        elif vertex not in done:
            if vertex in active:
                raise FileError(
                    f"{name!r} is not a valid skmnist model file: an object of "
                    "its schema holds itself."
                )
            active.add(vertex)
            stack.append((vertex, True))
            stack.extend((d, False) for d in dependencies(vertex) if d not in done)
    return (len(loaders), *done[("node", 0)])


def _flatten(schema: dict, arrays: dict[str, int], name: str) -> tuple:
    """The schema's nodes in a flat form: loader, id, children and elements."""
    loaders: list[str] = []
    ids: list[int | None] = []
    children: list[list[int]] = []
    elements: list[int] = []
    stack: list[tuple[Any, int | None]] = [(schema, None)]
    while stack:
        value, owner = stack.pop()
        if isinstance(value, list):
            stack.extend((item, owner) for item in value)
        elif isinstance(value, dict):
            if "__loader__" in value:
                key = value.get("__id__")
                if key is not None and (type(key) is not int):
                    raise FileError(
                        f"{name!r} is not a valid skmnist model file: an object "
                        f"id of its schema is {str(key)[:40]!r}, not an integer."
                    )
                index = len(loaders)
                loaders.append(value["__loader__"])
                ids.append(key)
                children.append([])
                file = value.get("file")
                elements.append(arrays.get(file, 0) if isinstance(file, str) else 0)
                if owner is not None:
                    children[owner].append(index)
                owner = index
            stack.extend((item, owner) for item in value.values())
    return loaders, ids, children, elements
