"""How long each example of the documentation's gallery takes.

Each ``examples/plot_*.py`` runs as a script in a fresh Python process (as a
user runs a downloaded example; matplotlib draws off-screen), one after the
other. Reported per example: the wall-clock time, the CPU time of the
process (user + system), the load average before and after, and the lines of
its output that look like warnings (a gallery page shows them). Also the
cost of the start-up alone (a process that only imports what the examples
import and loads the sample), and the README's example: the default fit of
``make_pipeline(PixelScaler(), MLPDigitClassifier(random_state=0))`` on the
sample's 5,000 training images, timed in its own fresh process.

Wall-clock time depends on what else the machine runs; CPU time much less
so with one thread, which is why one thread is the default (``--threads 0``
leaves torch its default of one thread per core).

Run: ``python benchmarks/gallery_times.py [--threads 1] [--tag _name]``.
Writes benchmarks/results/gallery_times<tag>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

from _common import REPO, machine, write_results

EXAMPLES = REPO / "examples"
WARNING_LINE = re.compile(r":\d+: \w*Warning: ")
START_UP = (
    "import matplotlib.pyplot, pandas, sklearn.pipeline; "
    "from skmnist import MLPDigitClassifier; "
    "from skmnist.datasets import load_mnist; "
    "load_mnist(subset='train', source='sample')"
)
README_FIT = """
import json, time
from sklearn.pipeline import make_pipeline
from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist
X, y = load_mnist(subset="train", source="sample", return_X_y=True)
X_test, y_test = load_mnist(subset="test", source="sample", return_X_y=True)
clf = make_pipeline(PixelScaler(), MLPDigitClassifier(random_state=0))
wall, cpu = time.perf_counter(), time.process_time()
clf.fit(X, y)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({
    "fit_wall_s": round(wall, 2), "fit_cpu_s": round(cpu, 2),
    "epochs": clf[-1].n_iter_, "precision": clf[-1].precision_,
    "test_accuracy": clf.score(X_test, y_test),
}))
"""


def run(command: list[str], env: dict) -> dict:
    """Run ``command``; its wall and CPU time, the load around it, its warnings."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{command[-1]} failed:\n{done.stderr}")
    output = done.stdout + done.stderr
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(
            after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2
        ),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "warnings": [line for line in output.splitlines() if WARNING_LINE.search(line)],
        "stdout": done.stdout,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OMP_NUM_THREADS for the examples (0: torch's default)",
    )
    parser.add_argument("--tag", default="", help="suffix of the results files")
    args = parser.parse_args()

    env = {**os.environ, "MPLBACKEND": "agg", "PYTHONPATH": str(REPO)}
    env.pop("OMP_NUM_THREADS", None)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    rows = {"(start-up only)": run([sys.executable, "-c", START_UP], env)}
    for path in sorted(EXAMPLES.glob("plot_*.py")):
        rows[path.name] = row = run([sys.executable, str(path)], env)
        print(f"{path.name}: {row['wall_s']} s wall, {row['cpu_s']} s CPU", flush=True)

    fit = run([sys.executable, "-c", README_FIT], env)
    fit.update(json.loads(fit.pop("stdout")))
    for row in rows.values():
        del row["stdout"]

    examples = [row for name, row in rows.items() if name.endswith(".py")]
    total_wall = sum(row["wall_s"] for row in examples)
    total_cpu = sum(row["cpu_s"] for row in examples)
    info = machine()
    if args.threads:  # the examples', not this process's
        info["torch_threads"] = args.threads
    threads = args.threads or "torch's default"
    lines = [
        "# The gallery's examples, each in a fresh process",
        "",
        f"Machine: {info['cpu']}, {info['cpu_flags']} ({info['cpu_count']} cores); "
        f"torch {info['torch']}, scikit-learn {info['sklearn']}, {info['platform']}.",
        "",
        f"Each `examples/plot_*.py` run as a script (`MPLBACKEND=agg`), one after "
        f"the other; torch threads: {threads}. CPU time is the process's user + "
        "system time. The first row is the start-up alone (Python, the imports "
        "and loading the sample), which every example pays too.",
        "",
        "| example | wall (s) | CPU (s) | load average before, after "
        "| warnings printed |",
        "|---|---:|---:|---|---:|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['wall_s']:.1f} | {row['cpu_s']:.1f} | "
            f"{row['load_before']:.1f}, {row['load_after']:.1f} | "
            f"{len(row['warnings'])} |"
        )
    lines += [
        f"| all {len(examples)} examples | {total_wall:.1f} | {total_cpu:.1f} | | |",
        "",
        "The README's example, `make_pipeline(PixelScaler(), "
        "MLPDigitClassifier(random_state=0))` on the sample's 5,000 training "
        f"images, in a fresh process: the fit takes {fit['fit_wall_s']:.2f} s "
        f"wall and {fit['fit_cpu_s']:.2f} s CPU ({fit['epochs']} epochs, "
        f"precision {fit['precision']}, test accuracy {fit['test_accuracy']:.3f}; "
        f"load average {fit['load_before']:.1f} before, {fit['load_after']:.1f} "
        "after).",
        "",
    ]
    payload = {
        "machine": info,
        "threads": args.threads,
        "examples": rows,
        "total_wall_s": round(total_wall, 2),
        "total_cpu_s": round(total_cpu, 2),
        "readme_fit": fit,
    }
    write_results(f"gallery_times{args.tag}", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
