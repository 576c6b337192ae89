"""The training engine: device-resident minibatch training of a torch module.

Nothing here knows about scikit-learn. The estimator hands over validated
arrays and hyper-parameters; the engine moves the data to the device once,
draws shuffled minibatches by index on the device (both in
``_training_data``), runs the optimizer and the
learning-rate schedule there, applies the stopping rules and records the
history in a :class:`TrainingState`.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._user_warning import warn_user
from .data import (
    DeviceData,
    host_tensor,
    minibatches,
    to_device,
)
from .hand_step import FastStep
from .plain_optim import construct, plain_method, plain_step
from .precision import autograd_autocast, hand_step_dtype
from .prediction import predict_batches, validation_accuracy

__all__ = [
    "DeviceData",
    "OptimizerConfig",
    "StoppingConfig",
    "TrainingState",
    "clone_module",
    "flush_denormals",
    "flush_subnormals",
    "get_rng_states",
    "host_tensor",
    "make_optimizer",
    "optimizer_from_numpy",
    "optimizer_to_numpy",
    "predict_batches",
    "resume_optimizer",
    "seeded",
    "set_rng_states",
    "step_threads",
    "train_epochs",
    "train_lbfgs",
]


@dataclass
class OptimizerConfig:
    """Hyper-parameters of the optimizer and of the learning-rate schedule."""

    solver: str = "adam"
    learning_rate_init: float = 1e-3
    learning_rate: str = "constant"
    power_t: float = 0.5
    alpha: float = 0.0
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8


@dataclass
class StoppingConfig:
    """When to stop before ``max_iter`` epochs (scikit-learn's MLP rules)."""

    tol: float = 1e-4
    n_iter_no_change: int | float = 10
    early_stopping: bool = False


@dataclass
class TrainingState:
    """Everything the training history consists of; survives partial_fit calls."""

    loss_curve: list[float] = field(default_factory=list)
    validation_scores: list[float] = field(default_factory=list)
    best_loss: float = math.inf
    best_validation_score: float = -math.inf
    no_improvement_count: int = 0
    n_iter: int = 0
    t: int = 0
    learning_rate: float | None = None
    converged: bool = False
    diverged: bool = False
    interrupted: bool = False
    stopped_by_callback: bool = False
    final_loss: float | None = None


def make_optimizer(module: nn.Module, config: OptimizerConfig) -> torch.optim.Optimizer:
    """Create the optimizer; ``alpha`` is an L2 penalty on weights, not biases."""
    weights = [p for name, p in module.named_parameters() if name.endswith("weight")]
    others = [p for name, p in module.named_parameters() if not name.endswith("weight")]
    groups = [
        {"params": weights, "weight_decay": config.alpha},
        {"params": others, "weight_decay": 0.0},
    ]
    device = next(module.parameters()).device
    fast = {"fused": True} if device.type in ("cuda", "cpu") else {}
    lr = config.learning_rate_init
    if config.solver == "sgd":
        return construct(
            torch.optim.SGD,
            groups,
            lr=lr,
            momentum=config.momentum,
            nesterov=config.nesterovs_momentum and config.momentum > 0,
            **fast,
        )
    optimizer_class = (
        torch.optim.AdamW if config.solver == "adamw" else torch.optim.Adam
    )
    return construct(
        optimizer_class,
        groups,
        lr=lr,
        betas=(config.beta_1, config.beta_2),
        eps=config.epsilon,
        **fast,
    )


def resume_optimizer(
    optimizer: torch.optim.Optimizer, previous: torch.optim.Optimizer | None
) -> None:
    """Carry the per-parameter state (moments, step counts) of ``previous`` over.

    The hyper-parameters stay those of ``optimizer`` (the estimator's current
    parameters), the state is copied so that a failed fit cannot alter the
    previous optimizer, and nothing is carried across a change of solver.
    """
    if previous is None or type(previous) is not type(optimizer):
        return
    state = plain_method(optimizer, "state_dict")()
    state["state"] = copy.deepcopy(plain_method(previous, "state_dict")()["state"])
    plain_method(optimizer, "load_state_dict")(state)


_SOLVERS = {"Adam": "adam", "AdamW": "adamw", "SGD": "sgd"}


def optimizer_to_numpy(optimizer: torch.optim.Optimizer) -> dict:
    """The optimizer's per-parameter state (moments, step counts) as host arrays.

    Used when a pickle is asked to keep the optimizer state; the
    hyper-parameters are not stored, they come from the estimator.
    """
    return {
        "solver": _SOLVERS[type(optimizer).__name__],
        "state": {
            index: {
                key: value.detach().cpu().numpy().copy()
                if torch.is_tensor(value)
                else value
                for key, value in entries.items()
            }
            for index, entries in plain_method(optimizer, "state_dict")()[
                "state"
            ].items()
        },
    }


def optimizer_from_numpy(module: nn.Module, saved: dict) -> torch.optim.Optimizer:
    """Rebuild an optimizer over ``module`` from :func:`optimizer_to_numpy`'s output."""
    optimizer = make_optimizer(module, OptimizerConfig(solver=saved["solver"]))
    state = plain_method(optimizer, "state_dict")()
    state["state"] = {
        index: {
            key: torch.from_numpy(value) if isinstance(value, np.ndarray) else value
            for key, value in entries.items()
        }
        for index, entries in saved["state"].items()
    }
    plain_method(optimizer, "load_state_dict")(state)
    return optimizer


def _set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def _scheduled_rate(
    config: OptimizerConfig, base: float, t: int, step: int, total_steps: int
) -> float:
    if config.learning_rate == "cosine" and total_steps > 0:
        return (
            base
            * 0.5
            * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
        )
    if config.learning_rate == "invscaling":
        return base / (t + 1) ** config.power_t
    return base


def _sample_losses(
    logits: torch.Tensor,
    y: torch.Tensor,
    weight: torch.Tensor | None,
    label_smoothing: float,
) -> torch.Tensor:
    """Each sample's label-smoothed cross-entropy, times its weight if any.

    A 2-D float ``y`` is a multilabel indicator matrix: each label has its own
    logistic output, and a sample's loss is the sum of its labels' log-losses
    (smoothed targets move towards 0.5).
    """
    if y.ndim == 2:
        target = (
            y
            if not label_smoothing
            else y * (1 - label_smoothing) + (0.5 * label_smoothing)
        )
        losses = F.binary_cross_entropy_with_logits(
            logits, target, reduction="none"
        ).sum(dim=1)
    else:
        losses = F.cross_entropy(
            logits, y, reduction="none", label_smoothing=label_smoothing
        )
    return losses if weight is None else losses * weight


def l2_penalty(module: nn.Module, alpha: float) -> torch.Tensor:
    """``alpha / 2`` times the squared norm of the weights (not the biases)."""
    total = sum(
        (p * p).sum()
        for name, p in module.named_parameters()
        if name.endswith("weight")
    )
    return 0.5 * alpha * total


def _train_one_epoch(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: DeviceData,
    *,
    batch_size: int,
    shuffle: bool,
    label_smoothing: float,
    rate: Callable[[int], float],
    step: int,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    fast_step: FastStep | None = None,
) -> tuple[float, int]:
    """One pass over the data; returns the mean loss and the new step count.

    ``fast_step``, if given, trains each minibatch (made once per fit by
    :func:`train_epochs`); otherwise the autograd path does, under ``autocast``.
    """
    n = len(data)
    device = data.device
    order = torch.randperm(n, device=device) if shuffle else None
    # Minus each sample's loss, summed once at the end of the epoch.
    log_likelihood = torch.empty(n, device=device, dtype=data.dtype)
    module.train()
    for start, xb, yb, wb in minibatches(data, order, batch_size):
        if augment is not None:
            xb = augment(xb)
        _set_learning_rate(optimizer, rate(step))
        sample_slot = log_likelihood[start : start + yb.shape[0]]
        if fast_step is not None:
            fast_step(xb, yb, wb, sample_slot)
        else:
            with autocast():
                logits = module(xb)
            losses = _sample_losses(logits.to(data.dtype), yb, wb, label_smoothing)
            for parameter in module.parameters():
                parameter.grad = None
            (losses.sum() / len(yb)).backward()
            plain_step(optimizer)
            torch.neg(losses.detach(), out=sample_slot)
        step += 1
        if step % FLUSH_EVERY == 0:
            flush_subnormals(_float_state(module, optimizer))
    return -float(log_likelihood.sum(dtype=torch.float64)) / n, step


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class _Checkpoint:
    """A copy of a module's weights, in buffers allocated once and refreshed.

    Training keeps the weights of the last complete epoch (and of the best
    validation epoch) at every epoch: one copy into buffers made once costs
    a fraction of an epoch's work, even when an epoch is a single step.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.sources = list(module.state_dict().values())  # aliases, updated in place
        self.saved = [tensor.detach().clone() for tensor in self.sources]
        self.keys = list(module.state_dict())

    def save(self) -> None:
        torch._foreach_copy_(self.saved, self.sources)

    def restore(self) -> None:
        self.module.load_state_dict(dict(zip(self.keys, self.saved, strict=True)))


#: A CPU step of fewer multiply-adds than this (batch size x weights) trains on
#: one thread: splitting about a millisecond of work between threads saves
#: little on an idle machine, while every parallel region waits for all of
#: torch's threads, which on a busy machine costs milliseconds per operation
#: (measured: an epoch of a 2-unit network went from 0.7 ms to 30 ms).
ONE_THREAD_MACS = 2**25


@contextlib.contextmanager
def step_threads(module: nn.Module, batch_size: int):
    """Train on one CPU thread inside when a step is small (ONE_THREAD_MACS)."""
    parameter = next(module.parameters(), None)
    weights = sum(
        p.numel() for n, p in module.named_parameters() if n.endswith("weight")
    )
    before = torch.get_num_threads()
    small = batch_size * weights < ONE_THREAD_MACS
    if parameter is None or parameter.device.type != "cpu" or before == 1 or not small:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_epochs(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: DeviceData,
    state: TrainingState,
    *,
    optimizer_config: OptimizerConfig,
    stopping: StoppingConfig,
    max_iter: int,
    batch_size: int,
    shuffle: bool = True,
    label_smoothing: float = 0.0,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    validation: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
    check_stopping: bool = True,
    verbose: int = 0,
    callbacks: Sequence[Callable[[dict], object]] = (),
    precision: str = "auto",
) -> TrainingState:
    """Train ``module`` in place for at most ``max_iter`` epochs.

    ``augment``, if given, transforms every training minibatch (on the
    device) before the forward pass.
    A ``KeyboardInterrupt`` during an epoch stops training with a warning and
    keeps the weights of the last complete epoch. After each epoch every
    callback receives a dict with ``epoch``, ``loss``,
    ``validation_score`` (None without validation), ``learning_rate``,
    ``duration`` (seconds) and ``n_samples``; a callback that returns True
    stops training. ``precision`` ("auto", "float32" or "bfloat16") says
    which steps run their matrix products in bfloat16 (see
    :mod:`skmnist._training.precision`).
    With early stopping the weights of the best validation epoch are restored
    at the end. If the loss becomes NaN or infinite the weights of the last
    finite epoch are restored, a warning is issued and training stops.
    """
    steps_per_epoch = math.ceil(len(data) / batch_size)
    total_steps = steps_per_epoch * max_iter
    base = optimizer_config.learning_rate_init
    if state.learning_rate is None or optimizer_config.learning_rate != "adaptive":
        state.learning_rate = base
    step = 0
    t_start = state.t

    def rate(step_index: int) -> float:
        t = t_start + step_index * batch_size
        return _scheduled_rate(
            optimizer_config, state.learning_rate, t, step_index, total_steps
        )

    if validation is not None:
        # Each fit holds out its own split: scores of earlier fits do not compare.
        state.best_validation_score = -math.inf
        state.no_improvement_count = 0
        X_val, y_val, w_val = validation
        validation = (to_device(X_val, data.device, data.dtype), y_val, w_val)
    fast_step = (
        None  # the fast step knows the softmax cross-entropy only
        if data.y.ndim == 2
        else FastStep.create(
            module,
            optimizer,
            autocast=False,
            label_smoothing=label_smoothing,
            matmul_dtype=hand_step_dtype(precision, data.device, data.dtype),
        )
    )
    autocast = (  # for the autograd path (``precision``: see .precision)
        contextlib.nullcontext
        if fast_step is not None
        else autograd_autocast(data.device, data.dtype, precision)
    )
    best_weights = None
    last_complete = _Checkpoint(module)
    epoch_start = state.n_iter
    try:
        for _ in range(max_iter):
            started = time.perf_counter()
            epoch_start = state.n_iter
            last_complete.save()
            loss, step = _train_one_epoch(
                module,
                optimizer,
                data,
                batch_size=batch_size,
                shuffle=shuffle,
                label_smoothing=label_smoothing,
                rate=rate,
                step=step,
                augment=augment,
                autocast=autocast,
                fast_step=fast_step,
            )
            if not math.isfinite(loss):
                last_complete.restore()
                optimizer.state.clear()  # its moments are no longer finite either
                state.diverged = True
                warn_user(
                    f"Training diverged at epoch {state.n_iter + 1}: the loss is "
                    f"{loss}. The weights of the last finite epoch were kept. Lower "
                    "learning_rate_init or scale the input (e.g. with PixelScaler).",
                    RuntimeWarning,
                )
                break
            score = (
                None if validation is None else validation_accuracy(module, *validation)
            )
            state.t += len(data)
            if _record_epoch(state, loss, score, stopping.tol):
                if best_weights is None:
                    best_weights = _Checkpoint(module)
                best_weights.save()
            info = {
                "epoch": state.n_iter,
                "loss": loss,
                "validation_score": score,
                "learning_rate": rate(max(step - 1, 0)),
                "duration": time.perf_counter() - started,
                "n_samples": len(data),
            }
            if any([bool(callback(info)) for callback in callbacks]):
                state.stopped_by_callback = True
                break
            if check_stopping and _no_progress(
                state, stopping, optimizer_config, verbose
            ):
                state.converged = True
                break
    except KeyboardInterrupt:
        if state.n_iter == epoch_start:  # interrupted inside an epoch: undo it
            last_complete.restore()
        state.interrupted = True
        warn_user(
            f"Training was interrupted after {state.n_iter} epochs; the model keeps "
            + (
                "the best validation epoch's weights."
                if best_weights is not None
                else "the last complete epoch's weights."
            ),
            UserWarning,
        )
    if best_weights is not None:
        best_weights.restore()
    module.eval()
    return state


#: Rows of a block of the L-BFGS objective (as many as a prediction batch).
_LBFGS_BLOCK_ROWS = 8192


def train_lbfgs(
    module: nn.Module,
    data: DeviceData,
    state: TrainingState,
    *,
    alpha: float,
    max_iter: int,
    max_fun: int,
    tol: float,
    label_smoothing: float = 0.0,
) -> TrainingState:
    """Minimise the full-batch loss plus ``alpha / 2 * ||W||^2`` with L-BFGS.

    torch's :class:`torch.optim.LBFGS` with a strong-Wolfe line search and a
    history of 10 corrections, as scipy's L-BFGS-B that MLPClassifier uses:
    it stops when the largest gradient entry falls to ``tol``, the loss
    stops changing, ``max_iter`` iterations are done or ``max_fun`` loss
    evaluations are spent. ``state.n_iter`` gains the iterations run,
    ``state.loss_curve`` is left as it is, and ``state.converged`` tells
    whether it stopped before a budget ran out. If the loss becomes
    non-finite the weights are restored with a warning.
    """
    optimizer = torch.optim.LBFGS(
        module.parameters(),
        lr=1.0,
        max_iter=max_iter,
        max_eval=max_fun,
        tolerance_grad=tol,
        tolerance_change=float(np.finfo(np.float64).eps * 1e7),  # scipy's ftol
        history_size=10,
        line_search_fn="strong_wolfe",
    )
    initial = _snapshot(module)
    module.train()

    n_samples = len(data)

    def objective(backward: bool) -> torch.Tensor:
        # The mean loss over blocks of rows (each block's graph freed by its
        # backward pass), so sparse data are densified a block at a time.
        total = torch.zeros((), device=data.device, dtype=data.dtype)
        for start in range(0, n_samples, _LBFGS_BLOCK_ROWS):
            rows = slice(start, min(start + _LBFGS_BLOCK_ROWS, n_samples))
            X = data.X.dense(rows) if data.sparse else data.X[rows]
            weight = None if data.weight is None else data.weight[rows]
            part = (
                _sample_losses(
                    module(data.rows(X)), data.y[rows], weight, label_smoothing
                ).sum()
                / n_samples
            )
            if backward:
                part.backward()
            total += part.detach()
        penalty = l2_penalty(module, alpha)
        if backward:
            penalty.backward()
        return total + penalty.detach()

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        return objective(backward=True)

    loss = float(optimizer.step(closure).detach())
    with torch.no_grad():
        final = float(objective(backward=False))
    lbfgs_state = optimizer.state[next(module.parameters())]
    n_iter = int(lbfgs_state.get("n_iter", 0))
    evaluations = int(lbfgs_state.get("func_evals", 0))
    module.eval()
    if not (math.isfinite(loss) and math.isfinite(final)):
        module.load_state_dict(initial)
        state.diverged = True
        warn_user(
            f"L-BFGS diverged: the loss is {final}. The initial weights were kept. "
            "Scale the input (e.g. with PixelScaler) or raise alpha.",
            RuntimeWarning,
        )
        return state
    state.n_iter += n_iter
    state.t += n_iter * len(data)
    state.best_loss = min(state.best_loss, final)
    state.final_loss = final
    state.converged = n_iter < max_iter and evaluations < max_fun
    return state


def _record_epoch(
    state: TrainingState, loss: float, score: float | None, tol: float
) -> bool:
    """Append an epoch to the history; True when it is the best validation epoch."""
    state.n_iter += 1
    state.loss_curve.append(loss)
    best = False
    if score is None:
        improved = loss < state.best_loss - tol
        state.best_loss = min(state.best_loss, loss)
    else:
        state.validation_scores.append(score)
        improved = score > state.best_validation_score + tol
        best = score > state.best_validation_score
        state.best_validation_score = max(state.best_validation_score, score)
    state.no_improvement_count = 0 if improved else state.no_improvement_count + 1
    return best


def _no_progress(
    state: TrainingState,
    stopping: StoppingConfig,
    config: OptimizerConfig,
    verbose: int,
) -> bool:
    """scikit-learn's rule: stop after n_iter_no_change epochs without progress.

    With the "adaptive" schedule the learning rate is divided by 5 instead,
    until it falls below 1e-6.
    """
    if state.no_improvement_count <= stopping.n_iter_no_change:
        return False
    if config.learning_rate == "adaptive" and state.learning_rate > 1e-6:
        state.learning_rate /= 5.0
        state.no_improvement_count = 0
        if verbose:
            print(f"Setting learning rate to {state.learning_rate:.6g}")
        return False
    if verbose:
        what = "Validation score" if state.validation_scores else "Training loss"
        print(
            f"{what} did not improve more than tol={stopping.tol} for "
            f"{stopping.n_iter_no_change} consecutive epochs. Stopping."
        )
    return True


def clone_module(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` on the same device (for failure-safe warm starts)."""
    return copy.deepcopy(module)


@contextlib.contextmanager
def flush_denormals():
    """Treat subnormal floats as zero on the CPU while training.

    Late in training, near-certain softmax outputs make the gradients
    subnormal, and x86 CPUs compute on subnormals up to ten times slower
    (measured: an MNIST epoch went from 2 s to 18 s by epoch 6). Flushing them
    changes nothing visible in the results. torch sets the calling thread's
    flag (threads started meanwhile, such as torch's OpenMP workers on their
    first use, inherit it) and offers no way to read it, so it is probed
    first: a thread that flushes already keeps flushing, the others are
    switched back afterwards.
    """
    already = _flushing_denormals()
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported and not already:
            torch.set_flush_denormal(False)


#: Steps between two :func:`flush_subnormals` calls during training.
FLUSH_EVERY = 16


def flush_subnormals(tensors: Iterable[torch.Tensor]) -> None:
    """Set the entries of ``tensors`` closer to zero than √tiny to zero, in place.

    ``tensors`` are a network's parameters and its optimizer's moments (those
    of a torch optimizer: :func:`_float_state`; the batched one's:
    :meth:`skmnist._batched._BatchedOptimizer.tensors`).

    A weight that gets no gradient from the data (one of an always-blank
    border pixel, one out of a unit that never fires) shrinks geometrically
    under the L2 penalty, and so do its Adam moments; in float32 they reach
    the subnormal range within a few epochs and stay there, tens of thousands
    of them on MNIST. Every later step then computes on subnormals, which
    x86 CPUs do many times slower unless the thread that runs the kernel
    flushes them, and torch's worker threads flush only if they were started
    while the calling thread did (see :func:`flush_denormals`). Zero is a
    fixed point of that decay (zero weight, zero moments: zero update), so
    values are sent there long before they become subnormal: below
    ``sqrt(tiny)`` (1.1e-19 in float32), a value whose square (Adam squares
    the gradient) is subnormal already and whose contribution no float32 sum
    next to the network's other terms can show. Called every
    :data:`FLUSH_EVERY` steps, which no moment decays fast enough to cross
    from the threshold into the subnormal range in between.
    """
    with torch.no_grad():
        for tensor in tensors:
            limit = math.sqrt(torch.finfo(tensor.dtype).tiny)
            tensor.masked_fill_(tensor.abs() < limit, 0.0)


def _float_state(module: nn.Module, optimizer: torch.optim.Optimizer):
    """The parameters, then the optimizer's floating tensors other than scalars."""
    yield from (p.detach() for p in module.parameters())
    for entries in optimizer.state.values():
        for value in entries.values():
            if torch.is_tensor(value) and value.is_floating_point() and value.ndim:
                yield value


def _flushing_denormals() -> bool:
    """Whether the CPU flushes subnormal results to zero (1e-40 in float32 is one)."""
    tiny = torch.tensor(1e-30, dtype=torch.float32, device="cpu")
    return bool(tiny * 1e-10 == 0)


def get_rng_states(device: torch.device) -> tuple:
    """The states of torch's CPU generator and of ``device``'s (CUDA or MPS)."""
    if device.type == "cuda":
        return torch.get_rng_state(), torch.cuda.get_rng_state(device)
    if device.type == "mps":
        return torch.get_rng_state(), torch.mps.get_rng_state()
    return torch.get_rng_state(), None


def set_rng_states(device: torch.device, states: tuple) -> None:
    """Restore states made by :func:`get_rng_states` for the same device."""
    cpu, accelerator = states
    torch.set_rng_state(cpu)
    if device.type == "cuda":
        torch.cuda.set_rng_state(accelerator, device)
    elif device.type == "mps":
        torch.mps.set_rng_state(accelerator)


@contextlib.contextmanager
def seeded(device: torch.device, seed: int):
    """Seed torch's CPU generator (and ``device``'s) inside, restore them after.

    fit calls are meant to run one per process at a time: torch's generators
    are process-wide, so fits in parallel *threads* of one process would
    disturb each other's random streams.

    Training is reproducible for a given seed while the caller's global torch
    random state is left exactly as it was.
    """
    saved = get_rng_states(device)
    try:
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        elif device.type == "mps":
            torch.mps.manual_seed(seed)
        yield
    finally:
        set_rng_states(device, saved)
