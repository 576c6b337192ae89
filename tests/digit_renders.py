"""MNIST digits re-rendered as users' image files, for tests and benchmarks.

:func:`render_digit` turns one 28x28 MNIST digit into the kind of file a user
would pass to ``skmnist predict``: a canvas of another size, the digit
somewhere on it at another scale, dark ink on white or grey paper (or light
chalk on a dark board), thicker or thinner strokes, sensor noise, saved as PNG
or JPEG in mode L, RGB or RGBA. :func:`render_files` writes many of them.
``tests/test_images.py`` and ``benchmarks/user_images.py`` both use it.

Examples
--------
>>> import numpy as np
>>> from skmnist.datasets import load_mnist
>>> from digit_renders import render_digit
>>> X, _ = load_mnist(subset="test", source="sample", return_X_y=True)
>>> image, settings = render_digit(X[0].reshape(28, 28), np.random.default_rng(0))
>>> image.mode in ("L", "RGB", "RGBA"), settings["format"] in ("PNG", "JPEG")
(True, True)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

__all__ = ["render_digit", "render_files"]


def _stroke(digit: np.ndarray, height: int, rng: np.random.Generator) -> tuple:
    """The digit's ink coverage in [0, 1], ``height`` pixels tall, restroked."""
    rows, columns = np.nonzero(digit)
    crop = digit[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    scale = height / crop.shape[0]
    width = max(1, round(crop.shape[1] * scale))
    big = Image.fromarray(crop.astype(np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    # Stroke thickness: where the smooth upscaled intensity is cut sets how wide
    # the pen was (a low cut: a thick marker, a high one: a fine pen); a dilation
    # thickens further.
    cut = rng.uniform(0.2, 0.7)
    dilate = round(int(rng.choice([0, 0, 0, 1, 2])) * scale / 4)
    if dilate:
        big = big.filter(ImageFilter.MaxFilter(2 * dilate + 1))
    smooth = np.asarray(big, dtype=np.float64) / 255
    edge = 0.08
    coverage = np.clip((smooth - cut) / edge + 0.5, 0.0, 1.0)
    return coverage, {"cut": round(cut, 3), "dilate": dilate}


def render_digit(
    digit: np.ndarray, rng: np.random.Generator
) -> tuple[Image.Image, dict]:
    """One MNIST digit rendered as a user's image, and the settings drawn.

    Parameters
    ----------
    digit : ndarray of shape (28, 28)
        An MNIST digit (white ink on black, 0-255).
    rng : numpy.random.Generator
        Source of the random settings.

    Returns
    -------
    image : PIL.Image.Image
        The rendered image, in mode L, RGB or RGBA.
    settings : dict
        What was drawn: canvas size, digit height, position, shades, noise,
        stroke, format (``"PNG"`` or ``"JPEG"``) and JPEG quality.
    """
    canvas_w, canvas_h = int(rng.integers(40, 640)), int(rng.integers(40, 480))
    shorter = min(canvas_w, canvas_h)
    height = int(rng.integers(max(12, shorter // 5), max(13, int(shorter * 0.85))))
    coverage, stroke = _stroke(np.asarray(digit, dtype=np.float64), height, rng)
    height, width = coverage.shape
    if width > canvas_w - 4:  # a wide digit on a narrow canvas: widen the canvas
        canvas_w = width + 4
    top = int(rng.integers(2, max(3, canvas_h - height - 1)))
    left = int(rng.integers(2, max(3, canvas_w - width - 1)))
    light_on_dark = rng.random() < 0.2
    if light_on_dark:  # chalk on a board
        paper, ink = rng.uniform(0, 90), rng.uniform(190, 255)
    else:  # pen or pencil on white or grey paper
        paper, ink = rng.uniform(140, 255), rng.uniform(0, 90)
    noise = rng.choice([0.0, rng.uniform(1, 6), rng.uniform(6, 14)])
    mode = str(rng.choice(["L", "RGB", "RGBA"]))
    file_format = "PNG" if mode == "RGBA" else str(rng.choice(["PNG", "JPEG"]))
    quality = int(rng.integers(50, 96))
    field = np.zeros((canvas_h, canvas_w))
    field[top : top + height, left : left + width] = coverage
    gray = paper + (ink - paper) * field
    settings = {
        "canvas": (canvas_w, canvas_h),
        "height": height,
        "position": (left, top),
        "paper": round(float(paper)),
        "ink": round(float(ink)),
        "noise": round(float(noise), 2),
        **stroke,
        "mode": mode,
        "format": file_format,
        "quality": quality if file_format == "JPEG" else None,
    }
    if mode == "L":
        pixels = gray + rng.normal(0, noise, gray.shape) if noise else gray
        return Image.fromarray(
            np.clip(pixels, 0, 255).round().astype(np.uint8)
        ), settings
    # Colour: a tinted paper and a coloured ink with the same luma as drawn.
    tint = rng.uniform(-12, 12, 3)
    pen = rng.uniform(-40, 40, 3) * (not light_on_dark)
    rgb = gray[..., None] + (tint * (1 - field)[..., None]) + pen * field[..., None]
    if noise:
        rgb = rgb + rng.normal(0, noise, rgb.shape)
    rgb = np.clip(rgb, 0, 255).round().astype(np.uint8)
    if mode == "RGB":
        return Image.fromarray(rgb), settings
    # RGBA: the ink on a transparent sheet (a drawing app's export) or opaque.
    if light_on_dark or rng.random() < 0.5:
        alpha = np.full(gray.shape, 255, dtype=np.uint8)
        settings["transparent"] = False
    else:
        alpha = np.clip(255 * field, 0, 255).round().astype(np.uint8)
        rgb[...] = np.clip(np.asarray([ink, ink, ink]) + pen, 0, 255).astype(np.uint8)
        settings["transparent"] = True
    return Image.fromarray(np.dstack([rgb, alpha])), settings


def render_files(
    images: np.ndarray, folder: str | Path, seed: int = 0
) -> list[tuple[Path, dict]]:
    """Render each digit of ``images`` into a file of ``folder``.

    Parameters
    ----------
    images : ndarray of shape (n, 28, 28) or (n, 784)
        MNIST digits.
    folder : str or Path
        Where the files go (it must exist).
    seed : int, default=0
        Seed of the settings: the same seed writes the same files.

    Returns
    -------
    files : list of (Path, dict)
        Each file and its settings, in the order of ``images``.
    """
    rng = np.random.default_rng(seed)
    files = []
    for index, digit in enumerate(np.asarray(images).reshape(-1, 28, 28)):
        image, settings = render_digit(digit, rng)
        suffix = ".png" if settings["format"] == "PNG" else ".jpg"
        path = Path(folder) / f"digit{index:05d}{suffix}"
        options = {"quality": settings["quality"]} if settings["quality"] else {}
        image.save(path, format=settings["format"], **options)
        files.append((path, settings))
    return files
