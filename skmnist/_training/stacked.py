"""Training many MLPs of one shape at once, as one batched network.

Each model keeps its own training data (a cross-validation fold), initial
weights, shuffling, learning rate, penalty and stopping rules; the layers of
all models are stacked into ``(n_models, out, in)`` tensors, so one batched
matrix product (``torch.baddbmm``) runs a step of every model. On a GPU this
turns a search of many small fits, each too small to keep the device busy,
into a few large ones.

Without dropout every model follows exactly the computation of its single
fit (same initial weights, same minibatches, same updates), up to rounding:
the optimizers below are the batched form of torch's Adam, AdamW and SGD.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from .._user_warning import warn_user
from . import engine as _engine
from .data import SparseRows
from .network import ACTIVATIONS
from .plain_optim import plain_method
from .precision import autograd_autocast

__all__ = ["BatchedJob", "train_batched"]


@dataclass
class BatchedJob:
    """One model of a batch: its network, data and settings.

    ``X`` and ``y`` may be the very same arrays for several jobs (the folds of
    a search); they are then moved to the device once. ``X`` may be a scipy
    sparse matrix: it stays sparse on the device and each step densifies the
    rows of its minibatches only.
    """

    module: nn.Sequential
    X: np.ndarray | sp.sparray | sp.spmatrix
    y: np.ndarray
    weight: np.ndarray | None
    config: _engine.OptimizerConfig
    stopping: _engine.StoppingConfig
    label_smoothing: float
    dropout: float
    random_state: object  # torch generator states after the network was built


# ----------------------------------------------------------- random streams


@contextlib.contextmanager
def _stream(device: torch.device, states: list, index: int):
    """Draw from job ``index``'s own random stream, as if it trained alone."""
    saved = _engine.get_rng_states(device)
    _engine.set_rng_states(device, states[index])
    try:
        yield
    finally:
        states[index] = _engine.get_rng_states(device)
        _engine.set_rng_states(device, saved)


# ------------------------------------------------------------- the network


