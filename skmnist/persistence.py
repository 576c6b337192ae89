"""Secure model files through skops: save and load fitted models without pickle.

:func:`save_model` writes a fitted :class:`~skmnist.MLPDigitClassifier`, a
fitted :class:`~skmnist.PixelScaler`, or a fitted
:class:`sklearn.pipeline.Pipeline` made only of those two, with
:func:`skops.io.dump`: the secure format for scikit-learn models, which the
Hugging Face Hub reads. :func:`load_model` reads it back with
:func:`skops.io.load`. Unlike :func:`joblib.load` and :func:`pickle.load`,
loading such a file executes no code from it.

A file written by :func:`skops.io.dump` loads with :func:`skops.io.load`
given ``trusted=TRUSTED_TYPES`` (and with :func:`load_model`); a file written
by :func:`save_model` is an ordinary skops file.

:func:`save_model_file` and :func:`load_model_file`, which the command line
uses, pick the format of a file: they save a skops file unless the name asks
for a pickle (``.joblib``, ``.pkl``, ``.pickle``), and load a pickle only
when asked to with ``allow_pickle=True``, never from a file named
``*.skmnist``.

What is trusted, and why:

- skops builds only the types a file names, and refuses (before building
  anything) a type that is neither in its defaults nor in ``trusted``.
  :func:`load_model` is stricter: the file may hold only the types of
  :data:`TRUSTED_TYPES` and plain values (``dict``, ``list``, ``tuple``,
  ``str``, ``int``, ``float``, ``bool``, NumPy arrays and scalars, and
  :class:`numpy.random.RandomState`), not even another scikit-learn
  estimator: any other type is refused with a ``ValueError`` naming it.
- Arrays are read by NumPy with ``allow_pickle=False``; nothing in loading
  uses pickle.
- Loading is work linear in the file's size, and what a file describes is
  bounded before it is built (see :mod:`skmnist._container`).
- The zip archive's CRC-32 of every member is checked: it catches
  corruption (a truncated download, flipped bits), not malicious edits.
  Nothing authenticates the file's origin: a hostile file may give a model
  that predicts nonsense, but it runs no code.

What is not saved: ``callbacks``, which are code: a model whose
``callbacks`` is not None is saved with ``callbacks=None``, with a warning,
and so is a pipeline's ``memory`` (a cache folder, whose pickles a refit
would load): a file that sets either is refused by :func:`load_model`. The
optimizer's state is saved when ``keep_optimizer_state=True``, as in a pickle.

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

import os
import warnings
from pathlib import Path
from typing import Any, Literal

import skops.io
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from . import _fitted_state, _skops_format
from ._atomic import atomic_write
from ._container import open_model_file, read_model_file
from ._fitted_state import DEVICE_WARNING
from ._pickle_files import (
    JOBLIB_COMPRESSION,
    PICKLE_MAGICS,
    ZIP_MAGIC,
    names_a_pickle,
    unpickle,
)
from ._skops_format import ESTIMATOR_TYPES, STEP_TYPES, FileError
from ._training.device import resolve_device
from ._user_warning import warn_user
from .classifier import MLPDigitClassifier

__all__ = [
    "SECURE_SUFFIX",
    "TRUSTED_TYPES",
    "PickleNotAllowedError",
    "load_model",
    "load_model_file",
    "save_model",
    "save_model_file",
]

#: The types to pass to :func:`skops.io.load` as ``trusted`` for a skmnist
#: model: skmnist's two estimators and scikit-learn's Pipeline. Everything
#: else a model file holds (plain values, NumPy arrays) skops trusts already.
TRUSTED_TYPES = [f"{cls.__module__}.{cls.__qualname__}" for cls in ESTIMATOR_TYPES]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------
def _shallow_copy(estimator: Any) -> Any:
    """The same estimator, sharing its attributes' values, to edit before saving.

    Not :func:`copy.copy`, which goes through ``__getstate__`` and
    ``__setstate__``: for a classifier, that would rebuild its network.
    """
    duplicate = object.__new__(type(estimator))
    duplicate.__dict__.update(estimator.__dict__)
    return duplicate


def _storable_step(estimator: Any) -> Any:
    """A shallow copy of a fitted step, without what a model file cannot hold."""
    kind = type(estimator).__name__
    fitted = hasattr(estimator, "module_") or not isinstance(
        estimator, MLPDigitClassifier
    )  # check_is_fitted alone takes a classifier with fitted attributes for fitted
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        fitted = False
    if not fitted:
        raise NotFittedError(f"This {kind} is not fitted yet: fit it before saving.")
    estimator = _shallow_copy(estimator)
    if getattr(estimator, "callbacks", None) is not None:
        warn_user(
            f"The callbacks of this {kind} are code and are not saved: the loaded "
            "model has callbacks=None.",
            UserWarning,
        )
        estimator.callbacks = None
    if isinstance(getattr(estimator, "device", None), torch.device):
        estimator.device = str(estimator.device)
    if isinstance(estimator, MLPDigitClassifier):
        _fitted_state.storable(estimator)
    return estimator


def _storable(model: Any) -> Any:
    """A shallow copy of ``model`` to save; TypeError if it is not one to save."""
    if type(model) in STEP_TYPES:
        return _storable_step(model)
    if type(model) is not Pipeline:
        raise TypeError(
            "save_model saves a fitted MLPDigitClassifier, PixelScaler, or a "
            f"Pipeline made only of those, not a {type(model).__name__}. Use "
            "joblib.dump for other estimators."
        )
    if not model.steps:
        raise TypeError("Cannot save a Pipeline without steps.")
    for name, step in model.steps:
        if type(step) not in STEP_TYPES:
            raise TypeError(
                "save_model saves Pipelines made only of MLPDigitClassifier and "
                f"PixelScaler steps, but step {name!r} is {_short(step)}. Use "
                "joblib.dump for other pipelines."
            )
    pipeline = _shallow_copy(model)
    pipeline.steps = [(name, _storable_step(step)) for name, step in model.steps]
    if pipeline.memory is not None:  # a folder of pickles: never in a file
        warn_user(
            f"The parameter memory={_short(pipeline.memory)} of this Pipeline "
            "names a cache, which a model file does not keep: it is saved as "
            "memory=None.",
            UserWarning,
        )
        pipeline.memory = None
    return pipeline


def _dumps(model: Any) -> bytes:
    """``skops.io.dumps``, refusing what :func:`load_model` would refuse.

    The error names the parameter at fault, when there is one.
    """
    parts = (
        [model, *(s for _, s in model.steps)]
        if isinstance(model, Pipeline)
        else [model]
    )
    try:
        data = skops.io.dumps(model)  # uncompressed: load_model reads no other
        unexpected = _skops_format.unexpected_types(data)
    except TypeError as exc:  # skops' UnsupportedTypeException
        unexpected = [str(exc)]
    if not unexpected:
        return data
    for part in parts:
        for name, value in part.get_params(deep=False).items():
            if name == "steps":
                continue
            try:
                bad = _skops_format.unexpected_types(skops.io.dumps(value))
            except TypeError:
                bad = True
            if bad:
                raise TypeError(
                    f"Cannot save the parameter {name}={_short(value)} of a "
                    f"{type(part).__name__}: a model file stores None, booleans, "
                    "numbers, strings, NumPy arrays and random states, and lists, "
                    "tuples and dicts of those."
                )
    raise TypeError(f"Cannot save this model: {unexpected} cannot be stored.")


def save_model(model: Any, path: str | os.PathLike) -> None:
    """Save a fitted model to a secure skops file, which loads without pickle.

    Parameters
    ----------
    model : MLPDigitClassifier, PixelScaler or Pipeline
        A fitted :class:`~skmnist.MLPDigitClassifier`, a fitted
        :class:`~skmnist.PixelScaler`, or a fitted
        :class:`~sklearn.pipeline.Pipeline` whose steps are all one of these
        two (with any step names, in any order).
    path : str or os.PathLike
        The file to write (replaced if it exists). By convention its name
        ends in ``.skmnist``; it is an ordinary skops file, which
        ``skops.io.load(path, trusted=TRUSTED_TYPES)`` also loads. It is
        written atomically: on a failure (a full disk, an interrupt) an
        existing file stays as it was.

    Raises
    ------
    TypeError
        If ``model`` (or a step of it) is of another type, or a parameter
        holds a value that a model file cannot store (``callbacks`` are
        dropped with a warning instead, see the module documentation).
    ValueError
        If ``path`` names a pickle (``.joblib``, ``.pkl``, ``.pickle``), which
        :func:`joblib.load` could not read back; :func:`save_model_file`
        writes a pickle for such a name.
    sklearn.exceptions.NotFittedError
        If ``model`` or one of its steps is not fitted.

    See Also
    --------
    load_model : Load the file.
    skops.io.dump : Writes the file.
    joblib.dump : Saves any estimator, as a pickle.

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
    if names_a_pickle(path):
        raise ValueError(
            f"{os.fspath(path)!r} names a pickle file, but save_model writes the "
            "secure skops format, which joblib.load cannot read. Name the file "
            "'*.skmnist', or write a pickle with joblib.dump (or save_model_file, "
            "which picks the format from the name)."
        )
    data = _dumps(_storable(model))  # a model that cannot be stored fails here
    with atomic_write(path) as file:  # the previous file stays whole on a failure
        file.write(data)


