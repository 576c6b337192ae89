"""The ``skmnist`` command line: train, evaluate and use digit classifiers.

``skmnist train`` fits ``make_pipeline(PixelScaler(), MLPDigitClassifier())``
on MNIST and saves it in the secure format of :mod:`skmnist.persistence`;
``skmnist evaluate`` scores a saved model on the MNIST test set; ``skmnist
predict`` classifies IDX files, ``.npy`` arrays or image files. ``python -m
skmnist`` is the same program.
Run ``skmnist <command> --help`` for the options of each command.

Errors are reported as one ``skmnist: error: <message>`` line on stderr, with
exit status 2 for usage errors (unknown options, unknown or invalid
``--param``, a ``--device`` that is not a device name) and 1 for runtime
errors (missing files, data of the wrong shape, files that are not skmnist
models, unavailable devices).

Model files are secure by default: ``skmnist train`` writes the format of
:mod:`skmnist.persistence` (``skmnist-model.skmnist``), which ``evaluate`` and
``predict`` load without running code from the file. A pickle (joblib) file,
which ``train --out FILE.joblib`` (or ``.pkl``) writes, can run arbitrary code
when loaded: ``evaluate`` and ``predict`` refuse it unless given
``--allow-pickle``, and never unpickle a file named ``*.skmnist``. Which
format a file is, and how it loads, is decided by
:func:`skmnist.persistence.load_model_file` and
:func:`~skmnist.persistence.save_model_file`.

The progress bar needs tqdm (one line per epoch is printed without it),
``predict`` on image files needs Pillow and ``evaluate --plot`` needs
matplotlib: ``pip install skmnist[cli]`` installs all three.
"""

from __future__ import annotations

import argparse
import ast
import csv
import difflib
import math
import os
import sys
import textwrap
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import numpy as np

from ._version import __version__

__all__ = ["build_parser", "main"]

PROG = "skmnist"
DEFAULT_MODEL_FILE = "skmnist-model.skmnist"  # the secure format: no pickle
SOURCES = ("auto", "idx", "openml", "sample")
SUBSETS = ("test", "train", "all")

# Exit statuses.
EXIT_RUNTIME_ERROR = 1
EXIT_USAGE_ERROR = 2
EXIT_INTERRUPTED = 130

# Parameters that --param cannot set (the CLI sets the callbacks itself).
_RESERVED_PARAMS = frozenset({"callbacks"})
# Errors reported as "skmnist: error: ..." with exit status 1.
_RUNTIME_ERRORS = (
    OSError,
    ValueError,
    TypeError,
    RuntimeError,
    ImportError,
    MemoryError,
)
_NPY_MAGIC = b"\x93NUMPY"
_IDX_MAGICS = (b"\x00\x00", b"\x1f\x8b")  # plain IDX, gzip (compressed IDX)


class UsageError(Exception):
    """A mistake in the command line, reported with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors read ``skmnist: error: <message>``."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE_ERROR, f"{PROG}: error: {message}\n")


# --------------------------------------------------------------------------
# Argument parsing
# --------------------------------------------------------------------------
def _parse_value(text: str) -> Any:
    """Turn the VALUE of ``--param NAME=VALUE`` into a Python value.

    Python literals are evaluated (numbers, True/False/None, tuples, dicts,
    quoted strings); a comma-separated list becomes a tuple; ``inf`` and
    ``nan`` become floats; anything else stays a string.

    Examples
    --------
    >>> from skmnist.cli import _parse_value
    >>> _parse_value("512,256"), _parse_value("64"), _parse_value("1e-3")
    ((512, 256), 64, 0.001)
    >>> _parse_value("sgd"), _parse_value("None"), _parse_value("relu,tanh")
    ('sgd', None, ('relu', 'tanh'))
    >>> _parse_value("{0: 2.0}"), _parse_value("inf")
    ({0: 2.0}, inf)
    """
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if "," in text:
        return tuple(_parse_value(part) for part in text.split(",") if part.strip())
    try:
        return float(text)  # inf, -inf, nan
    except ValueError:
        return text


def _param_assignment(text: str) -> tuple[str, Any]:
    """argparse type of ``--param``: ``NAME=VALUE`` to ``(name, value)``."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE (e.g. max_iter=5), got {text!r}"
        )
    return name, _parse_value(value)


