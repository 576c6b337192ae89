"""A dataset through scikit-learn's fetch_openml and its cache."""

import os
import warnings
from typing import Any

import numpy as np
from sklearn.datasets import fetch_openml, get_data_home
from sklearn.utils import Bunch

from ._catalog import (
    _NETWORK_ERRORS,
    ENV_VAR,
    IMAGE_SHAPE,
    N_FEATURES,
    N_TEST,
    N_TRAIN,
    DataHome,
    Parts,
    _Dataset,
)


def _openml_parser_options() -> dict[str, Any]:
    """fetch_openml options: pandas' fast CSV parser when pandas is installed.

    The columns are read as uint8 pixels and a str target: this is faster and
    smaller than the default, and avoids pandas >= 3 turning the nominal target
    into integer categories, which scikit-learn's ARFF post-processing rejects.
    """
    try:
        import pandas  # noqa: F401
    except ImportError:
        return {"parser": "liac-arff"}
    dtypes: dict[int, Any] = dict.fromkeys(range(N_FEATURES), np.uint8)
    dtypes[N_FEATURES] = str
    return {"parser": "pandas", "read_csv_kwargs": {"dtype": dtypes}}


def _openml_cache(data_home: DataHome) -> str:
    return os.path.join(get_data_home(data_home), "openml")


def _label_value(value: object) -> int:
    number = float(str(value).strip().strip("'\""))
    if not number.is_integer() or not 0 <= number <= 9:
        raise ValueError(f"label {value!r} is not a digit from 0 to 9")
    return int(number)


def _openml_arrays(dataset: _Dataset, bunch: Bunch) -> tuple[np.ndarray, np.ndarray]:
    """Check the shape and id of an OpenML download; return uint8 images, labels."""
    where = f"OpenML dataset {dataset.openml_name!r} (data id {bunch.details['id']})"
    if int(bunch.details["id"]) != dataset.openml_id:
        raise ValueError(
            f"{where} is not {dataset.title}, whose OpenML data id is "
            f"{dataset.openml_id}"
        )
    data = np.asarray(bunch.data)
    expected_shape = (N_TRAIN + N_TEST, N_FEATURES)
    if data.shape != expected_shape:
        raise ValueError(
            f"{where} has shape {data.shape}, but the official {dataset.title} "
            f"has {expected_shape} ({N_TRAIN} training images followed by "
            f"{N_TEST} test images); the scikit-learn cache may be incomplete "
            "or corrupt"
        )
    if data.dtype != np.uint8:
        converted = data.astype(np.uint8)
        if not np.array_equal(converted, data):
            raise ValueError(f"{where} has pixels that are not integers in 0..255")
        data = converted
    values, inverse = np.unique(np.asarray(bunch.target), return_inverse=True)
    try:
        codes = np.array([_label_value(value) for value in values], dtype=np.int64)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    return data.reshape(-1, *IMAGE_SHAPE), codes[inverse.reshape(-1)]


def _openml_unavailable_message(
    dataset: _Dataset, data_home: DataHome, exc: Exception
) -> str:
    message = (
        f"Could not get {dataset.title} from OpenML (dataset "
        f"{dataset.openml_name!r}, version 1, data id {dataset.openml_id}): {exc}. "
        f"scikit-learn downloads it once and caches it under "
        f"{_openml_cache(data_home)!r}. Without network access, download the "
        f"official IDX files from {dataset.download} and load them with "
        f"source='idx' and data_home=<their folder> (or set {ENV_VAR} to a folder "
        f"that holds them in a {dataset.folder!r} sub-folder)"
    )
    if dataset.has_sample:
        message += ", or use source='sample' for the small subset shipped with skmnist"
    return message + "."


def _openml_parts(dataset: _Dataset, data_home: DataHome) -> Parts:
    try:
        with warnings.catch_warnings():
            # The failure is reported below, with what to do about it.
            warnings.filterwarnings(
                "ignore", message="A network error occurred", category=UserWarning
            )
            bunch = fetch_openml(
                dataset.openml_name,
                version=1,
                data_home=data_home,
                as_frame=False,
                n_retries=1,
                delay=0.1,
                **_openml_parser_options(),
            )
    except _NETWORK_ERRORS as exc:
        raise ConnectionError(
            _openml_unavailable_message(dataset, data_home, exc)
        ) from exc
    images, labels = _openml_arrays(dataset, bunch)
    return {
        "train": (images[:N_TRAIN], labels[:N_TRAIN]),
        "test": (images[N_TRAIN:], labels[N_TRAIN:]),
    }
