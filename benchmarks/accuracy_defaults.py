"""Test accuracy and fit time of the default pipeline on full MNIST.

``make_pipeline(PixelScaler(), MLPDigitClassifier(random_state=seed))`` with
every other parameter at its default, trained on the 60,000 official training
images and scored on the 10,000 official test images, for seeds 0, 1 and 2.

Run: ``python benchmarks/accuracy_defaults.py`` (reads ../shared/data/mnist or
$SKMNIST_DATA/mnist). Writes benchmarks/results/accuracy_defaults.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import load_full_mnist, machine, write_results
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    X_train, y_train, X_test, y_test = load_full_mnist()
    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        clf = make_pipeline(
            PixelScaler(), MLPDigitClassifier(random_state=seed, device=args.device)
        )
        started = time.perf_counter()
        clf.fit(X_train, y_train)
        fit_time = time.perf_counter() - started
        accuracy = clf.score(X_test, y_test)
        model = clf[-1]
        runs.append(
            {
                "seed": seed,
                "accuracy": accuracy,
                "fit_time_s": round(fit_time, 2),
                "epochs": model.n_iter_,
                "device": model.device_,
            }
        )
        print(runs[-1], flush=True)
    params = MLPDigitClassifier().get_params()
    params.pop("callbacks")
    payload = {
        "machine": machine(),
        "estimator_defaults": {k: str(v) for k, v in params.items()},
        "runs": runs,
        "mean_accuracy": statistics.mean(r["accuracy"] for r in runs),
        "min_accuracy": min(r["accuracy"] for r in runs),
    }
    info = payload["machine"]
    lines = [
        "# Default pipeline on full MNIST",
        "",
        f"Machine: {info['cpu']} ({info['cpu_count']} cores, {info['torch_threads']} "
        f"torch threads), GPU: {info['gpu']}; torch {info['torch']}, "
        f"scikit-learn {info['sklearn']}.",
        "",
        "| seed | test accuracy | fit time (s) | epochs | device |",
        "|---:|---:|---:|---:|---|",
        *(
            f"| {r['seed']} | {100 * r['accuracy']:.2f} % | {r['fit_time_s']:.1f} | "
            f"{r['epochs']} | {r['device']} |"
            for r in runs
        ),
        "",
        f"Mean {100 * payload['mean_accuracy']:.2f} %, "
        f"minimum {100 * payload['min_accuracy']:.2f} %.",
        "",
    ]
    write_results("accuracy_defaults", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
