"""Fit times under the CPU conditions users have, by thread count.

Each fit runs in a fresh process (what a user's script meets) under one of
four conditions:

- ``quiet``: nothing else running;
- ``loaded``: beside two busy processes (one per core of a 2-core machine);
- ``affinity``: the process pinned to one core (``taskset -c 0``);
- ``quota``: inside a cgroup whose CPU quota (1 CPU) is below the visible
  cores, as in a container (skipped, with the reason, where the machine does
  not let this script create a cgroup).

Contenders: skmnist's thread policy (``n_jobs=None``), skmnist with 1 and
with 2 threads, and scikit-learn's MLPClassifier (the same network, batch
size and epochs). Workloads: the README's example (the 5,000-image sample,
default pipeline) and the default network on full MNIST for 2 epochs. The
contenders alternate within each repeat; a fit that runs past ``--timeout``
seconds is stopped and reported as such.

    python benchmarks/threads.py --repeats 3 --tag _xeon

writes ``benchmarks/results/threads<tag>.{md,json}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTENDERS = (
    "skmnist n_jobs=None",
    "skmnist n_jobs=1",
    "skmnist n_jobs=2",
    "MLPClassifier",
)
WORKLOADS = {
    "readme": "the README's example: 5,000-image sample, default pipeline (20 epochs)",
    "mnist": "the default network on full MNIST (60,000 images), 2 epochs",
}
CONDITIONS = ("quiet", "loaded", "affinity", "quota")
BUSY = "while True: pass"


# ------------------------------------------------------------------ child


def _child(contender: str, workload: str) -> dict:
    """Fit once in this process; what happened, as a dict."""
    import warnings

    import numpy as np
    import torch

    tuners = []
    if contender.startswith("skmnist"):
        from skmnist._training import threads

        init = threads.ThreadTuner.__init__

        def recording(self, *args, **kwargs):
            init(self, *args, **kwargs)
            tuners.append(self)

        threads.ThreadTuner.__init__ = recording
    from sklearn.neural_network import MLPClassifier

    from skmnist import MLPDigitClassifier, PixelScaler
    from skmnist.datasets import load_mnist

    if workload == "readme":
        X, y = load_mnist(subset="train", source="sample", return_X_y=True)
        epochs = 20
    else:
        sys.path.insert(0, str(HERE))
        from _common import load_full_mnist

        X, y, _, _ = load_full_mnist()
        epochs = 2
    default_threads = torch.get_num_threads()
    if contender == "MLPClassifier":
        model = MLPClassifier(
            (512, 256), batch_size=128, max_iter=epochs, random_state=0
        )
        X = X.astype(np.float32) / 255
    else:
        n_jobs = None if contender.endswith("None") else int(contender[-1])
        classifier = MLPDigitClassifier(random_state=0, n_jobs=n_jobs)
        if workload != "readme":
            classifier.set_params(max_iter=epochs)
        from sklearn.pipeline import make_pipeline

        model = make_pipeline(PixelScaler(), classifier)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too few epochs to converge: meant
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    fit = tuners[0] if tuners else None  # the fit's (predictions come later)
    return {
        "load_average": os.getloadavg()[0],
        "fit_s": seconds,
        "torch_default_threads": default_threads,
        "candidates": list(fit.candidates) if fit else None,
        "choices": fit.choices if fit and fit.tuning else None,
        "probes": len(fit.probes) if fit else 0,
    }


# ----------------------------------------------------------------- parent


class Quota:
    """A cgroup with a CPU quota of ``cpus``, or the reason there is none."""

    def __init__(self, cpus: float = 1.0, name: str = "skmnist-bench") -> None:
        self.path: Path | None = None
        self.reason = ""
        period = 100_000
        v2 = Path("/sys/fs/cgroup/cgroup.controllers")
        try:
            if v2.exists() and "cpu" in v2.read_text().split():
                self.path = Path("/sys/fs/cgroup") / name
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.max").write_text(f"{int(cpus * period)} {period}")
            elif Path("/sys/fs/cgroup/cpu").is_dir():
                self.path = Path("/sys/fs/cgroup/cpu") / name
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.cfs_period_us").write_text(str(period))
                (self.path / "cpu.cfs_quota_us").write_text(str(int(cpus * period)))
            else:
                self.reason = "no cgroup CPU controller"
        except OSError as error:
            self.path, self.reason = None, f"cannot create a cgroup: {error}"

    def enter(self) -> None:
        """In the child, before exec: join the cgroup."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))


