"""How close skmnist's training loop comes to this machine's matrix-multiply speed.

Measures, in one run:

1. torch's sgemm GFLOP/s on exactly the matrix products of one training step
   of the reference network (784-256-10, batch 128): the forward products, the
   weight gradients and the hidden-layer input gradient;
2. the FLOP rate skmnist's training loop achieves on full MNIST with the same
   network (those products' FLOPs per step times steps, over the fit time);
3. the ratio of the two: the fraction of the attainable sgemm rate the whole
   loop (indexing, activations, loss, optimizer, Python) delivers.

Run: ``python benchmarks/cpu_efficiency.py [--epochs 3] [--tag _name]``. Writes
benchmarks/results/cpu_efficiency<tag>.{json,md}.
"""

from __future__ import annotations

import argparse
import time
import warnings
from itertools import pairwise

import numpy as np
import torch
from _common import load_full_mnist, machine, write_results
from sklearn.exceptions import ConvergenceWarning

from skmnist import MLPDigitClassifier, PixelScaler

BATCH, SIZES = 128, (784, 256, 10)


def step_products(batch: int = BATCH) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product in one training step of the network."""
    products = []
    for n_in, n_out in pairwise(SIZES):
        products.append((batch, n_in, n_out))  # forward
        products.append((n_out, batch, n_in))  # weight gradient
    for n_in, n_out in pairwise(SIZES[1:]):
        products.append((batch, n_out, n_in))  # input gradient of hidden layers
    return products


def sgemm_rate(products: list[tuple[int, int, int]], seconds: float = 2.0) -> float:
    """GFLOP/s of running the products back to back, as in a training step."""
    operands = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in products]
    flops = sum(2 * m * k * n for m, k, n in products)
    for a, b in operands * 20:  # warm up threads and kernels
        torch.mm(a, b)
    repeats, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for a, b in operands:
            torch.mm(a, b)
        repeats += 1
    return flops * repeats / (time.perf_counter() - started) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tag", default="", help="suffix of the results files")
    args = parser.parse_args()

    X_train, y_train, _, _ = load_full_mnist()
    X = PixelScaler().fit_transform(X_train)
    products = step_products()
    flops_per_step = sum(2 * m * k * n for m, k, n in products)
    steps = args.epochs * int(np.ceil(len(X) / BATCH))

    def model() -> MLPDigitClassifier:
        return MLPDigitClassifier(
            hidden_layer_sizes=SIZES[1:-1],
            learning_rate="constant",
            batch_size=BATCH,
            max_iter=args.epochs,
            alpha=0.0,
            n_iter_no_change=np.inf,
            random_state=0,
            device="cpu",
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model().fit(X[:5000], y_train[:5000])  # warm-up: threads, kernels

    peaks, achieved = [], []
    for _ in range(args.repeats):
        peaks.append(sgemm_rate(products))
        clf = model()
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y_train)
        achieved.append(flops_per_step * steps / (time.perf_counter() - started) / 1e9)
        print(
            f"sgemm {peaks[-1]:.1f} GFLOP/s, training loop {achieved[-1]:.1f} GFLOP/s"
        )

    peak, loop = float(np.median(peaks)), float(np.median(achieved))
    payload = {
        "machine": machine(),
        "products_per_step": products,
        "flops_per_step": flops_per_step,
        "sgemm_gflops": peaks,
        "training_loop_gflops": achieved,
        "median_sgemm_gflops": peak,
        "median_training_loop_gflops": loop,
        "fraction_of_sgemm": loop / peak,
    }
    info = payload["machine"]
    text = "\n".join(
        [
            "# Training-loop efficiency on the CPU",
            "",
            f"Machine: {info['cpu']} ({info['cpu_count']} cores, "
            f"{info['torch_threads']} torch threads); torch {info['torch']}.",
            "",
            f"Network 784-256-10, batch {BATCH}, Adam, {args.epochs} epochs of full "
            f"MNIST; medians of {args.repeats} alternating measurements, after a "
            "warm-up fit.",
            "",
            "| measure | GFLOP/s |",
            "|---|---:|",
            f"| torch sgemm on the step's matrix products | {peak:.1f} |",
            f"| skmnist training loop (same FLOPs / fit time) | {loop:.1f} |",
            "",
            f"The training loop reaches **{100 * loop / peak:.0f} %** of that rate "
            "(ratio of the medians). Measurement by measurement: "
            + ", ".join(
                f"{100 * a / p:.0f} %" for a, p in zip(achieved, peaks, strict=True)
            )
            + ".",
            "",
        ]
    )
    write_results(f"cpu_efficiency{args.tag}", payload, text)


if __name__ == "__main__":
    main()
