"""Secure model files: save and load fitted models without pickle.

:func:`save_model` writes a fitted :class:`~skmnist.MLPDigitClassifier`, a
fitted :class:`~skmnist.PixelScaler`, or a fitted
:class:`sklearn.pipeline.Pipeline` made only of those two, to a single file;
:func:`load_model` reads it back. Unlike :func:`joblib.load` and
:func:`pickle.load`, loading such a file executes no code from it.

:func:`save_model_file` and :func:`load_model_file`, which the command line
uses, pick the format of a file: they save this one unless the name asks for
a pickle (``.joblib``, ``.pkl``, ``.pickle``), and load a pickle only when
asked to with ``allow_pickle=True``, never from a file named ``*.skmnist``.

The file is an uncompressed zip archive (by convention with a ``.skmnist``
suffix) holding:

``metadata.json``
    Plain JSON: the format name ``"skmnist-model"`` and version (1), the
    skmnist version that wrote it, and for each estimator its type (and step
    names, for a pipeline), its constructor parameters, its fitted scalar and
    list attributes, the network's architecture and dtype, the names of the
    members holding its arrays, and the SHA-256 checksum of every other
    member.
``*.npy``
    One NumPy ``.npy`` array per weight matrix, bias vector, ``classes_`` and
    ``feature_names_in_``: numbers, booleans or fixed-width strings only.

What is trusted, and why:

- Only :class:`~skmnist.MLPDigitClassifier`, :class:`~skmnist.PixelScaler`
  and :class:`sklearn.pipeline.Pipeline` are ever constructed, picked from a
  fixed allow-list by the type name in the metadata; no name from the file is
  ever imported or looked up anywhere else, and an unknown type is refused.
- Arrays are read with ``allow_pickle=False``, after their header has been
  checked against the member's size: an array of Python objects (which would
  need pickle) is refused, and no pickle is used anywhere in loading.
- The JSON only carries plain data (strings, numbers, booleans, null, lists):
  parameters are validated by the estimators' own parameter constraints, and
  fitted attributes are type-checked and checked against each other and
  against the shapes of the weights.
- The checksums catch corruption (a truncated download, flipped bits), not
  malicious edits: anybody can rewrite a member and its checksum. They are
  not a signature, so the file's origin is not authenticated; loading a
  hostile file may give a model that predicts nonsense, but it runs no code.

What is not saved:

- The optimizer's state (Adam's moment estimates): :meth:`partial_fit
  <skmnist.MLPDigitClassifier.partial_fit>` or a ``warm_start`` fit after
  loading continues from the saved weights and training history with a fresh
  optimizer, and with a random state re-seeded from ``random_state``.
- ``callbacks``, which are code: a model whose ``callbacks`` is not None is
  saved with ``callbacks=None``, with a warning. Likewise a ``random_state``
  that is a :class:`numpy.random.RandomState` instance, or a pipeline's
  ``memory`` that is not a path, are saved as None, with a warning. Other
  parameters must be None, booleans, numbers, strings, or lists, tuples and
  dicts of those.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from sklearn.datasets import load_digits
>>> from sklearn.pipeline import make_pipeline
>>> from skmnist import MLPDigitClassifier, PixelScaler
>>> from skmnist.persistence import load_model, save_model
>>> X, y = load_digits(return_X_y=True)
>>> model = make_pipeline(
...     PixelScaler(max_value=16),
...     MLPDigitClassifier((16,), max_iter=2, device="cpu", random_state=0),
... ).fit(X, y)
>>> with tempfile.TemporaryDirectory() as folder:
...     path = Path(folder) / "digits.skmnist"
...     save_model(model, path)
...     loaded = load_model(path)
>>> bool((loaded.predict_proba(X) == model.predict_proba(X)).all())
True
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._device import resolve_device
from ._network import (
    ACTIVATIONS,
    PORTABLE_FORMAT,
    build_mlp,
    from_portable,
    to_portable,
)
from ._user_warning import warn_user
from ._version import __version__
from .classifier import MLPDigitClassifier, _loadable_device
from .preprocessing import PixelScaler

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SECURE_SUFFIX",
    "PickleNotAllowedError",
    "load_model",
    "load_model_file",
    "save_model",
    "save_model_file",
]

#: Value of ``"format"`` in the metadata of every skmnist model file.
FORMAT_NAME = "skmnist-model"
#: Version of the file layout written by :func:`save_model`.
FORMAT_VERSION = 1

_METADATA = "metadata.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same model gives the same bytes

# load_model constructs the estimator types of _LOADERS (below) and sklearn's
# Pipeline, and nothing else: that is the whole allow-list.
_PIPELINE = "Pipeline"
# Parameters saved as None, with a warning, when their value cannot be stored.
_DROPPABLE = frozenset({"random_state", "memory"})
# dtype kinds of classes_, and how the metadata names them.
_CLASS_KINDS = {"i": "int", "u": "int", "f": "float", "b": "bool", "U": "str"}

# Fitted attributes stored in the metadata, with their JSON types.
_SCALER_FITTED = {
    "n_features_in_": "int",
    "data_max_": "float",
    "mean_": "float",
    "scale_": "float",
}
_CLASSIFIER_FITTED = {
    "n_features_in_": "int",
    "n_iter_": "int",
    "t_": "int",
    "loss_curve_": "floats",
    "best_loss_": "float?",
    "validation_scores_": "floats?",
    "best_validation_score_": "float?",
    "device_": "str",
    "n_layers_": "int",
    "n_outputs_": "int",
    "out_activation_": "str",
    "_no_improvement_count": "int",
    "_learning_rate": "float?",
}
_ARCHITECTURE_KEYS = frozenset(
    {"n_features", "hidden_layer_sizes", "n_outputs", "activation", "dropout"}
)


class _Invalid(Exception):
    """The metadata or an array breaks the format; the message says how."""


class _FileError(ValueError):
    """A complete error message about the file, raised as is by load_model."""


# --------------------------------------------------------------------------
# Plain values <-> JSON
# --------------------------------------------------------------------------
def _encode_value(value: Any) -> Any:
    """JSON form of a parameter or attribute value; TypeError if it has none.

    Lists stay lists; tuples, dicts and non-finite floats are tagged objects
    (``{"__tuple__": [...]}``, ``{"__dict__": [[key, value], ...]}``,
    ``{"__float__": "inf"}``) so that they come back as they were.
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_value(v) for v in value]}
    if isinstance(value, list):
        return [_encode_value(v) for v in value]
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        return [_encode_value(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {
            "__dict__": [[_encode_value(k), _encode_value(v)] for k, v in value.items()]
        }
    raise TypeError(f"{type(value).__name__} values cannot be stored")


def _decode_value(value: Any) -> Any:
    """Invert :func:`_encode_value`, refusing anything it does not produce."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        ((tag, items),) = value.items()
        if tag == "__float__" and items in ("inf", "-inf", "nan"):
            return float(items)
        if tag == "__tuple__" and isinstance(items, list):
            return tuple(_decode_value(v) for v in items)
        if tag == "__dict__" and isinstance(items, list):
            result = {}
            for pair in items:
                if not (isinstance(pair, list) and len(pair) == 2):
                    break
                key = _decode_value(pair[0])
                if not (key is None or isinstance(key, (bool, int, float, str))):
                    break
                result[key] = _decode_value(pair[1])
            else:
                return result
    raise _Invalid(f"{_short(value)} is not a stored value")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_type(name: str, value: Any, kind: str) -> Any:
    """Check a decoded fitted attribute against its type in the tables above."""
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if value is None and optional:
        return None
    ok = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "floats": lambda v: (
            isinstance(v, list)
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
        ),
    }[kind]
    if not ok(value):
        raise _Invalid(f"fitted attribute {name} = {_short(value)} is not a {kind}")
    if kind == "float":
        return float(value)
    if kind == "floats":
        return [float(x) for x in value]
    return value


# --------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------
class _Writer:
    """Collects the ``.npy`` members of a model file."""

    def __init__(self) -> None:
        self.members: dict[str, bytes] = {}

    def add(self, name: str, array: np.ndarray) -> str:
        buffer = io.BytesIO()
        np.lib.format.write_array(
            buffer, np.ascontiguousarray(array), allow_pickle=False
        )
        self.members[name] = buffer.getvalue()
        return name


def _encode_params(estimator: BaseEstimator, skip: frozenset = frozenset()) -> dict:
    kind = type(estimator).__name__
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if name in skip:
            continue
        if name == "callbacks" and value is not None:
            warn_user(
                f"The callbacks of this {kind} are code and are not saved: the "
                "loaded model has callbacks=None.",
                UserWarning,
            )
            value = None
        try:
            params[name] = _encode_value(value)
        except TypeError:
            if name not in _DROPPABLE:
                raise TypeError(
                    f"Cannot save the parameter {name}={_short(value)} of a {kind}: "
                    "a model file stores None, booleans, numbers, strings, and "
                    "lists, tuples and dicts of those."
                ) from None
            warn_user(
                f"The parameter {name}={_short(value)} of this {kind} cannot be "
                f"stored in a model file: it is saved as {name}=None.",
                UserWarning,
            )
            params[name] = None
    return params


def _check_fitted(estimator: BaseEstimator, what: str) -> None:
    check_is_fitted(estimator)
    if isinstance(estimator, MLPDigitClassifier) and not hasattr(estimator, "module_"):
        raise NotFittedError(f"This {what} is not fitted yet: fit it before saving.")


def _feature_names(estimator: BaseEstimator, prefix: str, writer: _Writer) -> Any:
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return None
    return writer.add(f"{prefix}feature_names_in_.npy", np.asarray(names, dtype=str))


def _encode_scaler(scaler: PixelScaler, prefix: str, writer: _Writer) -> dict:
    return {
        "type": "PixelScaler",
        "params": _encode_params(scaler),
        "fitted": {k: _encode_value(getattr(scaler, k)) for k in _SCALER_FITTED},
        "feature_names_in_": _feature_names(scaler, prefix, writer),
    }


def _encode_classes(classes: np.ndarray, prefix: str, writer: _Writer) -> dict:
    classes = np.asarray(classes)
    dtype = classes.dtype
    if dtype.kind == "O" and all(isinstance(c, str) for c in classes):
        stored, kind = classes.astype(str), "str"
    elif dtype.kind in _CLASS_KINDS:
        stored, kind = classes, _CLASS_KINDS[dtype.kind]
    else:
        raise TypeError(
            f"Cannot save a classifier whose classes_ have dtype {dtype}: a model "
            "file stores integer, float, boolean and string labels."
        )
    return {
        "kind": kind,
        "dtype": "object" if dtype.kind == "O" else dtype.str,
        "values": writer.add(f"{prefix}classes_.npy", stored),
    }


def _encode_classifier(clf: MLPDigitClassifier, prefix: str, writer: _Writer) -> dict:
    portable = to_portable(clf.module_, clf._architecture)
    state = {
        key: writer.add(f"{prefix}module/{key}.npy", array)
        for key, array in portable["state"].items()
    }
    return {
        "type": "MLPDigitClassifier",
        "params": _encode_params(clf),
        "fitted": {k: _encode_value(getattr(clf, k)) for k in _CLASSIFIER_FITTED},
        "classes_": _encode_classes(clf.classes_, prefix, writer),
        "feature_names_in_": _feature_names(clf, prefix, writer),
        "network": {
            "format": portable["format"],
            "architecture": {
                k: _encode_value(v) for k, v in portable["architecture"].items()
            },
            "dtype": portable["dtype"],
            "state": state,
        },
    }


def _encode_estimator(estimator: Any, prefix: str, writer: _Writer) -> dict:
    if type(estimator) is MLPDigitClassifier:
        _check_fitted(estimator, "MLPDigitClassifier")
        return _encode_classifier(estimator, prefix, writer)
    if type(estimator) is PixelScaler:
        _check_fitted(estimator, "PixelScaler")
        return _encode_scaler(estimator, prefix, writer)
    raise TypeError(
        f"save_model saves a fitted MLPDigitClassifier, PixelScaler, or a Pipeline "
        f"made only of those, not a {type(estimator).__name__}. Use joblib.dump "
        "for other estimators."
    )


def _encode_model(model: Any, writer: _Writer) -> dict:
    if type(model) is not Pipeline:
        return _encode_estimator(model, "", writer)
    if not model.steps:
        raise TypeError("Cannot save a Pipeline without steps.")
    steps = []
    for i, (name, step) in enumerate(model.steps):
        if type(step) not in (MLPDigitClassifier, PixelScaler):
            raise TypeError(
                "save_model saves Pipelines made only of MLPDigitClassifier and "
                f"PixelScaler steps, but step {name!r} is {_short(step)}. Use "
                "joblib.dump for other pipelines."
            )
        steps.append(
            {"name": name, "estimator": _encode_estimator(step, f"steps/{i}/", writer)}
        )
    return {
        "type": _PIPELINE,
        "params": _encode_params(model, skip=frozenset({"steps"})),
        "steps": steps,
    }


def save_model(model: Any, path: str | os.PathLike) -> None:
    """Save a fitted model to a secure model file, which loads without pickle.

    Parameters
    ----------
    model : MLPDigitClassifier, PixelScaler or Pipeline
        A fitted :class:`~skmnist.MLPDigitClassifier`, a fitted
        :class:`~skmnist.PixelScaler`, or a fitted
        :class:`~sklearn.pipeline.Pipeline` whose steps are all one of these
        two (with any step names, in any order).
    path : str or os.PathLike
        The file to write (replaced if it exists). By convention its name
        ends in ``.skmnist``.

    Raises
    ------
    TypeError
        If ``model`` (or a step of it) is of another type, or a parameter
        holds a value that a model file cannot store (see the module
        documentation: ``callbacks`` are dropped with a warning instead).
    sklearn.exceptions.NotFittedError
        If ``model`` or one of its steps is not fitted.

    See Also
    --------
    load_model : Load the file.
    joblib.dump : Saves any estimator, as a pickle.

    Notes
    -----
    The optimizer's state is not saved: training after loading restarts the
    optimizer (see the module documentation).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from skmnist import PixelScaler
    >>> from skmnist.persistence import load_model, save_model
    >>> scaler = PixelScaler(standardize=True).fit(np.array([[0, 128, 255]]))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_model(scaler, Path(folder) / "scaler.skmnist")
    ...     loaded = load_model(Path(folder) / "scaler.skmnist")
    >>> loaded.mean_ == scaler.mean_
    True
    """
    writer = _Writer()
    estimator = _encode_model(model, writer)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skmnist_version": __version__,
        "library_versions": _library_versions(),
        "estimator": estimator,
        "members": {
            name: hashlib.sha256(data).hexdigest()
            for name, data in writer.members.items()
        },
    }
    text = json.dumps(metadata, indent=1, allow_nan=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in [(_METADATA, text.encode("utf-8")), *writer.members.items()]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    with open(path, "wb") as file:  # written at once: no half file on a bad model
        file.write(buffer.getvalue())


def _library_versions() -> dict:
    import sklearn

    return {
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
    }


# --------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------
class _Reader:
    """The verified members of a model file, and typed access to the metadata."""

    def __init__(self, members: dict[str, bytes], device: torch.device | None):
        self.members = members
        self.device = device

    def array(self, ref: Any, kinds: str, what: str) -> np.ndarray:
        """Read the ``.npy`` member ``ref`` without pickle; check its dtype kind."""
        if not isinstance(ref, str) or ref not in self.members:
            raise _Invalid(
                f"{what} names a member that is not in the file: {_short(ref)}"
            )
        data = self.members[ref]
        stream = io.BytesIO(data)
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                header = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            shape, _, dtype = header
            if dtype.hasobject:
                raise _Invalid(
                    f"member {ref} holds Python objects, which are never loaded "
                    "(that would need pickle)"
                )
            size = math.prod(shape) * dtype.itemsize
            if size != len(data) - stream.tell():
                raise ValueError(f"its header promises {size} bytes of data")
            stream.seek(0)
            array = np.lib.format.read_array(stream, allow_pickle=False)
        except ValueError as exc:
            raise _Invalid(f"member {ref} is not a valid .npy array ({exc})") from None
        if array.dtype.kind not in kinds:
            raise _Invalid(f"{what} ({ref}) has an unexpected dtype {array.dtype}")
        return np.ascontiguousarray(array) if array.flags.writeable else array.copy()

    def strings(self, ref: Any, length: int, what: str) -> np.ndarray:
        names = self.array(ref, "U", what)
        if names.shape != (length,):
            raise _Invalid(f"{what} has shape {names.shape}, expected ({length},)")
        return names.astype(object)


def _expect_dict(value: Any, what: str, keys: frozenset | None = None) -> dict:
    if not isinstance(value, dict):
        raise _Invalid(f"{what} is {_short(value)}, not an object")
    if keys is not None and not keys <= value.keys():
        raise _Invalid(f"{what} lacks {sorted(keys - value.keys())}")
    return value


def _make(cls: type[BaseEstimator], node: dict, what: str, **extra: Any) -> Any:
    """Construct ``cls`` from the stored constructor parameters, then validate them."""
    params = _expect_dict(node.get("params"), f"the parameters of {what}")
    valid = set(cls._get_param_names())
    unknown = sorted(set(params) - valid)
    if unknown:
        raise _Invalid(f"{what} has unknown parameters {unknown}")
    estimator = cls(**{k: _decode_value(v) for k, v in params.items()}, **extra)
    estimator._validate_params()  # InvalidParameterError: a ValueError
    return estimator


def _set_fitted(estimator: Any, node: dict, table: dict, what: str) -> None:
    fitted = _expect_dict(node.get("fitted"), f"the fitted attributes of {what}")
    missing = sorted(set(table) - fitted.keys())
    if missing:
        raise _Invalid(f"{what} lacks the fitted attributes {missing}")
    for name, kind in table.items():
        setattr(estimator, name, _check_type(name, _decode_value(fitted[name]), kind))


def _set_feature_names(estimator: Any, node: dict, reader: _Reader, what: str) -> None:
    ref = node.get("feature_names_in_")
    if ref is not None:
        estimator.feature_names_in_ = reader.strings(
            ref, estimator.n_features_in_, f"feature_names_in_ of {what}"
        )


def _load_scaler(node: dict, reader: _Reader, what: str) -> PixelScaler:
    scaler = _make(PixelScaler, node, what)
    _set_fitted(scaler, node, _SCALER_FITTED, what)
    if not (scaler.data_max_ > 0 and scaler.scale_ > 0 and scaler.n_features_in_ > 0):
        raise _Invalid(f"{what} has invalid scaling constants")
    _set_feature_names(scaler, node, reader, what)
    return scaler


def _load_classes(node: Any, reader: _Reader, what: str) -> np.ndarray:
    node = _expect_dict(node, f"classes_ of {what}", frozenset({"dtype", "values"}))
    classes = reader.array(node["values"], "biufU", f"classes_ of {what}")
    if classes.ndim != 1 or len(classes) < 2:
        raise _Invalid(f"classes_ of {what} has shape {classes.shape}")
    if node["dtype"] == "object":
        if classes.dtype.kind != "U":
            raise _Invalid(f"classes_ of {what}: object labels must be strings")
        return classes.astype(object)
    if node["dtype"] != classes.dtype.str:
        raise _Invalid(
            f"classes_ of {what} has dtype {classes.dtype.str}, not {node['dtype']}"
        )
    return classes


def _architecture(network: dict, what: str) -> dict:
    arch = _expect_dict(
        network.get("architecture"), f"the architecture of {what}", _ARCHITECTURE_KEYS
    )
    arch = {k: _decode_value(v) for k, v in arch.items() if k in _ARCHITECTURE_KEYS}

    def positive_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v > 0

    hidden = arch["hidden_layer_sizes"]
    if not (
        positive_int(arch["n_features"])
        and positive_int(arch["n_outputs"])
        and isinstance(hidden, list)
        and all(positive_int(h) for h in hidden)
        and isinstance(arch["activation"], str)
        and arch["activation"] in ACTIVATIONS
        and isinstance(arch["dropout"], float)
        and 0 <= arch["dropout"] < 1
    ):
        raise _Invalid(f"the architecture of {what} is invalid: {_short(arch)}")
    return arch


def _load_network(network: Any, reader: _Reader, what: str) -> tuple[dict, dict]:
    """The architecture and the host weights, checked against each other."""
    network = _expect_dict(
        network, f"the network of {what}", frozenset({"format", "dtype", "state"})
    )
    if network["format"] != PORTABLE_FORMAT:
        raise _Invalid(f"the network of {what} has format {_short(network['format'])}")
    if network["dtype"] not in ("float32", "float64"):
        raise _Invalid(f"the network of {what} has dtype {_short(network['dtype'])}")
    arch = _architecture(network, what)
    refs = _expect_dict(network["state"], f"the weights of {what}")
    if len(refs) != 2 * (len(arch["hidden_layer_sizes"]) + 1):
        raise _Invalid(f"the weights of {what} do not match its architecture")
    with torch.device("meta"):  # shapes only: no memory, whatever the sizes
        expected = {
            k: tuple(v.shape) for k, v in build_mlp(**arch).state_dict().items()
        }
    if set(refs) != set(expected):
        raise _Invalid(f"the weights of {what} do not match its architecture")
    dtype = np.dtype(network["dtype"])
    state = {}
    for key, ref in refs.items():
        array = reader.array(ref, "f", f"weight {key} of {what}")
        if array.dtype != dtype or array.shape != expected[key]:
            raise _Invalid(
                f"weight {key} of {what} is {array.dtype}{list(array.shape)}, "
                f"expected {dtype}{list(expected[key])}"
            )
        state[key] = array
    return arch, {
        "format": PORTABLE_FORMAT,
        "architecture": arch,
        "dtype": network["dtype"],
        "state": state,
    }


def _load_classifier(node: dict, reader: _Reader, what: str) -> MLPDigitClassifier:
    clf = _make(MLPDigitClassifier, node, what)
    _set_fitted(clf, node, _CLASSIFIER_FITTED, what)
    clf.classes_ = _load_classes(node.get("classes_"), reader, what)
    arch, portable = _load_network(node.get("network"), reader, what)
    if not (
        arch["n_features"] == clf.n_features_in_
        and arch["n_outputs"] == clf.n_outputs_ == len(clf.classes_)
        and clf.n_layers_ == len(arch["hidden_layer_sizes"]) + 2
    ):
        raise _Invalid(f"the fitted attributes of {what} contradict its network")
    _set_feature_names(clf, node, reader, what)
    device = reader.device
    if device is None:  # "auto": where it was saved from, if this machine has it
        device = _loadable_device(clf.device_)
    clf.module_ = from_portable(portable, device)
    clf.device_ = str(device)
    clf._architecture = arch
    clf._rng = check_random_state(clf.random_state)
    return clf


# The allow-list of estimator types, by the name stored in the metadata.
_LOADERS = {"MLPDigitClassifier": _load_classifier, "PixelScaler": _load_scaler}


def _load_estimator(node: Any, reader: _Reader, what: str) -> Any:
    node = _expect_dict(node, what, frozenset({"type"}))
    kind = node["type"]
    loader = _LOADERS.get(kind) if isinstance(kind, str) else None
    if loader is None:
        raise _Invalid(
            f"{what} is of type {_short(kind)}, which this skmnist does not load "
            f"(only {', '.join(_LOADERS)} and Pipelines of them)"
        )
    return loader(node, reader, what)


def _load_model_node(node: Any, reader: _Reader) -> Any:
    node = _expect_dict(node, "the estimator", frozenset({"type"}))
    if node["type"] != _PIPELINE:
        return _load_estimator(node, reader, "the model")
    steps = node.get("steps")
    if not isinstance(steps, list) or not steps:
        raise _Invalid("the pipeline has no steps")
    built = []
    for i, step in enumerate(steps):
        step = _expect_dict(step, f"step {i}", frozenset({"name", "estimator"}))
        if not isinstance(step["name"], str):
            raise _Invalid(f"step {i} has the name {_short(step['name'])}")
        what = f"step {step['name']!r}"
        built.append((step["name"], _load_estimator(step["estimator"], reader, what)))
    pipeline = _make(Pipeline, node, "the pipeline", steps=built)
    pipeline._validate_steps()  # unique, valid names; transformers before the last
    return pipeline


def _read_members(data: bytes, name: str) -> tuple[dict, dict[str, bytes]]:
    """Open the archive, parse the metadata and read the checksummed members."""
    if not data.startswith(b"PK\x03\x04"):
        raise _FileError(f"{name!r} is not a skmnist model file: not a zip archive.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except Exception as exc:
        raise _FileError(
            f"{name!r} is corrupted (unreadable zip archive: {exc}); it may be "
            "truncated, or not a skmnist model file."
        ) from None
    names = [info.filename for info in infos]
    if _METADATA not in names:
        raise _FileError(
            f"{name!r} is not a skmnist model file: the archive has no {_METADATA}."
        )
    if len(set(names)) != len(names):
        raise _FileError(f"{name!r} is corrupted (duplicate members).")

    def read(member: str) -> bytes:
        info = archive.getinfo(member)
        if (
            info.compress_type != zipfile.ZIP_STORED
            or info.flag_bits & 0x1  # encrypted
            or info.file_size > len(data)
        ):
            raise _FileError(f"{name!r} is corrupted (unexpected member {member}).")
        try:
            return archive.read(member)
        except zipfile.BadZipFile as exc:
            if "CRC" in str(exc):
                raise _FileError(
                    f"{name!r} is corrupted (checksum mismatch in {member})."
                ) from None
            raise _FileError(
                f"{name!r} is corrupted (unreadable member {member}: {exc})."
            ) from None
        except Exception as exc:
            raise _FileError(
                f"{name!r} is corrupted (unreadable member {member}: {exc})."
            ) from None

    try:
        metadata = json.loads(read(_METADATA).decode("utf-8"), parse_constant=_nan)
    except (UnicodeDecodeError, json.JSONDecodeError, _Invalid) as exc:
        raise _FileError(
            f"{name!r} is not a skmnist model file: its {_METADATA} is not JSON "
            f"({exc})."
        ) from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise _FileError(
            f"{name!r} is not a skmnist model file: its {_METADATA} does not "
            f"describe a {FORMAT_NAME}."
        )
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _Invalid(f"invalid format_version {_short(version)}")
    if version > FORMAT_VERSION:
        writer = metadata.get("skmnist_version")
        writer = writer[:40] if isinstance(writer, str) else "(unknown version)"
        raise _FileError(
            f"{name!r} was written by skmnist {writer} in model format "
            f"version {version}, but this skmnist ({__version__}) reads format "
            f"version {FORMAT_VERSION}: upgrade skmnist to load it."
        )
    checksums = _expect_dict(metadata.get("members"), "members")
    listed = set(checksums)
    present = set(names) - {_METADATA}
    if listed - present:
        raise _FileError(
            f"{name!r} is corrupted (missing member {sorted(listed - present)[0]})."
        )
    if present - listed:
        raise _FileError(
            f"{name!r} is corrupted (unexpected member {sorted(present - listed)[0]})."
        )
    members = {}
    for member, checksum in checksums.items():
        blob = read(member)
        if not (isinstance(checksum, str) and len(checksum) == 64) or (
            hashlib.sha256(blob).hexdigest() != checksum
        ):
            raise _FileError(f"{name!r} is corrupted (checksum mismatch in {member}).")
        members[member] = blob
    return metadata, members


def _nan(constant: str) -> float:
    raise _Invalid(f"{constant} is not standard JSON")


def load_model(path: str | os.PathLike, *, device: str | torch.device = "auto") -> Any:
    """Load a model saved by :func:`save_model`, without running code from the file.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save_model`.
    device : str or torch.device, default="auto"
        Where to place the classifier's network. ``"auto"`` uses the device it
        was saved from (its ``device_``) when this machine has it, and the CPU
        otherwise, with a ``UserWarning`` (as :func:`joblib.load` does); so a
        model trained on CUDA loads on CUDA where it is available and on the
        CPU elsewhere. ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"`` place
        it there. Ignored for a :class:`~skmnist.PixelScaler` alone.

    Returns
    -------
    model : MLPDigitClassifier, PixelScaler or Pipeline
        The fitted model, of the type that was saved. A classifier predicts
        exactly as the saved one did on the same device, and can be trained
        further (the optimizer restarts: its state is not saved).

    Raises
    ------
    ValueError
        If the file is not a skmnist model file, was written in a newer
        format version, is corrupted (a member's checksum does not match, or
        it is truncated), or describes something this skmnist does not load;
        or if ``device`` is not available. The message names the file.
    OSError
        If the file cannot be read.

    See Also
    --------
    save_model : Write the file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn.datasets import load_digits
    >>> from skmnist import MLPDigitClassifier
    >>> from skmnist.persistence import load_model, save_model
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPDigitClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_model(clf, Path(folder) / "clf.skmnist")
    ...     loaded = load_model(Path(folder) / "clf.skmnist", device="cpu")
    >>> loaded.device_, loaded.get_params() == clf.get_params()
    ('cpu', True)
    """
    target = None if device == "auto" else resolve_device(device)
    name = os.fspath(path)
    with open(path, "rb") as file:  # OSError: missing, a folder, unreadable
        data = file.read()
    try:
        metadata, members = _read_members(data, name)
        return _load_model_node(metadata.get("estimator"), _Reader(members, target))
    except _FileError:
        raise
    except MemoryError:
        raise
    except _Invalid as exc:
        raise ValueError(
            f"{name!r} is not a valid skmnist model file: {exc}."
        ) from None
    except Exception as exc:  # anything else a hostile file might provoke
        raise ValueError(
            f"{name!r} is not a valid skmnist model file ({type(exc).__name__}: {exc})."
        ) from None


# --------------------------------------------------------------------------
# Model files by name and content: secure by default, pickles when allowed
# --------------------------------------------------------------------------
#: Suffix of secure model files: a file so named is never unpickled.
SECURE_SUFFIX = ".skmnist"
# Names save_model_file writes with joblib.dump, optionally followed by one
# of joblib's compression suffixes ("model.joblib.gz").
_PICKLE_SUFFIXES = frozenset({".joblib", ".pkl", ".pickle"})
_COMPRESSION_SUFFIXES = frozenset({".z", ".gz", ".bz2", ".xz", ".lzma", ".lz4"})
_ZIP_MAGIC = b"PK\x03\x04"
# How the files of pickle.dump (protocol 2 and later: every default since
# Python 3) and of joblib.dump (the same, or compressed) start. joblib has a
# detector, but it is private (joblib.numpy_pickle_utils); these are the
# public magic numbers of the formats. Older protocols have no header: such
# files are not recognised as pickles, but allow_pickle=True still loads them.
_PICKLE_MAGICS = (
    *(b"\x80" + bytes([protocol]) for protocol in range(2, 6)),
    *(b"\x78" + level for level in (b"\x01", b"\x5e", b"\x9c", b"\xda")),  # zlib
    b"\x1f\x8b",  # gzip
    b"BZh",  # bz2
    b"\xfd7zXZ\x00",  # xz
    b"\x5d\x00\x00",  # lzma
    b"\x04\x22\x4d\x18",  # lz4
)


class PickleNotAllowedError(ValueError):
    """A model file is a pickle, and :func:`load_model_file` was not allowed to load it.

    Loading a pickle (a :func:`joblib.dump` or :func:`pickle.dump` file) can
    run arbitrary code from the file.

    Parameters
    ----------
    filename : str
        The file; also the ``filename`` attribute of the error.

    Examples
    --------
    >>> import pickle
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skmnist.persistence import PickleNotAllowedError, load_model_file
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "model.pkl"
    ...     _ = path.write_bytes(pickle.dumps({"weights": [1, 2]}))
    ...     try:
    ...         load_model_file(path)
    ...     except PickleNotAllowedError as exc:
    ...         print("refused", Path(exc.filename).name)
    refused model.pkl
    """

    def __init__(self, filename: str) -> None:
        self.filename = filename
        super().__init__(
            f"{filename!r} is a pickle (joblib) file, which can run arbitrary code "
            "when loaded: load it with allow_pickle=True only if you trust it."
        )


def _names_a_pickle(path: str | os.PathLike) -> bool:
    suffixes = [suffix.lower() for suffix in Path(path).suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes.pop()
    return bool(suffixes) and suffixes[-1] in _PICKLE_SUFFIXES


def save_model_file(
    model: Any, path: str | os.PathLike
) -> Literal["skmnist", "pickle"]:
    """Save a model in the format its file name asks for: the secure one by default.

    Parameters
    ----------
    model : estimator
        The fitted model. For the secure format, what :func:`save_model`
        accepts; a pickle holds any estimator.
    path : str or os.PathLike
        The file to write. A name ending in ``.joblib``, ``.pkl`` or
        ``.pickle``, optionally followed by a compression suffix of
        :func:`joblib.dump` (``.gz``, ``.z``, ``.bz2``, ``.xz``, ``.lzma``,
        ``.lz4``), is written by :func:`joblib.dump`, as a pickle; any other
        name (``.skmnist`` by convention) by :func:`save_model`.

    Returns
    -------
    format : {"skmnist", "pickle"}
        The format written: ``"pickle"`` files load only with
        ``load_model_file(path, allow_pickle=True)``.

    Raises
    ------
    TypeError, sklearn.exceptions.NotFittedError
        As :func:`save_model`, for the secure format.

    See Also
    --------
    load_model_file : Load the file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn.datasets import load_digits
    >>> from skmnist import MLPDigitClassifier
    >>> from skmnist.persistence import save_model_file
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPDigitClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     print(save_model_file(clf, Path(folder) / "clf.skmnist"))
    ...     print(save_model_file(clf, Path(folder) / "clf.joblib"))
    skmnist
    pickle
    """
    if _names_a_pickle(path):
        import joblib

        joblib.dump(model, path)
        return "pickle"
    save_model(model, path)
    return "skmnist"


def load_model_file(path: str | os.PathLike, *, allow_pickle: bool = False) -> Any:
    """Load a model file: a secure one, or a pickle only if allowed.

    A file in the secure format (a zip archive, as written by
    :func:`save_model`) is loaded by :func:`load_model`, whatever its name;
    nothing from it runs. Any other file is a pickle to load with
    :func:`joblib.load`, which can run arbitrary code from the file: it is
    loaded only with ``allow_pickle=True``, and never when its name ends in
    ``.skmnist``.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    allow_pickle : bool, default=False
        Whether to load a file that is not in the secure format with
        :func:`joblib.load` (for joblib and pickle files). Only for files you
        trust: a pickle can run arbitrary code when loaded.

    Returns
    -------
    model : object
        The model: from a secure file, what :func:`load_model` returns (on
        the device it was saved from when this machine has it, else on the
        CPU); from a pickle, whatever the file holds.

    Raises
    ------
    PickleNotAllowedError
        If the file is a pickle (or a joblib file) and ``allow_pickle`` is
        False. A :class:`ValueError`.
    ValueError
        If the file is named ``*.skmnist`` but holds a pickle; if it is not a
        model file; or as :func:`load_model` for a secure file that is
        corrupted or invalid. The message names the file.
    OSError
        If the file cannot be read.

    See Also
    --------
    save_model_file : Save in the format the file name asks for.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn.datasets import load_digits
    >>> from skmnist import MLPDigitClassifier
    >>> from skmnist.persistence import load_model_file, save_model_file
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPDigitClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = save_model_file(clf, Path(folder) / "clf.skmnist")
    ...     secure = load_model_file(Path(folder) / "clf.skmnist")
    ...     _ = save_model_file(clf, Path(folder) / "clf.joblib")
    ...     pickled = load_model_file(Path(folder) / "clf.joblib", allow_pickle=True)
    >>> bool((secure.predict(X) == pickled.predict(X)).all())
    True
    """
    name = os.fspath(path)
    secure_name = Path(name).suffix.lower() == SECURE_SUFFIX
    with open(path, "rb") as file:  # OSError: missing, a folder, unreadable
        head = file.read(8)
        pickled = head.startswith(_PICKLE_MAGICS)
        if secure_name and pickled:
            raise ValueError(
                f"{name!r} holds a pickle, not a secure skmnist model file: files "
                f"named *{SECURE_SUFFIX} are never unpickled."
            )
        if not (secure_name or head.startswith(_ZIP_MAGIC)):
            if pickled and not allow_pickle:
                raise PickleNotAllowedError(name)
            if not allow_pickle:
                raise ValueError(
                    f"{name!r} is not a skmnist model file: it is neither in the "
                    "secure format nor a pickle (joblib) file."
                )
            file.seek(0)
            return _unpickle(file, name)
    return load_model(path)


def _unpickle(file: io.BufferedReader, name: str) -> Any:
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
