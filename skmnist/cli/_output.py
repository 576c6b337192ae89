"""What the commands print: tables, the confusion matrix, warnings and errors."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .._atomic import check_writable

if TYPE_CHECKING:
    import numpy as np

PROG = "skmnist"


def print_table(rows: Sequence[tuple[str, object]], file: TextIO | None = None) -> None:
    """Print ``name: value`` lines with the values aligned.

    Examples
    --------
    >>> from skmnist.cli._output import print_table
    >>> print_table([("model", "MLP"), ("test accuracy", "98.00 %")])
    model:         MLP
    test accuracy: 98.00 %
    """
    width = max(len(name) for name, _ in rows) + 1
    for name, value in rows:
        print(f"{name + ':':<{width}} {value}", file=file)


def percent(fraction: float) -> str:
    """A fraction as a percentage with two decimals, ``"98.60 %"``."""
    return f"{fraction:.2%}".replace("%", " %")


def _compact_repr(estimator: Any) -> str:
    return " ".join(repr(estimator).split())


def describe_model(model: Any) -> str:
    """The model on one line, its pipeline steps joined by arrows."""
    steps = getattr(model, "steps", None)
    if steps is None:
        return _compact_repr(model)
    return " -> ".join(_compact_repr(step) for _, step in steps)


def format_confusion_matrix(matrix: np.ndarray, labels: Sequence[object]) -> str:
    """The confusion matrix as a text table, true labels as rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skmnist.cli._output import format_confusion_matrix
    >>> print(format_confusion_matrix(np.array([[5, 1], [0, 12]]), [0, 1]))
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


def check_output_file(path: str, what: str) -> None:
    """Fail before the work if the file ``path`` cannot be written.

    The folder must exist and take a new file (a read-only folder or file
    system is found here, not after training), and ``path`` must not be a
    folder or a read-only file.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise IsADirectoryError(f"cannot write the {what} to {path!r}: it is a folder")
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"cannot write the {what} to {path!r}: the folder "
            f"{str(target.parent)!r} does not exist"
        )
    try:
        check_writable(target)
    except OSError as error:
        where = error.filename if error.filename is not None else str(target.parent)
        raise type(error)(
            f"cannot write the {what} to {path!r}: {where!r}: {error.strerror}"
        ) from None


# Characters that make a spreadsheet read a cell as a formula (OWASP's list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    r"""A CSV cell that a spreadsheet shows as text, never runs as a formula.

    Text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return is prefixed with a single quote, as OWASP recommends against CSV
    injection (a class label ``=HYPERLINK(...)`` would otherwise be a live
    formula in Excel or LibreOffice). A carriage return inside text becomes
    a line feed: :mod:`csv` then quotes the cell (with ``lineterminator="\n"``
    it leaves a carriage return bare, and a spreadsheet would start a new
    row there, whose first cell could be a formula). Numbers and other text
    are unchanged.

    Examples
    --------
    >>> from skmnist.cli._output import csv_cell
    >>> csv_cell('=HYPERLINK("http://example.com","7")')
    '\'=HYPERLINK("http://example.com","7")'
    >>> csv_cell("seven"), csv_cell("-1"), csv_cell(-1)
    ('seven', "'-1", -1)
    >>> csv_cell("a\r=1+2")
    'a\n=1+2'
    """
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_STARTS):
        value = "'" + value
    return value.replace("\r", "\n")


def error_line(message: str) -> str:
    """The one line an error is reported as, ``skmnist: error: <message>``."""
    return f"{PROG}: error: {message}"


def error_message(exc: BaseException) -> str:
    """What an exception says, without its type (an OSError names its file).

    Examples
    --------
    >>> from skmnist.cli._output import error_message
    >>> error_message(FileNotFoundError(2, "No such file or directory", "a.png"))
    'a.png: No such file or directory'
    """
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, MemoryError):
        return f"out of memory{': ' + str(exc) if str(exc) else ''}"
    return str(exc) or type(exc).__name__


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a warning as ``skmnist: warning: <message>`` (``warnings.showwarning``)."""
    print(f"{PROG}: warning: {message}", file=sys.stderr if file is None else file)
