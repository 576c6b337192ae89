"""Turn users' images of digits into MNIST digits: paper to zero, ink centred.

MNIST digits are white (255) ink on a black (0) background, 28x28 pixels: each
NIST digit was scaled, keeping its aspect ratio, into a 20x20 box (the
anti-aliasing of that scaling made the grey levels) and placed on the 28x28
field so that its centre of mass lies at the centre. A classifier trained on
MNIST expects exactly that; a photo or a drawing of a digit is something else
(a large canvas, the digit off-centre at another size, dark ink on grey paper,
noise, colour). :func:`normalize_digit` applies MNIST's normalisation to such
an image:

1. The image is converted to grayscale (transparent pixels count as white
   paper).
2. The paper is estimated from the image's border: its shade is the median of
   the border pixels, its noise the border's median absolute deviation.
3. The polarity is decided from that estimate (``invert="auto"``): when the
   darkest pixels lie further below the paper than the brightest lie above
   it, the ink is dark (dark ink on light or grey paper) and the image is
   inverted. ``"always"`` and ``"never"`` force the choice.
4. The ink is measured from the paper: the paper and its noise become 0 and
   the ink's own level 255, whatever the shades of both.
5. Specks of noise (connected pieces holding under 1 % of the ink) are
   removed and the image is cropped to the ink's bounding box.
6. The box is scaled, keeping its aspect ratio, so that its longer side is 20
   pixels (``round(side * 20 / 28)`` for another ``side``), with Pillow's
   anti-aliased Lanczos filter, and its brightest pixel set to 255.
7. It is placed on a ``side`` x ``side`` black field with its centre of mass
   at the centre.

:func:`read_digit_image` reads an image file and normalises it (``skmnist
predict`` reads image files with it), and :class:`DigitNormalizer` applies the
normalisation to the rows of an array in a scikit-learn pipeline. Pillow is
needed (``pip install -e ".[cli]"``) and imported when the first image is
normalised. Pillow decodes and resizes; the steps that have no Pillow
counterpart (the background estimate, the centre of mass) are a few NumPy
lines, and the connected pieces come from :func:`scipy.ndimage.label`.
"""

from __future__ import annotations

import os
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._image_files import _DECODING_ERRORS, INVERT_CHOICES, open_image
from ._image_files import import_pillow as _import_pillow
from ._user_warning import warn_user

__all__ = ["INVERT_CHOICES", "DigitNormalizer", "normalize_digit", "read_digit_image"]

_MNIST_SIDE, _MNIST_BOX = 28, 20  # the field and the box the digit is scaled into
_NOISE_SIGMAS = 4.0  # paper noise below this many standard deviations is paper
_FLOOR = 0.15  # and so is anything under this share of the strongest ink
_DUST = 8  # the polarity is decided past this many extreme pixels
_MIN_PIECE = 0.01  # pieces of ink holding less than this share are specks
_MAX_SIDE = 1024  # larger images are reduced to this many pixels first
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2 luma, as Pillow's convert("L")


def _pil_grayscale(image: Any) -> np.ndarray:
    """Upright grayscale pixels of a Pillow image, transparent areas white."""
    image_module, image_ops = _import_pillow()
    image = image_ops.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = image_module.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = image_module.alpha_composite(white, rgba)
    image = image.convert("F" if image.mode.startswith(("I", "F")) else "L")
    if max(image.size) > _MAX_SIDE:  # a photo: its digit ends up 20 pixels tall
        image.thumbnail((_MAX_SIDE, _MAX_SIDE), image_module.Resampling.BOX)
    return np.asarray(image, dtype=np.float64)


