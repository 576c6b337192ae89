"""Image files from others: only PNG, JPEG, BMP and GIF, their size bounded first.

A file's name says nothing about its content: an EPS file called ``.png``
made Pillow run Ghostscript, and a 580 KB PNG of 12000 x 12000 RGBA pixels
took 3.3 GB and 20 s before anything refused it.
"""

import contextlib
import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")
EpsImagePlugin = pytest.importorskip("PIL.EpsImagePlugin")
ImageFile = pytest.importorskip("PIL.ImageFile")

from skmnist import MLPDigitClassifier  # noqa: E402
from skmnist._image_files import MAX_IMAGE_PIXELS, open_image  # noqa: E402
from skmnist.cli import main  # noqa: E402
from skmnist.datasets import load_mnist, read_samples  # noqa: E402
from skmnist.images import read_digit_image  # noqa: E402
from skmnist.persistence import save_model  # noqa: E402

REFUSED = "is not a readable PNG, JPEG, BMP or GIF image"


def png_bytes(width, height, *, color_type=6, row_byte=b"\xff", extra=()):
    """A PNG written by hand, its rows streamed: a huge image costs no memory here."""

    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    channels = {0: 1, 2: 3, 6: 4}[color_type]
    row = b"\0" + row_byte * (width * channels)
    deflate = zlib.compressobj(9)
    idat = b"".join([deflate.compress(row) for _ in range(height)] + [deflate.flush()])
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            *(chunk(kind, data) for kind, data in extra),
            chunk(b"IDAT", idat),
            chunk(b"IEND", b""),
        ]
    )


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A 580 KB PNG of 12000 x 12000 RGBA pixels (576 MB once decoded)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(png_bytes(12000, 12000))
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    X, y = load_mnist(subset="train", source="sample", return_X_y=True)
    model = MLPDigitClassifier(
        hidden_layer_sizes=(8,), max_iter=1, random_state=0, device="cpu"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch does not converge
        model.fit(X[:200], y[:200])
    path = tmp_path_factory.mktemp("model") / "model.skmnist"
    save_model(model, path)
    return path


@pytest.fixture
def digit_png(tmp_path):
    paper = np.full((60, 40), 230, dtype=np.uint8)
    paper[10:50, 18:22] = 20
    path = tmp_path / "one.png"
    Image.fromarray(paper).save(path)
    return path


@pytest.fixture
def fake_ghostscript(tmp_path, monkeypatch):
    """A ``gs`` first on PATH that leaves a marker and fails; the marker's path.

    Pillow's memory of whether Ghostscript exists is reset, so that reading
    an EPS file would look for it (and run it). ``subprocess.Popen`` is
    wrapped too: any program started in this process is recorded.
    """
    folder = tmp_path / "bin"
    folder.mkdir()
    marker = tmp_path / "ghostscript-ran"
    script = folder / "gs"
    script.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None, raising=False)
    started = []
    real_popen = subprocess.Popen

    class RecordingPopen(real_popen):
        def __init__(self, args, *rest, **kwargs):
            started.append(args)
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    return marker, started


def eps_named_png(folder):
    path = folder / "digit.png"
    Image.new("L", (20, 20), 255).save(path, format="EPS")
    assert path.read_bytes().startswith(b"%!PS-Adobe")
    return path


# ---------------------------------------------------------------------------
# Formats: only those documented, whatever the file's name.
# ---------------------------------------------------------------------------
def test_eps_named_png_is_refused_without_running_ghostscript(
    tmp_path, fake_ghostscript
):
    marker, started = fake_ghostscript
    path = eps_named_png(tmp_path)
    with pytest.raises(OSError, match=f"digit.png' {REFUSED}"):
        read_digit_image(path)
    with pytest.raises(ValueError, match=r"digit.png' is not a \.npy array, an IDX"):
        read_samples(path)
    assert not marker.exists()
    assert started == []


@pytest.mark.parametrize("file_format", ["TIFF", "PPM", "ICO", "TGA", "WEBP", "PCX"])
def test_other_formats_named_png_are_refused(tmp_path, file_format):
    Image.init()  # Pillow registers its plugins lazily
    if file_format not in Image.SAVE:
        pytest.skip(f"this Pillow cannot write {file_format}")
    path = tmp_path / "digit.png"
    image = Image.new("L", (32, 32), 230)
    image.paste(20, (14, 4, 18, 28))
    image.save(path, format=file_format)
    with pytest.raises(OSError, match=REFUSED):
        read_digit_image(path)


@pytest.mark.parametrize("file_format", ["PNG", "JPEG", "BMP", "GIF"])
def test_the_documented_formats_are_read(tmp_path, file_format):
    image = Image.new("L", (32, 32), 230)
    image.paste(20, (14, 4, 18, 28))  # a dark "1"
    path = tmp_path / f"one.{file_format.lower()}"
    image.save(path, format=file_format)
    digit = read_digit_image(path).reshape(28, 28)
    assert digit[14, 14] > 200 and digit[0, 0] == 0


