"""Side by side: skmnist, scikit-learn's MLPClassifier, skorch and a plain torch loop.

All four train the same network (784-256-10, ReLU, Adam at 1e-3, batch 128,
5 epochs, no L2 penalty, no early stopping) on full MNIST scaled to [0, 1] as
float32. Two figures per contender:

* cold: the first fit in a fresh process, what a user's script sees. Each
  contender's first fit runs in its own new interpreter, which imports only
  what that contender needs and reads the scaled data from a ``.npy`` file;
  the fit itself is timed, and so is the whole process (start-up, imports,
  reading the data, the fit) as a second figure;
* warm: a repeated fit in one process, after one warm-up fit each on 5,000
  images.

Repeats are interleaved, contender after contender, cold and warm alike.
Also reported: predict throughput (images/s through predict_proba on the
10,000 test images, warm), test accuracy, the peak resident memory a fit adds
(one more fresh process per contender, above the loaded data), the ratio of
each median fit time to skmnist's, and skmnist's first fit against its second
one in the same fresh process (60,000 images, 5 epochs, and 20,000 images,
3 epochs).

Run: ``python benchmarks/compare.py [--repeats 3] [--device cpu] [--tag _name]``.
Needs the bench extra (skorch, psutil). Writes
benchmarks/results/compare_<device><tag>.{json,md}; a tag such as ``_epyc``
keeps the results of several machines side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import psutil

# Only what every contender's process needs is imported here: a cold run
# imports its own contender's library and nothing else's.

HIDDEN, EPOCHS, BATCH, LR = 256, 5, 128, 1e-3
#: skmnist's first and second fit in one fresh process: (images, epochs).
FIRST_FIT_CASES = [(60000, 5), (20000, 3)]


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


def _network(n_features: int):
    from torch import nn

    return nn.Sequential(
        nn.Linear(n_features, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10)
    )


class TorchLoop:
    """The hand-written baseline: tensors in memory, shuffled index minibatches."""

    def __init__(self, device: str, seed: int, epochs: int) -> None:
        self.device, self.seed, self.epochs = device, seed, epochs

    def fit(self, X: np.ndarray, y: np.ndarray) -> TorchLoop:
        import torch
        from torch import nn

        torch.manual_seed(self.seed)
        X_t = torch.from_numpy(X).to(self.device)
        y_t = torch.from_numpy(y.astype(np.int64)).to(self.device)
        self.model = _network(X.shape[1]).to(self.device)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=LR)
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(self.epochs):
            order = torch.randperm(len(X_t), device=self.device)
            for start in range(0, len(X_t), BATCH):
                index = order[start : start + BATCH]
                loss = loss_fn(self.model(X_t[index]), y_t[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            logits = self.model(torch.from_numpy(X).to(self.device))
            return torch.softmax(logits, dim=1).cpu().numpy()


def _skmnist(device: str, seed: int, epochs: int):
    from skmnist import MLPDigitClassifier

    return MLPDigitClassifier(
        hidden_layer_sizes=(HIDDEN,),
        solver="adam",
        learning_rate="constant",
        learning_rate_init=LR,
        batch_size=BATCH,
        max_iter=epochs,
        alpha=0.0,
        n_iter_no_change=np.inf,
        random_state=seed,
        device=device,
    )


def _mlp_classifier(device: str, seed: int, epochs: int):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        solver="adam",
        learning_rate_init=LR,
        batch_size=BATCH,
        max_iter=epochs,
        alpha=0.0,
        n_iter_no_change=epochs + 1,
        random_state=seed,
    )


def _skorch(device: str, seed: int, epochs: int):
    import torch
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(
        _network(784),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=LR,
        batch_size=BATCH,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        device=device,
        verbose=0,
    )


#: name -> maker(device, seed, epochs); each imports its own library.
CONTENDERS = {
    "skmnist": _skmnist,
    "sklearn MLPClassifier": _mlp_classifier,
    "skorch": _skorch,
    "plain torch loop": TorchLoop,
}


def contenders(device: str, seed: int, epochs: int = EPOCHS) -> dict:
    """name -> a function of no arguments making a fresh, unfitted model."""
    return {
        name: (lambda make=make: make(device, seed, epochs))
        for name, make in CONTENDERS.items()
    }


def synchronize(device: str) -> None:
    """Wait for the GPU's queued work (``_common.synchronize``, without its imports)."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def scaled_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from _common import load_full_mnist

    from skmnist import PixelScaler

    X_train, y_train, X_test, y_test = load_full_mnist()
    scaler = PixelScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64)


