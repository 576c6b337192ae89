"""precision="auto" against precision="float32": fit time and accuracy on MNIST.

The default pipeline (:class:`~skmnist.PixelScaler` then the default
:class:`~skmnist.MLPDigitClassifier`) on the full 60,000 / 10,000 split, for
three seeds, trained on the CPU. The two precisions alternate within each
seed (and swap order from one seed to the next), so a change in the
machine's load touches both; the ratio of their fit times is quoted per
seed and as the median. On a CPU without bfloat16 matrix units "auto" is
float32 and the ratio is about 1.

Run: ``python benchmarks/precision.py [--seeds 0 1 2] [--max-iter 20]
[--tag _name]``. Writes benchmarks/results/precision<tag>.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from _common import load_full_mnist, machine, write_results
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist._training.precision import cpu_bf16_flags

PRECISIONS = ("auto", "float32")


def fit_once(precision, seed, max_iter, data) -> dict:
    """Fit the default pipeline once; its fit seconds and test accuracy."""
    X_train, y_train, X_test, y_test = data
    model = make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(
            precision=precision, max_iter=max_iter, random_state=seed, device="cpu"
        ),
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - started
    return {"fit_s": seconds, "accuracy": float(model.score(X_test, y_test))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--max-iter", default="auto", help='epochs per fit (default "auto": 20)'
    )
    parser.add_argument("--tag", default="", help="suffix of the results files")
    args = parser.parse_args()
    max_iter = args.max_iter if args.max_iter == "auto" else int(args.max_iter)

    data = load_full_mnist()
    fit_once("auto", 0, 1, (data[0][:2000], data[1][:2000], *data[2:]))  # warm-up
    runs = []
    for index, seed in enumerate(args.seeds):
        order = PRECISIONS if index % 2 == 0 else PRECISIONS[::-1]
        row = {"seed": seed}
        for precision in order:
            row[precision] = fit_once(precision, seed, max_iter, data)
            print(seed, precision, row[precision], flush=True)
        row["time_ratio"] = row["float32"]["fit_s"] / row["auto"]["fit_s"]
        runs.append(row)

    def mean_accuracy(precision):
        return statistics.mean(row[precision]["accuracy"] for row in runs)

    summary = {
        "median_time_ratio_float32_over_auto": statistics.median(
            row["time_ratio"] for row in runs
        ),
        "mean_accuracy": {p: mean_accuracy(p) for p in PRECISIONS},
        "accuracy_difference_pp": 100
        * (mean_accuracy("auto") - mean_accuracy("float32")),
    }
    info = machine()
    flags = sorted(cpu_bf16_flags())
    lines = [
        '# precision="auto" against "float32", default pipeline, full MNIST (CPU)',
        "",
        f"CPU: {info['cpu']} ({info['cpu_flags']}); bf16 matrix flags: "
        f'{", ".join(flags) or "none"} (so "auto" is '
        f"{'bfloat16' if flags else 'float32'} here); torch {info['torch']}, "
        f"{info['torch_threads']} threads; max_iter={max_iter}.",
        "",
        "| seed | auto fit | float32 fit | float32 / auto | auto acc. | float32 acc. |",
        "|---|---|---|---|---|---|",
    ]
    for row in runs:
        lines.append(
            f"| {row['seed']} | {row['auto']['fit_s']:.1f} s | "
            f"{row['float32']['fit_s']:.1f} s | {row['time_ratio']:.2f}x | "
            f"{100 * row['auto']['accuracy']:.2f} % | "
            f"{100 * row['float32']['accuracy']:.2f} % |"
        )
    lines += [
        "",
        f"Median time ratio float32 / auto: "
        f"{summary['median_time_ratio_float32_over_auto']:.2f}x. Mean accuracy: "
        f"auto {100 * summary['mean_accuracy']['auto']:.2f} %, float32 "
        f"{100 * summary['mean_accuracy']['float32']:.2f} % "
        f"({summary['accuracy_difference_pp']:+.2f} pp).",
        "",
    ]
    print("\n".join(lines))
    write_results(
        f"precision{args.tag}",
        {"machine": info, "max_iter": max_iter, "runs": runs, "summary": summary},
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
