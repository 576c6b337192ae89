"""Device choice with GPUs simulated on the CPU.

device="auto" with several GPUs (each process claims its own), and the bf16
autocast decision per GPU.
"""

import contextlib
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from skmnist._training import device as _device
from skmnist._training import precision as _precision
from skmnist._training import steps as _steps
from skmnist._training.device import resolve_device

HOLDER = """
import sys, time
from skmnist._training.device import claim_device
print(claim_device(sys.argv[2].split(","), sys.argv[1]), flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    """Start processes that claim a device and keep it until they are killed."""
    processes = []

    def start(ids):
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(tmp_path), ",".join(ids)],
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return int(process.stdout.readline())

    yield start
    for process in processes:
        process.kill()
        process.wait()
        process.stdout.close()


@pytest.mark.slow
def test_claims_spread_evenly_then_round_robin(tmp_path, holder):
    ids = ["GPU-a", "GPU-b"]
    assert holder(ids) == 0
    assert holder(ids) == 1
    assert holder(ids) == 0  # every device has one process: share, in order


@pytest.mark.slow
def test_a_claim_is_released_when_its_process_ends(tmp_path):
    ids = ["GPU-a", "GPU-b"]
    run = [sys.executable, "-c", HOLDER.replace("time.sleep(120)", ""), str(tmp_path)]
    for _ in range(2):
        out = subprocess.run([*run, ",".join(ids)], capture_output=True, text=True)
        assert out.stdout.strip() == "0"


@pytest.fixture
def three_gpus(monkeypatch, tmp_path):
    """Make torch report three CUDA devices with distinct UUIDs."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(
        torch.cuda,
        "get_device_properties",
        lambda index: types.SimpleNamespace(uuid=f"GPU-{index}"),
    )
    monkeypatch.setattr(_device, "_claims_dir", lambda: tmp_path)
    monkeypatch.setattr(_device, "_claimed_index", None)
    held = []
    monkeypatch.setattr(_device, "_held_claims", held)
    yield ["GPU-0", "GPU-1", "GPU-2"]
    for handle in held:  # releases this process's claims
        handle.close()


@pytest.mark.slow
def test_auto_takes_a_gpu_no_other_process_has(three_gpus, holder):
    assert holder(three_gpus) == 0  # another worker on this host has cuda:0
    assert resolve_device("auto") == torch.device("cuda", 1)
    assert resolve_device("auto") == torch.device("cuda", 1)  # kept for the process
    assert holder(three_gpus) == 2


def test_auto_with_one_visible_gpu_claims_nothing(three_gpus, monkeypatch, tmp_path):
    # e.g. CUDA_VISIBLE_DEVICES=2: the worker sees one device, as cuda:0
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert list(tmp_path.iterdir()) == []


def test_explicit_devices_are_not_claimed(three_gpus, holder):
    holder(three_gpus)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    assert _device._claimed_index is None


def test_an_unusable_lock_folder_falls_back_to_the_process_id(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    index = _device.claim_device(["GPU-a", "GPU-b"], blocker / "claims")
    assert index == __import__("os").getpid() % 2


@pytest.mark.parametrize(
    "device, dtype, autocast",
    [
        ("cuda:0", torch.float32, True),  # compute capability 9: native bf16
        ("cuda:1", torch.float32, False),  # capability 7 emulates bf16
        ("cuda:0", torch.float64, False),  # float64 fits never autocast
        ("cpu", torch.float32, False),
    ],
)
def test_bf16_autocast_is_decided_by_the_fits_own_gpu(
    monkeypatch, device, dtype, autocast
):
    # The current device is cuda:0 (Hopper); cuda:1 is a Volta card.
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(
        torch.cuda,
        "get_device_properties",
        lambda index: types.SimpleNamespace(
            major=9 if torch.device(index).index == 0 else 7
        ),
    )
    factory = _precision._autocast_factory(torch.device(device), dtype)
    assert (factory is not contextlib.nullcontext) == autocast


@pytest.fixture
def cpu_autocast(monkeypatch):
    """Train float32 fits under the CPU's bf16 autocast, standing in for CUDA's.

    Records each epoch's fast step (None when the step took the autograd path)
    in ``steps``, and counts the training steps run under autocast.
    """
    steps = []
    entered = types.SimpleNamespace(count=0)
    original = _steps.FastStep.create

    def create(*args, **kwargs):
        steps.append(original(*args, **kwargs))
        return steps[-1]

    def mixed_precision():
        entered.count += 1
        return torch.autocast("cpu", dtype=torch.bfloat16)

    def factory(device, dtype):
        return mixed_precision if dtype == torch.float32 else contextlib.nullcontext

    monkeypatch.setattr(_precision, "_autocast_factory", factory)
    monkeypatch.setattr(_steps.FastStep, "create", create)
    return types.SimpleNamespace(steps=steps, entered=entered)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_training_under_bf16_autocast(cpu_autocast, dropout):
    """The GPU's mixed-precision path, run on the CPU: networks with dropout
    leave the fast path for autograd under autocast (the others take the hand
    step instead), parameters stay float32, and single and batched fits learn
    about as well as in float64."""
    from sklearn.base import clone

    from skmnist import MLPDigitClassifier, PixelScaler
    from skmnist.datasets import load_mnist
    from skmnist.model_selection import fit_many

    X, y = load_mnist(source="sample", return_X_y=True)
    X = PixelScaler().fit_transform(X)
    model = MLPDigitClassifier(
        hidden_layer_sizes=(64,),
        max_iter=4,
        learning_rate_init=3e-3,
        batch_size=200,
        dropout=dropout,
        random_state=0,
    )
    mixed = clone(model).fit(X[:2000], y[:2000])
    steps = model.max_iter * 10  # epochs x minibatches
    assert cpu_autocast.steps
    if dropout:
        assert all(step is None for step in cpu_autocast.steps)
        assert cpu_autocast.entered.count == steps
    else:
        assert all(step is not None for step in cpu_autocast.steps)
        assert cpu_autocast.entered.count == 0
    single = cpu_autocast.entered.count
    assert all(p.dtype == torch.float32 for p in mixed.module_.parameters())
    assert np.all(np.isfinite(mixed.loss_curve_))
    assert mixed.loss_curve_[-1] < 0.6 * mixed.loss_curve_[0]
    assert mixed.predict_proba(X[2000:]).dtype == np.float32

    # float64 fits never autocast: the reference.
    plain = clone(model).fit(X[:2000].astype(np.float64), y[:2000])
    assert cpu_autocast.entered.count == single
    expected = plain.score(X[2000:], y[2000:])
    assert abs(mixed.score(X[2000:], y[2000:]) - expected) < 0.03
    batched, _ = fit_many([clone(model), clone(model)], [(X[:2000], y[:2000])] * 2)
    assert cpu_autocast.entered.count == single + steps
    assert all(p.dtype == torch.float32 for p in batched.module_.parameters())
    assert abs(batched.score(X[2000:], y[2000:]) - expected) < 0.03