def run_cli(*args):
    """``skmnist ARGS`` in this process: its status, stdout and stderr lines."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(arg) for arg in args])
    return status, out.getvalue(), err.getvalue().strip().splitlines()


def test_cli_refuses_eps_on_one_line_without_ghostscript(
    tmp_path, model_path, fake_ghostscript
):
    """Before: a CalledProcessError traceback from Pillow's Ghostscript call."""
    marker, started = fake_ghostscript
    status, out, lines = run_cli("predict", model_path, eps_named_png(tmp_path))
    assert status == 1
    assert len(lines) == 1 and lines[0].startswith("skmnist: error: "), lines
    assert "digit.png" in lines[0] and "PNG, JPEG, BMP or GIF" in lines[0]
    assert out == ""
    assert not marker.exists() and started == []


# ---------------------------------------------------------------------------
# Size: bounded from the header, before decoding.
# ---------------------------------------------------------------------------
_MEASURE = """
import contextlib, io, json, resource, sys, time
from skmnist.cli import main
from skmnist.images import read_digit_image

model, small, bomb = sys.argv[1:]
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["predict", model, small]) == 0  # imports and loads all once
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = peak()
start = time.perf_counter()
try:
    read_digit_image(bomb)
    error = None
except ValueError as exc:
    error = str(exc)
seconds = time.perf_counter() - start
err = io.StringIO()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    status = main(["predict", model, bomb])
print(json.dumps({"error": error, "seconds": seconds, "status": status,
                  "stderr": err.getvalue(), "grew": peak() - before}))
"""


@pytest.mark.slow
def test_a_huge_png_is_refused_quickly_with_bounded_memory(bomb, model_path, digit_png):
    """Before: 3.3 GB peak and 20 s, then a warning and a blank digit."""
    assert bomb.stat().st_size < 1_000_000
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(model_path), str(digit_png), str(bomb)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["error"] is not None
    assert "bomb.png' is an image of 12000 x 12000 pixels" in report["error"]
    assert f"at most {MAX_IMAGE_PIXELS:,} pixels (4096 x 4096)" in report["error"]
    assert report["seconds"] < 2.0
    assert report["grew"] < 50 * 2**20  # the decoded image alone is 576 MB
    assert report["status"] == 1
    lines = report["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skmnist: error: "), lines


def test_the_bound_is_checked_whatever_pillows_own_settings(tmp_path, monkeypatch):
    path = tmp_path / "wide.png"
    path.write_bytes(png_bytes(4097, 4096, color_type=0))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ValueError, match=r"wide.png' is an image of 4097 x 4096"):
        read_digit_image(path)


def test_pillows_settings_are_left_alone_and_its_warning_not_shown(bomb):
    limit, truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning
        with pytest.raises(ValueError, match="12000 x 12000"):
            read_digit_image(bomb)
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == (
        limit,
        truncated,
    )


def test_an_image_at_the_bound_is_read(tmp_path):
    image = Image.new("L", (4096, 4096), 230)
    image.paste(20, (2000, 1000, 2100, 3000))
    image.save(tmp_path / "large.png")
    digit = read_digit_image(tmp_path / "large.png").reshape(28, 28)
    assert np.ptp(np.nonzero(digit > 127)[0]) + 1 == 20


def test_a_large_jpeg_photo_is_decoded_reduced_under_the_bound(tmp_path):
    """8000 x 6000 pixels (48 MP, a phone's photo) decode at 1/2: 4000 x 3000."""
    image = Image.new("L", (8000, 6000), 220)
    image.paste(30, (4000, 1500, 4300, 4500))
    image.save(tmp_path / "photo.jpg", quality=90)
    with open_image(tmp_path / "photo.jpg", reduced_side=2048) as decoded:
        assert decoded.size == (4000, 3000)
    digit = read_digit_image(tmp_path / "photo.jpg").reshape(28, 28)
    assert np.ptp(np.nonzero(digit > 127)[0]) + 1 == 20


# ---------------------------------------------------------------------------
# Malformed files: clear errors that name them.
# ---------------------------------------------------------------------------
def test_a_truncated_png_names_the_file(tmp_path, digit_png):
    data = digit_png.read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=r"cut.png' is a malformed image"):
        read_digit_image(path)
    with pytest.raises(ValueError, match=r"cut.png' is not .*: image file is trunc"):
        read_samples(path)


def test_a_png_text_chunk_bomb_names_the_file(tmp_path):
    """10 MB of text in 10 KB: Pillow's own limit refuses it; the file is named."""
    text = b"Comment\0\0" + zlib.compress(b"x" * 10_000_000, 9)
    path = tmp_path / "text.png"
    path.write_bytes(png_bytes(28, 28, color_type=0, extra=[(b"zTXt", text)]))
    assert path.stat().st_size < 20_000
    with pytest.raises(ValueError, match=r"text.png' is a malformed image"):
        read_digit_image(path)


def test_cli_names_a_truncated_file_on_one_line(tmp_path, model_path, digit_png):
    data = digit_png.read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    status, out, lines = run_cli("predict", model_path, path)
    assert status == 1
    assert len(lines) == 1 and lines[0].startswith("skmnist: error: "), lines
    assert "cut.png" in lines[0] and "truncated" in lines[0]
    assert out == ""


def test_every_image_skmnist_opens_goes_through_open_image():
    """Pillow's ``Image.open`` is called in one place of the package."""
    package = Path(__file__).resolve().parents[1] / "skmnist"
    callers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "Image.open(" in path.read_text() or "image_module.open(" in path.read_text()
    )
    assert callers == ["_image_files.py"]