def _random_state(text: str) -> int | None:
    """argparse type of ``--random-state``: an int, or None for ``none``."""
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or 'none', got {text!r}"
        ) from None


def _device_name(text: str) -> str:
    """argparse type of ``--device``: a device name (its presence is checked later)."""
    from ._device import check_device_name

    try:
        check_device_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _wrap(text: str, indent: str = "") -> str:
    """Wrap a paragraph of help text (the raw formatter keeps line breaks)."""
    return textwrap.fill(
        text,
        width=79,
        initial_indent=indent,
        subsequent_indent=indent + "  " if indent else "",
    )


def _estimator_param_help() -> str:
    from . import MLPDigitClassifier, PixelScaler

    lines = ["estimator parameters for --param NAME=VALUE:"]
    for estimator in (MLPDigitClassifier(), PixelScaler()):
        names = sorted(set(estimator.get_params(deep=False)) - _RESERVED_PARAMS)
        lines.append(
            _wrap(f"{type(estimator).__name__}: {', '.join(names)}", indent="  ")
        )
    lines.append(
        _wrap(
            "See help(skmnist.MLPDigitClassifier). A name may also be written "
            "with its pipeline step, e.g. pixelscaler__standardize=True.",
            indent="  ",
        )
    )
    return "\n".join(lines)


_TRAIN_EXAMPLES = """\
examples:
  skmnist train --source sample
  skmnist train --data-home ~/data/mnist --out mnist-mlp.skmnist
  skmnist train --param hidden_layer_sizes=1024,512 --param max_iter=30 \\
      --param dropout=0.2 --param solver=sgd --param learning_rate_init=0.05
"""

