"""benchmarks/compare.py without running it: its contenders' requirements and report."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("psutil")  # the bench extra's

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def compare():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(
            "compare", BENCHMARKS / "compare.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_keras_contenders_are_skipped_with_a_reason_without_keras(compare, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: (
            None if name in {"keras", "jax"} else find_spec(name, *args)
        ),
    )
    assert compare.missing("Keras 3 (JAX)") == (
        "Keras 3 (JAX) skipped: keras and jax not installed "
        "(pip install -c constraints.txt -e '.[bench]')"
    )
    assert compare.missing("Keras 3 (torch)").startswith(
        "Keras 3 (torch) skipped: keras not installed"
    )
    assert compare.missing("skmnist") is None


def test_each_keras_contender_has_its_backend_and_the_compared_device(compare):
    import _keras_contender

    assert {"Keras 3 (JAX)", "Keras 3 (torch)"} <= set(compare.CONTENDERS)
    assert compare.OWN_PROCESS == {"Keras 3 (JAX)", "Keras 3 (torch)"}
    jax = _keras_contender.environment("Keras 3 (JAX)", "cpu")
    assert (jax["KERAS_BACKEND"], jax["JAX_PLATFORMS"]) == ("jax", "cpu")
    # A GPU that torch sees must not take Keras' torch backend off the CPU.
    torch = _keras_contender.environment("Keras 3 (torch)", "cpu")
    assert (torch["KERAS_BACKEND"], torch["KERAS_TORCH_DEVICE"]) == ("torch", "cpu")
    assert _keras_contender.environment("skorch", "cpu") == {}


def test_report_names_the_skipped_contenders(compare):  # compare: on sys.path
    from _compare_report import report

    figures = {
        "cold_fit_s": 1.0,
        "cold_process_s": 3.0,
        "fit_time_s": 1.0,
        "cold_minus_warm_s": 0.0,
        "fit_time_vs_skmnist": 1.0,
        "fit_time_vs_skmnist_per_repeat": [1.0],
        "cold_fit_vs_skmnist": 1.0,
        "predict_images_per_s": 1e5,
        "accuracy": 0.97,
        "peak_extra_rss_mb": 50.0,
        "peak_gpu_memory_mb": 0.0,
    }
    machine = {
        "cpu": "a CPU",
        "cpu_flags": "flags",
        "cpu_count": 2,
        "torch_threads": 2,
        "gpu": None,
        "torch": "2.13.0",
        "sklearn": "1.9.1",
        "platform": "Linux",
    }
    config = {
        "network": "784-256-10 relu",
        "optimizer": "adam lr=0.001",
        "batch_size": 128,
        "epochs": 5,
        "device": "cpu",
        "repeats": 1,
        "train_samples": 60000,
    }
    payload = {
        "machine": machine,
        "config": config,
        "versions": {},
        "skipped": {"Keras 3 (JAX)": "Keras 3 (JAX) skipped: jax not installed"},
        "summary": {"skmnist": figures},
        "skmnist_first_vs_second_fit": {},
        "runs": {"skmnist": [{"cold_load_average_1min": 1.5}]},
        "skmnist_first_fit_runs": {},
    }
    markdown = report(payload)
    assert "| skmnist | 1.00 | 3.00 |" in markdown
    assert "Keras 3 (JAX) skipped: jax not installed" in markdown
