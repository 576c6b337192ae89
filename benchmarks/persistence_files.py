"""Size and load time of secure model files, against a joblib pickle.

Trains the default pipeline (``PixelScaler`` then a 784-512-256-10
``MLPDigitClassifier``) on the embedded 5,000-image MNIST sample and, with
``--full`` when the official files are there, for one epoch on full MNIST
(a file's size does not depend on the number of epochs or images: it holds
the same weights). Then it saves each model with
:func:`skmnist.persistence.save_model`, with :func:`skops.io.dump`
compressed (``ZIP_DEFLATED``, which ``load_model`` refuses) and with
:func:`joblib.dump`, and times :func:`~skmnist.persistence.load_model`,
:func:`skops.io.load` of the compressed file and :func:`joblib.load`,
interleaved, in this process (warm: the libraries are imported).

Run: ``python benchmarks/persistence_files.py [--full] [--repeats 15]``.
Writes benchmarks/results/persistence_files.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import joblib
import skops.io
from _common import load_full_mnist, machine, mnist_dir, write_results
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist
from skmnist.persistence import TRUSTED_TYPES, load_model, save_model


def cpu_flags() -> str:
    """The CPU's family and its bf16/AMX flags, from /proc/cpuinfo."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown"
    values = {}
    for line in lines:  # the first CPU's fields
        key, _, value = line.partition(":")
        values.setdefault(key.strip(), value.strip())
    family, flags = values.get("cpu family", "?"), values.get("flags", "").split()
    wanted = [f for f in flags if "bf16" in f or f.startswith("amx")]
    return f"family {family}, flags: {', '.join(wanted) or 'no bf16, no AMX'}"


def measure(model, folder: Path, repeats: int) -> dict:
    secure, pickle = folder / "model.skmnist", folder / "model.joblib"
    deflated = folder / "deflated.skops"
    save_model(model, secure)
    skops.io.dump(model, deflated, compression=zipfile.ZIP_DEFLATED)
    joblib.dump(model, pickle)
    times = {"load_model": [], "skops.io.load, deflated": [], "joblib.load": []}
    for _ in range(repeats):  # interleaved: the machine's noise hits all
        for name, load, path in [
            ("load_model", lambda p: load_model(p, device="cpu"), secure),
            (
                "skops.io.load, deflated",
                lambda p: skops.io.load(p, trusted=TRUSTED_TYPES),
                deflated,
            ),
            ("joblib.load", joblib.load, pickle),
        ]:
            started = time.perf_counter()
            load(path)
            times[name].append(time.perf_counter() - started)
    return {
        "size_bytes": {
            "save_model": secure.stat().st_size,
            "skops.io.dump, deflated": deflated.stat().st_size,
            "joblib.dump": pickle.stat().st_size,
        },
        "median_load_s": {k: statistics.median(v) for k, v in times.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also full MNIST")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    data = {"sample": load_mnist(source="sample", return_X_y=True)}
    if args.full and (mnist_dir() / "train-images-idx3-ubyte.gz").exists():
        X_train, y_train, _, _ = load_full_mnist()
        data["full MNIST, 1 epoch"] = (X_train, y_train)
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (X, y) in data.items():
            clf = MLPDigitClassifier(random_state=0, device="cpu")
            if name != "sample":
                clf.set_params(max_iter=1)
            model = make_pipeline(PixelScaler(), clf).fit(X, y)
            runs[name] = measure(model, Path(folder), args.repeats)

    payload = {"machine": machine(), "cpu_flags": cpu_flags(), "runs": runs}
    lines = [
        "# Secure model files: size and load time",
        "",
        f"Machine: {payload['machine']['cpu']} ({payload['cpu_flags']}); torch "
        f"{payload['machine']['torch']}. Default pipeline (784-512-256-10), "
        f"median of {args.repeats} interleaved loads in one process, on the CPU.",
        "",
        "| trained on | file | size | median load |",
        "|---|---|---:|---:|",
    ]
    for name, run in runs.items():
        size, load = run["size_bytes"], run["median_load_s"]
        for (writer, nbytes), seconds in zip(size.items(), load.values(), strict=True):
            lines.append(
                f"| {name} | {writer} | {nbytes:,} B | {1000 * seconds:.1f} ms |"
            )
    write_results("persistence_files", payload, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
