"""The entry point of the ``skmnist`` command: run a command, report its errors."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

from ._options import EXIT_USAGE_ERROR, UsageError
from ._output import PROG, error_line, error_message, show_warning
from ._parser import build_parser

EXIT_RUNTIME_ERROR = 1
EXIT_INTERRUPTED = 130

# Errors reported as "skmnist: error: ..." with exit status 1.
_RUNTIME_ERRORS = (
    OSError,
    ValueError,
    TypeError,
    RuntimeError,
    ImportError,
    MemoryError,
)


def _silence_stdout() -> None:
    """Send further output to devnull, so that exiting raises no BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor
        pass


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
        invalid files, data of the wrong shape, an output that cannot be
        written, ...), 2 on a usage error, 130 when interrupted (Ctrl-C:
        nothing is written). Errors are printed to stderr as
        ``skmnist: error: <message>``.

    Examples
    --------
    >>> from skmnist.cli import main
    >>> main(["--version"])
    skmnist ...
    0

    Train a small network on the embedded sample and save it:

    >>> main(["train", "--source", "sample", "--param", "max_iter=2"])  # doctest: +SKIP
    """
    try:
        return _run(argv)
    except KeyboardInterrupt:  # Ctrl-C, also while importing or loading
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(argv: Sequence[str] | None) -> int:
    """Parse the arguments and run the command: :func:`main` without Ctrl-C."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            return args.run(args)
        except BrokenPipeError:  # e.g. skmnist predict ... | head
            _silence_stdout()
            return EXIT_RUNTIME_ERROR
        except UsageError as exc:
            print(error_line(str(exc)), file=sys.stderr)
            return EXIT_USAGE_ERROR
        except _RUNTIME_ERRORS as exc:
            print(error_line(error_message(exc)), file=sys.stderr)
            return EXIT_RUNTIME_ERROR
