"""The hand-derived steps' kernels: private ones with public fallbacks, op counts.

Operations are counted as torch dispatches them (a ``TorchDispatchMode``),
views excluded (:data:`VIEWS`): they launch no kernel on any device.
"""

import copy
import functools

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from skmnist._training import hand_step
from skmnist._training import optimizers as _optimizers
from skmnist._training.hand_step import FastStep
from skmnist._training.network import build_mlp
from skmnist._training.plain_optim import plain_step

#: aten operations that only make views (or aliases) of their input.
VIEWS = frozenset(
    {
        "alias",
        "as_strided",
        "detach",
        "expand",
        "permute",
        "select",
        "slice",
        "squeeze",
        "t",
        "transpose",
        "unsqueeze",
        "view",
        "_reshape_alias",
        "_unsafe_view",
    }
)


class _Ops(TorchDispatchMode):
    """Records the name of every aten operation dispatched inside."""

    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def dispatched(call) -> list[str]:
    """The aten operations other than views that ``call()`` dispatches."""
    with _Ops() as ops:
        call()
    return [name for name in ops.names if name not in VIEWS]


def _network_and_batch(solver="adam", hidden=(512, 256), n_features=784, n=128):
    torch.manual_seed(0)
    module = build_mlp(n_features, hidden, 10)
    optimizer = _optimizers.make_optimizer(
        module, _optimizers.OptimizerConfig(solver=solver)
    )
    generator = torch.Generator().manual_seed(1)
    X = torch.rand(n, n_features, generator=generator)
    y = torch.randint(10, (n,), generator=generator)
    return module, optimizer, X, y


@pytest.mark.parametrize("solver", ["adam", "adamw"])
@pytest.mark.parametrize("matmul_dtype", [None, torch.bfloat16])
def test_public_fallbacks_give_the_private_kernels_results(
    monkeypatch, solver, matmul_dtype
):
    """Without the private kernels (another torch), the same steps, exactly."""
    module, optimizer, X, y = _network_and_batch(solver, hidden=(24, 16), n_features=30)
    twin = copy.deepcopy(module)
    twin_optimizer = _optimizers.make_optimizer(
        twin, _optimizers.OptimizerConfig(solver)
    )

    def private_kernels(available):
        for flag in (
            "FUSED_ADAM_KERNELS",
            "THRESHOLD_BACKWARD",
            "FOREACH_COPY",
            "ADDMM_ACTIVATION",
        ):
            monkeypatch.setattr(hand_step, flag, available)

    fast = FastStep.create(module, optimizer, autocast=False, matmul_dtype=matmul_dtype)
    assert not isinstance(fast.update, functools.partial)  # the direct kernel
    private_kernels(False)
    public = FastStep.create(
        twin, twin_optimizer, autocast=False, matmul_dtype=matmul_dtype
    )
    assert isinstance(public.update, functools.partial)  # the optimizer's step
    losses = [torch.empty(len(y)), torch.empty(len(y))]
    for _ in range(3):
        private_kernels(True)
        fast(X, y, None, losses[0])
        private_kernels(False)
        names = dispatched(lambda: public(X, y, None, losses[1]))
        assert "threshold_backward" not in names
        assert "_foreach_copy_" not in names
        assert "_addmm_activation" not in names
        assert torch.equal(losses[0], losses[1])
    for a, b in zip(module.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)
    fast_state = optimizer.state_dict()["state"]
    for index, entries in twin_optimizer.state_dict()["state"].items():
        for key, value in entries.items():
            assert torch.equal(fast_state[index][key], value), key


def test_the_kernel_checks_find_this_torchs_kernels():
    # torch 2.13 (the floor) has them all, with the signatures the steps use.
    assert hand_step.FUSED_ADAM_KERNELS
    assert hand_step.THRESHOLD_BACKWARD
    assert hand_step.FOREACH_COPY
    assert hand_step.ADDMM_ACTIVATION


def _autograd_step(module, optimizer, X, y):
    losses = torch.nn.functional.cross_entropy(module(X), y, reduction="none")
    for parameter in module.parameters():
        parameter.grad = None
    (losses.sum() / len(y)).backward()
    plain_step(optimizer)


@pytest.mark.parametrize(
    "matmul_dtype, most",
    [
        # Per hidden layer 1 forward (product, bias and ReLU in one) and 3
        # backward (ReLU's derivative, weight gradient, gradient flowing
        # down; the bottom layer's last is not needed), 8 for the output
        # layer and the loss, 1 sum for every bias gradient, 2 for the update.
        (None, 18),
        # The same and 5 more: bf16 copies of the weights, the top
        # activation cast up for the float32 output layer, its gradient cast
        # down and its own bias sum, the weight gradients copied to float32.
        # (The minibatch comes in bf16: fits keep their rows in it.)
        (torch.bfloat16, 23),
    ],
)
def test_one_step_dispatches_few_operations(matmul_dtype, most):
    """The default 784-512-256-10 network with Adam, batch 128, on the CPU."""
    module, optimizer, X, y = _network_and_batch()
    step = FastStep.create(module, optimizer, autocast=False, matmul_dtype=matmul_dtype)
    assert step.row_dtype == matmul_dtype
    if step.row_dtype is not None:
        X = X.to(step.row_dtype)
    log_likelihood = torch.empty(len(y))
    step(X, y, None, log_likelihood)  # the optimizer's state is created
    names = dispatched(lambda: step(X, y, None, log_likelihood))
    assert len(names) <= most, names
    assert names.count("_fused_adam_") == 1  # one update of all parameters
    products = {"mm", "addmm", "_addmm_activation"}
    assert sum(name in products for name in names) == 3 + 2 * 3 - 1

    # Fewer than the autograd path of the same step (in bf16: under autocast,
    # as CUDA trained float32 networks before the bf16 hand step).
    reference, reference_optimizer, _, _ = _network_and_batch()

    def autograd_step():
        with torch.autocast("cpu", torch.bfloat16, enabled=matmul_dtype is not None):
            _autograd_step(reference, reference_optimizer, X, y)

    autograd_step()
    assert len(names) < len(dispatched(autograd_step))
