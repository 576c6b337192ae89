"""Loaders for MNIST and Fashion-MNIST: IDX files, OpenML, or the embedded sample."""

import os
from importlib import resources
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from ._catalog import (
    FASHION_MNIST,
    FEATURE_NAMES,
    MNIST,
    N_FEATURES,
    SOURCES,
    SUBSETS,
    TARGET_COLUMN,
    DataHome,
    Parts,
    _Dataset,
)
from ._idx_source import (
    DatasetWarning,
    _idx_files,
    _idx_parts,
    _read_idx_parts,
)
from ._openml_source import _openml_cache, _openml_parts
from ._sample import load_sample_arrays

__all__ = ["DatasetWarning", "load_fashion_mnist", "load_mnist"]


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------
def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(option) for option in allowed)
        raise ValueError(f"{name} must be one of {options}; got {value!r}")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False; got {value!r}")


def _check_arguments(
    data_home: object,
    subset: object,
    source: object,
    flags: dict[str, object],
) -> None:
    if data_home is not None and not isinstance(data_home, str | os.PathLike):
        raise ValueError(
            f"data_home must be None, a str or an os.PathLike; got {data_home!r}"
        )
    _check_choice("subset", subset, SUBSETS)
    _check_choice("source", source, SOURCES)
    for name, value in flags.items():
        _check_bool(name, value)


def _import_pandas():
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(
            "as_frame=True requires pandas: pip install pandas, or use as_frame=False"
        ) from exc
    return pandas


# --------------------------------------------------------------------------
# Sources and assembly
# --------------------------------------------------------------------------
def _sample_parts(dataset: _Dataset) -> Parts:
    if not dataset.has_sample:
        raise ValueError(
            f"skmnist ships no sample of {dataset.title}; use source='auto', "
            "'idx' or 'openml'"
        )
    arrays = load_sample_arrays()
    return {split: (images, labels) for split, (images, labels, _) in arrays.items()}


def _auto_parts(
    dataset: _Dataset,
    data_home: DataHome,
    splits: tuple[str, ...],
    *,
    md5_check: bool,
) -> tuple[Parts, _Dataset | None]:
    # Only the look-up is tried: a file that fails to read is an error here too.
    try:
        found = _idx_files(dataset, data_home, splits)
    except FileNotFoundError as exc:
        missing = exc
    else:
        return _read_idx_parts(dataset, found, splits, md5_check=md5_check)
    try:
        return _openml_parts(dataset, data_home), dataset
    except ConnectionError as exc:
        sample = (
            "; or use source='sample' for the 5,000 training and 1,000 test "
            "images shipped with skmnist"
            if dataset.has_sample
            else ""
        )
        raise ConnectionError(
            f"{dataset.title} is not available: {missing} Alternatively connect "
            f"to the network once so that scikit-learn can download OpenML's "
            f"{dataset.openml_name!r} into its cache under "
            f"{_openml_cache(data_home)!r} (the download failed: "
            f"{exc.__cause__ or exc}){sample}."
        ) from exc


def _select(parts: Parts, subset: str) -> tuple[np.ndarray, np.ndarray]:
    if subset != "all":
        return parts[subset]
    (train_images, train_labels), (test_images, test_labels) = (
        parts["train"],
        parts["test"],
    )
    return (
        np.concatenate([train_images, test_images]),
        np.concatenate([train_labels, test_labels]),
    )


def _descr(dataset: _Dataset) -> str:
    path = resources.files(__package__).joinpath("descr").joinpath(dataset.descr)
    return path.read_text(encoding="utf-8")


