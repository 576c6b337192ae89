"""Open image files from others: the documented formats only, their size bounded.

Every image file skmnist reads is opened by :func:`open_image`. A file from
someone else is hostile, and Pillow reads many formats, some through external
programs (EPS and PostScript run Ghostscript) or large decoders; the
file's name says nothing about its content. So:

- only the formats in :data:`IMAGE_FORMATS` are tried (Pillow's own
  allow-list, the ``formats`` argument of :func:`PIL.Image.open`): an EPS,
  TIFF or any other file is refused whatever it is called, before any of
  its content is decoded;
- the size in the header is checked before the pixels are decoded: an image
  larger than :data:`MAX_IMAGE_PIXELS` pixels once decoded is refused (a
  small file can describe a huge image: a 560 KB PNG holds 12000 x 12000
  pixels). A JPEG is decoded at a reduced scale (1/2, 1/4 or 1/8, by Pillow's
  ``draft``) when that still leaves the size asked for, so the bound applies
  to the reduced size and large photos are read cheaply;
- Pillow's process-wide settings (``Image.MAX_IMAGE_PIXELS``,
  ``ImageFile.LOAD_TRUNCATED_IMAGES``, the PNG text-chunk limits) are left as
  the program set them: the bound above is checked here, whatever they are.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "IMAGE_FORMATS",
    "INVERT_CHOICES",
    "MAX_IMAGE_PIXELS",
    "MAX_JPEG_SCANS",
    "format_names",
    "import_pillow",
    "open_image",
]

#: The formats skmnist reads image files in (Pillow's format names).
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF")

#: Accepted values of the ``invert`` argument of the image readers (defined
#: here, without NumPy or scikit-learn, for the command line's parser).
INVERT_CHOICES = ("auto", "always", "never")

#: The most pixels an image may have once decoded (4096 x 4096).
MAX_IMAGE_PIXELS = 4096 * 4096

# Besides OSError, Pillow's decoders let these through on some malformed files.
_DECODING_ERRORS = (
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
)


def import_pillow() -> tuple[Any, Any]:
    """Pillow's ``Image`` and ``ImageOps`` modules, or an ImportError saying how."""
    try:
        from PIL import Image, ImageOps
    except ImportError as exc:
        raise ImportError(
            "normalising images of digits needs Pillow: pip install -e '.[cli]' "
            "(or pip install pillow)"
        ) from exc
    return Image, ImageOps


def format_names() -> str:
    """The formats skmnist reads, in words: ``"PNG, JPEG, BMP or GIF"``."""
    return ", ".join(IMAGE_FORMATS[:-1]) + f" or {IMAGE_FORMATS[-1]}"


@contextmanager
def _pillow_errors(image_module: Any, name: str) -> Iterator[None]:
    """Turn what Pillow raises on a bad file into an error that names it."""
    try:
        yield
    except image_module.UnidentifiedImageError:  # its cause would say no more
        raise OSError(f"{name!r} is not a readable {format_names()} image") from None
    except image_module.DecompressionBombError as exc:
        raise ValueError(f"{name!r} is too large an image ({exc})") from exc
    except ValueError as exc:  # e.g. a PNG text chunk past Pillow's limits
        raise ValueError(f"{name!r} is a malformed image ({exc})") from exc
    except OSError as exc:
        if exc.errno is not None:  # the file itself: missing, a folder, unreadable
            raise
        raise OSError(f"{name!r} is a malformed image ({exc})") from exc
    except _DECODING_ERRORS as exc:
        raise OSError(f"{name!r} is a malformed image ({exc})") from exc


def _check_size(image: Any, name: str) -> None:
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(
            f"{name!r} is an image of {width} x {height} pixels; skmnist reads "
            f"images of at most {MAX_IMAGE_PIXELS:,} pixels (4096 x 4096): "
            "reduce it first"
        )


#: The most scans a progressive JPEG may hold: encoders write about ten
#: (libjpeg's default progression: 10 for colour, 6 for grey), and each scan
#: costs a decoding pass over the whole image.
MAX_JPEG_SCANS = 100


def _check_scans(path: str | os.PathLike[str], name: str) -> None:
    # Start-of-scan markers: 0xFF is stuffed inside entropy-coded data, so
    # the pair occurs only as a marker.
    with open(path, "rb") as file:
        scans = file.read().count(b"\xff\xda")
    if scans > MAX_JPEG_SCANS:
        raise ValueError(
            f"{name!r} is a progressive JPEG of {scans} scans; skmnist reads at "
            f"most {MAX_JPEG_SCANS} (encoders write about ten)"
        )


@contextmanager
def open_image(
    path: str | os.PathLike[str], *, reduced_side: int | None = None
) -> Iterator[Any]:
    """Open and decode an image file from someone else, safely.

    Parameters
    ----------
    path : str or os.PathLike
        A PNG, JPEG, BMP or GIF file (:data:`IMAGE_FORMATS`), recognised by
        its content.
    reduced_side : int or None, default=None
        A JPEG may be decoded at 1/2, 1/4 or 1/8 of its size as long as both
        of its sides stay at least this many pixels; None decodes it whole.

    Yields
    ------
    image : PIL.Image.Image
        The decoded image (its pixels loaded), usable inside the ``with``
        block.

    Raises
    ------
    ImportError
        If Pillow is not installed.
    OSError
        If the file cannot be read, is in another format, or is malformed.
        The message names the file.
    ValueError
        If the image has more than :data:`MAX_IMAGE_PIXELS` pixels once
        decoded (checked before decoding), or Pillow's own limits refuse it.
        The message names the file, its size and the bound.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> from PIL import Image
    >>> from skmnist._image_files import open_image
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "digit.png")
    ...     Image.new("L", (40, 30)).save(path)
    ...     with open_image(path) as image:
    ...         print(image.format, image.size)
    PNG (40, 30)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "digit.png")  # a TIFF file, whatever its name
    ...     Image.new("L", (40, 30)).save(path, format="TIFF")
    ...     with open_image(path) as image:
    ...         pass
    Traceback (most recent call last):
    ...
    OSError: '...digit.png' is not a readable PNG, JPEG, BMP or GIF image
    """
    image_module, _ = import_pillow()
    name = os.fspath(path)
    with _pillow_errors(image_module, name):
        with warnings.catch_warnings():
            # Pillow warns past its own (larger) bound; the size is checked below.
            warnings.simplefilter("ignore", image_module.DecompressionBombWarning)
            image = image_module.open(path, formats=IMAGE_FORMATS)
    try:
        if image.format == "JPEG" and image.info.get("progressive"):
            # A progressive JPEG is decoded at full size (draft only shrinks
            # the result), one pass over it per scan: both are bounded first.
            _check_size(image, name)
            _check_scans(path, name)
        elif reduced_side is not None:
            image.draft(None, (reduced_side, reduced_side))  # JPEG only
        _check_size(image, name)
        with _pillow_errors(image_module, name):
            image.load()
        yield image
    finally:
        image.close()
