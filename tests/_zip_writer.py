"""A zip writer that can lie: the structural mutations of the model-file fuzzer.

:func:`build_zip` writes stored (or deflated) members with local headers, a
central directory and its end record, every field of which an
:class:`Entry` or an argument may override: wrong CRC-32s, names that differ
between the local header and the directory, directory entries that point at
the same or overlapping data, wrong counts and offsets. With no override it
writes an ordinary zip archive, which :mod:`zipfile` reads.
:func:`zip_mutations` yields the structural damage, named.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_END = struct.Struct("<4sHHHHIIH")


@dataclass(frozen=True)
class Entry:
    """One member; the ``local_*`` and ``central_*`` fields override one header."""

    name: bytes
    data: bytes  # as stored (compressed when method is not 0)
    crc: int
    size: int  # uncompressed
    method: int = 0
    flags: int = 0
    local_name: bytes | None = None
    local_crc: int | None = None
    local_size: int | None = None
    central_crc: int | None = None
    central_size: int | None = None
    local_extra: bytes = b""

    @classmethod
    def stored(cls, name: str | bytes, data: bytes) -> Entry:
        name = name.encode() if isinstance(name, str) else name
        return cls(name, data, zlib.crc32(data), len(data))

    def deflated(self) -> Entry:
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = packer.compress(self.data) + packer.flush()
        return replace(self, data=data, method=zipfile.ZIP_DEFLATED)


def read_entries(data: bytes) -> list[Entry]:
    """The members of a well-formed archive, in order, as stored entries."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [Entry.stored(i.filename, archive.read(i)) for i in archive.infolist()]


def build_zip(
    entries: list[Entry],
    *,
    comment: bytes = b"",
    central: list[tuple[int, Entry]] | None = None,
    count: int | None = None,
    directory_shift: int = 0,
    prefix: bytes = b"",
    suffix: bytes = b"",
) -> bytes:
    """The archive; ``central`` lists (index of a local header, entry) records.

    By default each entry has its own directory record. ``count``,
    ``directory_shift`` (added to the directory's offset) and ``suffix``
    (after the end record) damage the end record.
    """
    out = bytearray(prefix)
    offsets = []
    for e in entries:
        offsets.append(len(out))
        name = e.name if e.local_name is None else e.local_name
        crc = e.crc if e.local_crc is None else e.local_crc
        size = e.size if e.local_size is None else e.local_size
        out += _LOCAL.pack(
            b"PK\x03\x04",
            20,
            e.flags,
            e.method,
            0,
            33,
            crc,
            len(e.data),
            size,
            len(name),
            len(e.local_extra),
        )
        out += name + e.local_extra + e.data
    records = central if central is not None else list(enumerate(entries))
    start = len(out)
    for index, e in records:
        crc = e.crc if e.central_crc is None else e.central_crc
        size = e.size if e.central_size is None else e.central_size
        out += _CENTRAL.pack(
            b"PK\x01\x02",
            20,
            20,
            e.flags,
            e.method,
            0,
            33,
            crc,
            len(e.data),
            size,
            len(e.name),
            0,
            0,
            0,
            0,
            0,
            offsets[index] - len(prefix),
        )
        out += e.name
    n = len(records) if count is None else count
    out += _END.pack(
        b"PK\x05\x06",
        0,
        0,
        n,
        n,
        len(out) - start,
        start - len(prefix) + directory_shift,
        len(comment),
    )
    return bytes(out + comment + suffix)


def _bad_crc(entry: Entry) -> int:
    return entry.crc ^ 0xFFFF


def _altered(entry: Entry) -> Entry:
    """The same member with other content of the same kind (an array of zeros)."""
    import numpy as np

    if entry.name.endswith(b".npy"):
        array = np.load(io.BytesIO(entry.data), allow_pickle=False)
        buffer = io.BytesIO()
        np.save(buffer, np.zeros_like(array), allow_pickle=False)
        return Entry.stored(entry.name, buffer.getvalue())
    return Entry.stored(entry.name, entry.data.replace(b'"relu"', b'"tanh"'))