def _make_bunch(
    dataset: _Dataset,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    dataset_read: _Dataset | None,
    return_X_y: bool,
    as_frame: bool,
) -> Bunch | tuple[Any, Any]:
    # Another dataset's official files are described as what they are.
    described = dataset if dataset_read is None else dataset_read
    images = np.ascontiguousarray(images, dtype=np.uint8)
    data: Any = images.reshape(len(images), N_FEATURES)
    target: Any = labels.astype(np.int64)
    frame = None
    if as_frame:
        pandas = _import_pandas()
        frame = pandas.DataFrame(data, columns=FEATURE_NAMES)
        frame[TARGET_COLUMN] = target
        data, target = frame[FEATURE_NAMES], frame[TARGET_COLUMN]
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        images=images,
        feature_names=list(FEATURE_NAMES),
        target_names=np.array(described.target_names),
        DESCR=_descr(described),
        dataset=None if dataset_read is None else dataset_read.title,
    )


def _load(
    dataset: _Dataset,
    data_home: DataHome,
    *,
    subset: str,
    source: str,
    return_X_y: bool,
    as_frame: bool,
    md5_check: bool,
) -> Bunch | tuple[Any, Any]:
    flags = {"return_X_y": return_X_y, "as_frame": as_frame, "md5_check": md5_check}
    _check_arguments(data_home, subset, source, flags)
    if as_frame:
        _import_pandas()  # fail before loading anything
    splits = ("train", "test") if subset == "all" else (subset,)
    # The sample is part of the package; scikit-learn checks OpenML's md5.
    dataset_read: _Dataset | None = dataset
    if source == "sample":
        parts = _sample_parts(dataset)
    elif source == "idx":
        parts, dataset_read = _idx_parts(
            dataset, data_home, splits, md5_check=md5_check
        )
    elif source == "openml":
        parts = _openml_parts(dataset, data_home)
    else:
        parts, dataset_read = _auto_parts(
            dataset, data_home, splits, md5_check=md5_check
        )
    images, labels = _select(parts, subset)
    return _make_bunch(
        dataset,
        images,
        labels,
        dataset_read=dataset_read,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


# --------------------------------------------------------------------------
# Public loaders
# --------------------------------------------------------------------------
def load_mnist(
    data_home: DataHome = None,
    *,
    subset: str = "train",
    source: str = "auto",
    return_X_y: bool = False,
    as_frame: bool = False,
    md5_check: bool = False,
) -> Bunch | tuple[Any, Any]:
    """Load the MNIST handwritten digits (28x28 grey images, classes 0-9).

    The data come from the four official IDX files, from OpenML through
    :func:`sklearn.datasets.fetch_openml` (downloaded once, then cached), or
    from a small real subset shipped with skmnist. Every source gives the same
    arrays, in the official order: 60,000 training images, then 10,000 test
    images.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Folder that holds the IDX files (``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
        ``t10k-labels-idx1-ubyte``, each gzipped with a ``.gz`` suffix or
        not). It is also passed to :func:`~sklearn.datasets.fetch_openml`,
        which caches its downloads under ``data_home/openml``. None means
        ``$SKMNIST_DATA/mnist`` if the environment variable ``SKMNIST_DATA``
        is set, else ``<scikit-learn data home>/skmnist/mnist`` for the IDX
        files, and scikit-learn's default data home for OpenML.
    subset : {"train", "test", "all"}, default="train"
        The 60,000 training images, the 10,000 test images, or all 70,000
        (training then test). With ``source="sample"``: 5,000, 1,000 or 6,000.
    source : {"auto", "idx", "openml", "sample"}, default="auto"
        Where to read the data. ``"idx"``: the IDX files in ``data_home``.
        ``"openml"``: OpenML's ``mnist_784`` (version 1, data id 554) through
        scikit-learn's cache, downloading it if needed; without network access
        this fails within seconds. ``"sample"``: a real subset embedded in the
        package, 500 training images per class and 100 test images per class,
        drawn at random (fixed seed) from the official files. ``"auto"``: the
        IDX files if they are present, else OpenML; it never falls back to
        the sample.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Return ``data`` as a pandas DataFrame, ``target`` as a Series named
        ``"class"`` and ``frame`` as a DataFrame holding both (needs pandas).
    md5_check : bool, default=False
        Raise ValueError, instead of warning, when an IDX file is not the
        official one. Every IDX file is identified by its md5 in any case,
        computed while it is read (of the gzipped file as distributed, or of
        the uncompressed one), against the published values of MNIST and
        Fashion-MNIST, which skmnist holds. Only IDX files are checked:
        scikit-learn always checks OpenML downloads against OpenML's md5, and
        the sample is part of the package.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, 784), dtype uint8, or DataFrame
            One row per image, pixel values 0 (background) to 255 (ink), the
            rows of each 28x28 image concatenated.
        target : ndarray of shape (n_samples,), dtype int64, or Series
            The digit, 0 to 9.
        images : ndarray of shape (n_samples, 28, 28), dtype uint8
            The same pixels as ``data`` (which is a view of it).
        feature_names : list of str
            ``"pixel1"`` to ``"pixel784"`` (OpenML's names), for every source.
        target_names : ndarray of str
            ``"0"`` to ``"9"``: ``target_names[target]`` names each image.
        frame : DataFrame of shape (n_samples, 785) or None
            With ``as_frame=True``, the pixels and the ``"class"`` column.
        DESCR : str
            Description of the dataset.
        dataset : str or None
            The dataset that was read: ``"MNIST"``; ``"Fashion-MNIST"`` if the
            IDX files are Fashion-MNIST's (which have MNIST's names; then
            ``target_names`` and ``DESCR`` are Fashion-MNIST's too, and a
            :class:`DatasetWarning` says so); None for IDX files that are not
            an official release (with a :class:`DatasetWarning`).

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above.

    Raises
    ------
    ValueError
        If an argument is invalid, an IDX file is malformed, or ``md5_check``
        finds a file that is not the official one.
    FileNotFoundError
        If ``source="idx"`` and IDX files are missing; the message names the
        folder, the missing files and where to download them.
    ConnectionError
        If ``source="openml"`` (or ``"auto"`` without IDX files) and OpenML
        cannot be reached and nothing is cached; the message lists the other
        ways to get the data.
    ImportError
        If ``as_frame=True`` and pandas is not installed.

    Warns
    -----
    DatasetWarning
        If the IDX files are not the official MNIST release: Fashion-MNIST's
        files (use :func:`load_fashion_mnist`), or unknown ones, on which
        results are not comparable with published MNIST results.

    See Also
    --------
    load_fashion_mnist : The same for Fashion-MNIST.
    read_idx : Read any IDX file.

    Examples
    --------
    >>> from skmnist.datasets import load_mnist
    >>> mnist = load_mnist(source="sample")
    >>> mnist.data.shape, mnist.data.dtype, mnist.target.dtype
    ((5000, 784), dtype('uint8'), dtype('int64'))
    >>> mnist.images.shape
    (5000, 28, 28)
    >>> mnist.dataset
    'MNIST'
    >>> X_test, y_test = load_mnist(subset="test", source="sample", return_X_y=True)
    >>> X_test.shape
    (1000, 784)

    The full dataset, from ``$SKMNIST_DATA/mnist`` or OpenML:

    >>> X, y = load_mnist(subset="all", return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (70000, 784)
    """
    return _load(
        MNIST,
        data_home,
        subset=subset,
        source=source,
        return_X_y=return_X_y,
        as_frame=as_frame,
        md5_check=md5_check,
    )


def load_fashion_mnist(
    data_home: DataHome = None,
    *,
    subset: str = "train",
    source: str = "auto",
    return_X_y: bool = False,
    as_frame: bool = False,
    md5_check: bool = False,
) -> Bunch | tuple[Any, Any]:
    """Load Fashion-MNIST (28x28 grey images of clothing, 10 classes).

    Zalando's drop-in replacement for MNIST: the same shapes, the same file
    names and the same split (60,000 training images, then 10,000 test
    images), harder to classify. It works like :func:`load_mnist`, except that
    no sample is shipped.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Folder that holds the four IDX files (same names as MNIST's, gzipped
        with a ``.gz`` suffix or not); also passed to
        :func:`~sklearn.datasets.fetch_openml`, which caches under
        ``data_home/openml``. None means ``$SKMNIST_DATA/fashion-mnist`` if
        ``SKMNIST_DATA`` is set, else
        ``<scikit-learn data home>/skmnist/fashion-mnist`` for the IDX files,
        and scikit-learn's default data home for OpenML.
    subset : {"train", "test", "all"}, default="train"
        The 60,000 training images, the 10,000 test images, or all 70,000
        (training then test).
    source : {"auto", "idx", "openml"}, default="auto"
        ``"idx"``: the IDX files in ``data_home``. ``"openml"``: OpenML's
        ``Fashion-MNIST`` (version 1, data id 40996) through scikit-learn's
        cache. ``"auto"``: the IDX files if present, else OpenML. ``"sample"``
        is accepted by the signature but raises ValueError: no Fashion-MNIST
        sample is shipped.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Return ``data`` as a pandas DataFrame, ``target`` as a Series named
        ``"class"`` and ``frame`` as a DataFrame holding both (needs pandas).
    md5_check : bool, default=False
        Raise ValueError, instead of warning, when an IDX file is not the
        official one (every IDX file is identified by its md5, computed while
        it is read; OpenML downloads are always checked by scikit-learn).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, 784), dtype uint8, or DataFrame
            One row per image, pixel values 0 to 255.
        target : ndarray of shape (n_samples,), dtype int64, or Series
            The class, 0 to 9.
        images : ndarray of shape (n_samples, 28, 28), dtype uint8
            The same pixels as ``data`` (which is a view of it).
        feature_names : list of str
            ``"pixel1"`` to ``"pixel784"``.
        target_names : ndarray of str
            The class names, from ``"T-shirt/top"`` (0) to ``"Ankle boot"`` (9).
        frame : DataFrame of shape (n_samples, 785) or None
            With ``as_frame=True``, the pixels and the ``"class"`` column.
        DESCR : str
            Description of the dataset.
        dataset : str or None
            The dataset that was read: ``"Fashion-MNIST"``; ``"MNIST"`` if the
            IDX files are MNIST's (with MNIST's ``target_names`` and
            ``DESCR``, and a :class:`DatasetWarning`); None for IDX files
            that are not an official release (with a
            :class:`DatasetWarning`).

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above.

    Raises
    ------
    ValueError
        If an argument is invalid (``source="sample"`` included), an IDX file
        is malformed, or ``md5_check`` finds a file that is not the official
        one.
    FileNotFoundError
        If ``source="idx"`` and IDX files are missing.
    ConnectionError
        If ``source="openml"`` (or ``"auto"`` without IDX files) and OpenML
        cannot be reached and nothing is cached.
    ImportError
        If ``as_frame=True`` and pandas is not installed.

    Warns
    -----
    DatasetWarning
        If the IDX files are not the official Fashion-MNIST release: MNIST's
        files (use :func:`load_mnist`), or unknown ones.

    See Also
    --------
    load_mnist : The same for the MNIST digits, with an embedded sample.

    Examples
    --------
    >>> from skmnist.datasets import load_fashion_mnist
    >>> fashion = load_fashion_mnist(subset="test")  # doctest: +SKIP
    >>> fashion.data.shape  # doctest: +SKIP
    (10000, 784)
    >>> fashion.target_names[fashion.target[:3]]  # doctest: +SKIP
    array(['Ankle boot', 'Pullover', 'Trouser'], dtype='<U11')
    """
    return _load(
        FASHION_MNIST,
        data_home,
        subset=subset,
        source=source,
        return_X_y=return_X_y,
        as_frame=as_frame,
        md5_check=md5_check,
    )
