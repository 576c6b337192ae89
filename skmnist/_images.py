"""Read image files of digits (PNG, JPEG, ...) as MNIST-style pixel vectors.

MNIST digits are white (255) ink on a black (0) background, 28x28 pixels. An
image file is turned into one such vector by :func:`read_digit_image`:

1. EXIF orientation is applied (photos from phones), transparent pixels are
   laid on a white background (a drawing on a transparent canvas counts as
   ink on white paper), and the image is converted to grayscale.
2. With ``invert="auto"``, the image is inverted when most pixels of its
   one-pixel border are bright (> 127): dark ink on white paper becomes white
   ink on black, as in MNIST. ``"always"`` and ``"never"`` force the choice.
3. A non-square image is padded with background (black) to a centred square,
   so that the digit keeps its aspect ratio.
4. The square is resized to ``side`` x ``side`` pixels (Lanczos filter).

Pillow is imported only when an image is read; it comes with
``pip install skmnist[cli]``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["INVERT_CHOICES", "border_is_bright", "read_digit_image"]

#: Accepted values of the ``invert`` argument of :func:`read_digit_image`.
INVERT_CHOICES = ("auto", "always", "never")

_BRIGHT = 127  # a pixel above this (of 255) is bright


def _import_pillow() -> tuple[Any, Any]:
    try:
        from PIL import Image, ImageOps
    except ImportError as exc:
        raise ImportError(
            "reading image files needs Pillow: pip install skmnist[cli] "
            "(or pip install pillow)"
        ) from exc
    return Image, ImageOps


def border_is_bright(pixels: np.ndarray) -> bool:
    """Whether most pixels of the one-pixel border of a grayscale image are bright.

    Parameters
    ----------
    pixels : ndarray of shape (height, width)
        Grayscale intensities from 0 (black) to 255 (white).

    Returns
    -------
    bool
        True if more than half of the border pixels are above 127, i.e. the
        image looks like dark ink on a light background.

    Examples
    --------
    >>> import numpy as np
    >>> from skmnist._images import border_is_bright
    >>> digit = np.zeros((28, 28), dtype=np.uint8)
    >>> digit[8:20, 13:15] = 255  # a white "1" on black, as in MNIST
    >>> border_is_bright(digit), border_is_bright(255 - digit)
    (False, True)
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.size == 0:
        raise ValueError(f"expected a non-empty 2-D image, got shape {pixels.shape}")
    border = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])
    return bool(np.count_nonzero(border > _BRIGHT) * 2 > border.size)


def _grayscale(image: Any, image_module: Any, image_ops: Any) -> np.ndarray:
    """Upright grayscale pixels, transparent areas counted as white."""
    image = image_ops.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = image_module.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = image_module.alpha_composite(white, rgba)
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _pad_to_square(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape
    side = max(height, width)
    if height == width:
        return pixels
    square = np.zeros((side, side), dtype=pixels.dtype)
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = pixels
    return square


def read_digit_image(
    path: str | os.PathLike[str], side: int = 28, *, invert: str = "auto"
) -> np.ndarray:
    """Read an image file of one digit as a flat MNIST-style pixel vector.

    See the module description for the steps: grayscale, inversion of dark
    ink on light paper (``invert="auto"``), padding to a square, resizing.

    Parameters
    ----------
    path : str or os.PathLike
        An image file in any format Pillow reads (PNG, JPEG, BMP, GIF, ...).
    side : int, default=28
        Width and height of the result, in pixels.
    invert : {"auto", "always", "never"}, default="auto"
        ``"auto"`` inverts the image when most of its border is bright.

    Returns
    -------
    pixels : ndarray of shape (side * side,), dtype uint8
        The rows of the image concatenated, 0 for background and 255 for ink.

    Raises
    ------
    ImportError
        If Pillow is not installed.
    OSError
        If the file cannot be opened or is not an image Pillow can read.
    ValueError
        If ``side`` is not positive or ``invert`` is not a valid choice.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skmnist._images import read_digit_image
    >>> drawing = np.full((56, 40), 255, dtype=np.uint8)  # white paper
    >>> drawing[10:46, 18:22] = 0  # a black "1"
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "one.png")
    ...     Image.fromarray(drawing).save(path)
    ...     pixels = read_digit_image(path)
    >>> pixels.shape, pixels.dtype
    ((784,), dtype('uint8'))
    >>> image = pixels.reshape(28, 28)  # white ink on black, like MNIST
    >>> int(image[0, 0]), int(image[14, 14]) > 200
    (0, True)
    """
    if invert not in INVERT_CHOICES:
        raise ValueError(f"invert must be one of {INVERT_CHOICES}; got {invert!r}")
    if side < 1:
        raise ValueError(f"side must be a positive number of pixels; got {side}")
    image_module, image_ops = _import_pillow()
    with image_module.open(path) as image:
        pixels = _grayscale(image, image_module, image_ops)
    if invert == "always" or (invert == "auto" and border_is_bright(pixels)):
        pixels = 255 - pixels
    pixels = _pad_to_square(pixels)
    if pixels.shape != (side, side):
        resized = image_module.fromarray(pixels).resize(
            (side, side), image_module.Resampling.LANCZOS
        )
        pixels = np.asarray(resized, dtype=np.uint8)
    return np.ascontiguousarray(pixels).reshape(side * side)
