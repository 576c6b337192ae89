"""The official IDX files of a dataset in a folder: finding, reading, checking."""

import os
from pathlib import Path

import numpy as np
from sklearn.datasets import get_data_home

from .._user_warning import warn_user
from ._catalog import (
    DATASETS,
    ENV_VAR,
    IDX_FILES,
    IMAGE_SHAPE,
    DataHome,
    Parts,
    _Dataset,
)
from ._idx import _read_idx_md5, idx_md5

# What each published md5 (of an uncompressed or a gzipped file) identifies.
_OFFICIAL: dict[str, tuple[_Dataset, str]] = {
    md5: (dataset, name)
    for dataset in DATASETS
    for table in (dataset.md5, dataset.gz_md5)
    for name, md5 in table.items()
}
_Identity = tuple[_Dataset, str] | None


class DatasetWarning(UserWarning):
    """The IDX files read are not the official release of the dataset asked for.

    :func:`load_mnist` and :func:`load_fashion_mnist` identify every IDX file
    they read by its md5 (computed while reading). They warn when the files
    are another dataset's official release (Fashion-MNIST's files, which have
    MNIST's names, given to :func:`load_mnist`), or not an official release at
    all: results on them are not comparable with published ones. With
    ``md5_check=True`` the same findings raise ValueError instead.

    Examples
    --------
    >>> import tempfile
    >>> import warnings
    >>> import numpy as np
    >>> from skmnist.datasets import DatasetWarning, load_mnist, write_idx
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     images = np.zeros((2, 28, 28), dtype=np.uint8)
    ...     write_idx(f"{folder}/t10k-images-idx3-ubyte", images)
    ...     write_idx(f"{folder}/t10k-labels-idx1-ubyte", np.zeros(2, np.uint8))
    ...     with warnings.catch_warnings(record=True) as caught:
    ...         warnings.simplefilter("always")
    ...         mnist = load_mnist(folder, subset="test", source="idx")
    >>> mnist.dataset is None, caught[0].category is DatasetWarning
    (True, True)
    """


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


def _identify(array: np.ndarray, md5: str, compressed: bool) -> _Identity:
    """The official file (dataset, name) that ``md5`` is the file of, or None."""
    identity = _OFFICIAL.get(md5)
    if identity is None and compressed:  # official content, compressed anew?
        identity = _OFFICIAL.get(idx_md5(array))
    return identity


def _what(identity: _Identity) -> str:
    if identity is None:
        return "no official MNIST or Fashion-MNIST file"
    dataset, name = identity
    return f"the official {dataset.title} file {name}"


def _check_md5(
    dataset: _Dataset, name: str, path: Path, array: np.ndarray, identity: _Identity
) -> None:
    """``md5_check=True``: raise unless the file is the official one."""
    if identity == (dataset, name):
        return
    if identity is not None and identity[0] is not dataset:
        other = identity[0]
        verdict = (
            f": it is {_what(identity)}. Use {other.loader}() to load {other.title}"
        )
    else:
        verdict = (
            f"; it is {_what(identity)}: the file is corrupt or not the official one"
        )
    raise ValueError(
        f"md5 mismatch for {str(path)!r}: the official {dataset.title} file "
        f"{name} has md5 {dataset.md5[name]} (uncompressed), this one "
        f"{idx_md5(array)}{verdict}"
    )


def _dataset_read(
    dataset: _Dataset, found: dict[str, Path], identities: dict[str, _Identity]
) -> _Dataset | None:
    """The dataset that the files are, or None; warn unless it is ``dataset``."""
    if all(identity == (dataset, name) for name, identity in identities.items()):
        return dataset
    others = {
        identity[0].title: identity[0] for identity in identities.values() if identity
    }
    folder = str(next(iter(found.values())).parent)
    if len(others) == 1 and all(
        identity is not None and identity[1] == name
        for name, identity in identities.items()
    ):
        (other,) = others.values()
        warn_user(
            f"The IDX files in {folder!r} are the official {other.title} files, "
            f"not {dataset.title}'s (the two datasets use the same file names): "
            f"use {other.loader}() to load {other.title}. The returned data are "
            f"{other.title}'s.",
            DatasetWarning,
        )
        return other
    odd = "; ".join(
        f"{found[name].name} is {_what(identity)}"
        for name, identity in identities.items()
        if identity != (dataset, name)
    )
    warn_user(
        f"The IDX files in {folder!r} are not the official {dataset.title} "
        f"release; results on them are not comparable with published "
        f"{dataset.title} results ({odd}). Download the official files from "
        f"{dataset.download}, or pass md5_check=True to make this an error.",
        DatasetWarning,
    )
    return None


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
) -> tuple[Parts, _Dataset | None]:
    """The arrays of each split, and the dataset they are (None: unknown files).

    Every file is identified by its md5, computed while it is read.
    """
    parts, identities = {}, {}
    for split in splits:
        names = IDX_FILES[split]
        arrays = []
        for name in names:
            array, md5, compressed = _read_idx_md5(found[name])
            identities[name] = _identify(array, md5, compressed)
            if md5_check:
                _check_md5(dataset, name, found[name], array, identities[name])
            arrays.append(array)
        _check_split(*arrays, *(found[name] for name in names))
        parts[split] = arrays[0], arrays[1]
    return parts, _dataset_read(dataset, found, identities)


def _idx_files(
    dataset: _Dataset, data_home: DataHome, splits: tuple[str, ...]
) -> dict[str, Path]:
    """The IDX file of each official name that ``splits`` need.

    Raises FileNotFoundError, naming the folder and the missing files, when
    any is missing.
    """
    folder = _idx_folder(dataset, data_home)
    found, missing = _find_idx_files(folder, splits)
    if missing:
        raise FileNotFoundError(
            _missing_files_message(dataset, folder, missing, data_home)
        )
    return found


def _idx_parts(
    dataset: _Dataset,
    data_home: DataHome,
    splits: tuple[str, ...],
    *,
    md5_check: bool,
) -> tuple[Parts, _Dataset | None]:
    found = _idx_files(dataset, data_home, splits)
    return _read_idx_parts(dataset, found, splits, md5_check=md5_check)