# --------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------
def load_model(path: str | os.PathLike, *, device: str | torch.device = "auto") -> Any:
    """Load a model saved by :func:`save_model`, without running code from the file.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save_model`, or by :func:`skops.io.dump`
        (uncompressed, its default) from a model that :func:`save_model`
        accepts.
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
        further.

    Raises
    ------
    ValueError
        If the file is not a regular file of at most 2 GiB, is not a skmnist
        model file (or is one in the format of skmnist's development
        versions), is corrupted (a member's CRC-32 does not match, members
        overlap, or it is truncated), describes more than it holds, holds a
        type other than those of :data:`TRUSTED_TYPES` and plain values, or
        describes a model whose parts disagree; or if ``device`` is not
        available. The message names the file.
    OSError
        If the file cannot be read.

    See Also
    --------
    save_model : Write the file.
    skops.io.load : Reads the file.

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
    with open_model_file(path) as file:  # OSError: missing, a folder, unreadable
        data = read_model_file(file, name)
    return _loaded(data, name, target)


def _loaded(data: bytes, name: str, target: torch.device | None) -> Any:
    """The model of a file's bytes, on ``target`` (None: where it was saved)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, classifiers = _load(data, name)
    for warning in caught:  # raised under skops' frames: shown at the caller's
        if not (target and str(warning.message).startswith(DEVICE_WARNING)):
            # The warning itself: some (InconsistentVersionWarning) take
            # other arguments than a message to be made again.
            warn_user(warning.message, warning.category)
    for clf in classifiers:
        if target is not None:
            clf.module_.to(target)
            clf.device_ = str(target)
    return model


