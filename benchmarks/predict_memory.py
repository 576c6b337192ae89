"""Peak memory and speed of ``predict_proba`` on many MNIST rows from host arrays.

Each case is a fresh process that fits a small model (the embedded 5,000-image
sample, one epoch, seed 0), builds ``--rows`` rows by repeating the sample's
images, and times one ``predict_proba`` of them all (after a 2,000-row warm-up
call that pages in torch's kernels). The peak resident memory
of that call alone is read from ``/proc/self/status`` (``VmHWM``, reset just
before the call through ``/proc/self/clear_refs``), so neither the fit nor the
building of the input counts; where that reset is not available the process's
lifetime peak (``getrusage``) is reported instead and flagged.

Cases:

* ``classifier_float32``: ``MLPDigitClassifier`` alone on float32 pixels in
  [0, 1] (the input is 4 bytes a pixel);
* ``pipeline_uint8``: the default ``make_pipeline(PixelScaler(),
  MLPDigitClassifier())`` on uint8 pixels;
* ``pipeline_uint8_deferred``: the same with ``PixelScaler(defer=True)``
  (skipped for code without that parameter).

``--baseline REF`` runs every case on the package of git revision ``REF`` too
(extracted to a temporary folder), interleaved with the working tree's runs,
so that before and after are measured side by side under the same load; the
predictions of the two are compared (their SHA-256) as well.

Run: ``python benchmarks/predict_memory.py [--rows 200000 | --full] [--repeats 3]
[--baseline main] [--tag _name]``. ``--full`` predicts 1,000,000 rows (784 MB
of uint8). Writes benchmarks/results/predict_memory<tag>.{json,md}.
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

CASES = ["classifier_float32", "pipeline_uint8", "pipeline_uint8_deferred"]
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


def child(case: str, rows: int) -> dict:
    """Run one case in this (fresh) process; its figures."""
    import gc
    import resource

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline

    from skmnist import MLPDigitClassifier, PixelScaler
    from skmnist.datasets import load_mnist

    if case.endswith("_deferred") and "defer" not in PixelScaler().get_params():
        return {"skipped": "PixelScaler has no defer parameter in this code"}
    X_sample, y_sample = load_mnist(source="sample", return_X_y=True)
    classifier = MLPDigitClassifier(max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if case == "classifier_float32":
            model = classifier.fit(X_sample / np.float32(255), y_sample)
        else:
            scaler = PixelScaler(defer=True) if case.endswith("_deferred") else None
            model = make_pipeline(scaler or PixelScaler(), classifier)
            model.fit(X_sample, y_sample)
    X = np.resize(X_sample, (rows, X_sample.shape[1]))  # uint8, the sample repeated
    if case == "classifier_float32":
        scaled = np.empty(X.shape, dtype=np.float32)
        np.divide(X, np.float32(255), out=scaled)
        X = scaled
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
        "rss_before_mb": (rss_before_kib or 0) / 1024,
        "peak_rss_mb": peak_kib / 1024,
        "peak_is_predict_only": reset,
        "seconds": seconds,
        "images_per_s": rows / seconds,
        "proba_sha256": hashlib.sha256(np.ascontiguousarray(proba)).hexdigest(),
        "load_average_1min": os.getloadavg()[0],
    }


def _extract(ref: str, into: Path) -> None:
    """The ``skmnist`` package of git revision ``ref``, written under ``into``."""
    archive = into / "code.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(REPO), "archive", ref, "skmnist"], stdout=out, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")


def _run(code: Path, case: str, rows: int) -> dict:
    environment = dict(os.environ, PYTHONPATH=str(code))
    command = [sys.executable, __file__, "--child", case, "--rows", str(rows)]
    output = subprocess.run(
        command, check=True, capture_output=True, text=True, env=environment
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def _summary(runs: list[dict]) -> dict:
    done = [r for r in runs if "skipped" not in r]
    if not done:
        return {"skipped": runs[0]["skipped"]}
    return {
        "input_mb": done[0]["input_mb"],
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
        f"`predict_proba` of {config['rows']:,} MNIST rows, each case a fresh "
        f"process, {config['repeats']} interleaved repeats; peak resident memory of "
        "the call alone (the largest over the repeats), images/s the median. "
        "'before' is the package of revision "
        f"`{config['baseline'] or '-'}`, 'after' the working tree.",
        "",
        "| code | case | input (MB) | peak RSS (MB) | peak - RSS before call (MB) "
        "| images/s | predictions |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for code, cases in payload["summary"].items():
        for case, entry in cases.items():
            if "skipped" in entry:
                lines.append(f"| {code} | {case} | skipped: {entry['skipped']} ||||")
                continue
            lines.append(
                f"| {code} | {case} | {entry['input_mb']:,.0f} | "
                f"{entry['peak_rss_mb']:,.0f} | {entry['peak_minus_before_mb']:,.0f} "
                f"| {entry['images_per_s']:,.0f} | "
                f"`{', '.join(h[:12] for h in entry['proba_sha256'])}` |"
            )
    lines += ["", *payload.get("notes", [])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 rows")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--baseline", help="a git revision to measure too")
    parser.add_argument("--tag", default="")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows = 1_000_000 if args.full else args.rows
    if args.child:
        print(json.dumps(child(args.child, rows)))
        return

    from _common import machine, write_results

    cases = args.cases.split(",")
    with tempfile.TemporaryDirectory() as folder:
        codes = {"after": REPO}
        if args.baseline:
            _extract(args.baseline, Path(folder))
            codes = {"before": Path(folder), "after": REPO}
        runs = {code: {case: [] for case in cases} for code in codes}
        for repeat in range(args.repeats):
            for case in cases:
                for code, path in codes.items():
                    result = _run(path, case, rows)
                    runs[code][case].append(result)
                    shown = result.get("skipped") or (
                        f"peak {result['peak_rss_mb']:,.0f} MB, "
                        f"{result['images_per_s']:,.0f} images/s"
                    )
                    print(repeat, code, case, shown, flush=True)
    summary = {
        code: {case: _summary(results) for case, results in by_case.items()}
        for code, by_case in runs.items()
    }
    payload = {
        "machine": machine(),
        "config": {"rows": rows, "repeats": args.repeats, "baseline": args.baseline},
        "summary": summary,
        "runs": runs,
    }
    write_results(f"predict_memory{args.tag}", payload, _markdown(payload))


if __name__ == "__main__":
    main()
