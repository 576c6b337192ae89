"""Loaders for MNIST and Fashion-MNIST: IDX files, OpenML, or the embedded sample."""

import http.client
import os
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.error import URLError

import numpy as np
from sklearn.datasets import fetch_openml, get_data_home
from sklearn.utils import Bunch

from ._idx import idx_md5, read_idx
from ._sample import load_sample_arrays

__all__ = ["load_fashion_mnist", "load_mnist"]

DataHome = str | os.PathLike[str] | None

IMAGE_SHAPE = (28, 28)
N_FEATURES = 28 * 28
N_TRAIN, N_TEST = 60_000, 10_000
#: Column names, the same for every source (OpenML's naming).
FEATURE_NAMES = [f"pixel{i}" for i in range(1, N_FEATURES + 1)]
TARGET_COLUMN = "class"
ENV_VAR = "SKMNIST_DATA"

SUBSETS = ("train", "test", "all")
SOURCES = ("auto", "idx", "openml", "sample")
# Official file names (without .gz) of the images and labels of each split.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_NETWORK_ERRORS = (URLError, TimeoutError, ConnectionError, http.client.HTTPException)


@dataclass(frozen=True)
class _Dataset:
    title: str
    folder: str  # sub-folder of the data home that holds the IDX files
    descr: str  # file in descr/
    target_names: tuple[str, ...]
    md5: dict[str, str]  # md5 of each uncompressed official IDX file
    download: str
    openml_name: str
    openml_id: int
    has_sample: bool


