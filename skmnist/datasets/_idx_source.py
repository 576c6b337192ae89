"""The official IDX files of a dataset in a folder: finding, reading, checking."""

import os
from pathlib import Path

import numpy as np
from sklearn.datasets import get_data_home

from ._catalog import (
    ENV_VAR,
    IDX_FILES,
    IMAGE_SHAPE,
    DataHome,
    Parts,
    _Dataset,
)
from ._idx import idx_md5, read_idx


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
