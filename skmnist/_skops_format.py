"""The checks that skmnist adds to skops files, before and after skops loads one.

:func:`skops.io.loads` audits a file's types against its defaults (which
trust every scikit-learn estimator) and the ``trusted`` list, then builds
the object. :mod:`skmnist.persistence` wants less: a file may hold only the
types of :data:`ALLOWED_TYPES`, no compressed or unreferenced member, and
must give a fitted skmnist model whose parts agree. The zip archive itself is
read by :mod:`zipfile` (including its CRC-32 check), after
:mod:`skmnist._container` has checked that the work is linear in the file's
size, and the objects are built by skops.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from . import _fitted_state, _loaded_checks
from ._container import FileError, array_sizes, check_expansion, check_members
from .classifier import MLPDigitClassifier
from .preprocessing import PixelScaler

#: The estimator types a model file may hold, which skops must be told to trust.
ESTIMATOR_TYPES = (MLPDigitClassifier, PixelScaler, Pipeline)
STEP_TYPES = (MLPDigitClassifier, PixelScaler)

_NUMPY_SCALARS = (
    np.bool_,
    *(np.dtype(f"{kind}{size}").type for kind in "iu" for size in (1, 2, 4, 8)),
    np.float16,
    np.float32,
    np.float64,
    np.str_,
)
#: Every type that may appear in a model file: the estimators, and the plain
#: values and arrays of their parameters and fitted state.
ALLOWED_TYPES = frozenset(
    {
        *(f"{cls.__module__}.{cls.__qualname__}" for cls in ESTIMATOR_TYPES),
        *(f"builtins.{c.__name__}" for c in (dict, list, tuple, str, int, float, bool)),
        "numpy.ndarray",
        "numpy.random.mtrand.RandomState",
        *(f"numpy.{cls.__name__}" for cls in _NUMPY_SCALARS),
    }
)
#: The skops loaders those types need (each node of a file names its loader).
ALLOWED_LOADERS = frozenset(
    {
        "ObjectNode",  # the estimators: __new__, then their __setstate__
        "DictNode",
        "ListNode",
        "TupleNode",
        "JsonNode",  # str, int, float, bool, None
        "TypeNode",  # the types of dict keys
        "NdArrayNode",  # read by numpy.load(allow_pickle=False)
        "RandomStateNode",
        "CachedNode",  # a second reference to an object already read
    }
)
SCHEMA = "schema.json"
_OLD_METADATA = "metadata.json"  # the format of skmnist's development versions


#: How the files of joblib.dump's compressors begin: zlib (its four levels'
#: headers), gzip, bz2, xz, lzma and lz4.
_COMPRESSED_MAGIC = (
    b"x\x01",
    b"x^",
    b"x\x9c",
    b"x\xda",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ",
    b"]\x00\x00",
    b"\x04\x22\x4d\x18",
)


def open_archive(data: bytes, name: str) -> zipfile.ZipFile:
    """The zip archive, refused unless it is a readable, uncompressed skops file."""
    if not data.startswith(b"PK\x03\x04"):
        pickled = data[:1] == b"\x80" or data.startswith(_COMPRESSED_MAGIC)
        raise FileError(
            f"{name!r} is not a skmnist model file: not a zip archive."
            + (
                " It looks like a pickle (or a compressed one), such as joblib.dump "
                "writes: load it with joblib.load, only if you trust where it "
                "comes from, since loading a pickle runs code from the file."
                if pickled
                else ""
            )
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except Exception as exc:  # BadZipFile, and what a hostile header provokes
        raise FileError(
            f"{name!r} is corrupted (unreadable zip archive: {exc}); it may be "
            "truncated, or not a skmnist model file."
        ) from None
    names = {info.filename for info in infos}
    if SCHEMA not in names:
        if _OLD_METADATA in names:
            raise FileError(
                f"{name!r} is in the model format of skmnist's development "
                f"versions ({_OLD_METADATA}), which this skmnist no longer reads: "
                "retrain the model and save it again."
            )
        raise FileError(
            f"{name!r} is not a skmnist model file: the archive has no {SCHEMA}."
        )
    check_members(data, infos, name)  # linear: each byte read once below
    try:
        damaged = archive.testzip()  # reads every member, checks its CRC-32
    except Exception as exc:
        raise FileError(f"{name!r} is corrupted ({exc}).") from None
    if damaged is not None:
        raise FileError(f"{name!r} is corrupted (CRC-32 mismatch in {damaged}).")
    return archive


def read_schema(archive: zipfile.ZipFile, name: str, size: int) -> dict:
    """``schema.json``, with its types and members checked before skops sees it."""
    try:
        schema = json.loads(archive.read(SCHEMA).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FileError(
            f"{name!r} is not a skmnist model file: its {SCHEMA} is not JSON ({exc})."
        ) from None
    if not isinstance(schema, dict) or "__loader__" not in schema:
        raise FileError(f"{name!r} is not a skmnist model file: no skops {SCHEMA}.")
    types, loaders, files = _nodes(schema, name)
    unexpected = sorted(types - ALLOWED_TYPES)
    if unexpected:
        raise FileError(
            f"{name!r} holds objects of types {unexpected}, which a skmnist model "
            "file may not hold: it is refused unread (nothing from it ran)."
        )
    unexpected = sorted(loaders - ALLOWED_LOADERS)
    if unexpected:
        raise FileError(
            f"{name!r} holds objects that skops would build with {unexpected}, "
            "which a skmnist model file does not need: it is refused unread."
        )
    root = f"{schema['__module__']}.{schema['__class__']}"
    if root not in {f"{c.__module__}.{c.__qualname__}" for c in ESTIMATOR_TYPES}:
        raise FileError(
            f"{name!r} holds a {root}, not an MLPDigitClassifier, a PixelScaler "
            "or a Pipeline of them."
        )
    members = set(archive.namelist()) - {SCHEMA}
    for problem, found in [
        ("missing", files - members),
        ("unexpected", members - files),
    ]:
        if found:
            raise FileError(f"{name!r} is corrupted ({problem} member {min(found)}).")
    check_expansion(schema, array_sizes(archive, files, name), name, size)
    return schema


def unexpected_types(data: bytes) -> list[str]:
    """The types in a skops file (written here) that a model file may not hold."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        types, _, _ = _nodes(json.loads(archive.read(SCHEMA)), "the model")
    return sorted(types - ALLOWED_TYPES)


