"""``skmnist predict``: classify IDX files, ``.npy`` arrays or image files.

The files are read by :func:`skmnist.datasets.read_samples`; the predictions
are written as CSV, one row per image.
"""

from __future__ import annotations

import argparse
import csv
import sys
import warnings
from typing import Any, TextIO

import numpy as np

from .._atomic import atomic_write
from ..datasets import read_samples
from ._loading import load_model
from ._output import check_output_file, csv_cell


def _warn_if_unit_range(X: np.ndarray, model: Any, path: str) -> None:
    """Warn, naming ``path``, when the model's PixelScaler would destroy ``X``.

    The check is PixelScaler's own (pixels already in [0, 1] for a model of
    0-255 intensities, and the other ranges it warns about).
    """
    from ..preprocessing import PixelRangeWarning, PixelScaler

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
    from ..preprocessing import PixelRangeWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelRangeWarning)
        return method(X)


def run(args: argparse.Namespace) -> int:
    """``skmnist predict``: write the predicted digit of each input image as CSV."""
    model = load_model(args.model, args.allow_pickle)
    n_features = int(model.n_features_in_)
    if args.output:
        check_output_file(args.output, "predictions")
    sources: list[str] = []
    indices: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    for path in args.inputs:
        X = read_samples(path, n_features=n_features, invert=args.invert)
        _warn_if_unit_range(X, model, path)
        blocks.append(X)
        sources.extend([path] * len(X))
        indices.append(np.arange(len(X)))
    X = np.concatenate(blocks)
    predictions = _without_range_warning(model.predict, X)
    header = ["source", "index", "prediction"]
    columns: list[np.ndarray] = [np.concatenate(indices), predictions]
    if args.proba:
        header += [csv_cell(f"proba_{label}") for label in model.classes_]
        columns.append(_without_range_warning(model.predict_proba, X))

    def write(file: TextIO) -> None:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        for source, index, prediction, *proba in zip(sources, *columns, strict=True):
            # Text cells (file names, string labels) never become formulas.
            row = [csv_cell(source), int(index), csv_cell(prediction)]
            if proba:
                row += [f"{p:.6f}" for p in proba[0]]
            writer.writerow(row)

    if args.output:
        with atomic_write(args.output, "w", newline="", encoding="utf-8") as f:
            write(f)
        print(f"{len(X):,} predictions written to {args.output}", file=sys.stderr)
    else:
        write(sys.stdout)
    return 0
