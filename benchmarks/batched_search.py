"""BatchedGridSearchCV against GridSearchCV: same candidates, folds and scores.

Both searches run in this process, one after the other, on the same MNIST
subset and device: a grid of learning rates and penalties over
``make_pipeline(PixelScaler(), MLPDigitClassifier(...))`` with k-fold
cross-validation. Reports each search's wall time, the speed-up, and the
largest difference between their cross-validated scores (the models are the
same up to float32 rounding). GridSearchCV runs with ``n_jobs=1`` and, on the
CPU, also with ``n_jobs=-1`` (one process per core), its fastest setting.

Run: ``python benchmarks/batched_search.py [--device cuda] [--n-train 10000]
[--hidden 64] [--tag _name]``
(reads ../shared/data/mnist or $SKMNIST_DATA/mnist). Writes
benchmarks/results/batched_search_<device>.{json,md}.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import load_full_mnist, machine, write_results
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist._training.device import resolve_device
from skmnist.model_selection import BatchedGridSearchCV


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--hidden", default="64")
    parser.add_argument("--tag", default="", help="suffix of the results files")
    args = parser.parse_args()
    device = str(resolve_device(args.device))
    X, y, _, _ = load_full_mnist()
    X, y = X[: args.n_train], y[: args.n_train]
    hidden = tuple(int(h) for h in args.hidden.split(","))
    pipe = make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(hidden, max_iter=args.epochs, random_state=0, device=device),
    )
    grid = {
        "mlpdigitclassifier__learning_rate_init": [3e-4, 1e-3, 3e-3],
        "mlpdigitclassifier__alpha": [1e-5, 1e-4, 1e-3],
    }
    n_models = 9 * args.cv
    runs = {}
    searches = {
        "BatchedGridSearchCV": lambda: BatchedGridSearchCV(pipe, grid, cv=args.cv),
        "GridSearchCV n_jobs=1": lambda: GridSearchCV(pipe, grid, cv=args.cv),
    }
    if device == "cpu":
        searches["GridSearchCV n_jobs=-1"] = lambda: GridSearchCV(
            pipe, grid, cv=args.cv, n_jobs=-1
        )
    # One-time costs (threads, the CUDA context, kernels) before any timing.
    tiny = clone(pipe).set_params(mlpdigitclassifier__max_iter=1)
    one_candidate = {key: values[:1] for key, values in grid.items()}
    BatchedGridSearchCV(tiny, one_candidate, cv=2).fit(X[:1000], y[:1000])
    clone(tiny).fit(X[:1000], y[:1000])
    fitted = {}
    for name, make in searches.items():
        started = time.perf_counter()
        fitted[name] = make().fit(X, y)
        runs[name] = {"wall_s": round(time.perf_counter() - started, 2)}
        print(name, runs[name], flush=True)
    batched = fitted["BatchedGridSearchCV"].cv_results_
    for name, search in fitted.items():
        results = search.cv_results_
        runs[name]["best_params"] = {
            k.split("__")[1]: v for k, v in search.best_params_.items()
        }
        runs[name]["best_score"] = round(float(search.best_score_), 4)
        runs[name]["max_abs_score_diff_vs_batched"] = float(
            np.abs(results["mean_test_score"] - batched["mean_test_score"]).max()
        )
        runs[name]["speedup_of_batched"] = round(
            runs[name]["wall_s"] / runs["BatchedGridSearchCV"]["wall_s"], 2
        )
    payload = {
        "machine": machine(),
        "device": device,
        "setup": {
            "n_train": args.n_train,
            "cv": args.cv,
            "epochs": args.epochs,
            "hidden_layer_sizes": hidden,
            "grid": grid,
            "n_models": n_models,
        },
        "runs": runs,
    }
    info = payload["machine"]
    lines = [
        f"# Batched grid search vs GridSearchCV ({device})",
        "",
        f"Machine: {info['gpu'] or info['cpu']} ({info['cpu_count']} CPU cores), "
        f"torch {info['torch']}, scikit-learn {info['sklearn']}.",
        "",
        f"{n_models} models: 9 candidates (learning_rate_init x alpha) x "
        f"{args.cv} folds of {args.n_train} MNIST training images, MLP {hidden}, "
        f"{args.epochs} epochs, batch 128, Adam, in one process run.",
        "",
        "| search | wall time (s) | batched is faster by | best score "
        "| max diff of mean CV score vs batched |",
        "|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        lines.append(
            f"| {name} | {run['wall_s']} | {run['speedup_of_batched']}x "
            f"| {run['best_score']} | {run['max_abs_score_diff_vs_batched']:.4f} |"
        )
    lines.append("")
    name = f"batched_search_{device.split(':')[0]}{args.tag}"
    write_results(name, payload, "\n".join(lines))


if __name__ == "__main__":
    main()
