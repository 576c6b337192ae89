"""Regenerate the MNIST sample shipped in skmnist/datasets/data/mnist_sample.npz.

The sample is real MNIST: 500 training images per digit, taken from the
official training file, and 100 test images per digit, from the official test
file. For each split and digit, ``numpy.random.RandomState(0)`` chooses the
images among those of that digit; the chosen images are kept in their original
order. The official files are checked against their md5 before use.

The output is byte-for-byte reproducible: the npz archive is written with fixed
timestamps, so running this script again on the official files gives the same
file (for a given zlib).

Usage::

    python benchmarks/make_sample.py [--mnist-dir DIR] [--output FILE]

``--mnist-dir`` defaults to ``../shared/data/mnist`` next to the repository.
"""

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from skmnist.datasets import load_mnist
from skmnist.datasets._sample import PER_CLASS, SAMPLE_FILE, SPLITS

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"
DEFAULT_OUTPUT = REPO / "skmnist" / "datasets" / "data" / SAMPLE_FILE
SEED = 0
# Any fixed date works; zip cannot store dates before 1980.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def choose_indices(labels: np.ndarray, per_class: int, seed: int = SEED) -> np.ndarray:
    """Indices of ``per_class`` images of each digit, in increasing order."""
    chosen = []
    for digit in range(10):
        candidates = np.flatnonzero(labels == digit)
        # RandomState, not default_rng: its streams are frozen across NumPy versions.
        rng = np.random.RandomState(seed)
        chosen.append(rng.choice(candidates, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``numpy.savez_compressed``, with reproducible bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            archive.writestr(
                info,
                buffer.getvalue(),
                compress_type=zipfile.ZIP_DEFLATED,
                compresslevel=9,
            )


def make_sample(mnist_dir: Path) -> dict[str, np.ndarray]:
    """The arrays of the sample, read from the official files in ``mnist_dir``."""
    arrays = {}
    for split in SPLITS:
        mnist = load_mnist(mnist_dir, subset=split, source="idx", md5_check=True)
        labels = mnist.target.astype(np.uint8)
        indices = choose_indices(labels, PER_CLASS[split])
        arrays[f"images_{split}"] = mnist.images[indices]
        arrays[f"labels_{split}"] = labels[indices]
        arrays[f"indices_{split}"] = indices.astype(np.uint16)
    return arrays


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-dir", type=Path, default=DEFAULT_MNIST_DIR)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    arrays = make_sample(args.mnist_dir)
    write_npz(args.output, arrays)
    md5 = hashlib.md5(args.output.read_bytes()).hexdigest()
    sizes = ", ".join(f"{key} {array.shape}" for key, array in arrays.items())
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes, md5 {md5})")
    print(sizes)


if __name__ == "__main__":
    main()
