"""Start-up: ``import skmnist``, the estimators' import and the command line, cold.

Each case is a fresh Python process, timed by this one from its start to its
end (the interpreter's own start and exit included, as a user waits for them):

* ``python``: ``python -c pass``, the interpreter alone;
* ``import torch`` and ``import torch, sklearn.base``: the libraries that
  ``MLPDigitClassifier`` cannot do without;
* ``import skmnist``;
* ``from skmnist import MLPDigitClassifier, PixelScaler``;
* ``skmnist --help``, ``skmnist train --help`` and an argument error
  (``skmnist predict`` without its arguments), run as ``python -m skmnist``;
* ``skmnist predict`` up to the model load: the command on a saved default
  model (784-512-256-10), which exits as soon as the model is loaded;
* ``skmnist predict``, whole: the same command classifying one image.

The cases run in turn, repeat after repeat (interleaved), so that the load of
a shared machine falls on all of them alike; the report gives medians, the
fastest and slowest run, and the load average along the way. ``--baseline
DIR`` times the skmnist cases of another checkout (e.g. ``git worktree add
/tmp/before <commit>``) in the same rounds, side by side.

Run: ``python benchmarks/startup.py [--repeats 7] [--baseline DIR] [--tag _name]``.
Writes benchmarks/results/startup<tag>.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Stops ``skmnist predict`` once it has its model: the loading function is
# wrapped where the command looks it up when it runs (in this and older
# versions alike).
_UNTIL_LOADED = """
import os, sys
import skmnist.persistence as persistence
load = persistence.load_model_file
def loaded(*args, **kwargs):
    load(*args, **kwargs)
    os._exit(0)
persistence.load_model_file = loaded
from skmnist.cli import main
sys.exit(main(sys.argv[1:]))
"""

# (name, arguments after ``python``, whether it measures skmnist); MODEL and
# IMAGE stand for the files made in the working folder.
CASES = [
    ("python -c pass", ["-c", "pass"], False),
    ("import torch", ["-c", "import torch"], False),
    ("import torch, sklearn.base", ["-c", "import torch, sklearn.base"], False),
    ("import skmnist", ["-c", "import skmnist"], True),
    (
        "from skmnist import MLPDigitClassifier, PixelScaler",
        ["-c", "from skmnist import MLPDigitClassifier, PixelScaler"],
        True,
    ),
    ("skmnist --help", ["-m", "skmnist", "--help"], True),
    ("skmnist train --help", ["-m", "skmnist", "train", "--help"], True),
    ("skmnist predict (argument error)", ["-m", "skmnist", "predict"], True),
    (
        "skmnist predict, up to the model load",
        ["-c", _UNTIL_LOADED, "predict", "MODEL", "IMAGE"],
        True,
    ),
    (
        "skmnist predict, one image",
        ["-m", "skmnist", "predict", "MODEL", "IMAGE"],
        True,
    ),
]
# Exit statuses other than 0 that a case expects.
EXPECTED_STATUS = {"skmnist predict (argument error)": 2}


def _env(checkout: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(checkout)
    return env


def _run(name: str, argv: list[str], env: dict[str, str], folder: Path) -> float:
    """Seconds from the start of ``python argv`` to its end."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *argv], env=env, cwd=folder, capture_output=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != EXPECTED_STATUS.get(name, 0):
        raise RuntimeError(f"{name}: exit status {done.returncode}\n{done.stderr}")
    return elapsed


def _prepare(folder: Path) -> None:
    """A default model (one epoch on the shipped sample) and one image to classify."""
    code = """
import numpy as np
from sklearn.pipeline import make_pipeline
from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist
from skmnist.persistence import save_model
X, y = load_mnist(source="sample", subset="train", return_X_y=True)
model = make_pipeline(PixelScaler(), MLPDigitClassifier(max_iter=1, random_state=0))
save_model(model.fit(X, y), "model.skmnist")
np.save("image.npy", X[:1])
"""
    subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        env=_env(REPO),
        cwd=folder,
        check=True,
    )


