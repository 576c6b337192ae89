"""Test accuracy of the large-batch configuration against the default batch.

The GPU guide recommends ``batch_size=1024, learning_rate_init=3e-3`` for
GPUs (fewer, larger steps keep them busy). This script checks what that
costs in accuracy: it trains the default pipeline (784-512-256-10, 20
epochs, cosine schedule) at batch 128 with lr 1e-3, and at each large-batch
setting, for ``--repeats`` seeds, on any device. The accuracy does not
depend on the device beyond float rounding (bf16 autocast on GPUs aside), so
a CPU run decides the configuration that ``gpu.py`` then times on a GPU.

Run: ``python benchmarks/large_batch.py [--device cpu] [--repeats 3]``.
Writes benchmarks/results/large_batch_<device>.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from _common import load_full_mnist, machine, write_results
from gpu import LARGE_BATCH, LARGE_LR, fit_runs

#: (batch size, learning rate) pairs: the default, the recommended large
#: batch, and two alternatives around it.
CONFIGS = [(128, 1e-3), (LARGE_BATCH, LARGE_LR), (1024, 2e-3), (2048, 4e-3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    args.hidden = (512, 256)

    X_train, y_train, X_test, y_test = load_full_mnist()
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    rows = []
    for batch_size, lr in CONFIGS:
        result, _ = fit_runs(args, X_train, y_train, X_test, y_test, batch_size, lr)
        rows.append(result)

    payload = {"machine": machine(), "config": vars(args), "runs": rows}
    lines = [
        f"# Large-batch configurations on full MNIST ({args.device})",
        "",
        f"Machine: {payload['machine']['cpu']}, GPU: {payload['machine']['gpu']}; "
        f"torch {payload['machine']['torch']}. Default pipeline (784-512-256-10, "
        f"Adam, cosine schedule, {args.epochs} epochs), seeds 0-{args.repeats - 1}.",
        "",
        "| batch size | learning_rate_init | test accuracy by seed | mean | "
        "median fit (s) |",
        "|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        accuracies = row["accuracies"]
        lines.append(
            f"| {row['batch_size']} | {row['learning_rate_init']:g} | "
            + ", ".join(f"{100 * a:.2f} %" for a in accuracies)
            + f" | {100 * statistics.mean(accuracies):.2f} % | "
            f"{row['median_fit_s']:.1f} |"
        )
    write_results(f"large_batch_{args.device}", payload, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
