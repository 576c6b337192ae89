"""The default fit's time in the process states users meet it in.

Each state is a fresh process that does something before the timed fit of
``make_pipeline(PixelScaler(), MLPDigitClassifier(random_state=0))``:

* ``clean``: nothing;
* ``after_torch``: a 2000 x 2000 matrix product first (any torch work starts
  torch's worker threads before the fit does);
* ``after_predict``: ``predict_proba`` of a small model (fitted on 500
  images, one epoch) on the 60,000 training images, three times;
* ``second_fit``: one fit, then the timed one;
* ``thread``: torch work, then the fit in a new thread;
* ``loky_worker``: torch work in a joblib (loky) worker, then the fit there.

States are run in turn, repeat after repeat (interleaved), and each repeat's
time is also given as a ratio to the clean process's time of the same repeat.
Before the fix that removes subnormals from training, the ``after_torch``
state's epochs slowed down from a few epochs on, on x86 CPUs.

Run: ``python benchmarks/process_state.py [--repeats 2] [--n-train 60000]
[--epochs 20] [--tag _name]``. Writes benchmarks/results/process_state<tag>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

STATES = [
    "clean",
    "after_torch",
    "after_predict",
    "second_fit",
    "thread",
    "loky_worker",
]


def _fit(n_train: int, epochs: int) -> dict:
    import numpy as np
    from _common import load_full_mnist
    from sklearn.pipeline import make_pipeline

    from skmnist import MLPDigitClassifier, PixelScaler

    X, y, _, _ = load_full_mnist()
    X, y = X[:n_train], y[:n_train]
    durations: list[float] = []
    model = make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(
            random_state=0,
            max_iter=epochs,
            callbacks=[lambda info: durations.append(info["duration"])],
        ),
    )
    started = time.perf_counter()
    model.fit(X, y)
    total = time.perf_counter() - started
    accuracy = float(np.mean(model.predict(X[:10000]) == y[:10000]))
    return {"fit_s": total, "epoch_s": durations, "train_accuracy": accuracy}


def _torch_work() -> None:
    import torch

    a = torch.randn(2000, 2000)
    (a @ a).sum()


def _large_predict() -> None:
    from _common import load_full_mnist

    from skmnist import MLPDigitClassifier

    X, y, _, _ = load_full_mnist()
    small = MLPDigitClassifier(max_iter=1, random_state=0).fit(X[:500] / 255, y[:500])
    for _ in range(3):
        small.predict_proba(X / 255)


def _in_loky(n_train: int, epochs: int) -> dict:
    _torch_work()
    return _fit(n_train, epochs)


def child(state: str, n_train: int, epochs: int) -> dict:
    """Run one state in this (fresh) process; the timed fit's figures."""
    if state == "clean":
        return _fit(n_train, epochs)
    if state == "after_torch":
        _torch_work()
        return _fit(n_train, epochs)
    if state == "after_predict":
        _large_predict()
        return _fit(n_train, epochs)
    if state == "second_fit":
        _fit(n_train, epochs)
        return _fit(n_train, epochs)
    if state == "thread":
        _torch_work()
        result: dict = {}
        worker = threading.Thread(target=lambda: result.update(_fit(n_train, epochs)))
        worker.start()
        worker.join()
        return result
    if state == "loky_worker":
        from joblib import Parallel, delayed

        sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
        (result,) = Parallel(n_jobs=2, backend="loky")(
            [delayed(_in_loky)(n_train, epochs)]
        )
        return result
    raise ValueError(state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--states", default=",".join(STATES))
    parser.add_argument("--tag", default="")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child, args.n_train, args.epochs)
        # A shared machine's other work shows here: compare runs at like loads.
        result["load_average_1min"] = os.getloadavg()[0]
        print(json.dumps(result))
        return

    from _common import machine, write_results

    states = args.states.split(",")
    runs: dict[str, list[dict]] = {state: [] for state in states}
    for repeat in range(args.repeats):
        for state in states:
            command = [sys.executable, __file__, "--child", state]
            command += ["--n-train", str(args.n_train), "--epochs", str(args.epochs)]
            output = subprocess.run(command, check=True, capture_output=True, text=True)
            runs[state].append(json.loads(output.stdout.strip().splitlines()[-1]))
            print(repeat, state, f"{runs[state][-1]['fit_s']:.2f} s", flush=True)
    summary = {}
    for state, results in runs.items():
        entry = {
            "fit_s": statistics.median(r["fit_s"] for r in results),
            "slowest_epoch_s": max(max(r["epoch_s"]) for r in results),
            "load_average_1min": [r.get("load_average_1min") for r in results],
            "median_epoch_s": statistics.median(
                e for r in results for e in r["epoch_s"]
            ),
        }
        if "clean" in runs:
            entry["fit_vs_clean_per_repeat"] = [
                r["fit_s"] / c["fit_s"]
                for r, c in zip(results, runs["clean"], strict=True)
            ]
        summary[state] = entry
    payload = {
        "machine": machine(),
        "config": {
            "n_train": args.n_train,
            "epochs": args.epochs,
            "repeats": args.repeats,
        },
        "summary": summary,
        "runs": runs,
    }
    info = payload["machine"]
    lines = [
        "# The default fit in different process states",
        "",
        f"Machine: {info['cpu']}, {info['cpu_flags']} ({info['cpu_count']} cores, "
        f"{info['torch_threads']} torch threads); torch {info['torch']}, "
        f"{info['platform']}.",
        "",
        f"`make_pipeline(PixelScaler(), MLPDigitClassifier(random_state=0))`, "
        f"{args.epochs} epochs on {args.n_train:,} MNIST training images; each state "
        f"a fresh process, {args.repeats} interleaved repeats (medians).",
        "",
        "| state | fit (s) | median epoch (s) | slowest epoch (s) "
        "| fit / clean fit, repeat by repeat | load average after each fit |",
        "|---|---:|---:|---:|---|---|",
        *(
            f"| {state} | {v['fit_s']:.2f} | {v['median_epoch_s']:.2f} | "
            f"{v['slowest_epoch_s']:.2f} | "
            + ", ".join(f"{x:.2f}" for x in v.get("fit_vs_clean_per_repeat", []))
            + " | "
            + ", ".join(f"{x:.1f}" for x in v["load_average_1min"] if x is not None)
            + " |"
            for state, v in summary.items()
        ),
        "",
    ]
    write_results(f"process_state{args.tag}", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
