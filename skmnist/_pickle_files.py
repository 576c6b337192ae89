"""Pickle files among model files: their names, their first bytes, loading them.

:mod:`skmnist.persistence` saves a pickle when a file's name asks for one
(:func:`names_a_pickle`) and loads one only when allowed; these are the
facts of the formats it reads to decide, kept apart from the secure format.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

# Names save_model_file writes with joblib.dump, optionally followed by one
# of joblib's compression suffixes ("model.joblib.gz").
PICKLE_SUFFIXES = frozenset({".joblib", ".pkl", ".pickle"})
JOBLIB_COMPRESSION = {  # joblib.dump's choice by the name's end (case matters)
    ".z": "zlib",
    ".gz": "gzip",
    ".bz2": "bz2",
    ".xz": "xz",
    ".lzma": "lzma",
    ".lz4": "lz4",
}
COMPRESSION_SUFFIXES = frozenset(JOBLIB_COMPRESSION)
ZIP_MAGIC = b"PK\x03\x04"
# How the files of pickle.dump (protocol 2 and later: every default since
# Python 3) and of joblib.dump (the same, or compressed) start. joblib has a
# detector, but it is private (joblib.numpy_pickle_utils); these are the
# public magic numbers of the formats. Older protocols have no header: such
# files are not recognised as pickles, but allow_pickle=True still loads them.
PICKLE_MAGICS = (
    *(b"\x80" + bytes([protocol]) for protocol in range(2, 6)),
    *(b"\x78" + level for level in (b"\x01", b"\x5e", b"\x9c", b"\xda")),  # zlib
    b"\x1f\x8b",  # gzip
    b"BZh",  # bz2
    b"\xfd7zXZ\x00",  # xz
    b"\x5d\x00\x00",  # lzma
    b"\x04\x22\x4d\x18",  # lz4
)


def names_a_pickle(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a pickle (``.joblib``, ``.pkl``, ``.pickle``)."""
    suffixes = [suffix.lower() for suffix in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    return bool(suffixes) and suffixes[-1] in PICKLE_SUFFIXES


def unpickle(file: io.BufferedReader, name: str) -> Any:
    """``joblib.load``, its errors (it can raise anything) as ValueErrors."""
    import pickle

    import joblib

    try:
        return joblib.load(file)
    except (pickle.UnpicklingError, EOFError) as exc:
        raise ValueError(
            f"{name!r} is not a skmnist model file: it is not a joblib or pickle "
            f"file ({type(exc).__name__}: {exc})."
        ) from exc
    except Exception as exc:
        raise ValueError(
            f"{name!r} could not be loaded as a pickle ({type(exc).__name__}: {exc})."
        ) from exc
