"""GPU figures: fit wall time to a target accuracy, skorch ratio, predict throughput.

Measured in one process on the chosen device (default ``cuda``):

1. skmnist fit wall time of ``make_pipeline(PixelScaler(), MLPDigitClassifier(...))``
   on full MNIST after CUDA has been initialised (a warm-up fit runs first),
   and its test accuracy;
2. skorch's ``NeuralNetClassifier`` fitting the same network with the same
   optimizer, batch size and epochs on the same device, and the ratio;
3. ``predict_proba`` throughput in images/s from host NumPy arrays (the test
   set tiled to ``--predict-rows`` rows).

Run on a GPU machine: ``python benchmarks/gpu.py`` (options for the large-batch
recipe: ``--batch-size``, ``--epochs``, ``--lr``). A CPU smoke run:
``python benchmarks/gpu.py --device cpu --epochs 1 --predict-rows 20000``.
Writes benchmarks/results/gpu_<device>.{json,md}.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import numpy as np
import torch
from _common import load_full_mnist, machine, write_results
from sklearn.pipeline import make_pipeline
from torch import nn

from skmnist import MLPDigitClassifier, PixelScaler


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def skmnist_model(args: argparse.Namespace, seed: int):
    return make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(
            hidden_layer_sizes=args.hidden,
            batch_size=args.batch_size,
            max_iter=args.epochs,
            learning_rate_init=args.lr,
            random_state=seed,
            device=args.device,
        ),
    )


def skorch_model(args: argparse.Namespace):
    from skorch import NeuralNetClassifier

    layers: list[nn.Module] = []
    width = 784
    for size in args.hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, 10))
    return NeuralNetClassifier(
        nn.Sequential(*layers),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=args.lr,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        train_split=None,
        iterator_train__shuffle=True,
        device=args.device,
        verbose=0,
    )


def timed_fit(model, X, y, device: str) -> float:
    _sync(device)
    started = time.perf_counter()
    model.fit(X, y)
    _sync(device)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument(
        "--hidden", type=lambda s: tuple(map(int, s.split(","))), default=(512, 256)
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--predict-rows", type=int, default=5_000_000)
    parser.add_argument("--skip-skorch", action="store_true")
    args = parser.parse_args()

    X_train, y_train, X_test, y_test = load_full_mnist()
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    warm = skmnist_model(args, 0).set_params(mlpdigitclassifier__max_iter=1)
    warm.fit(X_train[:1024], y_train[:1024])  # CUDA context, kernels, allocator

    fits, accuracies = [], []
    for seed in range(args.repeats):
        model = skmnist_model(args, seed)
        fits.append(timed_fit(model, X_train, y_train, args.device))
        accuracies.append(model.score(X_test, y_test))
        print(f"skmnist seed {seed}: {fits[-1]:.2f} s, {accuracies[-1]:.4f}")

    skorch_time = skorch_accuracy = None
    if not args.skip_skorch:
        scaled = PixelScaler().fit(X_train)
        net = skorch_model(args)
        skorch_time = timed_fit(net, scaled.transform(X_train), y_train, args.device)
        skorch_accuracy = float(
            (net.predict(scaled.transform(X_test)) == y_test).mean()
        )
        print(f"skorch: {skorch_time:.2f} s, {skorch_accuracy:.4f}")

    rows = np.tile(X_test, (int(np.ceil(args.predict_rows / len(X_test))), 1))
    rows = PixelScaler().fit(X_train).transform(rows[: args.predict_rows])
    classifier = model[-1]
    classifier.predict_proba(rows[:10_000])  # warm-up
    throughputs = []
    for _ in range(3):
        _sync(args.device)
        started = time.perf_counter()
        classifier.predict_proba(rows)
        throughputs.append(len(rows) / (time.perf_counter() - started))

    fit_time = statistics.median(fits)
    payload = {
        "machine": machine(),
        "config": {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()
        },
        "skmnist_fit_times_s": fits,
        "skmnist_accuracies": accuracies,
        "skmnist_median_fit_s": fit_time,
        "skorch_fit_s": skorch_time,
        "skorch_accuracy": skorch_accuracy,
        "skorch_vs_skmnist": None if skorch_time is None else skorch_time / fit_time,
        "predict_proba_images_per_s": statistics.median(throughputs),
    }
    device_name = payload["machine"]["gpu"] or payload["machine"]["cpu"]
    lines = [
        f"# GPU benchmark on {device_name} ({args.device})",
        "",
        f"torch {payload['machine']['torch']}; network 784-"
        f"{'-'.join(map(str, args.hidden))}-10, batch {args.batch_size}, "
        f"{args.epochs} epochs, Adam lr {args.lr}; fit times after CUDA "
        "initialisation, medians of "
        f"{args.repeats} seeds.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| skmnist fit wall time | {fit_time:.2f} s |",
        f"| skmnist test accuracy (min over seeds) | {100 * min(accuracies):.2f} % |",
    ]
    if skorch_time is not None:
        lines += [
            f"| skorch fit wall time | {skorch_time:.2f} s |",
            f"| skorch / skmnist fit time | {skorch_time / fit_time:.1f}x |",
        ]
    lines += [
        f"| predict_proba from host numpy | "
        f"{payload['predict_proba_images_per_s']:,.0f} images/s |",
        "",
    ]
    slug = re.sub(r"[^A-Za-z0-9]+", "_", device_name).strip("_").lower()
    write_results(f"gpu_{slug}", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
