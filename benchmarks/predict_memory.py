"""Peak memory and speed of ``predict_proba`` on many MNIST rows from host arrays.

Each case is a fresh process that loads or fits a model, builds its input by
repeating the embedded 5,000-image sample's pixels (in the case's dtype, the
values 0 to 255), and times one ``predict_proba`` of it all (after a 2,000-row
warm-up call that pages in torch's kernels). The peak resident memory of that
call alone is read from ``/proc/self/status`` (``VmHWM``, reset just before
the call through ``/proc/self/clear_refs``), so neither the fit nor the
building of the input counts; where that reset is not available the
process's lifetime peak (``getrusage``) is reported instead and flagged.

Models (each with the default network, trained one epoch, seed 0):

* ``cli``: the pipeline ``skmnist train --source sample`` saves, loaded from
  its file with :func:`skmnist.persistence.load_model` (the file is written
  once per code version by that code's own command line);
* ``readme``: ``make_pipeline(PixelScaler(), MLPDigitClassifier())``, as the
  README builds it, fitted on the uint8 sample;
* ``classifier``: ``MLPDigitClassifier`` alone, fitted on the uint8 sample.

Inputs: ``uint8`` (``--rows-uint8``, default 2,000,000 rows: 1.57 GB),
``float32`` and ``float64`` (``--rows-float``, default 500,000 rows: 1.57 and
3.14 GB). A case is ``<model>_<dtype>``.

``--baseline REF`` runs every case on the package of git revision ``REF`` too
(extracted to a temporary folder), interleaved with the working tree's runs,
so that before and after are measured side by side under the same load; the
predictions of the two are compared (their SHA-256) as well.

Run: ``python benchmarks/predict_memory.py [--rows-uint8 N] [--rows-float N]
[--repeats 1] [--cases cli_uint8,...] [--baseline REF] [--tag _name]``.
Writes benchmarks/results/predict_memory<tag>.{json,md}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

MODELS = ("cli", "readme", "classifier")
DTYPES = ("uint8", "float32", "float64")
CASES = [f"{model}_{dtype}" for model in MODELS for dtype in DTYPES]
REPO = Path(__file__).resolve().parents[1]
MB = 2**20


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's peak resident size (Linux); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _model(name: str, model_file: str | None):
    """The fitted model of case ``name``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline

    from skmnist import MLPDigitClassifier, PixelScaler
    from skmnist.datasets import load_mnist
    from skmnist.persistence import load_model

    if name == "cli":
        return load_model(model_file)
    X_sample, y_sample = load_mnist(source="sample", return_X_y=True)
    classifier = MLPDigitClassifier(max_iter=1, random_state=0)
    model = (
        classifier if name == "classifier" else make_pipeline(PixelScaler(), classifier)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X_sample, y_sample)


def child(case: str, rows: int, model_file: str | None) -> dict:
    """Run one case in this (fresh) process; its figures."""
    import gc
    import resource

    import numpy as np

    from skmnist.datasets import load_mnist

    name, dtype = case.split("_")
    model = _model(name, model_file)
    X_sample = load_mnist(source="sample", return_X_y=True)[0]
    X = np.resize(X_sample, (rows, X_sample.shape[1]))  # uint8, the sample repeated
    if dtype != "uint8":
        X = X.astype(dtype)
    # A first small prediction pages in torch's kernels (a few hundred MB of
    # shared code on the first call), which are no part of the data's cost.
    model.predict_proba(X[:2000])
    gc.collect()
    rss_before_kib = _status_kib("VmRSS")
    reset = _reset_peak()
    started = time.perf_counter()
    proba = model.predict_proba(X)
    seconds = time.perf_counter() - started
    peak_kib = _status_kib("VmHWM") if reset else None
    if peak_kib is None:  # the lifetime peak: an upper bound
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": rows,
        "input_mb": X.nbytes / MB,
        "output_mb": proba.nbytes / MB,
        "rss_before_mb": (rss_before_kib or 0) / 1024,
        "peak_rss_mb": peak_kib / 1024,
        "peak_is_predict_only": reset,
        "seconds": seconds,
        "images_per_s": rows / seconds,
        "proba_sha256": hashlib.sha256(np.ascontiguousarray(proba)).hexdigest(),
        "load_average_1min": os.getloadavg()[0],
    }


def _train_cli_model(code: Path, into: Path) -> Path:
    """The pipeline ``skmnist train`` of the package in ``code`` saves, written once."""
    out = into / f"cli_{code.name}.skmnist"
    if not out.exists():
        environment = dict(os.environ, PYTHONPATH=str(code))
        command = [sys.executable, "-m", "skmnist", "train", "--source", "sample"]
        command += ["--param", "max_iter=1", "--device", "cpu", "--quiet"]
        subprocess.run(
            [*command, "--out", str(out)],
            check=True,
            capture_output=True,
            env=environment,
            cwd=into,  # python -m reads the current folder first
        )
    return out


def _extract(ref: str, into: Path) -> None:
    """The ``skmnist`` package of git revision ``ref``, written under ``into``."""
    archive = into / "code.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(REPO), "archive", ref, "skmnist"], stdout=out, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")