def zip_mutations(
    data: bytes, rng: random.Random, labels: dict[bytes, str]
) -> Iterator[tuple[str, str, bool, Callable[[], bytes]]]:
    """(kind, where, must be refused, make) for the structural damage of ``data``.

    ``labels`` names each member (by what it holds) in ``where``.
    """
    entries = read_entries(data)

    def build(**kwargs):
        return lambda: build_zip(**{"entries": entries, **kwargs})

    def with_entry(i, new):
        return lambda: build_zip([*entries[:i], new(entries[i]), *entries[i + 1 :]])

    rng_positions = [rng.randrange(1 << 30) for _ in entries]
    yield "zip:rebuilt", "<file>", False, build()
    yield "zip:members-reversed", "<file>", False, lambda: build_zip(entries[::-1])
    for i, e in enumerate(entries):
        where = labels.get(e.name, e.name.decode(errors="replace"))
        rest = entries[:i] + entries[i + 1 :]
        yield "zip:drop-member", where, True, lambda rest=rest: build_zip(rest)
        yield "zip:duplicate-member", where, True, lambda e=e: build_zip([*entries, e])
        yield (
            "zip:duplicate-member-altered-last",
            where,
            True,
            lambda e=e: build_zip([*entries, _altered(e)]),
        )
        yield (
            "zip:duplicate-member-altered-first",
            where,
            True,
            lambda e=e: build_zip([_altered(e), *entries]),
        )
        yield "zip:compressed-member", where, True, with_entry(i, Entry.deflated)
        yield (
            "zip:method-claims-deflate",
            where,
            True,
            with_entry(i, lambda e: replace(e, method=8)),
        )
        yield (
            "zip:encrypted-flag",
            where,
            True,
            with_entry(i, lambda e: replace(e, flags=1)),
        )
        yield (
            "zip:data-descriptor-flag",
            where,
            False,
            with_entry(i, lambda e: replace(e, flags=8)),
        )
        yield (
            "zip:crc-wrong",
            where,
            True,
            with_entry(i, lambda e: replace(e, crc=_bad_crc(e))),
        )
        yield (
            "zip:crc-wrong-local",
            where,
            True,
            with_entry(i, lambda e: replace(e, local_crc=_bad_crc(e))),
        )
        yield (
            "zip:crc-wrong-central",
            where,
            True,
            with_entry(i, lambda e: replace(e, central_crc=_bad_crc(e))),
        )
        yield (
            "zip:local-name-differs",
            where,
            True,
            with_entry(i, lambda e: replace(e, local_name=b"other.npy")),
        )
        yield (
            "zip:local-size-differs",
            where,
            True,
            with_entry(i, lambda e: replace(e, local_size=e.size + 1)),
        )
        yield (
            "zip:size-claims-2GiB",
            where,
            True,
            with_entry(i, lambda e: replace(e, central_size=2**31)),
        )
        yield (
            "zip:local-extra-garbage",
            where,
            False,
            with_entry(i, lambda e: replace(e, local_extra=b"\xff\xff\x04\x00abcd")),
        )

        def flipped(e=e, i=i):  # content damaged, CRC-32 recomputed: reaches skops
            blob = bytearray(e.data)
            if blob:
                position = rng_positions[i] % len(blob)
                blob[position] ^= 0xFF
            return build_zip(
                [*entries[:i], Entry.stored(e.name, bytes(blob)), *entries[i + 1 :]]
            )

        yield "zip:member-byte-flipped-crc-fixed", where, False, flipped

    big = max(range(len(entries)), key=lambda i: len(entries[i].data))
    other = 1 if big == 0 else 0
    yield (
        "zip:overlap-two-names-one-header",
        "<directory>",
        True,
        build(
            central=[*enumerate(entries), (big, replace(entries[big], name=b"x.npy"))]
        ),
    )
    yield (
        "zip:overlap-same-record-twice",
        "<directory>",
        True,
        build(central=[*enumerate(entries), (big, entries[big])]),
    )
    yield (
        "zip:overlap-many-records",
        "<directory>",
        True,
        build(
            central=[*enumerate(entries)]
            + [(big, replace(entries[big], name=b"%d.npy" % k)) for k in range(300)]
        ),
    )
    yield (
        "zip:overlap-record-points-at-other",
        "<directory>",
        True,
        build(central=[(big if k == other else k, e) for k, e in enumerate(entries)]),
    )
    for name in (
        b"extra.npy",
        b"../../escape.npy",
        b"/absolute.npy",
        b"schema.json/",
        b"__init__.py",
        b"nul\x00.npy",
    ):
        yield (
            "zip:extra-member",
            name.decode(errors="replace"),
            True,
            lambda name=name: build_zip([*entries, Entry.stored(name, b"\x00" * 16)]),
        )
    for where, comment in (
        ("short", b"a comment"),
        ("65535-bytes", b"c" * 65535),
        ("fake-end-record", b"PK\x05\x06" + b"\x00" * 18),
    ):
        yield "zip:comment", where, False, build(comment=comment)
    yield "zip:end-count-wrong", "<end>", True, build(count=len(entries) + 1)
    yield "zip:end-count-zero", "<end>", True, build(count=0)
    yield "zip:directory-offset-wrong", "<end>", True, build(directory_shift=-7)
    yield "zip:data-appended", "<end>", False, build(suffix=b"\x00" * 100)
    yield (
        "zip:data-prepended",
        "<start>",
        False,
        build(prefix=b"PK\x03\x04" + b"x" * 60),
    )
    for position in sorted(rng.sample(range(len(data)), 64)):
        value = rng.randrange(1, 256)

        def flip(position=position, value=value):
            out = bytearray(data)
            out[position] ^= value
            return bytes(out)

        yield "zip:byte-flipped", f"byte {position}", False, flip
    lengths = sorted(
        {0, 3, 4, 29, 30, len(data) // 2, len(data) - 22, len(data) - 1}
        | {rng.randrange(len(data)) for _ in range(8)}
    )
    for n in lengths:
        yield "zip:truncated", f"at {n}", True, lambda n=n: data[:n]
