"""The argument parser of the ``skmnist`` command, its options and help texts."""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
from collections.abc import Callable
from typing import NoReturn

from .._image_files import INVERT_CHOICES
from .._version import __version__
from ._options import (
    EXIT_USAGE_ERROR,
    device_name,
    init_params,
    param_assignment,
    random_state,
)
from ._output import PROG, error_line

DEFAULT_MODEL_FILE = "skmnist-model.skmnist"  # the secure format: no pickle
SOURCES = ("auto", "idx", "openml", "sample")
SUBSETS = ("test", "train", "all")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors read ``skmnist: error: <message>``.

    Its ``epilog`` may be a function, called when the help is first shown.
    """

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE_ERROR, error_line(message) + "\n")

    def format_help(self) -> str:
        if callable(self.epilog):
            self.epilog = self.epilog()
        return super().format_help()


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    """The ``run`` of command ``name``: its module is imported when it runs.

    The parser imports no command, so that ``--help`` and usage errors are
    answered before NumPy, scikit-learn or torch would be imported.
    """

    def run(args: argparse.Namespace) -> int:
        module = importlib.import_module(f"{__package__}._{name}")
        return module.run(args)

    return run


def _wrap(text: str, indent: str = "") -> str:
    """Wrap a paragraph of help text (the raw formatter keeps line breaks)."""
    return textwrap.fill(
        text,
        width=79,
        initial_indent=indent,
        subsequent_indent=indent + "  " if indent else "",
    )


#: The estimators of ``skmnist train``'s pipeline, by their modules.
ESTIMATORS = (
    ("skmnist.classifier", "MLPDigitClassifier"),
    ("skmnist.preprocessing", "PixelScaler"),
)


def _estimator_param_help() -> str:
    lines = ["estimator parameters for --param NAME=VALUE:"]
    for module, name in ESTIMATORS:
        names = ", ".join(init_params(module, name))
        lines.append(_wrap(f"{name}: {names}", indent="  "))
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
  pixel intensities from 0 to 255; image files (PNG, JPEG, BMP or GIF, at
  most 4096x4096 pixels) of one digit each. Images are normalised as
  MNIST's digits were (see skmnist.images): paper to black and ink to
  white (a dark digit on light paper is inverted; see --invert), the ink
  cropped, scaled into a 20x20 box and centred on 28x28 pixels by its
  centre of mass. Transparent pixels count as white paper.

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
        epilog=lambda: f"{_estimator_param_help()}\n\n{_TRAIN_EXAMPLES}",
    )
    train.add_argument(
        "--param",
        dest="params",
        metavar="NAME=VALUE",
        type=param_assignment,
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
        type=random_state,
        default=0,
        metavar="INT",
        help="seed of the weights and the shuffling, or 'none' (default: %(default)s)",
    )
    train.add_argument(
        "--device",
        type=device_name,
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
    train.set_defaults(run=_command("train"))

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
    evaluate.set_defaults(run=_command("evaluate"))

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
        help="IDX file, .npy array or image file (PNG, JPEG, BMP or GIF)",
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
        choices=INVERT_CHOICES,
        default="auto",
        help=(
            "the ink of image files (not arrays): 'always' dark (inverted to "
            "MNIST's white on black), 'never' light, 'auto' decided against "
            "the paper's shade at the border (default: %(default)s)"
        ),
    )
    predict.set_defaults(run=_command("predict"))
    return parser