def _nodes(schema: dict, name: str) -> tuple[set[str], set[str], set[str]]:
    """The types and loaders of all the nodes of a schema, and the members they name.

    Every JSON object with a ``"__loader__"`` is a skops node, which names
    its type by ``"__module__"`` and ``"__class__"``; this walks all of them,
    wherever they are, without interpreting the rest.
    """
    types, loaders, files, stack = set(), set(), set(), [schema]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            if "__loader__" in value:
                module, cls = value.get("__module__"), value.get("__class__")
                loader = value["__loader__"]
                if not all(isinstance(v, str) for v in (module, cls, loader)):
                    raise FileError(
                        f"{name!r} is not a valid skmnist model file: a node of "
                        f"its {SCHEMA} has no type."
                    )
                types.add(f"{module}.{cls}")
                loaders.add(loader)
                if loader == "RandomStateNode":
                    _check_random_state(value, name)
                if isinstance(value.get("file"), str):
                    files.add(value["file"])
            stack.extend(value.values())
    return types, loaders, files


#: The keys of the state of NumPy's MT19937 RandomState, the one kind a file
#: holds (skops passes the state to ``RandomState.set_state``, which would
#: pass over any other key silently).
_RANDOM_STATE_KEYS = ({"bit_generator", "state", "has_gauss", "gauss"}, {"key", "pos"})


def _check_random_state(node: dict, name: str) -> None:
    """Refuse a random state node holding other keys than NumPy's own."""
    content = node.get("content")
    outer = content.get("content") if isinstance(content, dict) else None
    state = outer.get("state") if isinstance(outer, dict) else None
    inner = state.get("content") if isinstance(state, dict) else None
    if not (
        isinstance(inner, dict)
        and set(outer) == _RANDOM_STATE_KEYS[0]
        and set(inner) == _RANDOM_STATE_KEYS[1]
    ):
        raise FileError(
            f"{name!r} is not a valid skmnist model file: a random state in its "
            f"{SCHEMA} holds other keys than NumPy's MT19937 state."
        )


def check_model(model: Any) -> list[MLPDigitClassifier]:
    """Check what skops built, object by object; return its classifiers.

    The pipeline (its steps, attributes and parameters), each scaler and each
    classifier are checked against the descriptions of their state
    (:mod:`skmnist._loaded_checks`, :data:`skmnist._fitted_state.FITTED`),
    and the steps against each other: a model that passes is safe for every
    public method.

    Raises ValueError with what is wrong (the caller adds the file's name).
    """
    if isinstance(model, Pipeline):
        steps = model.__dict__.get("steps")
        if not (isinstance(steps, list) and steps):
            raise ValueError("the pipeline has no steps")
        for step in steps:
            if not (
                isinstance(step, tuple)
                and len(step) == 2
                and isinstance(step[0], str)
                and type(step[1]) in STEP_TYPES
            ):
                raise ValueError(
                    "a pipeline step is not a (name, MLPDigitClassifier or "
                    "PixelScaler) pair"
                )
        _loaded_checks.check_pipeline(model)
        model._validate_steps()  # unique, valid names; transformers before the last
        estimators = [step for _, step in steps]
    else:
        estimators = [model]
    for estimator in estimators:
        if isinstance(estimator, MLPDigitClassifier):
            _fitted_state.check_loaded(estimator)
        else:
            _loaded_checks.check_scaler(estimator)
        check_is_fitted(estimator)
    widths = {estimator.n_features_in_ for estimator in estimators}
    if len(widths) > 1:  # a PixelScaler keeps the number of features
        raise ValueError(
            f"the pipeline's steps take different numbers of features {sorted(widths)}"
        )
    return [e for e in estimators if isinstance(e, MLPDigitClassifier)]
