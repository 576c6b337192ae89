"""Accuracy ladder step 2: augment=True on full MNIST, with its time cost.

``make_pipeline(PixelScaler(), MLPDigitClassifier(augment=True, ...))`` on the
60,000 official training images, scored on the 10,000 official test images,
for each seed. The distortions run on the training device inside the loop.
The same network without augment is trained as the control, for the first
seed only (``--baseline all`` for every seed, ``none`` to skip it).

Run: ``python benchmarks/accuracy_augment.py [--seeds 0,1,2] [--epochs 50]
[--hidden 1024,512] [--baseline first] [--device cuda]`` (reads
../shared/data/mnist or $SKMNIST_DATA/mnist); the defaults are the configuration
of the recorded results. Writes
benchmarks/results/accuracy_augment_<device>.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import load_full_mnist, machine, write_results
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist._training.device import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--hidden", default="1024,512")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--baseline", choices=["first", "all", "none"], default="first")
    args = parser.parse_args()
    device = str(resolve_device(args.device))
    hidden = tuple(int(h) for h in args.hidden.split(","))
    X_train, y_train, X_test, y_test = load_full_mnist()
    runs = []
    seeds = [int(s) for s in args.seeds.split(",")]
    for seed in seeds:
        with_control = args.baseline == "all" or (
            args.baseline == "first" and seed == seeds[0]
        )
        for augment in (True, False) if with_control else (True,):
            clf = make_pipeline(
                PixelScaler(),
                MLPDigitClassifier(
                    hidden,
                    max_iter=args.epochs,
                    augment=augment,
                    random_state=seed,
                    device=device,
                ),
            )
            started = time.perf_counter()
            clf.fit(X_train, y_train)
            runs.append(
                {
                    "seed": seed,
                    "augment": augment,
                    "accuracy": clf.score(X_test, y_test),
                    "fit_time_s": round(time.perf_counter() - started, 1),
                }
            )
            print(runs[-1], flush=True)
    augmented = [r for r in runs if r["augment"]]
    payload = {
        "machine": machine(),
        "device": device,
        "hidden_layer_sizes": hidden,
        "epochs": args.epochs,
        "runs": runs,
        "mean_accuracy_augment": statistics.mean(r["accuracy"] for r in augmented),
        "min_accuracy_augment": min(r["accuracy"] for r in augmented),
    }
    info = payload["machine"]
    lines = [
        f"# augment=True on full MNIST ({device})",
        "",
        f"Machine: {info['gpu'] or info['cpu']} ({info['cpu_count']} CPU cores), "
        f"torch {info['torch']}. MLP {hidden}, Adam 1e-3 with the cosine "
        f"schedule, batch 128, {args.epochs} epochs; with augment for each seed "
        "and without it as the control, one after the other in one run.",
        "",
        f"Mean test accuracy with augment over {len(augmented)} seeds: "
        f"**{100 * payload['mean_accuracy_augment']:.2f} %** (lowest "
        f"{100 * payload['min_accuracy_augment']:.2f} %).",
        "",
        "| seed | augment | test accuracy | fit time (s) |",
        "|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['seed']} | {run['augment']} | {100 * run['accuracy']:.2f} % "
            f"| {run['fit_time_s']} |"
        )
    lines.append("")
    write_results(f"accuracy_augment_{device.split(':')[0]}", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
