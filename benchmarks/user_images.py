"""Accuracy of ``skmnist predict`` on MNIST test digits rendered as users' files.

A model trained on MNIST is scored twice on the same test digits: on the
original arrays, and through ``skmnist predict`` on image files that render
them as users' files do (``tests/digit_renders.py``: canvases of 40-640
pixels, the digit anywhere at another size, dark ink on white or grey paper or
chalk on a dark board, thicker or thinner strokes, noise, PNG or JPEG, modes
L, RGB and RGBA). The share, rendered accuracy over original accuracy, is the
figure; the target is at least 95 %. The same files are also read the way
earlier versions of the command read images (grayscale, inverted when the
border is bright, padded to a square, resized to 28x28), for comparison.

Then 12 digits drawn with Pillow (the ten digits in Pillow's own font at
several sizes and places, and a "1" and a "7" drawn as lines) go through the
command, read both ways.

The model is the default pipeline trained on full MNIST when its IDX files are
found (../shared/data/mnist or $SKMNIST_DATA/mnist), else a smaller one on the
embedded sample. Run: ``python benchmarks/user_images.py [--n 3000]``. Writes
benchmarks/results/user_images_<cpu>.{json,md} (user_images_<cpu>_sample with
the sample's model).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import io
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import REPO, load_full_mnist, machine, mnist_dir, write_results
from PIL import Image, ImageDraw, ImageFont
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.cli import main as skmnist_main
from skmnist.datasets import load_mnist
from skmnist.persistence import load_model, save_model

sys.path.insert(0, str(REPO / "tests"))
from digit_renders import render_files  # tests/ is no package


def cpu_description() -> dict:
    """Model, family and the bf16 / AMX flags of the CPU, from /proc/cpuinfo."""
    info = {"model": machine()["cpu"], "family": None, "flags": []}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "cpu family" and info["family"] is None:
            info["family"] = int(value)
        if key.strip() == "flags" and not info["flags"]:
            wanted = ("avx512_bf16", "amx_bf16", "amx_tile", "amx_int8")
            info["flags"] = [flag for flag in value.split() if flag in wanted]
    return info


def earlier_reading(path: Path) -> np.ndarray:
    """An image read as earlier versions did: inverted if its border is bright,
    padded to a square and resized (a baseline: that code is gone)."""
    with Image.open(path) as image:
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        pixels = np.asarray(image.convert("L"), dtype=np.uint8)
    border = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])
    if np.count_nonzero(border > 127) * 2 > border.size:
        pixels = 255 - pixels
    height, width = pixels.shape
    side = max(height, width)
    square = np.zeros((side, side), dtype=np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = pixels
    resized = Image.fromarray(square).resize((28, 28), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8).ravel()


def cli_predict(model_path: Path, paths: list[Path]) -> np.ndarray:
    """Predictions of ``skmnist predict MODEL FILES...``, run in-process."""
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        status = skmnist_main(["predict", str(model_path), *map(str, paths)])
    if status != 0:
        raise RuntimeError(err.getvalue())
    rows = csv.DictReader(io.StringIO(out.getvalue()))
    return np.array([int(row["prediction"]) for row in rows])


def drawn_digits(folder: Path) -> list[tuple[Path, int, str]]:
    """12 digits drawn with Pillow: its font at several sizes, and two of lines."""
    rng = np.random.default_rng(0)
    files = []
    for digit in range(10):
        size = int(rng.integers(40, 160))
        font = ImageFont.load_default(size=size)
        canvas = Image.new("L", (int(rng.integers(200, 400)),) * 2, 255)
        draw = ImageDraw.Draw(canvas)
        place = tuple(int(rng.integers(5, canvas.width - size)) for _ in range(2))
        draw.text(place, str(digit), fill=0, font=font)
        path = folder / f"font{digit}.png"
        canvas.save(path)
        files.append((path, digit, f"Pillow's font, {size} px"))
    canvas = Image.new("RGB", (300, 240), (235, 230, 220))
    ImageDraw.Draw(canvas).line(
        [(140, 40), (160, 30), (150, 200)], fill="navy", width=9
    )
    canvas.save(folder / "line1.jpg", quality=85)
    files.append((folder / "line1.jpg", 1, "lines, RGB JPEG"))
    canvas = Image.new("L", (256, 256), 200)
    ImageDraw.Draw(canvas).line([(60, 60), (180, 55), (110, 210)], fill=30, width=12)
    canvas.save(folder / "line7.png")
    files.append((folder / "line7.png", 7, "lines, grey paper"))
    return files


def train_model(folder: Path) -> tuple[Path, np.ndarray, np.ndarray, str]:
    """The model and the test digits: full MNIST when found, else the sample."""
    if (mnist_dir() / "train-images-idx3-ubyte.gz").is_file():
        X_train, y_train, X_test, y_test = load_full_mnist()
        model = make_pipeline(PixelScaler(), MLPDigitClassifier(random_state=0))
        data = "full MNIST (60,000 / 10,000), default pipeline, random_state=0"
    else:
        X_train, y_train = load_mnist(subset="train", source="sample", return_X_y=True)
        X_test, y_test = load_mnist(subset="test", source="sample", return_X_y=True)
        model = make_pipeline(
            PixelScaler(), MLPDigitClassifier(max_iter=30, random_state=0)
        )
        data = "embedded sample (5,000 / 1,000), 30 epochs, random_state=0"
    started = time.perf_counter()
    model.fit(X_train, y_train)
    print(f"trained on {data} in {time.perf_counter() - started:.0f} s", flush=True)
    path = folder / "model.skmnist"
    save_model(model, path)
    return path, X_test, y_test, data


def by_setting(settings: list[dict], correct: np.ndarray) -> dict:
    """Accuracy within groups of the rendered files."""

    def group(s: dict) -> dict:
        return {
            "format": s["format"],
            "mode": s["mode"] + (" transparent" if s.get("transparent") else ""),
            "polarity": "light on dark" if s["paper"] < 128 else "dark on light",
            "noise": "none" if not s["noise"] else "<6" if s["noise"] < 6 else ">=6",
            "stroke": "thick"
            if s["dilate"] or s["cut"] < 0.35
            else ("thin" if s["cut"] > 0.55 else "medium"),
            "digit height": "<40 px"
            if s["height"] < 40
            else ("40-150 px" if s["height"] < 150 else ">=150 px"),
        }

    counts: dict = collections.defaultdict(lambda: [0, 0])
    for s, ok in zip(settings, correct, strict=True):
        for key, value in group(s).items():
            counts[(key, value)][0] += int(ok)
            counts[(key, value)][1] += 1
    return {
        f"{key}: {value}": {"n": n, "accuracy": hits / n}
        for (key, value), (hits, n) in sorted(counts.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="rendered test digits")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_path, X_test, y_test, data = train_model(folder)
        model = load_model(model_path)
        pick = np.random.default_rng(args.seed).permutation(len(X_test))[: args.n]
        X, y = X_test[pick], y_test[pick]
        original = float(model.score(X, y))
        files = render_files(X, folder, seed=args.seed)
        paths = [path for path, _ in files]
        started = time.perf_counter()
        predicted = cli_predict(model_path, paths)
        read_time = time.perf_counter() - started
        rendered = float((predicted == y).mean())
        earlier = float(
            (model.predict(np.stack([earlier_reading(p) for p in paths])) == y).mean()
        )
        drawn = drawn_digits(folder)
        drawn_now = cli_predict(model_path, [p for p, _, _ in drawn])
        drawn_before = model.predict(
            np.stack([earlier_reading(p) for p, _, _ in drawn])
        )
    groups = by_setting([s for _, s in files], predicted == y)
    cpu = cpu_description()
    payload = {
        "machine": machine(),
        "cpu": cpu,
        "model": data,
        "n_rendered": len(files),
        "seed": args.seed,
        "accuracy_original": original,
        "accuracy_rendered_cli": rendered,
        "share": rendered / original,
        "accuracy_rendered_earlier_reading": earlier,
        "cli_seconds_per_file": read_time / len(files),
        "by_setting": groups,
        "drawn_digits": [
            {"file": p.name, "digit": d, "how": how, "now": int(a), "before": int(b)}
            for (p, d, how), a, b in zip(drawn, drawn_now, drawn_before, strict=True)
        ],
    }
    n_now = sum(r["now"] == r["digit"] for r in payload["drawn_digits"])
    n_before = sum(r["before"] == r["digit"] for r in payload["drawn_digits"])
    payload["drawn_right_now"], payload["drawn_right_before"] = n_now, n_before
    flags = ", ".join(cpu["flags"]) or "no avx512_bf16, no AMX"
    lines = [
        "# skmnist predict on MNIST test digits rendered as users' files",
        "",
        f"Machine: {cpu['model']} (family {cpu['family']}, {flags}; "
        f"{payload['machine']['cpu_count']} cores), GPU: {payload['machine']['gpu']}; "
        f"torch {payload['machine']['torch']}. Model: {data}.",
        "",
        f"{len(files):,} test digits (seed {args.seed}), each rendered as a file by "
        "`tests/digit_renders.py`.",
        "",
        "| reading | accuracy | share of the original accuracy |",
        "|---|---:|---:|",
        f"| original arrays | {100 * original:.2f} % | 100 % |",
        f"| `skmnist predict` on the files | {100 * rendered:.2f} % | "
        f"**{100 * rendered / original:.1f} %** |",
        f"| earlier reading (invert, pad, resize) | {100 * earlier:.2f} % | "
        f"{100 * earlier / original:.1f} % |",
        "",
        f"The command read {1000 * read_time / len(files):.1f} ms per file "
        "(decoding and normalisation, model loading and prediction included).",
        "",
        "## By setting (`skmnist predict`)",
        "",
        "| setting | files | accuracy |",
        "|---|---:|---:|",
        *(
            f"| {k} | {v['n']} | {100 * v['accuracy']:.1f} % |"
            for k, v in groups.items()
        ),
        "",
        "## 12 digits drawn with Pillow",
        "",
        f"Right now: **{n_now} of 12**; with the earlier reading: {n_before} of 12.",
        "",
        "| file | digit | drawn with | now | earlier reading |",
        "|---|---:|---|---:|---:|",
        *(
            f"| {r['file']} | {r['digit']} | {r['how']} | {r['now']} | {r['before']} |"
            for r in payload["drawn_digits"]
        ),
        "",
    ]
    words = cpu["model"].lower().replace("(r)", "").split()
    name = "user_images_" + next(
        (w for w in ("epyc", "xeon", "ryzen", "core") if w in words),
        words[0] if words else "cpu",
    )
    if data.startswith("embedded sample"):
        name += "_sample"
    write_results(name, payload, "\n".join(lines))


if __name__ == "__main__":
    main()
