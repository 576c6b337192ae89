"""The hand-derived training step agrees with autograd and torch's optimizers."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose

from skmnist import MLPDigitClassifier
from skmnist._training import optimizers as _optimizers
from skmnist._training.hand_step import FastStep
from skmnist._training.network import build_mlp

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _batch(n=16, d=12, n_classes=4, weighted=False, dtype=torch.float64):
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=generator, dtype=dtype)
    y = torch.randint(n_classes, (n,), generator=generator)
    weight = torch.rand(n, generator=generator, dtype=dtype) + 0.5 if weighted else None
    return X, y, weight


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("hidden", [(), (9,), (9, 7)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_gradients_and_loss_equal_autograd(
    activation, hidden, weighted, label_smoothing
):
    torch.manual_seed(1)
    module = build_mlp(12, hidden, 4, activation=activation).double()
    X, y, weight = _batch(weighted=weighted)

    losses = F.cross_entropy(
        module(X), y, reduction="none", label_smoothing=label_smoothing
    )
    if weight is not None:
        losses = losses * weight
    (losses.sum() / len(y)).backward()
    expected = {name: p.grad.clone() for name, p in module.named_parameters()}
    before = copy.deepcopy(module.state_dict())

    frozen = torch.optim.SGD(module.parameters(), lr=0.0)
    step = FastStep.create(
        module, frozen, autocast=False, label_smoothing=label_smoothing
    )
    assert step is not None
    log_likelihood = torch.full((len(y),), np.nan, dtype=torch.float64)
    step(X, y, weight, log_likelihood)

    assert_allclose(-log_likelihood.numpy(), losses.detach().numpy(), rtol=1e-12)
    for name, p in module.named_parameters():
        assert_allclose(p.grad.numpy(), expected[name].numpy(), rtol=1e-10, atol=1e-13)
    for name, value in module.state_dict().items():  # lr=0: nothing moved
        assert torch.equal(value, before[name])


@pytest.mark.parametrize("solver", ["adam", "adamw"])
@pytest.mark.parametrize(
    "alpha, bias_rate",  # one merged kernel call, or one call per group
    [(0.0, 0.01), (0.01, 0.01), (0.0, 0.03)],
)
def test_fused_update_equals_optimizer_step(solver, alpha, bias_rate):
    config = _optimizers.OptimizerConfig(
        solver=solver, alpha=alpha, learning_rate_init=0.01
    )
    torch.manual_seed(2)
    fast_module = build_mlp(12, (9,), 4).double()
    torch_module = copy.deepcopy(fast_module)
    fast_optimizer = _optimizers.make_optimizer(fast_module, config)
    torch_optimizer = _optimizers.make_optimizer(torch_module, config)
    for optimizer in (fast_optimizer, torch_optimizer):
        optimizer.param_groups[1]["lr"] = bias_rate
    step = FastStep.create(fast_module, fast_optimizer, autocast=False)
    assert step.update is not fast_optimizer.step  # the direct fused kernel

    for seed in range(3):
        X, y, _ = _batch(n=8 + seed)
        step(X, y, None, torch.empty(len(y), dtype=torch.float64))
        torch_optimizer.zero_grad()
        F.cross_entropy(torch_module(X), y).backward()
        torch_optimizer.step()

    for fast, reference in zip(
        fast_module.parameters(), torch_module.parameters(), strict=True
    ):
        assert_allclose(fast.detach().numpy(), reference.detach().numpy(), rtol=1e-9)
    fast_state = fast_optimizer.state_dict()["state"]
    torch_state = torch_optimizer.state_dict()["state"]
    for index, reference in torch_state.items():
        for key, value in reference.items():
            assert_allclose(fast_state[index][key].numpy(), value.numpy(), rtol=1e-9)

    # The optimizer carries on through its own step (e.g. after a warm start).
    torch_optimizer.zero_grad()
    fast_optimizer.zero_grad()
    X, y, _ = _batch(n=5)
    for module, optimizer in (
        (fast_module, fast_optimizer),
        (torch_module, torch_optimizer),
    ):
        F.cross_entropy(module(X), y).backward()
        optimizer.step()
    for fast, reference in zip(
        fast_module.parameters(), torch_module.parameters(), strict=True
    ):
        assert_allclose(fast.detach().numpy(), reference.detach().numpy(), rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [{"activation": "gelu"}, {"activation": "silu"}, {"dropout": 0.2}],
)
def test_other_networks_use_autograd(kwargs):
    module = build_mlp(12, (9,), 4, **kwargs)
    optimizer = torch.optim.Adam(module.parameters())
    assert FastStep.create(module, optimizer, autocast=False) is None


def test_autocast_uses_autograd():
    module = build_mlp(12, (9,), 4)
    optimizer = torch.optim.Adam(module.parameters())
    assert FastStep.create(module, optimizer, autocast=True) is None


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_fit_matches_the_autograd_path(monkeypatch, solver):
    rng = np.random.RandomState(0)
    X = rng.rand(300, 20)  # float64: both paths agree to rounding
    y = rng.randint(3, size=300)
    weight = rng.rand(300) + 0.5
    params = dict(
        hidden_layer_sizes=(16, 8),
        max_iter=3,
        batch_size=32,
        solver=solver,
        label_smoothing=0.1,
        random_state=0,
        device="cpu",
    )
    calls = []
    original = FastStep.__call__
    monkeypatch.setattr(
        FastStep, "__call__", lambda self, *a: calls.append(1) or original(self, *a)
    )
    fast = MLPDigitClassifier(**params).fit(X, y, sample_weight=weight)
    assert len(calls) == 3 * 10  # every minibatch took the fast step
    monkeypatch.setattr(FastStep, "create", classmethod(lambda *a, **k: None))
    slow = MLPDigitClassifier(**params).fit(X, y, sample_weight=weight)
    assert_allclose(fast.loss_curve_, slow.loss_curve_, rtol=1e-9)
    assert_allclose(fast.predict_proba(X), slow.predict_proba(X), rtol=1e-8)