def _quiet_fit(model, X: np.ndarray, y: np.ndarray, device: str) -> float:
    """Seconds of ``model.fit(X, y)``, convergence warnings silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(converge|Maximum iter).*")
        synchronize(device)
        started = time.perf_counter()
        model.fit(X, y)
        synchronize(device)
        return time.perf_counter() - started


def fresh_process(name: str, data: Path, device: str, *extra: str) -> dict:
    """Run one contender's child in a new interpreter; its figures.

    ``process_s`` is the whole process, from its start to its exit: the
    interpreter, the contender's imports, reading the data, the fit(s).
    """
    command = [sys.executable, __file__, "--device", device, "--data", str(data)]
    started = time.perf_counter()
    output = subprocess.run(
        [*command, "--child-of", name, *extra],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    process_s = time.perf_counter() - started
    return {**json.loads(output.strip().splitlines()[-1]), "process_s": process_s}


def child(args: argparse.Namespace) -> dict:
    """In a fresh process: ``--fits`` fits of one contender (or its memory)."""
    X = np.load(args.data / "X_train.npy")[: args.n_train]
    y = np.load(args.data / "y_train.npy")[: args.n_train]
    make = CONTENDERS[args.child_of]
    if not args.memory:
        return {
            "fit_s": [
                _quiet_fit(make(args.device, 0, args.epochs), X, y, args.device)
                for _ in range(args.fits)
            ]
        }
    # Peak extra RSS and peak GPU memory (MB) of one fit. A new process has
    # nothing cached yet. On a GPU its CUDA context is created before the
    # measurement starts, so that the RSS counts the fit, not the libraries.
    on_gpu = args.device.startswith("cuda")
    model = make(args.device, 0, args.epochs)
    if on_gpu:
        import torch

        (torch.ones(8, 8, device=args.device) @ torch.ones(8, 8, device=args.device))
        synchronize(args.device)
        torch.cuda.reset_peak_memory_stats(args.device)
    with PeakRSS() as memory:
        _quiet_fit(model, X, y, args.device)
    gpu = 0.0
    if on_gpu:
        gpu = torch.cuda.max_memory_allocated(args.device) / 2**20
    return {"rss_mb": memory.extra_mb, "gpu_mb": gpu}


def _spread(ratios: list[float]) -> str:
    """``median; min-max`` of a contender's per-repeat fit-time ratios."""
    return f"{statistics.median(ratios):.2f}x; {min(ratios):.2f}-{max(ratios):.2f}x"


def _median(values) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tag", default="", help="suffix of the results files")
    parser.add_argument("--note", default="", help="a line for the report")
    for hidden in ("--child-of", "--data"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    for hidden, default in (("--fits", 1), ("--n-train", 60000), ("--epochs", EPOCHS)):
        parser.add_argument(hidden, type=int, default=default, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_of:  # a fresh process of fresh_process()
        args.data = Path(args.data)
        # A shared machine's other work shows here: compare runs at like loads.
        print(json.dumps({**child(args), "load_average_1min": os.getloadavg()[0]}))
        return

    from _common import machine, write_results

    X_train, y_train, X_test, y_test = scaled_mnist()
    makers = contenders(args.device, seed=0)
    runs: dict[str, list[dict]] = {name: [] for name in makers}
    first_fit: dict[str, list[dict]] = {f"{n}x{e}": [] for n, e in FIRST_FIT_CASES}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        np.save(data / "X_train.npy", X_train)
        np.save(data / "y_train.npy", y_train)
        # Cold: each repeat, every contender's first fit in a fresh process,
        # then skmnist's first and second fit in one, for each case.
        for repeat in range(args.repeats):
            for name in makers:
                cold = fresh_process(name, data, args.device)
                runs[name].append(
                    {
                        "cold_fit_s": cold["fit_s"][0],
                        "cold_process_s": cold["process_s"],
                        "cold_load_average_1min": cold["load_average_1min"],
                    }
                )
                print(f"repeat {repeat} {name} cold: {runs[name][-1]}", flush=True)
            for (n_train, epochs), key in zip(FIRST_FIT_CASES, first_fit, strict=True):
                both = fresh_process(
                    "skmnist", data, args.device, "--fits", "2",
                    "--n-train", str(n_train), "--epochs", str(epochs),
                )  # fmt: skip
                first_fit[key].append(
                    {
                        "first_s": both["fit_s"][0],
                        "second_s": both["fit_s"][1],
                        "load_average_1min": both["load_average_1min"],
                    }
                )
                print(
                    f"repeat {repeat} skmnist {key}: {first_fit[key][-1]}", flush=True
                )
        memory = {
            name: fresh_process(name, data, args.device, "--memory") for name in makers
        }

        # Warm: one-time costs (imports, threads, kernels) paid by a warm-up fit.
        for make in makers.values():
            _quiet_fit(make(), X_train[:5000], y_train[:5000], args.device)
        for repeat in range(args.repeats):
            for name, make in makers.items():
                model = make()
                fit_time = _quiet_fit(model, X_train, y_train, args.device)
                started = time.perf_counter()
                proba = model.predict_proba(X_test)
                synchronize(args.device)
                predict_time = time.perf_counter() - started
                runs[name][repeat].update(
                    fit_time_s=fit_time,
                    predict_images_per_s=len(X_test) / predict_time,
                    accuracy=float((proba.argmax(axis=1) == y_test).mean()),
                    warm_load_average_1min=os.getloadavg()[0],
                )
                print(f"repeat {repeat} {name} warm: {runs[name][repeat]}", flush=True)

    summary = {}
    for name, results in runs.items():
        summary[name] = {key: _median(r[key] for r in results) for key in results[0]}
        summary[name]["cold_minus_warm_s"] = (
            summary[name]["cold_fit_s"] - summary[name]["fit_time_s"]
        )
        summary[name]["peak_extra_rss_mb"] = memory[name]["rss_mb"]
        summary[name]["peak_gpu_memory_mb"] = memory[name]["gpu_mb"]
    for key in ("fit_time_s", "cold_fit_s"):
        reference = summary["skmnist"][key]
        for name, values in summary.items():
            values[key.replace("_s", "_vs_skmnist")] = values[key] / reference
            # Each repeat's ratio to the skmnist fit of the same repeat: the
            # machine's speed drifts less within a repeat than across the run.
            values[key.replace("_s", "_vs_skmnist_per_repeat")] = [
                run[key] / own[key]
                for run, own in zip(runs[name], runs["skmnist"], strict=True)
            ]
    first_fit_summary = {
        key: {
            "first_s": _median(r["first_s"] for r in results),
            "second_s": _median(r["second_s"] for r in results),
            "first_minus_second_per_repeat_s": [
                r["first_s"] - r["second_s"] for r in results
            ],
        }
        for key, results in first_fit.items()
    }

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
            "note": args.note,
        },
        "summary": summary,
        "skmnist_first_vs_second_fit": first_fit_summary,
        "runs": runs,
        "skmnist_first_fit_runs": first_fit,
    }
    write_results(
        f"compare_{args.device.replace(':', '')}{args.tag}",
        payload,
        report(payload, args),
    )