def _array_grayscale(image: Any) -> np.ndarray:
    """Grayscale float pixels of a 2-D array or an (h, w, 3|4) colour array."""
    pixels = np.asarray(image)
    if pixels.dtype == object or not (
        np.issubdtype(pixels.dtype, np.number) or pixels.dtype == bool
    ):
        raise TypeError(
            f"expected an image as a numeric array or a PIL image; got dtype "
            f"{pixels.dtype}"
        )
    pixels = pixels.astype(np.float64)
    if pixels.ndim == 3 and pixels.shape[2] in (3, 4):
        gray = pixels[..., :3] @ np.array(_LUMA)
        if pixels.shape[2] == 4:  # alpha in the pixels' own range, over white
            top = 255.0 if pixels.size and np.nanmax(pixels) > 1 else 1.0
            alpha = pixels[..., 3] / top
            gray = gray * alpha + top * (1 - alpha)
        pixels = gray
    if pixels.ndim != 2 or 0 in pixels.shape:
        raise ValueError(
            "expected a non-empty grayscale image of shape (height, width) or a "
            f"colour image of shape (height, width, 3 or 4); got shape "
            f"{np.shape(image)}"
        )
    if not np.isfinite(pixels).all():
        raise ValueError("the image holds NaN or infinite pixel values")
    return pixels


def _grayscale(image: Any) -> np.ndarray:
    if hasattr(image, "getbands") and hasattr(image, "convert"):  # a PIL image
        return _array_grayscale(_pil_grayscale(image))
    return _array_grayscale(image)


