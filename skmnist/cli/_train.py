"""``skmnist train``: fit ``make_pipeline(PixelScaler(), MLPDigitClassifier())``.

``--param NAME=VALUE`` sets any parameter of either step, by its own name or
its pipeline name; unknown names and invalid values are usage errors.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import time
from collections.abc import Sequence
from typing import Any

from ._loading import describe_source, load_train_test
from ._options import RESERVED_PARAMS, UsageError, settable_params
from ._output import check_output_file, describe_model, percent, print_table


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
            if name in RESERVED_PARAMS or full_name not in pipeline_params:
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
        f"{type(step).__name__}: {', '.join(settable_params(step))}"
        for _, step in reversed(model.steps)
    )
    return f"{message}. Valid names: {valid}"


def set_params(model: Any, assignments: Sequence[tuple[str, Any]]) -> None:
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


def run(args: argparse.Namespace) -> int:
    """``skmnist train``: fit the pipeline on MNIST, print a summary, save it."""
    from sklearn.pipeline import make_pipeline

    from .. import MLPDigitClassifier, PixelScaler
    from .._training.device import resolve_device
    from ..persistence import save_model_file

    model = make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(random_state=args.random_state, device=args.device),
    )
    set_params(model, args.params)
    classifier = model[-1]
    resolve_device(classifier.device)  # fail before loading data
    check_output_file(args.out, "model")

    if not args.quiet:
        print(f"loading MNIST (source: {args.source}) ...", file=sys.stderr, flush=True)
    X_train, y_train, X_test, y_test, dataset = load_train_test(
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

    source = describe_source(args.source, args.data_home)
    print_table(
        [
            ("data", f"{dataset}, source {source}"),
            ("training images", f"{len(X_train):,}"),
            ("test images", f"{len(X_test):,}"),
            ("model", describe_model(model)),
            ("device", classifier.device_),
            (
                "matrix products",
                f"{classifier.precision_} (precision={classifier.precision!r})",
            ),
            ("epochs", classifier.n_iter_),
            ("fit time", f"{fit_time:.2f} s"),
            ("test accuracy", percent(accuracy)),
            ("saved to", saved_to),
        ]
    )
    return 0
