"""Side by side: skmnist, scikit-learn's MLPClassifier, skorch and a plain torch loop.

All four train the same network (784-256-10, ReLU, Adam at 1e-3, batch 128,
5 epochs, no L2 penalty, no early stopping) on full MNIST scaled to [0, 1] as
float32, in one process, repeats interleaved, after one warm-up fit each on
5,000 images. Reported per contender: median fit time, predict throughput
(images/s through predict_proba on the 10,000 test images), test accuracy,
the peak resident memory a fit adds (one fit per contender in a fresh
process, above the loaded data), and the ratio of each median fit time to
skmnist's.

Run: ``python benchmarks/compare.py [--repeats 3] [--device cpu] [--tag _name]``.
Needs the bench extra (skorch, psutil). Writes
benchmarks/results/compare_<device><tag>.{json,md}; a tag such as ``_epyc``
keeps the results of several machines side by side.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import psutil
import torch
from _common import load_full_mnist, machine, synchronize, write_results
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from torch import nn

from skmnist import MLPDigitClassifier, PixelScaler

HIDDEN, EPOCHS, BATCH, LR = 256, 5, 128, 1e-3


class PeakRSS:
    """Peak resident memory above the level at entry, sampled every 5 ms."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0

    def __enter__(self) -> PeakRSS:
        self.base = self.process.memory_info().rss
        self.peak = self.base
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()

    @property
    def extra_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def _network(n_features: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_features, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10)
    )


