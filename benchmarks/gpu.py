"""GPU figures: fit wall time to a target accuracy, skorch ratio, predict throughput.

Measured in one process on the chosen device (default ``cuda``):

1. skmnist fit wall time of ``make_pipeline(PixelScaler(), MLPDigitClassifier(...))``
   on full MNIST after CUDA has been initialised (a warm-up fit runs first),
   and its test accuracy, for the default model (batch 128, 20 epochs) and
   for the large-batch recipe (``--large-batch-size``, ``--large-lr``: the
   same epochs in fewer, larger steps, which keep a GPU busier);
2. skorch's ``NeuralNetClassifier`` fitting the default model's network with
   the same optimizer, batch size and epochs on the same device, behind the
   same ``PixelScaler`` and after a warm-up fit of its own, and the ratio;
3. ``predict_proba`` throughput in images/s from host NumPy arrays (the test
   set tiled to ``--predict-rows`` rows), with scikit-learn's input check
   for NaN and infinity (a pass over all the data on the CPU) and without it
   (``sklearn.config_context(assume_finite=True)``).

Run on a GPU machine: ``python benchmarks/gpu.py``. A CPU smoke run:
``python benchmarks/gpu.py --device cpu --epochs 1 --repeats 1 --predict-rows 20000``.
Writes benchmarks/results/gpu_<device name>.{json,md}.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import numpy as np
import sklearn
import torch
from _common import load_full_mnist, machine, synchronize, write_results
from sklearn.pipeline import make_pipeline
from torch import nn

from skmnist import MLPDigitClassifier, PixelScaler

#: The large-batch recipe: the default model's epochs in steps of this many
#: images, at this learning rate (chosen on full MNIST; see the GPU guide).
LARGE_BATCH, LARGE_LR = 1024, 3e-3


def skmnist_model(args: argparse.Namespace, seed: int, batch_size: int, lr: float):
    return make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(
            hidden_layer_sizes=args.hidden,
            batch_size=batch_size,
            max_iter=args.epochs,
            learning_rate_init=lr,
            random_state=seed,
            device=args.device,
        ),
    )


def skorch_model(args: argparse.Namespace, epochs: int):
    """skorch behind the same PixelScaler, so both timings include the scaling."""
    from skorch import NeuralNetClassifier

    layers: list[nn.Module] = []
    width = 784
    for size in args.hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, 10))
    net = NeuralNetClassifier(
        nn.Sequential(*layers),
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=args.lr,
        batch_size=args.batch_size,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        device=args.device,
        verbose=0,
    )
    return make_pipeline(PixelScaler(), net)


def timed_fit(model, X, y, device: str) -> float:
    synchronize(device)
    started = time.perf_counter()
    model.fit(X, y)
    synchronize(device)
    return time.perf_counter() - started


def predict_throughput(classifier, rows, device: str, check_finite: bool) -> float:
    """Median images/s of three ``predict_proba`` calls over ``rows``."""
    rates = []
    with sklearn.config_context(assume_finite=not check_finite):
        for _ in range(3):
            synchronize(device)
            started = time.perf_counter()
            classifier.predict_proba(rows)
            rates.append(len(rows) / (time.perf_counter() - started))
    return statistics.median(rates)


def warm_up(args: argparse.Namespace, X, y) -> float:
    """One short fit that starts CUDA (context, kernels, allocator); its seconds.

    Run it before the timed fits, so that they measure training alone.
    """
    model = skmnist_model(args, 0, args.batch_size, args.lr)
    model.set_params(mlpdigitclassifier__max_iter=1)
    return timed_fit(model, X[:1024], y[:1024], args.device)


def tiled_rows(X_train, X_test, n_rows: int) -> np.ndarray:
    """The test set tiled to ``n_rows`` rows, scaled as the pipelines scale it."""
    rows = np.tile(X_test, (int(np.ceil(n_rows / len(X_test))), 1))
    return PixelScaler().fit(X_train).transform(rows[:n_rows])


def fit_runs(args, X_train, y_train, X_test, y_test, batch_size, lr):
    """Fit times and test accuracies of ``--repeats`` seeds of one skmnist config.

    Returns the results and the last seed's fitted pipeline.
    """
    fits, accuracies = [], []
    for seed in range(args.repeats):
        model = skmnist_model(args, seed, batch_size, lr)
        fits.append(timed_fit(model, X_train, y_train, args.device))
        accuracies.append(model.score(X_test, y_test))
        print(
            f"skmnist batch {batch_size} seed {seed}: {fits[-1]:.2f} s, "
            f"{accuracies[-1]:.4f}",
            flush=True,
        )
    return {
        "batch_size": batch_size,
        "learning_rate_init": lr,
        "fit_times_s": fits,
        "accuracies": accuracies,
        "median_fit_s": statistics.median(fits),
    }, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument(
        "--hidden", type=lambda s: tuple(map(int, s.split(","))), default=(512, 256)
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--large-batch-size", type=int, default=LARGE_BATCH)
    parser.add_argument("--large-lr", type=float, default=LARGE_LR)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--predict-rows", type=int, default=5_000_000)
    parser.add_argument("--skip-skorch", action="store_true")
    args = parser.parse_args()

    X_train, y_train, X_test, y_test = load_full_mnist()
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    warm_up(args, X_train, y_train)

    data = (X_train, y_train, X_test, y_test)
    configs = {}
    configs["default"], model = fit_runs(args, *data, args.batch_size, args.lr)
    configs["large batch"], _ = fit_runs(
        args, *data, args.large_batch_size, args.large_lr
    )
    fit_time = configs["default"]["median_fit_s"]

    skorch_time = skorch_accuracy = None
    if not args.skip_skorch:
        skorch_model(args, epochs=1).fit(X_train[:1024], y_train[:1024])  # warm-up
        net = skorch_model(args, args.epochs)
        skorch_time = timed_fit(net, X_train, y_train, args.device)
        skorch_accuracy = float((net.predict(X_test) == y_test).mean())
        print(f"skorch: {skorch_time:.2f} s, {skorch_accuracy:.4f}")

    rows = tiled_rows(X_train, X_test, args.predict_rows)
    classifier = model[-1]  # the default config's last seed
    classifier.predict_proba(rows[:10_000])  # warm-up
    throughputs = {
        checked: predict_throughput(classifier, rows, args.device, checked)
        for checked in (True, False)
    }

    payload = {
        "machine": machine(),
        "config": {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()
        },
        "skmnist": configs,
        "skorch_fit_s": skorch_time,
        "skorch_accuracy": skorch_accuracy,
        "skorch_vs_skmnist": None if skorch_time is None else skorch_time / fit_time,
        "predict_proba_images_per_s": throughputs[True],
        "predict_proba_images_per_s_assume_finite": throughputs[False],
    }
    device_name = payload["machine"]["gpu"] or payload["machine"]["cpu"]
    lines = [
        f"# GPU benchmark on {device_name} ({args.device})",
        "",
        f"torch {payload['machine']['torch']}; network 784-"
        f"{'-'.join(map(str, args.hidden))}-10, {args.epochs} epochs, Adam with "
        "skmnist's default cosine schedule; fit times after CUDA initialisation, "
        f"medians of {args.repeats} seeds, each including PixelScaler. skmnist "
        "trains in bf16 autocast where the GPU has native bf16; skorch in float32.",
        "",
        "| measure | value |",
        "|---|---:|",
    ]
    for name, config in configs.items():
        lines += [
            f"| skmnist {name} (batch {config['batch_size']}, lr "
            f"{config['learning_rate_init']:g}): fit wall time | "
            f"{config['median_fit_s']:.2f} s |",
            f"| skmnist {name}: test accuracy (min over seeds) | "
            f"{100 * min(config['accuracies']):.2f} % |",
        ]
    if skorch_time is not None:
        lines += [
            f"| skorch (batch {args.batch_size}, lr {args.lr:g}) fit wall time | "
            f"{skorch_time:.2f} s |",
            f"| skorch test accuracy | {100 * skorch_accuracy:.2f} % |",
            f"| skorch / skmnist default fit time | {skorch_time / fit_time:.1f}x |",
        ]
    lines += [
        f"| predict_proba from host numpy | {throughputs[True]:,.0f} images/s |",
        "| same, with scikit-learn's finiteness check off (assume_finite=True) | "
        f"{throughputs[False]:,.0f} images/s |",
        "",
    ]
    slug = re.sub(r"[^A-Za-z0-9]+", "_", device_name).strip("_").lower()
    write_results(f"gpu_{slug}", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
