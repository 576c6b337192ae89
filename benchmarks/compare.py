"""Side by side: skmnist, MLPClassifier, skorch, a plain torch loop and Keras 3.

All six train the same network (784-256-10, ReLU, Adam at 1e-3, batch 128,
5 epochs, no L2 penalty, no early stopping) on full MNIST scaled to [0, 1] as
float32. Keras 3 runs twice, on its JAX and on its torch backend, through
its own scikit-learn wrapper, ``keras.wrappers.SKLearnClassifier``
(``_keras_contender.py`` says how). Two figures per contender:

* cold: the first fit in a fresh process, what a user's script sees. Each
  contender's first fit runs in its own new interpreter, which imports only
  what that contender needs and reads the scaled data from a ``.npy`` file;
  the fit itself is timed, and so is the whole process (start-up, imports,
  reading the data, the fit) as a second figure;
* warm: a repeated fit in one process, after one warm-up fit each on 5,000
  images. Keras chooses its backend when it is first imported, so each Keras
  contender's warm fits run in a process of its own that lives through the
  run (started with ``KERAS_BACKEND=jax`` or ``torch``); the others' in this
  one.

Repeats are interleaved, contender after contender, cold and warm alike.
Also reported: predict throughput (images/s through predict_proba on the
10,000 test images, warm), test accuracy, the peak resident memory a fit adds
(one more fresh process per contender, above the loaded data), the ratio of
each median fit time to skmnist's, and skmnist's first fit against its second
one in the same fresh process (60,000 images, 5 epochs, and 20,000 images,
3 epochs).

Run: ``python benchmarks/compare.py [--repeats 3] [--device cpu] [--tag _name]``.
Needs the bench extra (skorch, psutil, keras, jax); a contender whose library
is not installed is skipped with a message that says so. Writes
benchmarks/results/compare_<device><tag>.{json,md}; a tag such as ``_epyc``
keeps the results of several machines side by side. ``--quick`` (1 repeat,
6,000 images, 1 epoch, nothing written) and ``--only NAME`` (skmnist and
NAME; repeatable) try the script out in a minute or two.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
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

import _keras_contender
import numpy as np
import psutil
from _compare_report import report

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
    **{
        name: _keras_contender.maker(name, HIDDEN, BATCH, LR)
        for name in _keras_contender.BACKENDS
    },
}
#: Contenders whose warm fits run in a process of their own (Keras' backend).
OWN_PROCESS = set(_keras_contender.BACKENDS)
#: name -> the modules it needs that skmnist does not.
REQUIRES = {"skorch": ("skorch",), **_keras_contender.REQUIRES}


def missing(name: str) -> str | None:
    """Why contender ``name`` cannot run here, or None when it can."""
    absent = [
        module
        for module in REQUIRES.get(name, ())
        if importlib.util.find_spec(module) is None
    ]
    if absent:
        return (
            f"{name} skipped: {' and '.join(absent)} not installed "
            "(pip install -c constraints.txt -e '.[bench]')"
        )
    if name in _keras_contender.BACKENDS:
        version = importlib.metadata.version("keras")
        if int(version.split(".")[0]) < 3:
            return f"{name} skipped: keras {version} is installed, not Keras 3"
    return None


def contenders(device: str, seed: int, names, epochs: int = EPOCHS) -> dict:
    """name -> a function of no arguments making a fresh, unfitted model."""
    return {
        name: (lambda make=CONTENDERS[name]: make(device, seed, epochs))
        for name in names
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


def warm_run(model, X, y, X_test, y_test, device: str) -> dict:
    """Fit ``model`` on ``X``, predict ``X_test``: one repeat's warm figures."""
    fit_time = _quiet_fit(model, X, y, device)
    started = time.perf_counter()
    proba = model.predict_proba(X_test)
    synchronize(device)
    predict_time = time.perf_counter() - started
    return {
        "fit_time_s": fit_time,
        "predict_images_per_s": len(X_test) / predict_time,
        "accuracy": float((proba.argmax(axis=1) == y_test).mean()),
        "warm_load_average_1min": os.getloadavg()[0],
    }


def _child_command(name: str, data: Path, device: str, epochs: int) -> list[str]:
    return [
        *(sys.executable, __file__, "--device", device, "--data", str(data)),
        *("--epochs", str(epochs), "--child-of", name),
    ]


def _child_environment(name: str, device: str) -> dict[str, str]:
    return {**os.environ, **_keras_contender.environment(name, device)}


def fresh_process(
    name: str, data: Path, device: str, *extra: str, epochs: int = EPOCHS
) -> dict:
    """Run one contender's child in a new interpreter; its figures.

    ``process_s`` is the whole process, from its start to its exit: the
    interpreter, the contender's imports, reading the data, the fit(s).
    """
    started = time.perf_counter()
    done = subprocess.run(
        [*_child_command(name, data, device, epochs), *extra],
        capture_output=True,
        text=True,
        env=_child_environment(name, device),
    )
    process_s = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{name}'s process failed:\n{done.stderr[-4000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "process_s": process_s}


