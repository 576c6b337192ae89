"""How close skmnist's training loop comes to this machine's matrix-multiply speed.

Measures, in one run:

1. torch's GFLOP/s on exactly the matrix products of one training step of the
   reference network (784-256-10, batch 128): the forward products, the
   weight gradients and the hidden-layer input gradient, each in the dtype
   the fit multiplies it in. With ``precision`` float32 that is all sgemm;
   where the fit takes the bfloat16 hand step (``precision="auto"`` on a CPU
   with AMX or avx512_bf16, or ``"bfloat16"``), the hidden layer's forward
   and weight-gradient products run in bfloat16 and the output layer's
   (ten logits) in float32, so the peak is that mix's. The all-float32 sgemm
   rate is reported too;
2. the FLOP rate skmnist's training loop achieves on full MNIST with the same
   network (those products' FLOPs per step times steps, over the fit time);
3. the ratio of the two: the fraction of the attainable rate, for the
   precision the fit used, that the whole loop (indexing, activations, loss,
   optimizer, Python) delivers.

Run: ``python benchmarks/cpu_efficiency.py [--epochs 3] [--precision auto]
[--tag _name]``. Writes benchmarks/results/cpu_efficiency<tag>.{json,md}.
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
from skmnist._training.precision import hand_step_dtype

BATCH, SIZES = 128, (784, 256, 10)


def step_products(batch: int = BATCH) -> list[tuple[int, int, int, bool]]:
    """(m, k, n, hidden) of every matrix product in one step of the network.

    ``hidden`` marks the products of hidden layers, which the bfloat16 hand
    step multiplies in bfloat16 (the output layer's stay float32, and so does
    the gradient flowing from it into the last hidden layer).
    """
    products = []
    last = len(SIZES) - 2
    for layer, (n_in, n_out) in enumerate(pairwise(SIZES)):
        hidden = layer < last
        products.append((batch, n_in, n_out, hidden))  # forward
        products.append((n_out, batch, n_in, hidden))  # weight gradient
    for layer, (n_in, n_out) in enumerate(pairwise(SIZES[1:])):
        # input gradient of hidden layers: bfloat16 below the last one
        products.append((batch, n_out, n_in, layer < last - 1))
    return products


def gemm_rate(
    products: list[tuple[int, int, int, bool]],
    low: torch.dtype | None = None,
    seconds: float = 2.0,
) -> float:
    """GFLOP/s of running the products back to back, as in a training step.

    With ``low`` (bfloat16), the hidden layers' products run in that dtype.
    """

    def operand(*shape, hidden):
        dtype = low if (low is not None and hidden) else torch.float32
        return torch.randn(*shape).to(dtype)

    operands = [
        (operand(m, k, hidden=hidden), operand(k, n, hidden=hidden))
        for m, k, n, hidden in products
    ]
    flops = sum(2 * m * k * n for m, k, n, _ in products)
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
    parser.add_argument("--precision", default="auto", help="the model's precision")
    parser.add_argument("--tag", default="", help="suffix of the results files")
    args = parser.parse_args()

    X_train, y_train, _, _ = load_full_mnist()
    X = PixelScaler().fit_transform(X_train)
    products = step_products()
    flops_per_step = sum(2 * m * k * n for m, k, n, _ in products)
    low = hand_step_dtype(args.precision, torch.device("cpu"), torch.float32)
    used = "bfloat16 hidden layers" if low is not None else "float32"
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
            precision=args.precision,
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model().fit(X[:5000], y_train[:5000])  # warm-up: threads, kernels

    peaks, sgemm, achieved = [], [], []
    for _ in range(args.repeats):
        sgemm.append(gemm_rate(products))
        peaks.append(sgemm[-1] if low is None else gemm_rate(products, low))
        clf = model()
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y_train)
        achieved.append(flops_per_step * steps / (time.perf_counter() - started) / 1e9)
        print(
            f"sgemm {sgemm[-1]:.1f}, {used} products {peaks[-1]:.1f}, "
            f"training loop {achieved[-1]:.1f} GFLOP/s"
        )

    peak, loop = float(np.median(peaks)), float(np.median(achieved))
    all_float32 = float(np.median(sgemm))
    payload = {
        "machine": machine(),
        "precision": args.precision,
        "products_in": used,
        "products_per_step": products,
        "flops_per_step": flops_per_step,
        "sgemm_gflops": sgemm,
        "peak_gflops": peaks,
        "median_peak_gflops": peak,
        "training_loop_gflops": achieved,
        "median_sgemm_gflops": all_float32,
        "median_training_loop_gflops": loop,
        "fraction_of_peak": loop / peak,
        "fraction_of_sgemm": loop / all_float32,
    }
    info = payload["machine"]
    text = "\n".join(
        [
            "# Training-loop efficiency on the CPU",
            "",
            f"Machine: {info['cpu']} ({info['cpu_count']} cores, "
            f"{info['torch_threads']} torch threads); torch {info['torch']}; "
            f"CPU flags: {info['cpu_flags']}.",
            "",
            f"precision={args.precision!r}: the fit multiplies in {used}.",
            "",
            f"Network 784-256-10, batch {BATCH}, Adam, {args.epochs} epochs of full "
            f"MNIST; medians of {args.repeats} alternating measurements, after a "
            "warm-up fit.",
            "",
            "| measure | GFLOP/s |",
            "|---|---:|",
            f"| torch sgemm on the step's matrix products | {all_float32:.1f} |",
            f"| the same products in the fit's dtypes ({used}) | {peak:.1f} |",
            f"| skmnist training loop (same FLOPs / fit time) | {loop:.1f} |",
            "",
            f"The training loop reaches **{100 * loop / peak:.0f} %** of the rate "
            f"of its own products ({used}; {100 * loop / all_float32:.0f} % of "
            "the float32 sgemm rate), ratio of the medians. Measurement by "
            "measurement: "
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