def _run(code: Path, case: str, rows: int, folder: Path) -> dict:
    environment = dict(os.environ, PYTHONPATH=str(code))
    command = [sys.executable, __file__, "--child", case, "--rows", str(rows)]
    if case.startswith("cli_"):
        command += ["--model-file", str(_train_cli_model(code, folder))]
    output = subprocess.run(command, capture_output=True, text=True, env=environment)
    if output.returncode != 0:
        raise RuntimeError(f"{case} on {code} failed:\n{output.stderr}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def _summary(runs: list[dict]) -> dict:
    done = [r for r in runs if "skipped" not in r]
    if not done:
        return {"skipped": runs[0]["skipped"]}
    return {
        "rows": done[0]["rows"],
        "input_mb": done[0]["input_mb"],
        "output_mb": done[0]["output_mb"],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in done),
        "peak_minus_before_mb": max(
            r["peak_rss_mb"] - r["rss_before_mb"] for r in done
        ),
        "images_per_s": statistics.median(r["images_per_s"] for r in done),
        "peak_is_predict_only": all(r["peak_is_predict_only"] for r in done),
        "proba_sha256": sorted({r["proba_sha256"] for r in done}),
    }


def _markdown(payload: dict) -> str:
    info, config = payload["machine"], payload["config"]
    lines = [
        "# Peak memory and speed of predict_proba from host arrays",
        "",
        f"Machine: {info['cpu']}, {info['cpu_flags']} ({info['cpu_count']} cores, "
        f"{info['torch_threads']} torch threads); GPU: {info['gpu'] or 'none'}; "
        f"torch {info['torch']}, {info['platform']}.",
        "",
        f"`predict_proba` of {config['rows_uint8']:,} uint8 rows or "
        f"{config['rows_float']:,} float rows, each case a fresh process, "
        f"{config['repeats']} interleaved repeat(s); peak resident memory of the "
        "call alone (the largest over the repeats), 'extra' its growth over the "
        "resident memory just before the call (which holds the input, the model "
        "and torch), images/s the median. 'before' is the package of revision "
        f"`{config['baseline'] or '-'}`, 'after' the working tree. Models: `cli` "
        "the pipeline `skmnist train` saves, loaded from its file; `readme` "
        "`make_pipeline(PixelScaler(), MLPDigitClassifier())`; `classifier` "
        "the classifier alone.",
        "",
        "| case | input (MB) | output (MB) | before: peak RSS (MB) | before: extra "
        "(MB) | after: peak RSS (MB) | after: extra (MB) | before: images/s "
        "| after: images/s | same predictions |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    summary = payload["summary"]
    after = summary["after"]
    before = summary.get("before", {})
    for case, entry in after.items():
        old = before.get(case, {})
        if "skipped" in entry or "skipped" in old:
            lines.append(f"| {case} | skipped ||||||||")
            continue

        def cell(values: dict, key: str, fmt: str = ",.0f") -> str:
            return format(values[key], fmt) if key in values else "-"

        same = "-"
        if "proba_sha256" in old:
            same = "yes" if old["proba_sha256"] == entry["proba_sha256"] else "NO"
        lines.append(
            f"| {case} | {entry['input_mb']:,.0f} | {entry['output_mb']:,.0f} | "
            f"{cell(old, 'peak_rss_mb')} | {cell(old, 'peak_minus_before_mb')} | "
            f"{entry['peak_rss_mb']:,.0f} | {entry['peak_minus_before_mb']:,.0f} | "
            f"{cell(old, 'images_per_s')} | {entry['images_per_s']:,.0f} | {same} |"
        )
    lines += ["", *payload.get("notes", [])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-uint8", type=int, default=2_000_000)
    parser.add_argument("--rows-float", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--baseline", help="a git revision to measure too")
    parser.add_argument("--tag", default="")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--model-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.model_file)))
        return

    from _common import machine, write_results

    cases = args.cases.split(",")
    with tempfile.TemporaryDirectory() as folder:
        codes = {"after": REPO}
        if args.baseline:
            baseline = Path(folder) / "before"
            baseline.mkdir()
            _extract(args.baseline, baseline)
            codes = {"before": baseline, "after": REPO}
        runs = {code: {case: [] for case in cases} for code in codes}
        for repeat in range(args.repeats):
            for case in cases:
                rows = args.rows_uint8 if case.endswith("uint8") else args.rows_float
                for code, path in codes.items():
                    result = _run(path, case, rows, Path(folder))
                    runs[code][case].append(result)
                    print(
                        repeat,
                        code,
                        case,
                        f"peak {result['peak_rss_mb']:,.0f} MB, extra "
                        f"{result['peak_rss_mb'] - result['rss_before_mb']:,.0f} MB, "
                        f"{result['images_per_s']:,.0f} images/s",
                        flush=True,
                    )
    summary = {
        code: {case: _summary(results) for case, results in by_case.items()}
        for code, by_case in runs.items()
    }
    payload = {
        "machine": machine(),
        "config": {
            "rows_uint8": args.rows_uint8,
            "rows_float": args.rows_float,
            "repeats": args.repeats,
            "baseline": args.baseline,
        },
        "summary": summary,
        "runs": runs,
    }
    write_results(f"predict_memory{args.tag}", payload, _markdown(payload))


if __name__ == "__main__":
    main()