class TorchLoop:
    """The hand-written baseline: tensors in memory, shuffled index minibatches."""

    def __init__(self, device: str, seed: int) -> None:
        self.device, self.seed = torch.device(device), seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> TorchLoop:
        torch.manual_seed(self.seed)
        X_t = torch.from_numpy(X).to(self.device)
        y_t = torch.from_numpy(y.astype(np.int64)).to(self.device)
        self.model = _network(X.shape[1]).to(self.device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=LR)
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(EPOCHS):
            order = torch.randperm(len(X_t), device=self.device)
            for start in range(0, len(X_t), BATCH):
                index = order[start : start + BATCH]
                loss = loss_fn(self.model(X_t[index]), y_t[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return self

    @torch.inference_mode()
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        logits = self.model(torch.from_numpy(X).to(self.device))
        return torch.softmax(logits, dim=1).cpu().numpy()


def contenders(device: str, seed: int) -> dict:
    from skorch import NeuralNetClassifier

    return {
        "skmnist": lambda: MLPDigitClassifier(
            hidden_layer_sizes=(HIDDEN,),
            solver="adam",
            learning_rate="constant",
            learning_rate_init=LR,
            batch_size=BATCH,
            max_iter=EPOCHS,
            alpha=0.0,
            n_iter_no_change=np.inf,
            random_state=seed,
            device=device,
        ),
        "sklearn MLPClassifier": lambda: MLPClassifier(
            hidden_layer_sizes=(HIDDEN,),
            solver="adam",
            learning_rate_init=LR,
            batch_size=BATCH,
            max_iter=EPOCHS,
            alpha=0.0,
            n_iter_no_change=EPOCHS + 1,
            random_state=seed,
        ),
        "skorch": lambda: NeuralNetClassifier(
            _network(784),
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            lr=LR,
            batch_size=BATCH,
            max_epochs=EPOCHS,
            train_split=None,
            iterator_train__shuffle=True,
            device=device,
            verbose=0,
        ),
        "plain torch loop": lambda: TorchLoop(device, seed),
    }


def scaled_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X_train, y_train, X_test, y_test = load_full_mnist()
    scaler = PixelScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64)


def peak_memory_in_fresh_process(name: str, device: str) -> tuple[float, float]:
    """Peak extra RSS and peak GPU memory (MB) of one fit, in a new process.

    A new process has nothing cached yet. On a GPU its CUDA context is created
    before the measurement starts, so that the RSS counts the fit, not the
    CUDA libraries.
    """
    output = subprocess.run(
        [sys.executable, __file__, "--device", device, "--memory-of", name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rss, gpu = output.strip().splitlines()[-1].split()
    return float(rss), float(gpu)


def measure_memory(model, X: np.ndarray, y: np.ndarray, device: str) -> None:
    """Print the peak extra RSS and peak GPU memory (MB) of ``model.fit``."""
    on_gpu = device.startswith("cuda")
    if on_gpu:
        (torch.ones(8, 8, device=device) @ torch.ones(8, 8, device=device)).sum()
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    with warnings.catch_warnings(), PeakRSS() as memory:
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
        synchronize(device)
    gpu = torch.cuda.max_memory_allocated(device) / 2**20 if on_gpu else 0.0
    print(memory.extra_mb, gpu)


def _spread(ratios: list[float]) -> str:
    """``median; min-max`` of a contender's per-repeat fit-time ratios."""
    return f"{statistics.median(ratios):.2f}x; {min(ratios):.2f}-{max(ratios):.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tag", default="", help="suffix of the results files")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args()

    X_train, y_train, X_test, y_test = scaled_mnist()
    makers = contenders(args.device, seed=0)
    if args.memory_of:  # child process of peak_memory_in_fresh_process
        measure_memory(makers[args.memory_of](), X_train, y_train, args.device)
        return

    with warnings.catch_warnings():  # one-time costs (threads, kernels) go here
        warnings.simplefilter("ignore", ConvergenceWarning)
        for make in makers.values():
            make().fit(X_train[:5000], y_train[:5000])

    runs: dict[str, list[dict]] = {name: [] for name in makers}
    for repeat in range(args.repeats):
        for name, make in makers.items():
            model = make()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                synchronize(args.device)
                started = time.perf_counter()
                model.fit(X_train, y_train)
                synchronize(args.device)
                fit_time = time.perf_counter() - started
            started = time.perf_counter()
            proba = model.predict_proba(X_test)
            synchronize(args.device)
            predict_time = time.perf_counter() - started
            accuracy = float((proba.argmax(axis=1) == y_test).mean())
            runs[name].append(
                {
                    "fit_time_s": fit_time,
                    "predict_images_per_s": len(X_test) / predict_time,
                    "accuracy": accuracy,
                }
            )
            print(f"repeat {repeat} {name}: {runs[name][-1]}", flush=True)

    summary = {}
    for name, results in runs.items():
        summary[name] = {
            key: statistics.median(r[key] for r in results) for key in results[0]
        }
    for name in makers:
        rss, gpu = peak_memory_in_fresh_process(name, args.device)
        summary[name]["peak_extra_rss_mb"] = rss
        summary[name]["peak_gpu_memory_mb"] = gpu
    reference = summary["skmnist"]["fit_time_s"]
    for name, values in summary.items():
        values["fit_time_vs_skmnist"] = values["fit_time_s"] / reference
        # Each repeat's ratio to the skmnist fit of the same repeat: the
        # machine's speed drifts less within a repeat than across the run.
        values["fit_time_vs_skmnist_per_repeat"] = [
            run["fit_time_s"] / own["fit_time_s"]
            for run, own in zip(runs[name], runs["skmnist"], strict=True)
        ]

    payload = {
        "machine": machine(),
        "config": {
            "network": f"784-{HIDDEN}-10 relu",
            "optimizer": f"adam lr={LR}",
            "batch_size": BATCH,
            "epochs": EPOCHS,
            "device": args.device,
            "repeats": args.repeats,
            "train_samples": len(X_train),
            "test_samples": len(X_test),
        },
        "summary": summary,
        "runs": runs,
    }
    info = payload["machine"]
    on_gpu = args.device.startswith("cuda")
    lines = [
        f"# skmnist vs MLPClassifier vs skorch vs plain torch ({args.device})",
        "",
        f"Machine: {info['cpu']} ({info['cpu_count']} cores, {info['torch_threads']} "
        f"torch threads), GPU: {info['gpu']}; torch {info['torch']}, "
        f"scikit-learn {info['sklearn']}, {info['platform']}.",
        "",
        f"Same network for all: 784-{HIDDEN}-10 ReLU, Adam lr {LR}, batch {BATCH}, "
        f"{EPOCHS} epochs, 60,000 training images as float32 in [0, 1]; medians of "
        f"{args.repeats} interleaved repeats in one process, after a warm-up fit each.",
        "",
        "| contender | fit time (s) | fit time / skmnist's | same, repeat by repeat "
        "(median; range) | predict (images/s) | test accuracy "
        "| peak extra RSS during fit (MB) |" + (" peak GPU memory (MB) |" * on_gpu),
        "|---|---:|---:|---:|---:|---:|---:|" + ("---:|" * on_gpu),
        *(
            f"| {name} | {v['fit_time_s']:.2f} | {v['fit_time_vs_skmnist']:.2f}x | "
            f"{_spread(v['fit_time_vs_skmnist_per_repeat'])} | "
            f"{v['predict_images_per_s']:,.0f} | {100 * v['accuracy']:.2f} % | "
            f"{v['peak_extra_rss_mb']:.0f} |"
            + (f" {v['peak_gpu_memory_mb']:.0f} |" * on_gpu)
            for name, v in summary.items()
        ),
        "",
    ]
    if on_gpu:
        lines += [
            "scikit-learn's MLPClassifier has no GPU support: it trains on the CPU "
            "in every run.",
            "",
        ]
    name = f"compare_{args.device.replace(':', '')}{args.tag}"
    write_results(name, payload, "\n".join(lines))


if __name__ == "__main__":
    main()