def _run(contender, workload, condition, quota, timeout) -> dict:
    def prepare():
        if condition == "affinity":
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        elif condition == "quota":
            quota.enter()

    command = [sys.executable, __file__, "--child", contender, workload]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS",)}
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=prepare,
            env=env,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return {"fit_s": None, "timed_out": True}
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def _condition(condition: str):
    busy = []
    if condition == "loaded":
        busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
        time.sleep(0.5)
    try:
        yield
    finally:
        for process in busy:
            process.kill()
            process.wait()


def _cell(runs: list[dict], timeout: float) -> str:
    times = [r["fit_s"] for r in runs if r.get("fit_s") is not None]
    if not times:
        return f">{timeout:.0f} s"
    cell = f"{statistics.median(times):.1f} s"
    return cell if len(times) == len(runs) else f"{cell} (and >{timeout:.0f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("CONTENDER", "WORKLOAD"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--workloads", default="readme,mnist")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--tag", default="")
    parser.add_argument("--note", default="", help="a line for the report")
    parser.add_argument(
        "--render", metavar="JSON", help="rewrite the report of a results file"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return

    sys.path.insert(0, str(HERE))
    from _common import machine, write_results

    if args.render:
        payload = json.loads(Path(args.render).read_text())
        payload["note"] = args.note or payload.get("note", "")
        name = Path(args.render).stem
        write_results(name, payload, _markdown(payload))
        return

    quota = Quota()
    results: dict = {}
    for workload in args.workloads.split(","):
        for condition in args.conditions.split(","):
            if condition == "quota" and quota.path is None:
                results[f"{workload}/{condition}"] = {"skipped": quota.reason}
                continue
            runs = {c: [] for c in CONTENDERS}
            with _condition(condition):
                for repeat in range(args.repeats):
                    order = CONTENDERS if repeat % 2 == 0 else CONTENDERS[::-1]
                    for contender in order:
                        run = _run(contender, workload, condition, quota, args.timeout)
                        runs[contender].append(run)
                        print(workload, condition, contender, run, flush=True)
            results[f"{workload}/{condition}"] = runs
    payload = {
        "machine": machine(),
        "repeats": args.repeats,
        "timeout": args.timeout,
        "note": args.note,
        "results": results,
    }
    write_results(f"threads{args.tag}", payload, _markdown(payload))


def _loads(runs: dict) -> str:
    """The range of the 1-minute load averages the condition's fits ended at."""
    loads = [r["load_average"] for v in runs.values() for r in v if "load_average" in r]
    return f"{min(loads):.1f}-{max(loads):.1f}" if loads else "not recorded"


def _markdown(payload: dict) -> str:
    m = payload["machine"]
    repeats, timeout = payload["repeats"], payload.get("timeout", 60.0)
    lines = [
        "# Fit time by CPU condition and thread count",
        "",
        f"Machine: {m.get('cpu')} ({m.get('cpu_flags')}), {m.get('cpu_count')} CPUs, "
        f"torch {m.get('torch')}. Each fit in a fresh process; median of "
        f"{repeats} interleaved repeats; a fit past {timeout:.0f} s was "
        "stopped (counted as that long in the ratios). `benchmarks/threads.py`.",
        "",
    ]
    if payload.get("note"):
        lines += [payload["note"], ""]
    for workload, title in WORKLOADS.items():
        keys = [k for k in payload["results"] if k.startswith(workload + "/")]
        if not keys:
            continue
        lines += [
            f"## {title}",
            "",
            "| condition | " + " | ".join(CONTENDERS) + " | n_jobs=None / best fixed"
            " | n_jobs=None / MLPClassifier | threads chosen | load average |",
            "|---" * (len(CONTENDERS) + 5) + "|",
        ]
        for key in keys:
            condition, runs = key.split("/")[1], payload["results"][key]
            if "skipped" in runs:
                lines.append(f"| {condition} | skipped: {runs['skipped']} |")
                continue
            cells = [_cell(runs[c], timeout) for c in CONTENDERS]
            med = {
                c: statistics.median(
                    [r["fit_s"] if r.get("fit_s") else timeout for r in runs[c]]
                )
                for c in CONTENDERS
            }
            best = min(med["skmnist n_jobs=1"], med["skmnist n_jobs=2"])
            chosen = {
                tuple(r["choices"] or r["candidates"] or ())
                for r in runs["skmnist n_jobs=None"]
                if "probes" in r
            }
            lines.append(
                f"| {condition} | "
                + " | ".join(cells)
                + f" | {med['skmnist n_jobs=None'] / best:.2f}x"
                + f" | {med['skmnist n_jobs=None'] / med['MLPClassifier']:.2f}x | "
                + "; ".join(" then ".join(map(str, c)) for c in sorted(chosen) if c)
                + " | "
                + _loads(runs)
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