def _border(pixels: np.ndarray) -> np.ndarray:
    """The pixels of the outer ring, 1/20 of the shorter side wide (at least 1)."""
    height, width = pixels.shape
    ring = max(1, min(height, width) // 20)
    if 2 * ring >= min(height, width):
        return pixels.ravel()
    return np.concatenate(
        [
            pixels[:ring].ravel(),
            pixels[-ring:].ravel(),
            pixels[ring:-ring, :ring].ravel(),
            pixels[ring:-ring, -ring:].ravel(),
        ]
    )


def _ink(pixels: np.ndarray, invert: str) -> np.ndarray:
    """Ink coverage in [0, 1]: 0 on the paper, 1 at the ink's own level."""
    border = _border(pixels)
    paper = float(np.median(border))
    noise = 1.4826 * float(np.median(np.abs(border - paper)))  # sigma if Gaussian
    if invert == "auto":
        # The extremes, past a few pixels of dust: the ink holds more than that.
        flat = pixels.ravel()
        k = min(_DUST, flat.size - 1)
        darkest = np.partition(flat, k)[k]
        brightest = np.partition(flat, flat.size - 1 - k)[flat.size - 1 - k]
        dark_ink = paper - darkest > brightest - paper
    else:
        dark_ink = invert == "always"
    ink = paper - pixels if dark_ink else pixels - paper
    # Below the floor is paper: its noise, and JPEG's ripples, which a smooth
    # paper's border does not show.
    floor = max(_NOISE_SIGMAS * noise, _FLOOR * float(ink.max()))
    above = ink[ink > floor]
    if above.size == 0:
        return np.zeros_like(ink)
    level = float(np.percentile(above, 95))  # > floor, as all of `above` is
    return np.clip((ink - floor) / (level - floor), 0.0, 1.0)


def _without_specks(ink: np.ndarray) -> np.ndarray:
    """Ink with the connected pieces that hold under 1 % of it set to 0."""
    from scipy import ndimage

    labels, n_pieces = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    if n_pieces <= 1:
        return ink
    mass = ndimage.sum_labels(ink, labels, index=np.arange(1, n_pieces + 1))
    keep = np.concatenate([[False], mass >= _MIN_PIECE * mass.sum()])
    return np.where(keep[labels], ink, 0.0)


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    total = image.sum()
    rows = float(image.sum(axis=1) @ np.arange(image.shape[0])) / total
    columns = float(image.sum(axis=0) @ np.arange(image.shape[1])) / total
    return rows, columns


def _check_invert(invert: str) -> None:
    if invert not in INVERT_CHOICES:
        raise ValueError(f"invert must be one of {INVERT_CHOICES}; got {invert!r}")


def _check_side(side: int) -> None:
    if isinstance(side, bool) or not isinstance(side, Integral) or side < 1:
        raise ValueError(f"side must be a positive number of pixels; got {side!r}")


def normalize_digit(image: Any, *, side: int = 28, invert: str = "auto") -> np.ndarray:
    """Normalise an image of one digit the way MNIST's digits were made.

    The paper becomes 0 and the ink 255, whatever their shades; the ink is
    cropped, scaled into a 20x20 box keeping its aspect ratio (anti-aliased)
    and placed on a 28x28 field by its centre of mass. See the module
    description (:mod:`skmnist.images`) for the steps.

    Parameters
    ----------
    image : PIL.Image.Image or array-like of shape (height, width) or \
(height, width, 3 or 4)
        The digit: a Pillow image in any mode, a grayscale array or an RGB(A)
        array, in any intensity range (0-255 for RGBA arrays' alpha, or
        [0, 1] for float arrays whose values are all within it).
    side : int, default=28
        Width and height of the result in pixels; the digit is scaled into a
        box of ``round(side * 20 / 28)`` pixels, as in MNIST.
    invert : {"auto", "always", "never"}, default="auto"
        ``"auto"`` takes the ink to be dark when the darkest pixels lie further
        below the paper's shade (the median of the border) than the brightest
        lie above it. ``"always"`` takes the ink to be dark (dark digit on
        light paper), ``"never"`` light (light digit on dark background, as
        in MNIST).

    Returns
    -------
    digit : ndarray of shape (side, side), dtype uint8
        White (255) ink on black (0), like an MNIST image. An image without
        ink (one shade throughout) gives zeros, with a warning.

    Raises
    ------
    ImportError
        If Pillow is not installed.
    ValueError
        If the image is empty, not 2-D grayscale or RGB(A), holds NaN or
        infinite values, or ``side`` or ``invert`` is not valid.
    TypeError
        If the image is not numeric.

    See Also
    --------
    read_digit_image : Read an image file and normalise it.
    DigitNormalizer : The same normalisation as a scikit-learn transformer.

    Examples
    --------
    A dark "7" drawn small in a corner of a large sheet of grey paper:

    >>> import numpy as np
    >>> from skmnist.images import normalize_digit
    >>> sheet = np.full((300, 400), 180, dtype=np.uint8)  # grey paper
    >>> sheet[20:26, 30:70] = 40  # the bar of the 7
    >>> for row in range(26, 90):  # its stem, leaning left
    ...     column = 66 - (row - 26) // 3
    ...     sheet[row, column - 3 : column + 3] = 40
    >>> digit = normalize_digit(sheet)
    >>> digit.shape, digit.dtype, int(digit.max())
    ((28, 28), dtype('uint8'), 255)
    >>> rows, columns = np.nonzero(digit)
    >>> int(rows.max() - rows.min() + 1)  # the taller side fills the 20-pixel box
    20
    >>> mass = digit / digit.sum()  # the centre of mass is the field's centre
    >>> round(float(mass.sum(axis=1) @ np.arange(28)))
    14
    >>> round(float(mass.sum(axis=0) @ np.arange(28)))
    14
    """
    _check_invert(invert)
    _check_side(side)
    return _normalize(_grayscale(image), side, invert, "the image")


def _normalize(pixels: np.ndarray, side: int, invert: str, name: str) -> np.ndarray:
    """:func:`normalize_digit` of grayscale pixels; ``name`` is for the warning."""
    ink = _without_specks(_ink(pixels, invert))
    if not ink.any():
        warn_user(
            f"{name} holds no ink (it is one shade throughout); its digit is left "
            "blank",
            UserWarning,
        )
        return np.zeros((side, side), dtype=np.uint8)
    rows, columns = np.nonzero(ink)
    ink = ink[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    box = max(1, round(side * _MNIST_BOX / _MNIST_SIDE))
    scale = box / max(ink.shape)
    height = min(box, max(1, round(ink.shape[0] * scale)))
    width = min(box, max(1, round(ink.shape[1] * scale)))
    return _place(_scaled(ink, height, width), side)


def _scaled(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    """``ink`` resized to ``height`` x ``width`` (anti-aliased), its maximum 255."""
    image_module, _ = _import_pillow()
    source = image_module.fromarray(ink.astype(np.float32))  # mode "F"
    small = np.asarray(
        source.resize((width, height), image_module.Resampling.LANCZOS),
        dtype=np.float64,
    ).clip(0.0, None)
    if small.max() <= 0:  # Lanczos's negative lobes ate a faint speck
        small = np.asarray(
            source.resize((width, height), image_module.Resampling.BOX),
            dtype=np.float64,
        )
    return np.round(255 * small / small.max())


def _place(small: np.ndarray, side: int) -> np.ndarray:
    """``small`` on a black ``side`` x ``side`` field, its centre of mass central."""
    digit = np.zeros((side, side), dtype=np.uint8)
    centre_row, centre_column = _centre_of_mass(small)
    top = round(side / 2 - centre_row)
    left = round(side / 2 - centre_column)
    # Clipped: a lopsided digit may be pushed past the field's edge, as in MNIST.
    src_top, src_left = max(0, -top), max(0, -left)
    dst_top, dst_left = max(0, top), max(0, left)
    rows = min(small.shape[0] - src_top, side - dst_top)
    cols = min(small.shape[1] - src_left, side - dst_left)
    if rows > 0 and cols > 0:
        digit[dst_top : dst_top + rows, dst_left : dst_left + cols] = small[
            src_top : src_top + rows, src_left : src_left + cols
        ]
    return digit


def read_digit_image(
    path: str | os.PathLike[str], *, side: int = 28, invert: str = "auto"
) -> np.ndarray:
    """Read an image file of one digit as an MNIST-style row of pixels.

    The file is decoded by Pillow (EXIF orientation applied) and normalised
    by :func:`normalize_digit`. Files from others are taken to be hostile:
    only PNG, JPEG, BMP and GIF files are read (recognised by their content,
    whatever their name), and an image of more than 4096 x 4096 pixels
    (16,777,216) is refused from its header, before it is decoded. A JPEG
    photo is decoded at a reduced scale (1/2, 1/4 or 1/8) when it is large,
    so the bound applies to the reduced image.

    Parameters
    ----------
    path : str or os.PathLike
        A PNG, JPEG, BMP or GIF file.
    side : int, default=28
        Width and height of the digit, in pixels.
    invert : {"auto", "always", "never"}, default="auto"
        The ink's polarity (see :func:`normalize_digit`).

    Returns
    -------
    pixels : ndarray of shape (side * side,), dtype uint8
        The rows of the digit concatenated, 0 for background and 255 for ink:
        one row of ``X`` for a model trained on MNIST.

    Raises
    ------
    ImportError
        If Pillow is not installed.
    OSError
        If the file cannot be opened, is not a PNG, JPEG, BMP or GIF file, or
        is malformed (a truncated file, for one). The message names the file.
    ValueError
        If the image has more than 4096 x 4096 pixels (the message names the
        file, its size and the bound), or ``side`` or ``invert`` is not valid.

    See Also
    --------
    normalize_digit : The normalisation, for images already in memory.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skmnist.images import read_digit_image
    >>> photo = np.full((480, 640, 3), (200, 190, 170), dtype=np.uint8)  # paper
    >>> photo[300:420, 500:512] = (30, 30, 90)  # a "1" in blue ink
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "one.jpg")
    ...     Image.fromarray(photo).save(path)
    ...     pixels = read_digit_image(path)
    >>> pixels.shape, pixels.dtype
    ((784,), dtype('uint8'))
    >>> digit = pixels.reshape(28, 28)  # white on black, in the middle
    >>> int(digit[0, 0]), int(digit[14, 14])
    (0, 255)
    """
    _check_invert(invert)
    _check_side(side)
    # A JPEG may be decoded reduced, to twice the size its thumbnail is made
    # from (as Pillow's thumbnail() would with its default reducing_gap).
    with open_image(path, reduced_side=2 * _MAX_SIDE) as image:
        try:
            pixels = _grayscale(image)
        except _DECODING_ERRORS as exc:  # e.g. malformed EXIF data
            raise OSError(f"{os.fspath(path)!r} is a malformed image ({exc})") from exc
    return _normalize(pixels, side, invert, repr(os.fspath(path))).ravel()


class DigitNormalizer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Normalise images of digits, one per row, the way MNIST's were made.

    Each row of ``X`` is reshaped to ``image_shape`` and normalised by
    :func:`normalize_digit` (paper to 0, ink to 255, cropped, scaled into
    a 20x20 box and centred by its centre of mass on a 28x28 field). Put it
    in front of a model trained on MNIST to classify digits that were not
    prepared like MNIST's; it learns nothing in ``fit``.

    Parameters
    ----------
    image_shape : tuple of (int, int) or None, default=None
        (height, width) of the images in the rows. ``None`` takes square
        images of ``sqrt(n_features)`` pixels a side.
    side : int, default=28
        Width and height of the normalised digits: ``transform`` returns
        ``side * side`` features.
    invert : {"auto", "always", "never"}, default="auto"
        The ink's polarity (see :func:`normalize_digit`).

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit, when ``X`` had string column names.
    image_shape_ : tuple of (int, int)
        The (height, width) the rows are reshaped to.

    See Also
    --------
    normalize_digit : The normalisation of one image.
    skmnist.PixelScaler : Scales the normalised pixels for the classifier.

    Examples
    --------
    Digits drawn at the top left of 64x64 grey images, dark on light:

    >>> import numpy as np
    >>> from skmnist.images import DigitNormalizer
    >>> X = np.full((2, 64 * 64), 200, dtype=np.uint8)
    >>> images = X.reshape(2, 64, 64)
    >>> images[0, 5:40, 8:14] = 20  # a "1"
    >>> images[1, 5:11, 5:30] = 20  # a "7": a bar ...
    >>> images[1, 11:40, 24:30] = 20  # ... and a stem
    >>> normalizer = DigitNormalizer().fit(X)
    >>> digits = normalizer.transform(X)
    >>> digits.shape, digits.dtype, normalizer.image_shape_
    ((2, 784), dtype('uint8'), (64, 64))
    >>> int(digits[:, :28 * 4].max())  # the top rows are empty now
    0
    """

    _parameter_constraints: dict = {
        "image_shape": [tuple, None],
        "side": [Interval(Integral, 1, None, closed="left")],
        "invert": [StrOptions(set(INVERT_CHOICES))],
    }

    def __init__(self, image_shape=None, side=28, invert="auto"):
        self.image_shape = image_shape
        self.side = side
        self.invert = invert

    def _shape(self, n_features: int) -> tuple[int, int]:
        if self.image_shape is None:
            edge = round(n_features**0.5)
            if edge * edge != n_features:
                raise ValueError(
                    f"X has {n_features} features, which are not the pixels of a "
                    "square image; set image_shape=(height, width)"
                )
            return edge, edge
        shape = tuple(self.image_shape)
        if (
            len(shape) != 2
            or not all(isinstance(n, Integral) and n >= 1 for n in shape)
            or shape[0] * shape[1] != n_features
        ):
            raise ValueError(
                f"image_shape must be (height, width) with height * width equal to "
                f"the number of features, {n_features}; got {self.image_shape!r}"
            )
        return int(shape[0]), int(shape[1])

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the shape of the images in ``X``; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images, one per row.
        y : None
            Ignored.

        Returns
        -------
        self : DigitNormalizer
            The fitted normaliser.
        """
        X = validate_data(self, X, dtype=(np.float64, np.float32))
        self.image_shape_ = self._shape(X.shape[1])
        return self

    def transform(self, X):
        """Normalise each image of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Images, one per row.

        Returns
        -------
        X_normalized : ndarray of shape (n_samples, side * side), dtype uint8
            The normalised digits, white (255) ink on black (0).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        out = np.empty((X.shape[0], self.side * self.side), dtype=np.uint8)
        for row, pixels in enumerate(X):
            out[row] = normalize_digit(
                pixels.reshape(self.image_shape_), side=self.side, invert=self.invert
            ).ravel()
        return out

    @property
    def _n_features_out(self) -> int:
        return self.side * self.side

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags
