"""A fit costs the same whatever the process did before it.

Two things made it depend on the process's history: the first fit in a
process imported ``torch._dynamo`` (seconds) when the optimizer was built,
and training left subnormal floats in the weights and the Adam moments, which
x86 CPUs compute on many times slower unless every thread that runs the
kernels flushes them (torch's worker threads flush only if they were started
while the flag was set).
"""

import contextlib
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from skmnist import MLPDigitClassifier
from skmnist._training import fit as _fit
from skmnist._training import numerics as _numerics
from skmnist._training import stacked as _stacked
from skmnist.datasets import load_mnist
from skmnist.model_selection import fit_many

ROOT = Path(__file__).resolve().parents[1]


def _run_fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter that imports this checkout first."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.slow  # a Python process that imports torch
@pytest.mark.parametrize(
    "params",
    [
        {"solver": "adam"},
        {"solver": "adamw"},
        {"solver": "sgd"},
        {"dropout": 0.2},
        {"solver": "lbfgs"},
    ],
    ids=["adam", "adamw", "sgd", "autograd-path", "lbfgs"],
)
def test_fit_does_not_import_dynamo(params):
    """Building and stepping the optimizer must not import torch._dynamo."""
    out = _run_fresh(
        f"""
        import sys
        from skmnist import MLPDigitClassifier
        from skmnist.datasets import load_mnist
        X, y = load_mnist(source="sample", return_X_y=True)
        clf = MLPDigitClassifier((16,), max_iter=1, batch_size=500,
                                 random_state=0, **{params!r})
        clf.fit(X[:1000] / 255.0, y[:1000])
        if hasattr(clf, "partial_fit"):
            clf.partial_fit(X[:500] / 255.0, y[:500])
        print("torch._dynamo" in sys.modules)
        """
    )
    assert out == "False"


@pytest.mark.slow  # a Python process that imports torch
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("entry", ["fit_many", "BatchedGridSearchCV"])
def test_batched_fit_does_not_import_dynamo(entry, solver):
    """Batched fits hand their optimizer state to torch optimizers: no dynamo."""
    out = _run_fresh(
        f"""
        import sys
        from skmnist import MLPDigitClassifier
        from skmnist.datasets import load_mnist
        from skmnist.model_selection import BatchedGridSearchCV, fit_many
        from sklearn.base import clone
        X, y = load_mnist(source="sample", return_X_y=True)
        X, y = X[:600] / 255.0, y[:600]
        clf = MLPDigitClassifier((16,), max_iter=2, batch_size=100, random_state=0,
                                 solver={solver!r}, momentum=0.9)
        if {entry!r} == "fit_many":
            fit_many([clf, clone(clf)], [(X, y), (X[:300], y[:300])])
        else:
            grid = {{"learning_rate_init": [1e-3, 3e-3]}}
            BatchedGridSearchCV(clf, grid, cv=2).fit(X, y)
        print("torch._dynamo" in sys.modules)
        """
    )
    assert out == "False"


def _subnormals(tensor: torch.Tensor) -> int:
    """How many entries of a float32 tensor are subnormal (read as integers)."""
    assert tensor.dtype == torch.float32
    bits = tensor.detach().cpu().contiguous().view(torch.int32) & 0x7FFFFFFF
    return int(((bits > 0) & (bits < 0x00800000)).sum())


def _state_tensors(clf):
    yield from clf.module_.parameters()
    for state in clf._optimizer.state.values():
        yield from (t for t in state.values() if torch.is_tensor(t))


@contextlib.contextmanager
def _not_flushing():
    """One thread, not flushing: every kernel stores what it computes."""
    was_flushing, threads = _numerics._flushing_denormals(), torch.get_num_threads()
    torch.set_flush_denormal(False)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_flush_denormal(was_flushing)
        torch.set_num_threads(threads)


def _blank_border_sample():
    X, y = load_mnist(source="sample", return_X_y=True)
    # The border pixels are zero: their weights get no gradient from the data.
    return (X[:1000] / 255.0).astype(np.float32), y[:1000]


def test_subnormal_count_helper():
    tiny = torch.finfo(torch.float32).tiny
    values = torch.tensor([0.0, tiny, tiny / 2, -tiny / 4, 1.0, -3e-39, 1e-45])
    assert _subnormals(values) == 4


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_long_fit_leaves_no_subnormals(monkeypatch):
    """Weights with no data gradient decay under the L2 penalty towards zero.

    Adam's moments of those weights decay too; in float32 they ended up as
    subnormals that every later step multiplied (tens of thousands of them
    after a default fit on MNIST). With no thread flushing, the weights and
    the optimizer state must hold none after a long fit.
    """
    monkeypatch.setattr(_fit, "flush_denormals", contextlib.nullcontext)
    X, y = _blank_border_sample()
    clf = MLPDigitClassifier(
        (32,), max_iter=20, batch_size=10, random_state=0, learning_rate="constant"
    )
    with _not_flushing():
        clf.fit(X, y)
    counts = [_subnormals(t) for t in _state_tensors(clf)]
    assert sum(counts) == 0, counts
    assert np.isfinite(clf.loss_curve_).all()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_long_batched_fit_leaves_no_subnormals(monkeypatch):
    """The batched Adam of ``fit_many`` decays the same weights and moments.

    Checked in the batched state itself (what every later batched step
    computes on) and in what each fitted model keeps.
    """
    monkeypatch.setattr(_fit, "flush_denormals", contextlib.nullcontext)
    kept = {}
    finish = _stacked.StackedStep.finish

    def recording(step):
        kept["optimizer"] = step.optimizer
        return finish(step)

    monkeypatch.setattr(_stacked.StackedStep, "finish", recording)
    X, y = _blank_border_sample()
    models = [
        MLPDigitClassifier(
            (32,),
            max_iter=20,
            batch_size=10,
            random_state=seed,
            learning_rate="constant",
        )
        for seed in (0, 1)
    ]
    with _not_flushing():
        fit_many(models, [(X, y)] * 2)
    batched = kept["optimizer"]
    counts = [
        _subnormals(t) for t in [*batched.params, *batched.first, *batched.second]
    ]
    assert sum(counts) == 0, counts
    for clf in models:
        counts = [_subnormals(t) for t in _state_tensors(clf)]
        assert sum(counts) == 0, counts
        assert np.isfinite(clf.loss_curve_).all()


@pytest.mark.parametrize("hardshrink", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_flush_subnormals_zeroes_tiny_values_in_place(monkeypatch, hardshrink, dtype):
    """One in-place kernel per tensor, or the mask where torch lacks it."""
    monkeypatch.setattr(_numerics, "HARDSHRINK_OUT", hardshrink)
    limit = math.sqrt(torch.finfo(dtype).tiny)
    values = torch.tensor(
        [1.0, -2.5, limit * 1.5, -limit * 1.5, limit / 2, -limit, 1e-300, 0.0],
        dtype=dtype,
    )
    values = values[values.abs() < 10]  # 1e-300 is 0 in float32 already
    kept = values.abs() > limit
    tensor = values.clone()
    storage = tensor.data_ptr()
    _numerics.flush_subnormals([tensor])
    assert tensor.data_ptr() == storage
    assert torch.equal(tensor, torch.where(kept, values, torch.zeros_like(values)))
    nan = torch.tensor([float("nan"), limit / 4], dtype=dtype)
    _numerics.flush_subnormals([nan])
    assert nan[0].isnan() and nan[1] == 0