_PREDICT_EXAMPLES = """\
inputs:
  IDX files (e.g. t10k-images-idx3-ubyte[.gz]) of shape (n, 28, 28) or
  (n, 784); .npy arrays of shape (n, 784), (n, 28, 28) or (28, 28), with
  pixel intensities from 0 to 255; image files (PNG, JPEG, ...) of one
  digit each. Images are normalised as MNIST's digits were (see
  skmnist.images): paper to black and ink to white (a dark digit on light
  paper is inverted; see --invert), the ink cropped, scaled into a 20x20
  box and centred on 28x28 pixels by its centre of mass. Transparent pixels
  count as white paper.

output:
  CSV with the columns source,index,prediction (and proba_<class> with
  --proba): the input file, the position of the image in it, and the
  predicted digit.

examples:
  skmnist predict skmnist-model.skmnist t10k-images-idx3-ubyte.gz -o pred.csv
  skmnist predict skmnist-model.skmnist digit.png photo.jpg --proba
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``skmnist`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser, with one sub-command each for ``train``, ``evaluate`` and
        ``predict``; ``parse_args`` sets ``run``, the function of the command.

    Examples
    --------
    >>> from skmnist.cli import build_parser
    >>> args = build_parser().parse_args(["predict", "model.skmnist", "a.png"])
    >>> args.command, args.model, args.inputs, args.proba, args.allow_pickle
    ('predict', 'model.skmnist', ['a.png'], False, False)
    """
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description=(
            "Train, evaluate and use a scikit-learn MLP classifier (PyTorch, on "
            "the GPU if any) for MNIST handwritten digits."
        ),
        epilog=(
            "Without network access or MNIST files, 'skmnist train --source "
            "sample' trains on the small MNIST sample shipped with skmnist."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, title="commands"
    )

    data = _Parser(add_help=False)
    group = data.add_argument_group("data")
    group.add_argument(
        "--source",
        choices=SOURCES,
        default="auto",
        help=(
            "where to read MNIST: 'idx' the official IDX files in --data-home, "
            "'openml' OpenML's mnist_784 (downloaded once, then cached), "
            "'sample' the 5,000 training and 1,000 test images shipped with "
            "skmnist, 'auto' the IDX files if present, else OpenML "
            "(default: %(default)s)"
        ),
    )
    group.add_argument(
        "--data-home",
        metavar="DIR",
        help=(
            "folder of the MNIST IDX files (train-images-idx3-ubyte[.gz], ...); "
            "default: $SKMNIST_DATA/mnist, or scikit-learn's data home"
        ),
    )

    train = commands.add_parser(
        "train",
        parents=[data],
        formatter_class=formatter,
        help="train a classifier on MNIST and save it",
        description=_wrap(
            "Train make_pipeline(PixelScaler(), MLPDigitClassifier()) on the "
            "MNIST training set, report its accuracy on the official test set "
            "of the same source, and save the pipeline in the secure format of "
            "skmnist.persistence, which loads without running code (a joblib "
            "pickle when FILE ends in .joblib, .pkl or .pickle)."
        ),
        epilog=f"{_estimator_param_help()}\n\n{_TRAIN_EXAMPLES}",
    )
    train.add_argument(
        "--param",
        dest="params",
        metavar="NAME=VALUE",
        type=_param_assignment,
        action="append",
        default=[],
        help=(
            "set an estimator parameter (repeatable); VALUE is a Python literal "
            "or a comma-separated list, e.g. hidden_layer_sizes=512,256, "
            "max_iter=5, solver=sgd; --param random_state and --param device "
            "override the options below"
        ),
    )
    train.add_argument(
        "--random-state",
        type=_random_state,
        default=0,
        metavar="INT",
        help="seed of the weights and the shuffling, or 'none' (default: %(default)s)",
    )
    train.add_argument(
        "--device",
        type=_device_name,
        default="auto",
        help=(
            "'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda', 'cuda:1' or "
            "'mps' (default: %(default)s)"
        ),
    )
    train.add_argument(
        "--out",
        "-o",
        default=DEFAULT_MODEL_FILE,
        metavar="FILE",
        help="where to save the fitted pipeline (default: %(default)s): in the "
        "secure format, or as a joblib pickle when FILE ends in .joblib, .pkl or "
        ".pickle, which evaluate and predict load only with --allow-pickle",
    )
    train.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bar or progress messages, only the summary",
    )
    train.set_defaults(run=_train)

    model_file = _Parser(add_help=False)
    model_file.add_argument(
        "model", metavar="MODEL", help="a model file saved by skmnist train"
    )
    model_file.add_argument(
        "--allow-pickle",
        action="store_true",
        help=(
            "also load MODEL if it is a pickle (a joblib or pickle file). A "
            "pickle can run arbitrary code when it is loaded: only for files "
            "you trust. Without it only the secure format loads; a file named "
            "*.skmnist is never unpickled"
        ),
    )

    evaluate = commands.add_parser(
        "evaluate",
        parents=[data, model_file],
        formatter_class=formatter,
        help="score a saved model on the MNIST test set",
        description=_wrap(
            "Print the accuracy, the per-class precision and recall "
            "(classification report) and the confusion matrix of a saved "
            "model on MNIST."
        ),
        epilog=(
            "example:\n  skmnist evaluate skmnist-model.skmnist --plot confusion.png"
        ),
    )
    evaluate.add_argument(
        "--subset",
        choices=SUBSETS,
        default="test",
        help="which images to score (default: %(default)s)",
    )
    evaluate.add_argument(
        "--plot",
        metavar="FILE",
        help=(
            "also draw the confusion matrix into FILE (.png, .svg, .pdf; "
            "needs matplotlib)"
        ),
    )
    evaluate.set_defaults(run=_evaluate)

    predict = commands.add_parser(
        "predict",
        parents=[model_file],
        formatter_class=formatter,
        help="classify IDX files, .npy arrays or images of digits",
        description="Predict the digit of each image in the input files.",
        epilog=_PREDICT_EXAMPLES,
    )
    predict.add_argument(
        "inputs",
        metavar="INPUT",
        nargs="+",
        help="IDX file, .npy array or image file (PNG, JPEG, ...)",
    )
    predict.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the CSV to FILE instead of the standard output",
    )
    predict.add_argument(
        "--proba",
        action="store_true",
        help="add the probability of each class (columns proba_<class>)",
    )
    predict.add_argument(
        "--invert",
        choices=("auto", "always", "never"),
        default="auto",
        help=(
            "the ink of image files (not arrays): 'always' dark (inverted to "
            "MNIST's white on black), 'never' light, 'auto' decided against "
            "the paper's shade at the border (default: %(default)s)"
        ),
    )
    predict.set_defaults(run=_predict)
    return parser


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------
def _print_table(
    rows: Sequence[tuple[str, object]], file: TextIO | None = None
) -> None:
    """Print ``name: value`` lines with the values aligned."""
    width = max(len(name) for name, _ in rows) + 1
    for name, value in rows:
        print(f"{name + ':':<{width}} {value}", file=file)


