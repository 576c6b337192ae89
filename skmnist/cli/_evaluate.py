"""``skmnist evaluate``: accuracy, classification report and confusion matrix."""

from __future__ import annotations

import argparse
import time

import numpy as np

from ._loading import describe_source, load_data, load_model
from ._output import (
    check_output_file,
    describe_model,
    format_confusion_matrix,
    percent,
    print_table,
)


def run(args: argparse.Namespace) -> int:
    """``skmnist evaluate``: print the scores of a model file on MNIST."""
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    if args.plot:
        from ..plotting import _figure_class

        _figure_class()  # ImportError now, before the work, without matplotlib
        check_output_file(args.plot, "plot")
    model = load_model(args.model, args.allow_pickle)
    X, y, dataset = load_data(args.source, args.data_home, args.subset)
    started = time.perf_counter()
    y_pred = model.predict(X)
    predict_time = time.perf_counter() - started
    accuracy = accuracy_score(y, y_pred)
    labels = np.unique(np.concatenate([np.asarray(y), np.asarray(y_pred)]))

    source = describe_source(args.source, args.data_home)
    print_table(
        [
            ("model", f"{args.model}: {describe_model(model)}"),
            ("device", model[-1].device_ if hasattr(model, "steps") else model.device_),
            ("data", f"{dataset} {args.subset} set, source {source}"),
            ("images", f"{len(X):,}"),
            ("predict time", f"{predict_time:.2f} s"),
            ("accuracy", percent(accuracy)),
        ]
    )
    print("\nclassification report:")
    print(classification_report(y, y_pred, labels=labels, digits=4, zero_division=0))
    print("confusion matrix (rows: true digit, columns: predicted digit):")
    print(format_confusion_matrix(confusion_matrix(y, y_pred, labels=labels), labels))
    if args.plot:
        from ..plotting import plot_confusion_matrix

        plot_confusion_matrix(
            y,
            y_pred,
            args.plot,
            labels=labels,
            title=f"{dataset} {args.subset} set: accuracy {accuracy:.2%}",
        )
        print(f"\nconfusion matrix plot saved to {args.plot}")
    return 0