def _load(data: bytes, name: str) -> tuple[Any, list[MLPDigitClassifier]]:
    """skops.io.loads between skmnist's checks; every error a ValueError."""
    try:
        with _skops_format.open_archive(data, name) as archive:
            _skops_format.read_schema(archive, name, len(data))
        model = skops.io.loads(data, trusted=TRUSTED_TYPES)
        return model, _skops_format.check_model(model)
    except FileError:
        raise
    except MemoryError as exc:
        raise ValueError(
            f"{name!r} could not be loaded: it needs more memory than this "
            f"machine has ({exc})."
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
    The error :func:`load_model_file` raises for ``downloads/model.joblib``:

    >>> from skmnist.persistence import PickleNotAllowedError
    >>> error = PickleNotAllowedError("downloads/model.joblib")
    >>> error.filename
    'downloads/model.joblib'
    >>> print(error)
    'downloads/model.joblib' is a pickle (joblib) file, which can run arbitrary
    code when loaded: load it with allow_pickle=True only if you trust it.
    >>> isinstance(error, ValueError)  # so "except ValueError" catches it
    True
    """

    def __init__(self, filename: str) -> None:
        self.filename = filename
        super().__init__(
            f"{filename!r} is a pickle (joblib) file, which can run arbitrary code "
            "when loaded: load it with allow_pickle=True only if you trust it."
        )


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
        The file to write, atomically (an existing file stays as it was on a
        failure). A name ending in ``.joblib``, ``.pkl`` or
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
    The name picks the format, and the format written is returned:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from skmnist import PixelScaler
    >>> from skmnist.persistence import save_model_file
    >>> scaler = PixelScaler().fit([[0, 255]])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for name in ["scaler.skmnist", "scaler.joblib.gz", "scaler.bin"]:
    ...         print(name, save_model_file(scaler, Path(folder) / name))
    scaler.skmnist skmnist
    scaler.joblib.gz pickle
    scaler.bin skmnist
    """
    if names_a_pickle(path):
        import joblib

        # joblib.dump picks the compression by the name; the file is a
        # temporary one, so it is told.
        method = JOBLIB_COMPRESSION.get(Path(path).suffix)
        with atomic_write(path) as file:
            joblib.dump(model, file, compress=(method, None) if method else 0)
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
        regular file or not a model file; or as :func:`load_model` for a
        secure file that is corrupted or invalid. The message names the file.
    OSError
        If the file cannot be read.

    See Also
    --------
    save_model_file : Save in the format the file name asks for.

    Examples
    --------
    A pickle, here of an estimator :func:`save_model` cannot store, loads only
    when allowed:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import joblib
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmnist.persistence import PickleNotAllowedError, load_model_file
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "scaler.joblib"
    ...     _ = joblib.dump(StandardScaler().fit([[0.0], [2.0]]), path)
    ...     try:
    ...         load_model_file(path)
    ...     except PickleNotAllowedError:
    ...         print("refused: it could run code")
    ...     scaler = load_model_file(path, allow_pickle=True)  # trusted file
    refused: it could run code
    >>> scaler.mean_
    array([1.])
    """
    name = os.fspath(path)
    secure_name = Path(name).suffix.lower() == SECURE_SUFFIX
    with open_model_file(path) as file:  # OSError: missing, a folder, unreadable
        head = file.read(8)
        pickled = head.startswith(PICKLE_MAGICS)
        if secure_name and pickled:
            raise ValueError(
                f"{name!r} holds a pickle, not a secure skmnist model file: files "
                f"named *{SECURE_SUFFIX} are never unpickled."
            )
        if not (secure_name or head.startswith(ZIP_MAGIC)):
            if pickled and not allow_pickle:
                raise PickleNotAllowedError(name)
            if not allow_pickle:
                raise ValueError(
                    f"{name!r} is not a skmnist model file: it is neither in the "
                    "secure format nor a pickle (joblib) file."
                )
            file.seek(0)
            return unpickle(file, name)
        data = read_model_file(file, name)
    return _loaded(data, name, None)