MNIST = _Dataset(
    title="MNIST",
    folder="mnist",
    descr="mnist.rst",
    target_names=tuple(str(digit) for digit in range(10)),
    md5={
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    download=(
        "http://yann.lecun.com/exdb/mnist/ (or a mirror such as "
        "https://ossci-datasets.s3.amazonaws.com/mnist/)"
    ),
    openml_name="mnist_784",
    openml_id=554,
    has_sample=True,
)

FASHION_MNIST = _Dataset(
    title="Fashion-MNIST",
    folder="fashion-mnist",
    descr="fashion_mnist.rst",
    target_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    md5={
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    download="https://github.com/zalandoresearch/fashion-mnist#get-the-data",
    openml_name="Fashion-MNIST",
    openml_id=40996,
    has_sample=False,
)

Parts = dict[str, tuple[np.ndarray, np.ndarray]]


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
# IDX files
# --------------------------------------------------------------------------
def _idx_folder(dataset: _Dataset, data_home: DataHome) -> Path:
    """Folder of the IDX files: data_home, $SKMNIST_DATA/<folder>, or the default."""
    if data_home is not None:
        return Path(data_home)
    root = os.environ.get(ENV_VAR)
    if root:
        return Path(root) / dataset.folder
    return Path(get_data_home()) / "skmnist" / dataset.folder


def _find_idx_files(
    folder: Path, splits: tuple[str, ...]
) -> tuple[dict[str, Path], list[str]]:
    """Map each needed official name to its file (plain preferred to .gz)."""
    found, missing = {}, []
    for split in splits:
        for name in IDX_FILES[split]:
            for candidate in (folder / name, folder / f"{name}.gz"):
                if candidate.is_file():
                    found[name] = candidate
                    break
            else:
                missing.append(name)
    return found, missing


def _missing_files_message(
    dataset: _Dataset, folder: Path, missing: list[str], data_home: DataHome
) -> str:
    names = ", ".join(f"{name}[.gz]" for name in missing)
    message = (
        f"{dataset.title} IDX files not found in {str(folder)!r}: missing {names}. "
        f"Download the official files from {dataset.download} into that folder "
        f"(gzipped or not), or pass data_home=<folder that holds them>, or set the "
        f"{ENV_VAR} environment variable to a folder that holds them in a "
        f"{dataset.folder!r} sub-folder."
    )
    root = os.environ.get(ENV_VAR)
    if data_home is None and root:
        message += (
            f" ({ENV_VAR}={root!r} is the parent folder: the files are looked "
            f"up in its {dataset.folder!r} sub-folder.)"
        )
    return message


def _check_md5(dataset: _Dataset, name: str, path: Path, array: np.ndarray) -> None:
    expected, actual = dataset.md5[name], idx_md5(array)
    if actual != expected:
        raise ValueError(
            f"md5 mismatch for {str(path)!r}: the official {dataset.title} file "
            f"{name} has md5 {expected} (uncompressed), this one {actual}; the "
            "file is corrupt or not the official one"
        )


def _check_split(
    images: np.ndarray, labels: np.ndarray, images_path: Path, labels_path: Path
) -> None:
    if images.dtype != np.uint8 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{str(images_path)!r} does not hold 28x28 uint8 images: it holds "
            f"{images.dtype} data of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{str(labels_path)!r} does not hold uint8 labels: it holds "
            f"{labels.dtype} data of shape {labels.shape}"
        )
    if len(labels) != len(images):
        raise ValueError(
            f"{str(labels_path)!r} holds {len(labels)} labels for the "
            f"{len(images)} images of {str(images_path)!r}"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(
            f"{str(labels_path)!r} holds label {labels.max()}; labels are 0 to 9"
        )


def _read_idx_parts(
    dataset: _Dataset,
    found: dict[str, Path],
    splits: tuple[str, ...],
    *,
    md5_check: bool,
) -> Parts:
    parts = {}
    for split in splits:
        names = IDX_FILES[split]
        arrays = [read_idx(found[name]) for name in names]
        if md5_check:
            for name, array in zip(names, arrays, strict=True):
                _check_md5(dataset, name, found[name], array)
        _check_split(*arrays, *(found[name] for name in names))
        parts[split] = arrays[0], arrays[1]
    return parts


def _idx_parts(
    dataset: _Dataset,
    data_home: DataHome,
    splits: tuple[str, ...],
    *,
    md5_check: bool,
) -> Parts:
    folder = _idx_folder(dataset, data_home)
    found, missing = _find_idx_files(folder, splits)
    if missing:
        raise FileNotFoundError(
            _missing_files_message(dataset, folder, missing, data_home)
        )
    return _read_idx_parts(dataset, found, splits, md5_check=md5_check)


# --------------------------------------------------------------------------
# OpenML
# --------------------------------------------------------------------------
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
) -> Parts:
    folder = _idx_folder(dataset, data_home)
    found, missing = _find_idx_files(folder, splits)
    if not missing:
        return _read_idx_parts(dataset, found, splits, md5_check=md5_check)
    try:
        return _openml_parts(dataset, data_home)
    except ConnectionError as exc:
        sample = (
            "; or use source='sample' for the 5,000 training and 1,000 test "
            "images shipped with skmnist"
            if dataset.has_sample
            else ""
        )
        raise ConnectionError(
            f"{dataset.title} is not available: "
            + _missing_files_message(dataset, folder, missing, data_home)
            + f" Alternatively connect to the network once so that scikit-learn "
            f"can download OpenML's {dataset.openml_name!r} into its cache under "
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
    return_X_y: bool,
    as_frame: bool,
) -> Bunch | tuple[Any, Any]:
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
        target_names=np.array(dataset.target_names),
        DESCR=_descr(dataset),
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
    if source == "sample":
        parts = _sample_parts(dataset)
    elif source == "idx":
        parts = _idx_parts(dataset, data_home, splits, md5_check=md5_check)
    elif source == "openml":
        parts = _openml_parts(dataset, data_home)
    else:
        parts = _auto_parts(dataset, data_home, splits, md5_check=md5_check)
    images, labels = _select(parts, subset)
    return _make_bunch(
        dataset, images, labels, return_X_y=return_X_y, as_frame=as_frame
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
        Check the md5 of the (uncompressed) IDX files against the official
        values. Only IDX files are checked: scikit-learn always checks OpenML
        downloads against OpenML's md5, and the sample is part of the package.

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
        Check the md5 of the (uncompressed) IDX files against the official
        values (OpenML downloads are always checked by scikit-learn).

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