class _StackedMLP:
    """The layers of several same-shaped :func:`~skmnist._network.build_mlp` nets."""

    def __init__(
        self,
        modules: Sequence[nn.Sequential],
        dropout: torch.Tensor,
        generator: torch.Generator,
    ):
        linears = [
            [m for m in module if isinstance(m, nn.Linear)] for module in modules
        ]
        self.weights = [
            torch.stack([layers[i].weight.detach() for layers in linears]).clone()
            for i in range(len(linears[0]))
        ]
        self.biases = [
            torch.stack([layers[i].bias.detach() for layers in linears]).clone()
            for i in range(len(linears[0]))
        ]
        for tensor in self.parameters():
            tensor.requires_grad_(True)
        activation = next(
            (m for m in modules[0] if isinstance(m, tuple(ACTIVATIONS.values()))),
            nn.Identity(),
        )
        self.activation = activation
        self.keep = (1.0 - dropout)[:, None, None]
        self.use_dropout = bool((dropout > 0).any())
        self.generator = generator  # the batch's own stream for dropout masks

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases]

    def is_weight(self) -> list[bool]:
        return [True] * len(self.weights) + [False] * len(self.biases)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
            if i < last:
                x = self.activation(x)
                if self.use_dropout:
                    # In the training dtype, also where autocast makes x
                    # bfloat16, whose 1/256 steps would bias the keep rate.
                    noise = torch.rand(
                        x.shape,
                        device=x.device,
                        dtype=self.keep.dtype,
                        generator=self.generator,
                    )
                    mask = noise < self.keep
                    x = x * mask / self.keep
        return x

    def copy_into(self, index: int, module: nn.Sequential) -> None:
        linears = [m for m in module if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for layer, weight, bias in zip(
                linears, self.weights, self.biases, strict=True
            ):
                layer.weight.copy_(weight[index])
                layer.bias.copy_(bias[index])


# ------------------------------------------------------------ the optimizer


class _BatchedOptimizer:
    """Adam, AdamW or SGD for stacked parameters, one set of settings per model.

    A model whose ``active`` flag is False in a step is left exactly as it was:
    parameters, moments and step count (it has no minibatch in that step).
    """

    def __init__(self, params, is_weight, configs, device, dtype):
        self.params, self.is_weight = params, is_weight
        self.solver = configs[0].solver
        self.nesterov = configs[0].nesterovs_momentum and configs[0].momentum > 0

        def column(name):
            values = [float(getattr(c, name)) for c in configs]
            return torch.tensor(values, device=device, dtype=dtype)

        self.alpha, self.momentum = column("alpha"), column("momentum")
        self.beta_1, self.beta_2 = column("beta_1"), column("beta_2")
        self.epsilon = column("epsilon")
        self.steps = torch.zeros(len(configs), device=device, dtype=dtype)
        self.first = [torch.zeros_like(p) for p in params]  # exp_avg / momentum
        self.second = [torch.zeros_like(p) for p in params]  # exp_avg_sq

    @torch.no_grad()
    def step(self, lr: torch.Tensor, active: torch.Tensor) -> None:
        """One update of every active model, in place.

        Inactive models get coefficients that leave them bit-for-bit
        unchanged (a zero learning rate and zero moment weights); their
        gradients are zero since their samples weigh nothing.
        """
        on = active.to(self.steps.dtype)
        self.steps += on
        rate = lr * on
        if self.solver == "sgd":
            keep = torch.where(active, self.momentum, torch.ones_like(self.momentum))
        else:
            weight_1 = (1 - self.beta_1) * on
            weight_2 = (1 - self.beta_2) * on
            steps = self.steps.clamp(min=1)
            step_size = rate / (1 - self.beta_1**steps)
            root_2 = (1 - self.beta_2**steps).sqrt()
        for i, p in enumerate(self.params):
            shape = (-1,) + (1,) * (p.dim() - 1)
            decay = self.alpha.view(shape) if self.is_weight[i] else None
            grad = p.grad
            if self.solver == "sgd":
                if decay is not None:
                    grad.addcmul_(p, decay)
                grad.mul_(on.view(shape))
                buf = self.first[i]
                buf.mul_(keep.view(shape)).add_(grad)
                if self.nesterov:
                    grad.addcmul_(buf, self.momentum.view(shape))
                else:
                    grad = torch.where(self.momentum.view(shape) > 0, buf, grad)
                p.addcmul_(grad, rate.view(shape), value=-1)
            else:
                if decay is not None and self.solver == "adamw":
                    p.mul_(1 - rate.view(shape) * decay)
                elif decay is not None:
                    grad.addcmul_(p, decay)
                m, v = self.first[i], self.second[i]
                m.lerp_(grad, weight_1.view(shape))
                v.lerp_(grad.mul_(grad), weight_2.view(shape))
                denom = v.sqrt().div_(root_2.view(shape)).add_(self.epsilon.view(shape))
                p.sub_(m.div(denom).mul_(step_size.view(shape)))
            p.grad = None

    def tensors(self) -> list[torch.Tensor]:
        """The parameters and moments, for :func:`skmnist._engine.flush_subnormals`."""
        return [*self.params, *self.first, *self.second]

    def reset(self, index: int) -> None:
        """Forget model ``index``'s moments (after divergence)."""
        self.steps[index] = 0
        for tensors in (self.first, self.second):
            for t in tensors:
                t[index].zero_()

    def load_into(self, index: int, optimizer: torch.optim.Optimizer) -> None:
        """Give the torch optimizer of one model the state of model ``index``."""
        if self.steps[index] == 0 or (
            self.solver == "sgd" and self.momentum[index] == 0
        ):
            return  # torch keeps no state for these
        state = plain_method(optimizer, "state_dict")()
        per_param = {}
        for position in range(len(self.params)):
            if self.solver == "sgd":
                entry = {"momentum_buffer": self.first[position][index].clone()}
            else:
                entry = {
                    "step": self.steps[index].detach().clone().float().cpu(),
                    "exp_avg": self.first[position][index].clone(),
                    "exp_avg_sq": self.second[position][index].clone(),
                }
            per_param[position] = entry
        # Same order as torch's: the weights' group first, then the biases'.
        state["state"] = per_param
        plain_method(optimizer, "load_state_dict")(state)


# ---------------------------------------------------------------- training


def _identity(array) -> tuple:
    """What makes two arrays the same data: their memory, for NumPy arrays.

    Views of one buffer with the same layout (such as the arrays of one
    tensor, read afresh by each estimator's validation) are the same data.
    """
    if isinstance(array, np.ndarray):
        interface = array.__array_interface__
        return (interface["data"][0], array.shape, interface["strides"], array.dtype)
    return (id(array),)


def _device_arrays(arrays, device, dtype):
    """Concatenate distinct arrays once on the device; offsets per job.

    If any is scipy sparse, all are joined as one CSR matrix, kept sparse on
    the device (:class:`~skmnist._training_data.SparseRows`).
    """
    seen: dict[tuple, int] = {}
    parts, offsets, total = [], [], 0
    for array in arrays:
        key = _identity(array)
        if key not in seen:
            seen[key] = total
            parts.append(array)
            total += array.shape[0]
        offsets.append(seen[key])
    if any(sp.issparse(a) for a in parts):
        joined = sp.vstack([sp.csr_matrix(a) for a in parts], format="csr")
        return SparseRows.from_scipy(joined, device, dtype), offsets
    tensor = torch.cat([_engine.host_tensor(a) for a in parts]).to(device=device)
    return (tensor.to(dtype) if dtype is not None else tensor), offsets


def train_batched(
    jobs: Sequence[BatchedJob],
    *,
    batch_size: int,
    max_iter: int,
    shuffle: bool,
    device: torch.device,
    dtype: torch.dtype,
    dropout_seed: int = 0,
    precision: str = "auto",
) -> tuple[list[_engine.TrainingState], _BatchedOptimizer]:
    """Train every job's module in place; returns the histories and the optimizer.

    ``optimizer.load_into(i, torch_optimizer)`` hands job ``i``'s optimizer
    state to a torch optimizer over its module, for later warm starts.
    ``dropout_seed`` seeds the dropout masks of the whole batch. Float32
    training runs in bf16 autocast as the autograd path of single fits does
    for ``precision`` (:func:`~skmnist._training.precision.autograd_autocast`:
    under ``"auto"``, on GPUs with native bf16).

    Every job follows :func:`skmnist._engine.train_epochs` with
    ``check_stopping=True``: its own schedule (cosine, constant, invscaling,
    adaptive), stopping rule and divergence handling. Early stopping and
    callbacks are not handled here.
    """
    n_models = len(jobs)
    X_all, x_offsets = _device_arrays([j.X for j in jobs], device, dtype)
    rows_of = X_all.dense if isinstance(X_all, SparseRows) else X_all.__getitem__
    y_all, y_offsets = _device_arrays([j.y for j in jobs], device, None)
    y_all = y_all.long()
    sizes = [j.X.shape[0] for j in jobs]
    x_start = torch.as_tensor(x_offsets, device=device)
    y_start = torch.as_tensor(y_offsets, device=device)
    weighted = any(j.weight is not None for j in jobs)
    weights = w_start = None
    if weighted:
        per_job = [
            np.ones(n) if j.weight is None else j.weight / j.weight.mean()
            for j, n in zip(jobs, sizes, strict=True)
        ]
        weights = torch.as_tensor(np.concatenate(per_job), device=device, dtype=dtype)
        w_start = torch.as_tensor(np.cumsum([0, *sizes])[:-1], device=device)
    smoothing = torch.tensor(
        [j.label_smoothing for j in jobs], device=device, dtype=dtype
    )[:, None]
    dropout = torch.tensor([j.dropout for j in jobs], device=device, dtype=dtype)

    # Dropout masks come from a generator seeded by the jobs' seeds: a batch is
    # reproducible and the caller's torch random state is not touched.
    generator = torch.Generator(device=device)
    generator.manual_seed(dropout_seed)
    net = _StackedMLP([j.module for j in jobs], dropout, generator)
    autocast = autograd_autocast(device, dtype, precision)
    smoothed = any(j.label_smoothing > 0 for j in jobs)
    optimizer = _BatchedOptimizer(
        net.parameters(), net.is_weight(), [j.config for j in jobs], device, dtype
    )
    states = [_engine.TrainingState() for _ in jobs]
    for state, job in zip(states, jobs, strict=True):
        state.learning_rate = job.config.learning_rate_init
    streams = [j.random_state for j in jobs]
    steps_per_epoch = [math.ceil(n / batch_size) for n in sizes]
    total_steps = [s * max_iter for s in steps_per_epoch]
    training = [True] * n_models
    step = [0] * n_models
    arange = torch.arange(batch_size, device=device)
    batched_step = 0

    for _ in range(max_iter):
        if not any(training):
            break
        snapshot = [p.detach().clone() for p in net.parameters()]
        orders = []
        for m in range(n_models):
            if shuffle and training[m]:
                with _stream(device, streams, m):
                    orders.append(torch.randperm(sizes[m], device=device))
            else:
                orders.append(torch.arange(sizes[m], device=device))
        n_steps = max(s for s, t in zip(steps_per_epoch, training, strict=True) if t)
        # This epoch's minibatches of every model, as row indices into the
        # device arrays; a model with fewer (or no) steps pads with weight 0.
        positions = torch.arange(n_steps * batch_size, device=device)
        local = torch.stack(
            [
                order[positions.clamp(max=n - 1)]
                for order, n in zip(orders, sizes, strict=True)
            ]
        ).view(n_models, n_steps, batch_size)
        x_rows = (local + x_start[:, None, None]).transpose(0, 1)
        y_rows = (local + y_start[:, None, None]).transpose(0, 1)
        w_rows = (local + w_start[:, None, None]) if weighted else None
        w_rows = None if w_rows is None else w_rows.transpose(0, 1)
        remaining = np.array(sizes)[None, :] - batch_size * np.arange(n_steps)[:, None]
        counts_np = np.clip(remaining, 0, batch_size) * np.array(training)[None, :]
        counts = torch.as_tensor(counts_np, device=device, dtype=dtype)
        rates = torch.as_tensor(
            [
                [
                    _engine._scheduled_rate(
                        jobs[m].config,
                        states[m].learning_rate,
                        (step[m] + s) * batch_size,
                        step[m] + s,
                        total_steps[m],
                    )
                    for m in range(n_models)
                ]
                for s in range(n_steps)
            ],
            device=device,
            dtype=dtype,
        )
        totals = torch.zeros(n_models, device=device, dtype=torch.float64)
        for s in range(n_steps):
            count = counts[s]
            w = (arange[None, :] < count[:, None]).to(dtype)
            if w_rows is not None:
                w = w * weights[w_rows[s]]
            with autocast():  # bf16 on GPUs with native bf16, as single fits
                logits = net(rows_of(x_rows[s]))
            logits = logits.to(dtype)
            log_p = F.log_softmax(logits, dim=2)
            nll = -log_p.gather(2, y_all[y_rows[s]].unsqueeze(2)).squeeze(2)
            losses = nll
            if smoothed:  # where(): no 0 * inf for unsmoothed models
                smooth = (1 - smoothing) * nll - smoothing * log_p.mean(dim=2)
                losses = torch.where(smoothing > 0, smooth, nll)
            per_model = (losses * w).sum(dim=1) / count.clamp(min=1)
            per_model.sum().backward()
            optimizer.step(rates[s], count > 0)
            batched_step += 1
            if batched_step % _engine.FLUSH_EVERY == 0:
                _engine.flush_subnormals(optimizer.tensors())
            totals += per_model.detach().to(torch.float64) * count.to(torch.float64)
        for m in range(n_models):
            step[m] += int((counts_np[:, m] > 0).sum())
        epoch_losses = (totals.cpu().numpy() / np.array(sizes)).tolist()
        for m in range(n_models):
            if not training[m]:
                continue
            state = states[m]
            loss = epoch_losses[m]
            if not math.isfinite(loss):
                with torch.no_grad():
                    for p, old in zip(net.parameters(), snapshot, strict=True):
                        p[m] = old[m]
                optimizer.reset(m)
                state.diverged = True
                training[m] = False
                warn_user(
                    f"Training of model {m} of the batch diverged at epoch "
                    f"{state.n_iter + 1}: the loss is {loss}. The weights of the "
                    "last finite epoch were kept. Lower learning_rate_init.",
                    RuntimeWarning,
                )
                continue
            state.t += sizes[m]
            _engine._record_epoch(state, loss, None, jobs[m].stopping.tol)
            if _engine._no_progress(state, jobs[m].stopping, jobs[m].config, 0):
                state.converged = True
                training[m] = False
    for m, job in enumerate(jobs):
        net.copy_into(m, job.module)
        job.module.eval()
    return states, optimizer
