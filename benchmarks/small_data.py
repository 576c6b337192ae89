"""Default MLPDigitClassifier beside default MLPClassifier on small datasets.

5-fold stratified cross-validation (shuffled, seed 0) of
``make_pipeline(StandardScaler(), estimator)`` with every estimator
parameter at its default but ``random_state=0`` (and ``device="cpu"``), on
iris, wine, breast cancer, digits, a 1,000-image MNIST sample (the one
embedded in skmnist) and a 50-sample binary digits problem (also scored by
the AUC of its training-set probabilities, as scikit-learn's own tests do).

Both estimators fit once on a few rows before the clock starts (torch's
optimizers import their compiler machinery on first use, seconds once per
process), and the two cross-validations of each dataset run one after the
other, so that both meet the same machine load. NumPy's BLAS (which
MLPClassifier computes with) runs on ``--blas-threads`` threads, one by
default: on a busy machine its thread pool waits for cores at every
product, which made MLPClassifier's breast-cancer cross-validation take 100 s
against 13 s (skmnist trains small steps on one thread by itself). Time is the whole
cross-validation (5 fits and their predictions).

Run: ``python benchmarks/small_data.py [--datasets iris,wine]``. Writes
benchmarks/results/small_data.{json,md} (only when every dataset ran).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from _common import machine, write_results
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from threadpoolctl import threadpool_limits

from skmnist import MLPDigitClassifier
from skmnist.datasets import load_mnist


def cpu_flags() -> dict:
    """CPU family and the bfloat16 / AMX flags, from /proc/cpuinfo."""
    info = {"family": None, "avx512_bf16": None, "amx": None}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        if line.startswith("cpu family"):
            info["family"] = int(line.split(":", 1)[1])
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            info["avx512_bf16"] = "avx512_bf16" in flags
            info["amx"] = any(f.startswith("amx") for f in flags)
            break
    return info


def datasets() -> dict:
    mnist_X, mnist_y = load_mnist(source="sample", return_X_y=True)
    digits_X, digits_y = load_digits(n_class=2, return_X_y=True)
    return {
        "iris": load_iris(return_X_y=True),
        "wine": load_wine(return_X_y=True),
        "breast_cancer": load_breast_cancer(return_X_y=True),
        "digits": load_digits(return_X_y=True),
        "mnist_1000": (mnist_X[:1000].astype(np.float64), mnist_y[:1000]),
        "digits_binary_50": (digits_X[:50], digits_y[:50]),
    }


def estimators(seed: int) -> dict:
    return {
        "MLPDigitClassifier": MLPDigitClassifier(random_state=seed, device="cpu"),
        "MLPClassifier": MLPClassifier(random_state=seed),
    }


def binary_auc(X, y, estimator) -> float:
    """AUC of the training-set probabilities (scikit-learn's test_mlp setting)."""
    X = MinMaxScaler().fit_transform(X)
    estimator.set_params(hidden_layer_sizes=5, activation="logistic", random_state=1)
    proba = estimator.fit(X, y).predict_proba(X)[:, 1]
    return float(roc_auc_score(y, proba))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", help="comma-separated subset (no results file)")
    parser.add_argument("--blas-threads", type=int, default=1)
    args = parser.parse_args()
    threadpool_limits(limits=args.blas_threads, user_api="blas")
    rows = []
    cv = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    every = datasets()
    chosen = args.datasets.split(",") if args.datasets else list(every)
    warm_X, warm_y = every["iris"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for estimator in estimators(args.seed).values():
            estimator.set_params(max_iter=2).fit(warm_X[::10], warm_y[::10])
    for data_name in chosen:
        X, y = every[data_name]
        for name, estimator in estimators(args.seed).items():
            pipeline = make_pipeline(StandardScaler(), estimator)
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                scores = cross_val_score(pipeline, X, y, cv=cv)
                extra = {}
                if data_name == "digits_binary_50":
                    extra["train_auc"] = binary_auc(X, y, estimator)
            seconds = time.perf_counter() - started
            rows.append(
                {
                    "dataset": data_name,
                    "n_samples": len(y),
                    "estimator": name,
                    "cv_accuracy": float(np.mean(scores)),
                    "cv_std": float(np.std(scores)),
                    "seconds": round(seconds, 2),
                    **extra,
                }
            )
            print(rows[-1], flush=True)
    if args.datasets:
        return
    info = {**machine(), **cpu_flags()}
    payload = {
        "machine": info,
        "cv": "StratifiedKFold(5, shuffle)",
        "blas_threads": args.blas_threads,
        "rows": rows,
    }
    lines = [
        "# Small datasets: default MLPDigitClassifier and MLPClassifier",
        "",
        f"CPU: {info['cpu']} (family {info['family']}, avx512_bf16 "
        f"{info['avx512_bf16']}, AMX {info['amx']}), {info['cpu_count']} cores, "
        f"torch {info['torch']}, scikit-learn {info['sklearn']}.",
        "",
        "5-fold stratified CV accuracy of StandardScaler + the estimator at its "
        "defaults (random_state=0); time is the whole cross-validation. "
        f"NumPy's BLAS on {args.blas_threads} thread(s).",
        "",
        "| dataset | samples | estimator | CV accuracy | time (s) | train AUC |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        auc = f"{row['train_auc']:.3f}" if "train_auc" in row else ""
        lines.append(
            f"| {row['dataset']} | {row['n_samples']} | {row['estimator']} | "
            f"{row['cv_accuracy']:.3f} ± {row['cv_std']:.3f} | {row['seconds']} "
            f"| {auc} |"
        )
    write_results("small_data", payload, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