class WarmProcess:
    """A contender's warm fits in a process of its own, one per request.

    The process makes a warm-up fit on 5,000 images when it starts, then, for
    each line it reads, fits a fresh model on all the training images and
    predicts the test images, and answers with :func:`warm_run`'s figures.
    """

    def __init__(self, name: str, data: Path, device: str, epochs: int) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [*_child_command(name, data, device, epochs), "--warm"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_child_environment(name, device),
        )
        self._answer()  # the warm-up fit

    def _answer(self) -> dict:
        for line in self.process.stdout:
            if line.startswith("{"):
                return json.loads(line)
        status = self.process.wait()
        raise RuntimeError(f"{self.name}'s warm process ended (status {status})")

    def run(self) -> dict:
        self.process.stdin.write("fit\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


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


def warm_child(args: argparse.Namespace) -> None:
    """In :class:`WarmProcess`'s process: a warm-up fit, then a repeat a line."""
    X, y = np.load(args.data / "X_train.npy"), np.load(args.data / "y_train.npy")
    X_test, y_test = (
        np.load(args.data / "X_test.npy"),
        np.load(args.data / "y_test.npy"),
    )
    make = CONTENDERS[args.child_of]
    _quiet_fit(make(args.device, 0, args.epochs), X[:5000], y[:5000], args.device)
    print(json.dumps({"warm": True}), flush=True)
    for _ in sys.stdin:
        model = make(args.device, 0, args.epochs)
        print(
            json.dumps(warm_run(model, X, y, X_test, y_test, args.device)), flush=True
        )


def _median(values) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tag", default="", help="suffix of the results files")
    parser.add_argument("--note", default="", help="a line for the report")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="try it out: 1 repeat, 6,000 images, 1 epoch; print, write nothing",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[name for name in CONTENDERS if name != "skmnist"],
        help="skmnist and this contender only (repeatable)",
    )
    for hidden in ("--child-of", "--data"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    for hidden in ("--memory", "--warm"):
        parser.add_argument(hidden, action="store_true", help=argparse.SUPPRESS)
    for hidden, default in (("--fits", 1), ("--n-train", 60000), ("--epochs", EPOCHS)):
        parser.add_argument(hidden, type=int, default=default, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_of:  # a fresh process of fresh_process() or WarmProcess
        args.data = Path(args.data)
        if args.warm:
            warm_child(args)
            return
        # A shared machine's other work shows here: compare runs at like loads.
        print(json.dumps({**child(args), "load_average_1min": os.getloadavg()[0]}))
        return

    from _common import machine, write_results

    first_fit_cases = FIRST_FIT_CASES
    if args.quick:
        args.repeats, args.n_train, args.epochs = 1, 6000, 1
        first_fit_cases = [(6000, 1), (2000, 1)]
    wanted = [n for n in CONTENDERS if n == "skmnist" or n in (args.only or CONTENDERS)]
    skipped = {name: why for name in wanted if (why := missing(name))}
    for why in skipped.values():
        print(why, flush=True)
    names = [name for name in wanted if name not in skipped]
    X_train, y_train, X_test, y_test = scaled_mnist()
    X_train, y_train = X_train[: args.n_train], y_train[: args.n_train]
    makers = contenders(args.device, 0, names, args.epochs)
    runs: dict[str, list[dict]] = {name: [] for name in makers}
    first_fit: dict[str, list[dict]] = {f"{n}x{e}": [] for n, e in first_fit_cases}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        for key, array in (("X_train", X_train), ("y_train", y_train)):
            np.save(data / f"{key}.npy", array)
        for key, array in (("X_test", X_test), ("y_test", y_test)):
            np.save(data / f"{key}.npy", array)
        # Cold: each repeat, every contender's first fit in a fresh process,
        # then skmnist's first and second fit in one, for each case.
        for repeat in range(args.repeats):
            for name in makers:
                cold = fresh_process(name, data, args.device, epochs=args.epochs)
                runs[name].append(
                    {
                        "cold_fit_s": cold["fit_s"][0],
                        "cold_process_s": cold["process_s"],
                        "cold_load_average_1min": cold["load_average_1min"],
                    }
                )
                print(f"repeat {repeat} {name} cold: {runs[name][-1]}", flush=True)
            for (n_train, epochs), key in zip(first_fit_cases, first_fit, strict=True):
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
            name: fresh_process(name, data, args.device, "--memory", epochs=args.epochs)
            for name in makers
        }

        # Warm: one-time costs (imports, threads, kernels) paid by a warm-up
        # fit, here or in the contender's own process.
        workers = {}
        try:
            for name, make in makers.items():
                if name in OWN_PROCESS:
                    workers[name] = WarmProcess(name, data, args.device, args.epochs)
                else:
                    _quiet_fit(make(), X_train[:5000], y_train[:5000], args.device)
            for repeat in range(args.repeats):
                for name, make in makers.items():
                    if name in workers:
                        warm = workers[name].run()
                    else:
                        warm = warm_run(
                            make(), X_train, y_train, X_test, y_test, args.device
                        )
                    runs[name][repeat].update(warm)
                    print(
                        f"repeat {repeat} {name} warm: {runs[name][repeat]}", flush=True
                    )
        finally:
            for worker in workers.values():
                worker.close()

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
            "epochs": args.epochs,
            "device": args.device,
            "repeats": args.repeats,
            "train_samples": len(X_train),
            "test_samples": len(X_test),
            "note": args.note,
        },
        "versions": {
            module: importlib.metadata.version(module)
            for module in ("skorch", "keras", "jax", "jaxlib")
            if importlib.util.find_spec(module) is not None
        },
        "skipped": skipped,
        "summary": summary,
        "skmnist_first_vs_second_fit": first_fit_summary,
        "runs": runs,
        "skmnist_first_fit_runs": first_fit,
    }
    markdown = report(payload, args.note)
    if args.quick:
        print(markdown)
        return
    write_results(
        f"compare_{args.device.replace(':', '')}{args.tag}", payload, markdown
    )


if __name__ == "__main__":
    main()
