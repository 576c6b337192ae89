"""Read the images of one file (IDX, ``.npy`` or an image) as rows of ``X``."""

from __future__ import annotations

import math
import os
from numbers import Integral

import numpy as np

from .._image_files import format_names
from ..images import _check_invert, read_digit_image
from ._idx import read_idx

__all__ = ["read_samples"]

_NPY_MAGIC = b"\x93NUMPY"
_IDX_MAGICS = (b"\x00\x00", b"\x1f\x8b")  # plain IDX, gzip (compressed IDX)


def _square_side(n_features: int) -> int | None:
    """The side of a square image of ``n_features`` pixels, None if there is none."""
    side = math.isqrt(n_features)
    return side if side * side == n_features else None


def _as_samples(array: np.ndarray, n_features: int, name: str) -> np.ndarray:
    """Rows of ``n_features`` pixels from an array of one or more images."""
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"{name!r} holds values of dtype {array.dtype}, not pixel intensities "
            "(numbers)"
        )
    side = _square_side(n_features)
    if array.ndim == 2 and array.shape[1] == n_features:
        return array
    if array.ndim == 1 and array.shape[0] == n_features:
        return array.reshape(1, n_features)
    if side is not None and array.shape == (side, side):
        return array.reshape(1, n_features)
    if side is not None and array.ndim == 3 and array.shape[1:] == (side, side):
        return array.reshape(len(array), n_features)
    shapes = f"(n, {n_features})"
    if side is not None:
        shapes += f", (n, {side}, {side}) or ({side}, {side})"
    raise ValueError(
        f"{name!r} holds an array of shape {array.shape}, but {n_features} "
        f"features per image are expected: an array of shape {shapes}"
    )


def _read_npy(path: str | os.PathLike[str], name: str) -> np.ndarray:
    """The array of a ``.npy`` file, allocating no more than the file holds.

    ``np.load`` allocates what the header claims before reading: a hostile
    header could ask for any amount of memory. Memory-mapping checks the
    claim against the file's size first; the copy then reads what is there.
    """
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError) as exc:  # corrupt header, objects, truncated
        raise ValueError(f"{name!r} is not a readable .npy array ({exc})") from None
    try:
        return np.array(mapped)
    finally:
        del mapped  # close the map (and the file)


def _check_n_features(n_features: int) -> None:
    if (
        isinstance(n_features, bool)
        or not isinstance(n_features, Integral)
        or n_features < 1
    ):
        raise ValueError(
            f"n_features must be a positive number of pixels; got {n_features!r}"
        )


def read_samples(
    path: str | os.PathLike[str], *, n_features: int = 784, invert: str = "auto"
) -> np.ndarray:
    """Read the images of digits in an IDX, ``.npy`` or image file as rows of X.

    This is how ``skmnist predict`` reads its input files. The format is
    recognised from the content, not the name:

    - an IDX file (plain or gzip-compressed, read by :func:`read_idx`) or a
      ``.npy`` array holds one or more images of shape (n, ``n_features``),
      (n, side, side), (side, side) or (``n_features``,), where side is the
      square root of ``n_features``. The values are returned as stored (0 to
      255 for MNIST-like data); only numbers are accepted, and a ``.npy``
      file never unpickles anything;
    - any other file is read as an image of one digit (a PNG, JPEG, BMP or
      GIF file of at most 4096 x 4096 pixels; other formats are refused) by
      :func:`skmnist.images.read_digit_image`, which normalises it the way
      MNIST's digits were: paper to black, ink to white, cropped, scaled and
      centred on side x side pixels. It needs Pillow and a square
      ``n_features``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    n_features : int, default=784
        Pixels per image, the ``n_features_in_`` of the model the rows are
        for (784 for MNIST's 28x28 digits).
    invert : {"auto", "always", "never"}, default="auto"
        The ink's polarity in image files (see
        :func:`skmnist.images.normalize_digit`); IDX and ``.npy`` data are
        never inverted.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        One row per image: for IDX and ``.npy`` files the stored values with
        their dtype, for an image file one row of uint8 intensities.

    Raises
    ------
    OSError
        If the file is missing, a folder or unreadable.
    ValueError
        If the data do not have one of the shapes above, are not numbers, the
        file is corrupt (a truncated or hostile IDX or ``.npy`` file, a
        malformed image), in another format, an image of more than 4096 x
        4096 pixels, or ``n_features`` or ``invert`` is not valid. The
        message names the file.
    ImportError
        If the file is an image and Pillow is not installed.

    See Also
    --------
    read_idx : Any IDX file, as the array it holds.
    skmnist.images.read_digit_image : One image file as a normalised digit.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from skmnist.datasets import read_samples, write_idx
    >>> folder = tempfile.TemporaryDirectory()
    >>> files = Path(folder.name)
    >>> np.save(files / "digits.npy", np.zeros((3, 28, 28), dtype=np.uint8))
    >>> write_idx(files / "one-idx3-ubyte.gz", np.zeros((28, 28), dtype=np.uint8))
    >>> X = read_samples(files / "digits.npy")
    >>> X.shape, X.dtype, read_samples(files / "one-idx3-ubyte.gz").shape
    ((3, 784), dtype('uint8'), (1, 784))

    An image file becomes one MNIST-style row, white ink on black:

    >>> from PIL import Image
    >>> paper = np.full((60, 40), 230, dtype=np.uint8)
    >>> paper[10:50, 18:22] = 20  # a dark "1" on light paper
    >>> Image.fromarray(paper).save(files / "one.png")
    >>> digit = read_samples(files / "one.png")
    >>> digit.shape, int(digit.reshape(28, 28)[14, 14])
    ((1, 784), 255)

    A file of another shape is an error that names it:

    >>> np.save(files / "small.npy", np.zeros((2, 10)))
    >>> read_samples(files / "small.npy")
    Traceback (most recent call last):
    ...
    ValueError: '...small.npy' holds an array of shape (2, 10), but 784 features ...
    >>> folder.cleanup()
    """
    _check_n_features(n_features)
    _check_invert(invert)
    name = os.fspath(path)
    with open(path, "rb") as f:  # OSError if missing, a folder, unreadable
        head = f.read(len(_NPY_MAGIC))
    if head.startswith(_NPY_MAGIC):
        return _as_samples(_read_npy(path, name), n_features, name)
    if head[:2] in _IDX_MAGICS:
        return _as_samples(read_idx(path), n_features, name)
    side = _square_side(n_features)
    if side is None:
        raise ValueError(
            f"{name!r} looks like an image file, but {n_features} features are "
            "not the pixels of a square image"
        )
    try:
        pixels = read_digit_image(path, side=side, invert=invert)
    except OSError as exc:
        # The cause is what Pillow said of a malformed file; none if the
        # file is in another format.
        detail = f": {exc.__cause__}" if exc.__cause__ is not None else ""
        raise ValueError(
            f"{name!r} is not a .npy array, an IDX file or an image file skmnist "
            f"reads, a readable {format_names()} image{detail}"
        ) from exc
    return pixels.reshape(1, n_features)