def _skmnist_file(checkout: Path, folder: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import skmnist; print(skmnist.__file__)"],
        env=_env(checkout),
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _git_commit(checkout: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(checkout), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def _stats(times: list[float]) -> dict:
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "runs_s": times,
    }


def _markdown(payload: dict) -> str:
    info, summary = payload["machine"], payload["summary"]
    baseline = payload["baseline"]
    loads = payload["load_average_1min"]
    median = {name: v["median_s"] for name, v in summary.items()}
    lines = [
        "# Start-up: import skmnist and the command line, cold",
        "",
        f"Machine: {info['cpu']}, {info['cpu_flags']} ({info['cpu_count']} cores); "
        f"Python {info['python']}, torch {info['torch']}, scikit-learn "
        f"{info['sklearn']}, {info['platform']}.",
        "",
        f"Each case a fresh process, timed from its start to its end; "
        f"{payload['config']['repeats']} interleaved repeats; medians (fastest "
        f"to slowest run). Load average (1 min) along the rounds: "
        f"{min(loads):.1f} to {max(loads):.1f} on {info['cpu_count']} cores: "
        "the machine was shared, and its other work is in every figure.",
        "",
        f"skmnist measured: {payload['skmnist']['commit']} "
        f"({payload['skmnist']['file']})"
        + (f"; baseline: {baseline['commit']} ({baseline['file']})" if baseline else "")
        + ".",
        "",
        "| case | time (s) | fastest - slowest (s) |"
        + (" baseline (s) | baseline / this |" if baseline else ""),
        "|---|---:|---|" + ("---:|---:|" if baseline else ""),
    ]
    for name, v in summary.items():
        row = f"| {name} | {v['median_s']:.3f} | {v['min_s']:.3f} - {v['max_s']:.3f} |"
        if baseline:
            b = payload["baseline_summary"].get(name)
            row += (
                f" {b['median_s']:.3f} | {b['median_s'] / v['median_s']:.1f} |"
                if b
                else " | |"
            )
        lines.append(row)
    torch_only = median["import torch"]
    both = median["import torch, sklearn.base"]
    estimators = median["from skmnist import MLPDigitClassifier, PixelScaler"]
    lines += [
        "",
        "Differences of the medians:",
        "",
        f"- `import skmnist` - `import torch`: "
        f"{median['import skmnist'] - torch_only:+.3f} s (goal: at most +0.2 s)",
        f"- `from skmnist import MLPDigitClassifier, PixelScaler` - "
        f"`import torch, sklearn.base`: {estimators - both:+.3f} s",
        f"- `from skmnist import MLPDigitClassifier, PixelScaler` - "
        f"`import torch`: {estimators - torch_only:+.3f} s",
        f"- `skmnist --help`: {median['skmnist --help']:.3f} s, an argument "
        f"error: {median['skmnist predict (argument error)']:.3f} s (goal: under "
        "0.5 s)",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--baseline", type=Path, help="another checkout, timed in the same rounds"
    )
    parser.add_argument("--tag", default="")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).parent))
    from _common import machine, write_results

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        _prepare(folder)
        checkouts = {"this": REPO}
        if args.baseline:
            checkouts["baseline"] = args.baseline.resolve()
        files = {key: _skmnist_file(path, folder) for key, path in checkouts.items()}
        runs: dict[str, dict[str, list[float]]] = {key: {} for key in checkouts}
        loads = []
        for repeat in range(args.repeats):
            for name, argv, measures_skmnist in CASES:
                argv = [
                    {"MODEL": "model.skmnist", "IMAGE": "image.npy"}.get(a, a)
                    for a in argv
                ]
                for key, checkout in checkouts.items():
                    if key == "baseline" and not measures_skmnist:
                        continue
                    elapsed = _run(name, argv, _env(checkout), folder)
                    runs[key].setdefault(name, []).append(elapsed)
                    print(f"{repeat} {key:8} {name}: {elapsed:.3f} s", flush=True)
            loads.append(os.getloadavg()[0])
    payload = {
        "machine": machine(),
        "config": {"repeats": args.repeats, "python": sys.executable},
        "load_average_1min": loads,
        "skmnist": {"file": files["this"], "commit": _git_commit(REPO)},
        "baseline": (
            {"file": files["baseline"], "commit": _git_commit(checkouts["baseline"])}
            if args.baseline
            else None
        ),
        "summary": {name: _stats(times) for name, times in runs["this"].items()},
        "baseline_summary": {
            name: _stats(times) for name, times in runs.get("baseline", {}).items()
        },
    }
    write_results(f"startup{args.tag}", payload, _markdown(payload))


if __name__ == "__main__":
    main()
