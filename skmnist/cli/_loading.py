"""What the commands load: a model file, and MNIST through ``load_mnist``."""

from __future__ import annotations

from typing import Any

import numpy as np


def _dataset_name(dataset: str | None) -> str:
    """What the data line says was read (the ``dataset`` of load_mnist's Bunch)."""
    if dataset is None:
        return "unknown IDX files (not the official MNIST release)"
    return dataset if dataset == "MNIST" else f"{dataset} (not MNIST)"


#: load_mnist's advice in Python terms, and the same in the commands' options.
_AS_OPTIONS = (
    ("pass data_home=<folder that holds them>", "pass --data-home FOLDER"),
    ("data_home=", "--data-home "),
    ("source='sample'", "--source sample"),
    ("source='openml'", "--source openml"),
    ("source='idx'", "--source idx"),
)


def _in_option_terms(message: str) -> str:
    for python, option in _AS_OPTIONS:
        message = message.replace(python, option)
    return message


def load_data(source: str, data_home: str | None, subset: str) -> tuple[Any, Any, str]:
    """The images, the labels and the name of the dataset that was read.

    Errors speak of the commands' options (``--data-home``, ``--source``)
    where :func:`~skmnist.datasets.load_mnist` speaks of its arguments.
    """
    from ..datasets import load_mnist

    try:
        data = load_mnist(data_home, subset=subset, source=source)
    except (OSError, ValueError) as error:
        text = _in_option_terms(str(error))
        if text == str(error):
            raise
        try:
            reworded = type(error)(text)
        except Exception:  # an exception class that takes other arguments
            raise error from None
        raise reworded from None
    return data.data, data.target, _dataset_name(data.dataset)


def load_train_test(
    source: str, data_home: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """The training and the official test set of ``source``, read once."""
    if source == "sample":
        X_train, y_train, dataset = load_data(source, data_home, "train")
        X_test, y_test, _ = load_data(source, data_home, "test")
        return X_train, y_train, X_test, y_test, dataset
    from ..datasets._catalog import N_TEST

    # One read of all 70,000 images: OpenML is parsed once, not twice.
    X, y, dataset = load_data(source, data_home, "all")
    n_train = len(X) - N_TEST
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:], dataset


def load_model(path: str, allow_pickle: bool) -> Any:
    """Load a fitted skmnist model (a pipeline ending in MLPDigitClassifier).

    Which format the file is, and whether it may be unpickled, is decided by
    skmnist.persistence.load_model_file.
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    from ..classifier import MLPDigitClassifier
    from ..persistence import PickleNotAllowedError, load_model_file

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


def describe_source(source: str, data_home: str | None) -> str:
    """``--source``, with ``--data-home`` when given, for the ``data`` line."""
    return source + (f" ({data_home})" if data_home else "")
