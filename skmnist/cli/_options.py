"""The values of options: ``--param NAME=VALUE``, ``--random-state``, ``--device``.

Each ``argparse`` type here turns the text of one option into its value, or
raises :class:`argparse.ArgumentTypeError`, which argparse reports as a usage
error (exit status 2) naming the option.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
from pathlib import Path
from typing import Any

EXIT_USAGE_ERROR = 2

_MAX_SEED = 2**32 - 1  # NumPy's seeds, as scikit-learn's random_state

# Parameters that --param cannot set (the CLI sets the callbacks itself).
RESERVED_PARAMS = frozenset({"callbacks"})


class UsageError(Exception):
    """A mistake in the command line, reported with exit status 2."""


def settable_params(estimator: Any) -> list[str]:
    """The names of the parameters of ``estimator`` that ``--param`` can set."""
    return sorted(set(estimator.get_params(deep=False)) - RESERVED_PARAMS)


def init_params(module: str, name: str) -> list[str]:
    """What :func:`settable_params` says of class ``name`` of ``module``, quickly.

    The parameters are read from the signature of the class's ``__init__`` in
    the module's source, without importing it (nor torch and scikit-learn),
    as ``get_params`` reads them from the signature: ``skmnist train --help``
    lists them at once. Without the source, the class is imported.

    Examples
    --------
    >>> from skmnist.cli._options import init_params
    >>> init_params("skmnist.preprocessing", "PixelScaler")
    ['clip', 'defer', 'max_value', 'standardize']
    """
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.origin and spec.origin.endswith(".py"):
        tree = ast.parse(Path(spec.origin).read_bytes(), spec.origin)
        for node in tree.body:
            if not (isinstance(node, ast.ClassDef) and node.name == name):
                continue
            for method in node.body:
                if isinstance(method, ast.FunctionDef) and method.name == "__init__":
                    args = method.args
                    names = [a.arg for a in (*args.posonlyargs, *args.args)][1:]
                    names += [a.arg for a in args.kwonlyargs]
                    return sorted(set(names) - RESERVED_PARAMS)
    return settable_params(getattr(importlib.import_module(module), name)())


def parse_value(text: str) -> Any:
    """Turn the VALUE of ``--param NAME=VALUE`` into a Python value.

    Python literals are evaluated (numbers, True/False/None, tuples, dicts,
    quoted strings); a comma-separated list becomes a tuple; ``inf`` and
    ``nan`` become floats; anything else stays a string.

    Examples
    --------
    >>> from skmnist.cli._options import parse_value
    >>> parse_value("512,256"), parse_value("64"), parse_value("1e-3")
    ((512, 256), 64, 0.001)
    >>> parse_value("sgd"), parse_value("None"), parse_value("relu,tanh")
    ('sgd', None, ('relu', 'tanh'))
    >>> parse_value("{0: 2.0}"), parse_value("inf")
    ({0: 2.0}, inf)
    """
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if "," in text:
        return tuple(parse_value(part) for part in text.split(",") if part.strip())
    try:
        return float(text)  # inf, -inf, nan
    except ValueError:
        return text


def param_assignment(text: str) -> tuple[str, Any]:
    """argparse type of ``--param``: ``NAME=VALUE`` to ``(name, value)``.

    Examples
    --------
    >>> from skmnist.cli._options import param_assignment
    >>> param_assignment("hidden_layer_sizes=1024,512")
    ('hidden_layer_sizes', (1024, 512))
    """
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE (e.g. max_iter=5), got {text!r}"
        )
    return name, parse_value(value)


def random_state(text: str) -> int | None:
    """argparse type of ``--random-state``: an int, or None for ``none``.

    Examples
    --------
    >>> from skmnist.cli._options import random_state
    >>> random_state("42"), random_state("none")
    (42, None)
    >>> random_state(str(2**70))
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an integer from 0 to 4294967295 or 'none', ...
    """
    if text.strip().lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= _MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to {_MAX_SEED} or 'none', got {text!r}"
        )
    return value


def device_name(text: str) -> str:
    """argparse type of ``--device``: a device name (its presence is checked later)."""
    from .._training.device_names import check_device_name

    try:
        check_device_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text