def report(payload: dict, args: argparse.Namespace) -> str:
    """The Markdown report of :func:`main`'s payload."""
    info, summary = payload["machine"], payload["summary"]
    on_gpu = args.device.startswith("cuda")
    lines = [
        f"# skmnist vs MLPClassifier vs skorch vs plain torch ({args.device})",
        "",
        f"Machine: {info['cpu']}, {info['cpu_flags']} ({info['cpu_count']} cores, "
        f"{info['torch_threads']} torch threads), GPU: {info['gpu']}; torch "
        f"{info['torch']}, scikit-learn {info['sklearn']}, {info['platform']}.",
        "",
        f"Same network for all: 784-{HIDDEN}-10 ReLU, Adam lr {LR}, batch {BATCH}, "
        f"{EPOCHS} epochs, 60,000 training images as float32 in [0, 1]; medians of "
        f"{args.repeats} interleaved repeats. Cold: the first fit in a fresh process "
        "(what a user's script sees), each contender in its own process; the whole "
        "process (interpreter start, imports, reading the data, the fit) as a "
        "second figure. Warm: a repeated fit in one process, after a warm-up fit "
        "each.",
        "",
        "| contender | cold fit (s) | cold, whole process (s) | warm fit (s) "
        "| cold - warm (s) | warm fit / skmnist's | same, repeat by repeat "
        "(median; range) | cold fit / skmnist's | predict (images/s) "
        "| test accuracy | peak extra RSS during fit (MB) |"
        + (" peak GPU memory (MB) |" * on_gpu),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" * on_gpu),
        *(
            f"| {name} | {v['cold_fit_s']:.2f} | {v['cold_process_s']:.2f} | "
            f"{v['fit_time_s']:.2f} | {v['cold_minus_warm_s']:+.2f} | "
            f"{v['fit_time_vs_skmnist']:.2f}x | "
            f"{_spread(v['fit_time_vs_skmnist_per_repeat'])} | "
            f"{v['cold_fit_vs_skmnist']:.2f}x | "
            f"{v['predict_images_per_s']:,.0f} | {100 * v['accuracy']:.2f} % | "
            f"{v['peak_extra_rss_mb']:.0f} |"
            + (f" {v['peak_gpu_memory_mb']:.0f} |" * on_gpu)
            for name, v in summary.items()
        ),
        "",
        "skmnist's first fit against its second one in the same fresh process "
        "(same network and settings; medians, and each repeat's difference):",
        "",
        "| images x epochs | first fit (s) | second fit (s) | first - second, "
        "repeat by repeat (s) |",
        "|---|---:|---:|---|",
        *(
            f"| {key.replace('x', ' x ')} | {v['first_s']:.2f} | {v['second_s']:.2f} "
            "| "
            + ", ".join(f"{d:+.2f}" for d in v["first_minus_second_per_repeat_s"])
            + " |"
            for key, v in payload["skmnist_first_vs_second_fit"].items()
        ),
        "",
    ]
    loads = [
        value
        for results in (
            *payload["runs"].values(),
            *payload["skmnist_first_fit_runs"].values(),
        )
        for run in results
        for key, value in run.items()
        if key.endswith("load_average_1min")
    ]
    lines += [
        f"Load average (1 min) after each fit: {min(loads):.1f} to {max(loads):.1f} "
        f"on {info['cpu_count']} cores.",
        "",
    ]
    if args.note:
        lines += [args.note, ""]
    if on_gpu:
        lines += [
            "scikit-learn's MLPClassifier has no GPU support: it trains on the CPU "
            "in every run.",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
