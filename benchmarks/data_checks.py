"""The cost of skmnist's data checks on full MNIST: file md5s and pixel ranges.

1. ``load_mnist`` identifies every IDX file by its md5, computed while the file
   is read (of the compressed bytes for the official ``.gz`` files). Timed:
   reading the four official files with and without the md5, and, for scale,
   a second pass that would hash the 47 MB of uncompressed images.
2. ``PixelScaler`` checks the range of its input (one minimum and one maximum)
   in ``fit`` and ``transform``. Timed: ``transform`` of the 70,000 images with
   the check and with the check switched off.

Each pair is timed in turn (A B A B ...), so that a drift of the machine's
speed hits both; the medians and the median of the pairwise ratios are
reported. Run from the repository root::

    python benchmarks/data_checks.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from unittest import mock

import numpy as np
from _common import machine, mnist_dir, write_results

from skmnist import PixelScaler
from skmnist.datasets import load_mnist, read_idx
from skmnist.datasets._catalog import IDX_FILES
from skmnist.datasets._idx import _read_idx_md5, idx_md5


def _cpu_details() -> str:
    """The CPU family and whether it has bfloat16 (avx512_bf16) and AMX."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "family unknown"
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    bf16 = "avx512_bf16" if "avx512_bf16" in flags else "no avx512_bf16"
    amx = "AMX" if any(flag.startswith("amx") for flag in flags) else "no AMX"
    return f"family {fields.get('cpu family', '?')}, {bf16}, {amx}"


def _paired(a, b, repeats: int) -> dict:
    """Median seconds of ``a`` and ``b``, timed in turn, and their median ratio."""
    times_a, times_b = [], []
    a(), b()  # warm the page cache and the code paths
    for _ in range(repeats):
        for fn, times in ((a, times_a), (b, times_b)):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
    ratios = [x / y for x, y in zip(times_a, times_b, strict=True)]
    return {
        "a_median_s": statistics.median(times_a),
        "b_median_s": statistics.median(times_b),
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    folder = mnist_dir()
    paths = [folder / f"{name}.gz" for names in IDX_FILES.values() for name in names]

    def read_hashed():
        for path in paths:
            _read_idx_md5(path)

    def read_plain():
        for path in paths:
            read_idx(path)

    images = read_idx(folder / "train-images-idx3-ubyte.gz")
    md5 = _paired(read_hashed, read_plain, args.repeats)
    second_pass = _paired(lambda: idx_md5(images), read_plain, args.repeats)

    X, _ = load_mnist(folder, subset="all", source="idx", return_X_y=True)
    scaler = PixelScaler().fit(X)

    def transform_unchecked():
        with mock.patch.object(PixelScaler, "_transform_problem", return_value=None):
            scaler.transform(X)

    scale = _paired(lambda: scaler.transform(X), transform_unchecked, args.repeats)

    payload = {
        "machine": {**machine(), "cpu_details": _cpu_details()},
        "repeats": args.repeats,
        "md5_while_reading": md5,
        "second_pass_md5_of_train_images_vs_reading": second_pass,
        "pixel_scaler_transform_checked_vs_unchecked": scale,
        "n_images": len(X),
        "dtype": str(np.asarray(X).dtype),
    }
    markdown = f"""# Cost of the data checks on full MNIST

Machine: {payload["machine"]["cpu"]} ({payload["machine"]["cpu_details"]}), \
{payload["machine"]["cpu_count"]} cores.
{args.repeats} paired repeats (A and B in turn); medians.

| check | with | without | ratio (median, min-max) |
|---|---|---|---|
| md5 while reading the 4 official .gz files | {md5["a_median_s"]:.3f} s \
| {md5["b_median_s"]:.3f} s | {md5["ratio_median"]:.3f} \
({md5["ratio_min"]:.3f}-{md5["ratio_max"]:.3f}) |
| PixelScaler.transform, 70,000 uint8 images, range check | \
{scale["a_median_s"]:.3f} s | {scale["b_median_s"]:.3f} s \
| {scale["ratio_median"]:.3f} ({scale["ratio_min"]:.3f}-{scale["ratio_max"]:.3f}) |

For scale: a second pass hashing the 47 MB of uncompressed training images
takes {second_pass["a_median_s"]:.3f} s, {second_pass["ratio_median"]:.2f} times
the reading of all four files ({second_pass["b_median_s"]:.3f} s); hashing the
compressed bytes while reading them avoids it.
"""
    write_results("data_checks_cpu", payload, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
