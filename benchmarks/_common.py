"""Helpers shared by the benchmark scripts: data location and machine description."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np
import sklearn
import torch

from skmnist.datasets import load_mnist

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_MNIST = REPO.parent / "shared" / "data" / "mnist"


def mnist_dir() -> Path:
    """Folder of the official MNIST IDX files: $SKMNIST_DATA/mnist or ../shared/data."""
    if "SKMNIST_DATA" in os.environ:
        return Path(os.environ["SKMNIST_DATA"]) / "mnist"
    return DEFAULT_MNIST


def load_full_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The official 60,000 / 10,000 split as uint8 arrays."""
    home = mnist_dir()
    X_train, y_train = load_mnist(home, subset="train", source="idx", return_X_y=True)
    X_test, y_test = load_mnist(home, subset="test", source="idx", return_X_y=True)
    return X_train, y_train, X_test, y_test


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> str:
    """The CPU family and model, and whether it has bfloat16 and AMX instructions."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "family unknown"
    fields = dict(
        line.split(":", 1) for line in text.split("\n\n")[0].splitlines() if ":" in line
    )
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    return (
        f"family {fields.get('cpu family', '?')}, model {fields.get('model', '?')}, "
        f"avx512_bf16 {'yes' if 'avx512_bf16' in flags else 'no'}, "
        f"AMX {'yes' if 'amx_tile' in flags else 'no'}"
    )


def machine() -> dict:
    """What the numbers were measured on."""
    info = {
        "cpu": _cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    return info


def synchronize(device: str) -> None:
    """Wait for the GPU's queued work, so that a clock read after it is honest."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def write_results(name: str, payload: dict, markdown: str) -> None:
    """Write ``results/<name>.json`` and ``results/<name>.md``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
    print(f"wrote {RESULTS / name}.json and .md")
