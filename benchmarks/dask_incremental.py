"""Out-of-core training with dask-ml's Incremental against a plain fit.

The official MNIST training images are written as an uncompressed IDX file
and read by :func:`skmnist.parallel.read_idx_dask` in blocks of
``--chunk-rows`` rows, so no worker ever holds the whole training set.
``Incremental`` calls ``partial_fit`` block by block on a real
``dask.distributed`` LocalCluster (2 worker processes), for ``--passes``
passes in shuffled block order. The same network fitted in memory with
``fit`` for the same number of epochs is the reference. Test accuracy is on
the official 10,000 test images.

Run: ``python benchmarks/dask_incremental.py`` (reads ../shared/data/mnist or
$SKMNIST_DATA/mnist). Writes benchmarks/results/dask_incremental.{json,md}.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import load_full_mnist, machine, write_results

from skmnist import MLPDigitClassifier
from skmnist.datasets import write_idx
from skmnist.parallel import dask_predict, read_idx_dask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    args = parser.parse_args()
    import dask.array as da
    from dask_ml.wrappers import Incremental
    from distributed import Client, LocalCluster

    X_train, y_train, X_test, y_test = load_full_mnist()
    X_test = (X_test / 255.0).astype(np.float32)
    settings = {"random_state": 0, "device": "cpu"}
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        images = Path(folder) / "train-images-idx3-ubyte"
        labels = Path(folder) / "train-labels-idx1-ubyte"
        write_idx(images, X_train.reshape(-1, 28, 28))
        write_idx(labels, y_train.astype(np.uint8))
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster),
        ):
            X = (read_idx_dask(images, chunk_rows=args.chunk_rows) / 255.0).astype(
                np.float32
            )
            y = read_idx_dask(labels, chunk_rows=args.chunk_rows)
            incremental = Incremental(
                MLPDigitClassifier(
                    learning_rate="constant", keep_optimizer_state=True, **settings
                ),
                shuffle_blocks=True,
                random_state=0,
            )
            started = time.perf_counter()
            for _ in range(args.passes):
                incremental.partial_fit(X, y, classes=np.arange(10))
            model = incremental.estimator_
            runs["Incremental (dask-ml), constant lr"] = {
                "wall_s": round(time.perf_counter() - started, 1),
                "test_accuracy": float(
                    (
                        dask_predict(
                            model, da.from_array(X_test, chunks=5000)
                        ).compute()
                        == y_test
                    ).mean()
                ),
                "epochs": model.n_iter_,
            }
    X_mem = (X_train / 255.0).astype(np.float32)
    for schedule in ("constant", "cosine"):
        started = time.perf_counter()
        plain = MLPDigitClassifier(
            max_iter=args.passes, learning_rate=schedule, **settings
        ).fit(X_mem, y_train)
        runs[f"fit in memory, {schedule} lr"] = {
            "wall_s": round(time.perf_counter() - started, 1),
            "test_accuracy": float(plain.score(X_test, y_test)),
            "epochs": plain.n_iter_,
        }
    for name, run in runs.items():
        print(name, run, flush=True)
    info = machine()
    payload = {"machine": info, "passes": args.passes, "chunk_rows": args.chunk_rows}
    payload["runs"] = runs
    lines = [
        "# Out-of-core training with dask-ml Incremental",
        "",
        f"Machine: {info['cpu']} ({info['cpu_count']} cores), torch {info['torch']}.",
        f"Default network (512-256), Adam 1e-3, batch 128; {args.passes} passes "
        f"over the 60,000 official training images in blocks of {args.chunk_rows} "
        "rows; accuracy on the 10,000 official test images. The Incremental run "
        "trains on a LocalCluster of 2 single-threaded worker processes, one "
        "block at a time.",
        "",
        "| training | test accuracy | epochs (partial_fit calls for Incremental) "
        "| wall time (s) |",
        "|---|---|---|---|",
    ]
    for name, run in runs.items():
        lines.append(
            f"| {name} | {run['test_accuracy']:.4f} | {run['epochs']} "
            f"| {run['wall_s']} |"
        )
    lines.append("")
    write_results("dask_incremental", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
