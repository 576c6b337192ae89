"""The GPU proof, benchmarks/gpu_check.py, dry-run on the CPU on a small slice.

The script runs once (module fixture) on IDX files written from the embedded
sample, with two extra stages put among the real ones: one that raises and
one that hangs. Every stage must be recorded, those two as failed and timed
out, and the stages after them must still run.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skmnist.datasets import load_mnist, write_idx

REPO = Path(__file__).resolve().parents[1]
STAGES = [
    "env",
    "default",
    "graphs",
    "recipe",
    "skorch",
    "predict",
    "augment",
    "cpu_load",
    "cuda_tests",
]

# Runs gpu_check.main with a failing and a hanging stage after "env".
RUNNER = """
import sys, time
sys.path.insert(0, {benchmarks!r})
import gpu_check
from _stages import Stage

def broken(ctx):
    ctx.report(before_the_error=1)
    raise RuntimeError("a deliberate failure")

def hangs(ctx):
    import subprocess
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    ctx.report(started=True, sleeper=sleeper.pid)
    time.sleep(600)

gpu_check.STAGES[1:1] = [Stage("broken", broken, 30), Stage("hangs", hangs, 2)]
sys.exit(gpu_check.main(sys.argv[1:]))
"""


pytestmark = [
    pytest.mark.skipif(
        not hasattr(os, "fork"),
        reason="gpu_check.py runs its stages in forked processes",
    ),
    pytest.mark.slow,  # the module's fixture runs every stage of the script
]


HAVE_SKORCH = importlib.util.find_spec("skorch") is not None


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu_check")
    data = tmp / "mnist"
    data.mkdir()
    for subset, prefix in (("train", "train"), ("test", "t10k")):
        X, y = load_mnist(subset=subset, source="sample", return_X_y=True)
        write_idx(data / f"{prefix}-images-idx3-ubyte.gz", X.reshape(-1, 28, 28))
        write_idx(data / f"{prefix}-labels-idx1-ubyte.gz", y.astype(np.uint8))
    runner = tmp / "runner.py"
    runner.write_text(RUNNER.format(benchmarks=str(REPO / "benchmarks")))
    out = tmp / "out"
    options = ["--device", "cpu", "--data", str(data), "--out", str(out)]
    options += ["--limit", "512", "--epochs", "1", "--repeats", "1"]
    options += ["--predict-rows", "5000"]
    done = subprocess.run(
        [sys.executable, str(runner), *options],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # small work: one thread is faster
    )
    doc = json.loads((out / "gpu_check.json").read_text())
    return done, doc, out


def test_every_stage_ran_and_is_recorded(dry_run):
    done, doc, _ = dry_run
    assert doc["finished"] and doc["device"] == "cpu"
    assert doc["data"]["status"] == "ok" and doc["data"]["n_train"] == 512
    assert list(doc["stages"]) == ["env", "broken", "hangs", *STAGES[1:]]
    for name in STAGES:
        record = doc["stages"][name]
        if name == "skorch" and not HAVE_SKORCH:  # skorch is the bench extra's
            assert record["status"] == "skipped", record
            assert "skorch is not importable" in record["error"], record
            continue
        assert record["status"] == "ok", (name, record.get("error"), done.stdout)
        assert record["seconds"] > 0 and record["figures"]["summary"], name


def test_the_figures_are_there(dry_run):
    _, doc, _ = dry_run
    figures = {name: r["figures"] for name, r in doc["stages"].items()}
    assert figures["env"]["machine"]["torch"]
    assert figures["env"]["pageable_host_to_device_gb_s"] > 0
    assert all(r["met"] for r in figures["env"]["requirements"].values())
    assert 0 < figures["default"]["default"]["min_accuracy"] <= 1
    assert figures["default"]["default"]["device_"] == "cpu"
    configs = [k for k in figures["recipe"] if k.startswith("batch_size=")]
    assert len(configs) == 3
    if HAVE_SKORCH:
        assert figures["skorch"]["skorch_fit_s"] > 0
    assert figures["predict"]["rows"] == 5000
    assert figures["predict"]["images_per_s"] > 0
    assert figures["augment"]["epochs_done"] == 1 and figures["augment"]["fit_s"] > 0
    cpu_load = figures["cpu_load"]
    assert cpu_load["subprocess"]["cuda_available"] is False
    assert cpu_load["goal_met"], cpu_load
    tests = figures["cuda_tests"]
    warm_fit = "test_a_warm_fit_moves_to_a_newly_named_device"
    assert any(warm_fit in node for node in tests["cuda_only_tests"])
    assert tests["passed"] + tests["skipped"] == len(tests["cuda_only_tests"])


def test_a_failing_and_a_hanging_stage_do_not_stop_the_rest(dry_run):
    done, doc, _ = dry_run
    assert done.returncode == 1  # a stage failed
    broken, hangs = doc["stages"]["broken"], doc["stages"]["hangs"]
    assert broken["status"] == "failed"
    assert "RuntimeError: a deliberate failure" in broken["error"]
    assert broken["figures"] == {"before_the_error": 1}
    assert hangs["status"] == "timeout" and hangs["figures"]["started"]
    assert hangs["seconds"] < 15
    # the subprocess it started was ended with it (gone, or a zombie)
    stat = Path(f"/proc/{hangs['figures']['sleeper']}/stat")
    assert not stat.exists() or stat.read_text().split(")")[-1].split()[0] in "ZX"
    assert "broken: failed" in done.stdout and "hangs: timeout" in done.stdout


def test_the_output_folder_holds_few_plainly_named_files(dry_run):
    _, doc, out = dry_run
    files = sorted(p.name for p in out.iterdir())
    assert files == ["gpu_check.json", "gpu_check.log", "gpu_check.md"]
    markdown = (out / "gpu_check.md").read_text()
    for name in doc["stages"]:
        assert re.search(
            rf"^\| {name} \| {doc['stages'][name]['status']} \|", markdown, re.M
        )
    log = (out / "gpu_check.log").read_text()
    assert "---- stage augment" in log and "a deliberate failure" in log