def _compact_repr(estimator: Any) -> str:
    return " ".join(repr(estimator).split())


def _model_description(model: Any) -> str:
    steps = getattr(model, "steps", None)
    if steps is None:
        return _compact_repr(model)
    return " -> ".join(_compact_repr(step) for _, step in steps)


def _check_output_file(path: str, what: str) -> None:
    """Fail before the work if ``path`` cannot be a new file."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise IsADirectoryError(f"cannot write the {what} to {path!r}: it is a folder")
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"cannot write the {what} to {path!r}: the folder "
            f"{str(target.parent)!r} does not exist"
        )


def _dataset_name(dataset: str | None) -> str:
    """What the data line says was read (the ``dataset`` of load_mnist's Bunch)."""
    if dataset is None:
        return "unknown IDX files (not the official MNIST release)"
    return dataset if dataset == "MNIST" else f"{dataset} (not MNIST)"


def _load_data(source: str, data_home: str | None, subset: str) -> tuple[Any, Any, str]:
    """The images, the labels and the name of the dataset that was read."""
    from .datasets import load_mnist

    data = load_mnist(data_home, subset=subset, source=source)
    return data.data, data.target, _dataset_name(data.dataset)


def _load_train_test(
    source: str, data_home: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """The training and the official test set of ``source``, read once."""
    if source == "sample":
        X_train, y_train, dataset = _load_data(source, data_home, "train")
        X_test, y_test, _ = _load_data(source, data_home, "test")
        return X_train, y_train, X_test, y_test, dataset
    from .datasets._catalog import N_TEST

    # One read of all 70,000 images: OpenML is parsed once, not twice.
    X, y, dataset = _load_data(source, data_home, "all")
    n_train = len(X) - N_TEST
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:], dataset


def _load_model(path: str, allow_pickle: bool) -> Any:
    """Load a fitted skmnist model (a pipeline ending in MLPDigitClassifier).

    Which format the file is, and whether it may be unpickled, is decided by
    skmnist.persistence.load_model_file.
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    from .classifier import MLPDigitClassifier
    from .persistence import PickleNotAllowedError, load_model_file

    try:
        model = load_model_file(path, allow_pickle=allow_pickle)
    except PickleNotAllowedError:
        raise ValueError(
            f"{path!r} is a pickle (joblib) file, which can run arbitrary code "
            "when loaded: pass --allow-pickle to load it, only if you trust it"
        ) from None
    final = model[-1] if isinstance(model, Pipeline) and len(model) else model
    if not isinstance(final, MLPDigitClassifier):
        raise ValueError(
            f"{path!r} is not a skmnist model file: it holds a "
            f"{type(model).__name__}, not an MLPDigitClassifier or a Pipeline "
            "ending in one"
        )
    try:
        check_is_fitted(final)
    except NotFittedError:
        raise ValueError(
            f"{path!r} holds an MLPDigitClassifier that was never fitted"
        ) from None
    return model


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------
def _param_names(model: Any) -> dict[str, str]:
    """``--param`` names and the pipeline parameters they set.

    Every parameter can be named ``<step>__<name>``, as in ``set_params``, or
    just ``<name>`` (the classifier's first, should a name be in both steps).
    """
    names: dict[str, str] = {}
    pipeline_params = model.get_params(deep=True)
    for step_name, step in reversed(model.steps):
        for name in step.get_params(deep=False):
            full_name = f"{step_name}__{name}"
            if name in _RESERVED_PARAMS or full_name not in pipeline_params:
                continue
            names[full_name] = full_name
            names.setdefault(name, full_name)
    return names


def _unknown_param_message(name: str, model: Any, names: dict[str, str]) -> str:
    message = f"unknown estimator parameter {name!r} in --param"
    close = difflib.get_close_matches(name, list(names), n=1)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    valid = "; ".join(
        f"{type(step).__name__}: "
        + ", ".join(sorted(set(step.get_params(deep=False)) - _RESERVED_PARAMS))
        for _, step in reversed(model.steps)
    )
    return f"{message}. Valid names: {valid}"


def _set_params(model: Any, assignments: Sequence[tuple[str, Any]]) -> None:
    """Apply ``--param`` assignments to the pipeline, then validate all values."""
    from sklearn.utils._param_validation import InvalidParameterError

    names = _param_names(model)
    for name, value in assignments:
        if name not in names:
            raise UsageError(_unknown_param_message(name, model, names))
        model.set_params(**{names[name]: value})
    for _, step in model.steps:
        try:
            step._validate_params()
        except InvalidParameterError as exc:
            raise UsageError(f"invalid --param value: {exc}") from None


def _train(args: argparse.Namespace) -> int:
    from sklearn.pipeline import make_pipeline

    from . import MLPDigitClassifier, PixelScaler
    from ._device import resolve_device
    from .persistence import save_model_file

    model = make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(random_state=args.random_state, device=args.device),
    )
    _set_params(model, args.params)
    classifier = model[-1]
    resolve_device(classifier.device)  # fail before loading data
    _check_output_file(args.out, "model")

    if not args.quiet:
        print(f"loading MNIST (source: {args.source}) ...", file=sys.stderr, flush=True)
    X_train, y_train, X_test, y_test, dataset = _load_train_test(
        args.source, args.data_home
    )

    verbose = classifier.verbose
    classifier.set_params(verbose=0 if args.quiet else max(verbose, 1))
    started = time.perf_counter()
    try:
        model.fit(X_train, y_train)  # verbose=1: a progress bar over epochs
    finally:
        classifier.set_params(verbose=verbose)
    fit_time = time.perf_counter() - started
    accuracy = model.score(X_test, y_test)
    saved_to = args.out
    if save_model_file(model, args.out) == "pickle":
        saved_to += " (a pickle: evaluate and predict load it with --allow-pickle)"

    source = args.source + (f" ({args.data_home})" if args.data_home else "")
    _print_table(
        [
            ("data", f"{dataset}, source {source}"),
            ("training images", f"{len(X_train):,}"),
            ("test images", f"{len(X_test):,}"),
            ("model", _model_description(model)),
            ("device", classifier.device_),
            ("epochs", classifier.n_iter_),
            ("fit time", f"{fit_time:.2f} s"),
            ("test accuracy", f"{accuracy:.2%}".replace("%", " %")),
            ("saved to", saved_to),
        ]
    )
    return 0


# --------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------
def _format_confusion_matrix(matrix: np.ndarray, labels: Sequence[object]) -> str:
    """The confusion matrix as a text table, true labels as rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skmnist.cli import _format_confusion_matrix
    >>> print(_format_confusion_matrix(np.array([[5, 1], [0, 12]]), [0, 1]))
    true\\pred  0  1
             0  5  1
             1  0 12
    """
    names = [str(label) for label in labels]
    corner = "true\\pred"
    first = max(len(corner), *(len(name) for name in names))
    width = (
        max(len(str(int(matrix.max(initial=0)))), *(len(name) for name in names)) + 1
    )
    lines = [corner.rjust(first) + "".join(name.rjust(width) for name in names)]
    for name, row in zip(names, matrix, strict=True):
        lines.append(name.rjust(first) + "".join(str(int(v)).rjust(width) for v in row))
    return "\n".join(lines)


def _evaluate(args: argparse.Namespace) -> int:
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    if args.plot:
        from .plotting import _figure_class

        _figure_class()  # ImportError now, before the work, without matplotlib
        _check_output_file(args.plot, "plot")
    model = _load_model(args.model, args.allow_pickle)
    X, y, dataset = _load_data(args.source, args.data_home, args.subset)
    started = time.perf_counter()
    y_pred = model.predict(X)
    predict_time = time.perf_counter() - started
    accuracy = accuracy_score(y, y_pred)
    labels = np.unique(np.concatenate([np.asarray(y), np.asarray(y_pred)]))

    source = args.source + (f" ({args.data_home})" if args.data_home else "")
    _print_table(
        [
            ("model", f"{args.model}: {_model_description(model)}"),
            ("device", model[-1].device_ if hasattr(model, "steps") else model.device_),
            ("data", f"{dataset} {args.subset} set, source {source}"),
            ("images", f"{len(X):,}"),
            ("predict time", f"{predict_time:.2f} s"),
            ("accuracy", f"{accuracy:.2%}".replace("%", " %")),
        ]
    )
    print("\nclassification report:")
    print(classification_report(y, y_pred, labels=labels, digits=4, zero_division=0))
    print("confusion matrix (rows: true digit, columns: predicted digit):")
    print(_format_confusion_matrix(confusion_matrix(y, y_pred, labels=labels), labels))
    if args.plot:
        from .plotting import plot_confusion_matrix

        plot_confusion_matrix(
            y,
            y_pred,
            args.plot,
            labels=labels,
            title=f"{dataset} {args.subset} set: accuracy {accuracy:.2%}",
        )
        print(f"\nconfusion matrix plot saved to {args.plot}")
    return 0


# --------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------
def _square_side(n_features: int) -> int | None:
    side = math.isqrt(n_features)
    return side if side * side == n_features else None


def _as_samples(array: np.ndarray, n_features: int, path: str) -> np.ndarray:
    """Rows of ``n_features`` pixels from an array of one or more images."""
    side = _square_side(n_features)
    if array.ndim == 2 and array.shape[1] == n_features:
        return array
    if array.ndim == 1 and array.shape[0] == n_features:
        return array.reshape(1, n_features)
    if side is not None and array.shape == (side, side):
        return array.reshape(1, n_features)
    if side is not None and array.ndim == 3 and array.shape[1:] == (side, side):
        return array.reshape(len(array), n_features)
    shapes = f"(n, {n_features})"
    if side is not None:
        shapes += f", (n, {side}, {side}) or ({side}, {side})"
    raise ValueError(
        f"{path!r} holds an array of shape {array.shape}, but the model expects "
        f"{n_features} features per image: an array of shape {shapes}"
    )


def _read_input(path: str, n_features: int, invert: str) -> np.ndarray:
    """The images of one input file (.npy, IDX or image) as rows of pixels."""
    from .datasets import read_idx

    with open(path, "rb") as f:  # OSError if missing, a folder, unreadable
        head = f.read(len(_NPY_MAGIC))
    if head.startswith(_NPY_MAGIC):
        return _as_samples(np.load(path, allow_pickle=False), n_features, path)
    if head[:2] in _IDX_MAGICS:
        return _as_samples(read_idx(path), n_features, path)
    from .images import read_digit_image

    side = _square_side(n_features)
    if side is None:
        raise ValueError(
            f"{path!r} looks like an image file, but the model takes {n_features} "
            "features, which are not the pixels of a square image"
        )
    try:
        pixels = read_digit_image(path, side=side, invert=invert)
    except OSError as exc:
        raise ValueError(
            f"{path!r} is not a .npy array, an IDX file or an image file that "
            f"Pillow can read ({exc})"
        ) from exc
    return pixels.reshape(1, n_features)


def _warn_if_unit_range(X: np.ndarray, model: Any, path: str) -> None:
    """Warn, naming ``path``, when the model's PixelScaler would destroy ``X``.

    The check is PixelScaler's own (pixels already in [0, 1] for a model of
    0-255 intensities, and the other ranges it warns about).
    """
    from .preprocessing import PixelRangeWarning, PixelScaler

    scaler = model[0] if hasattr(model, "steps") else None
    if not isinstance(scaler, PixelScaler) or not hasattr(scaler, "data_max_"):
        return
    if not X.size or X.dtype.kind not in "uif":
        return  # the model rejects such input with its own message
    message = scaler._transform_problem(X)
    if message is not None:
        warnings.warn(f"{path!r}: {message}", PixelRangeWarning, stacklevel=2)


def _without_range_warning(method: Any, X: np.ndarray) -> Any:
    """``method(X)`` without PixelScaler's range warning, for inputs checked above.

    :func:`_warn_if_unit_range` warned about each input file by name already.
    """
    from .preprocessing import PixelRangeWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelRangeWarning)
        return method(X)


def _predict(args: argparse.Namespace) -> int:
    model = _load_model(args.model, args.allow_pickle)
    n_features = int(model.n_features_in_)
    if args.output:
        _check_output_file(args.output, "predictions")
    sources: list[str] = []
    indices: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    for path in args.inputs:
        X = _read_input(path, n_features, args.invert)
        _warn_if_unit_range(X, model, path)
        blocks.append(X)
        sources.extend([path] * len(X))
        indices.append(np.arange(len(X)))
    X = np.concatenate(blocks)
    predictions = _without_range_warning(model.predict, X)
    header = ["source", "index", "prediction"]
    columns: list[np.ndarray] = [np.concatenate(indices), predictions]
    if args.proba:
        header += [f"proba_{label}" for label in model.classes_]
        columns.append(_without_range_warning(model.predict_proba, X))

    def write(file: TextIO) -> None:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        for source, index, prediction, *proba in zip(sources, *columns, strict=True):
            row = [source, int(index), prediction]
            if proba:
                row += [f"{p:.6f}" for p in proba[0]]
            writer.writerow(row)

    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as f:
            write(f)
        print(f"{len(X):,} predictions written to {args.output}", file=sys.stderr)
    else:
        write(sys.stdout)
    return 0


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------
def _error_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, MemoryError):
        return f"out of memory{': ' + str(exc) if str(exc) else ''}"
    return str(exc) or type(exc).__name__


def _silence_stdout() -> None:
    """Send further output to devnull, so that exiting raises no BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor
        pass


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skmnist`` command line.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments, without the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        The exit status: 0 on success, 1 on a runtime error (missing or
        invalid files, data of the wrong shape, ...), 2 on a usage error.
        Errors are printed to stderr as ``skmnist: error: <message>``.

    Examples
    --------
    >>> from skmnist.cli import main
    >>> main(["--version"])
    skmnist ...
    0

    Train a small network on the embedded sample and save it:

    >>> main(["train", "--source", "sample", "--param", "max_iter=2"])  # doctest: +SKIP
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except BrokenPipeError:  # e.g. skmnist predict ... | head
            _silence_stdout()
            return EXIT_RUNTIME_ERROR
        except UsageError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE_ERROR
        except _RUNTIME_ERRORS as exc:
            print(f"{PROG}: error: {_error_message(exc)}", file=sys.stderr)
            return EXIT_RUNTIME_ERROR
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
