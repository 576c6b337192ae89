"""The engine's entry point: train one network, or several together.

:func:`train` takes :class:`Job` objects (validated data and settings, made
by :mod:`skmnist._fit_plan`) and returns each network, optimizer and
history. One job trains alone, on the fastest step for it
(:func:`~skmnist._training.steps.single_step`), or with L-BFGS; several jobs
whose networks have one shape (:func:`stack_key`) train as one stack
(:class:`~skmnist._training.stacked.StackedStep`). Either way the epochs
run in the one loop, :func:`~skmnist._training.loop.train_epochs`.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .data import DeviceData
from .history import TrainingState
from .lbfgs import train_lbfgs
from .loop import Run, TrainingInterrupted, train_epochs
from .network import build_mlp
from .numerics import flush_denormals
from .optimizers import make_optimizer, resume_optimizer
from .precision import dtype_name
from .randomness import Streams, get_rng_states, seeded
from .stacked import StackedStep
from .steps import single_step
from .threads import ThreadPolicy

__all__ = ["Job", "Outcome", "stack_key", "train"]


@dataclass
class Job:
    """One network to train: its data, its part of the loop, where it starts.

    ``run`` holds its optimizer settings, stopping rules, validation set,
    callbacks and the history it continues (a fresh one for a new network).
    ``module`` is None for a new network of ``architecture`` (the keyword
    arguments of :func:`~skmnist._training.network.build_mlp`), or the
    fitted network a warm start continues (copied first, so that a failed
    fit cannot change it), with the ``optimizer`` it continues.
    """

    X: object
    y: np.ndarray
    weight: np.ndarray | None
    device: torch.device
    dtype: torch.dtype
    seed: int
    architecture: dict
    run: Run
    batch_size: int
    max_iter: int
    module: nn.Module | None = None
    optimizer: torch.optim.Optimizer | None = None
    shuffle: bool = True
    label_smoothing: float = 0.0
    max_fun: int = 15000
    precision: str = "auto"
    threads: ThreadPolicy | None = None  # None: torch's count as it is

    @property
    def lbfgs(self) -> bool:
        return self.run.config.solver == "lbfgs"

    @property
    def multilabel(self) -> bool:
        return np.ndim(self.y) == 2

    def out_of_memory(self, n_jobs: int = 1, host: bool = False) -> MemoryError:
        """The error to raise when the device (``host``: the CPU) ran out of memory."""
        device = torch.device("cpu") if host else self.device
        n, d = self.X.shape
        itemsize = 8 if self.dtype == torch.float64 else 4
        if n_jobs > 1:
            return MemoryError(
                f"The {device} device ran out of memory training {n_jobs} "
                "models at once; lower max_models (or batch_size)."
            )
        widths = [
            self.architecture["n_features"],
            *self.architecture["hidden_layer_sizes"],
            self.architecture["n_outputs"],
        ]
        weights = sum(a * b + b for a, b in itertools.pairwise(widths))
        where = "" if device.type == "cpu" else ", or use device='cpu'"
        return MemoryError(
            f"The {device} device ran out of memory in fit: the network "
            f"has {weights:,} weights ({_size(weights * itemsize)}, and "
            f"as much again for each of its gradient and optimizer moments), "
            f"the training set ({n} x {d}, {_size(n * d * itemsize)}) is kept on the "
            f"device and trained in minibatches of batch_size={self.batch_size}. "
            "Lower hidden_layer_sizes or batch_size, or fit on fewer samples "
            f"per call (partial_fit){where}."
        )


@dataclass
class Outcome:
    """A trained network, its optimizer (None after L-BFGS) and its history.

    ``precision`` names what the training's matrix products ran in:
    ``"bfloat16"`` (the bf16 hand step, or autocast), else the fit's dtype.
    """

    module: nn.Module
    optimizer: torch.optim.Optimizer | None
    state: TrainingState
    precision: str = "float32"


def stack_key(job: Job) -> tuple | None:
    """What jobs must share to train as one stack; None if this one cannot."""
    if job.lbfgs or job.multilabel:
        return None
    arch = job.architecture
    config = job.run.config
    return (
        arch["n_features"],
        tuple(arch["hidden_layer_sizes"]),
        arch["n_outputs"],
        arch["activation"],
        job.batch_size,
        job.max_iter,
        job.shuffle,
        config.solver,
        config.nesterovs_momentum and config.momentum > 0,
        str(job.device),
        job.dtype,
        job.precision,
    )


def train(jobs: Sequence[Job]) -> list[Outcome]:
    """Train ``jobs``: one alone, several (of one :func:`stack_key`) stacked.

    A device out of memory raises a :class:`MemoryError` that says what to
    lower, after every tensor of the failed fit has been let go, so that a
    retry with smaller settings finds the memory free. A ``KeyboardInterrupt``
    while the epochs run raises :class:`~.loop.TrainingInterrupted` with each job's
    outcome at its last complete epoch as ``outcomes`` (the history tells how
    many epochs completed); one at any other point propagates as it is.
    """
    failed = None
    try:
        return _train_one(jobs[0]) if len(jobs) == 1 else _train_stacked(jobs)
    except torch.OutOfMemoryError:
        failed = jobs[0].out_of_memory(len(jobs))
    except RuntimeError as error:
        if not _host_out_of_memory(error):
            raise
        failed = jobs[0].out_of_memory(len(jobs), host=True)
    # Raised here, outside the handler, so that no traceback keeps the failed
    # fit's tensors alive.
    if jobs[0].device.type == "cuda":
        torch.cuda.empty_cache()
    raise failed


def _size(n_bytes: int) -> str:
    """``n_bytes`` in MB, or in GB from one GB on."""
    if n_bytes >= 2**30:
        return f"{n_bytes / 2**30:,.1f} GB"
    return f"{n_bytes / 2**20:,.0f} MB"


def _host_out_of_memory(error: RuntimeError) -> bool:
    """Whether ``error`` is torch's CPU allocator failing (not an OutOfMemoryError)."""
    return "DefaultCPUAllocator" in str(error)


def _network(job: Job) -> nn.Module:
    """The job's network on its device: a copy of the fitted one, or a new one."""
    if job.module is not None:
        return copy.deepcopy(job.module).to(job.device)
    return build_mlp(**job.architecture).to(device=job.device, dtype=job.dtype)


def _train_one(job: Job) -> list[Outcome]:
    with seeded(job.device, job.seed), flush_denormals():
        module = _network(job)
        state = job.run.state
        data = DeviceData.from_numpy(job.X, job.y, job.weight, job.device, job.dtype)
        if job.lbfgs:  # L-BFGS starts afresh at every fit, as in MLPClassifier
            with _threads(job).for_step(module, len(data)).applied() as tuner:
                state = train_lbfgs(
                    module,
                    data,
                    state,
                    alpha=job.run.config.alpha,
                    max_iter=job.max_iter,
                    max_fun=job.max_fun,
                    tol=job.run.stopping.tol,
                    label_smoothing=job.label_smoothing,
                    threads=tuner,
                )
            return [Outcome(module, None, state, dtype_name(job.dtype))]
        optimizer = make_optimizer(module, job.run.config)
        resume_optimizer(optimizer, job.optimizer)
        step = single_step(
            module,
            optimizer,
            multilabel=job.multilabel,
            label_smoothing=job.label_smoothing,
            precision=job.precision,
        )
        if step.row_dtype is not None and job.run.augment is None:
            data = data.rows_in(step.row_dtype)  # augment distorts float32 rows
        outcomes = [Outcome(module, optimizer, state, step.precision)]
        threads = _threads(job).for_step(module, job.batch_size)
        with threads.applied() as tuner, _interruptible(outcomes):
            train_epochs(
                [job.run],
                step,
                data,
                Streams(job.device),
                max_iter=job.max_iter,
                batch_size=job.batch_size,
                shuffle=job.shuffle,
                threads=tuner,
            )
    return outcomes


def _threads(job: Job) -> ThreadPolicy:
    return job.threads if job.threads is not None else ThreadPolicy.current()


@contextlib.contextmanager
def _interruptible(outcomes: list[Outcome] | Callable[[], list[Outcome]]):
    """Attach ``outcomes`` (or what it makes) to a :class:`TrainingInterrupted`."""
    try:
        yield
    except TrainingInterrupted as interrupt:
        interrupt.outcomes = outcomes if isinstance(outcomes, list) else outcomes()
        raise


def _train_stacked(jobs: Sequence[Job]) -> list[Outcome]:
    first = jobs[0]
    device = first.device
    modules, streams = [], []
    for job in jobs:
        # Each network is made (and its stream starts) as in its single fit.
        with seeded(device, job.seed):
            modules.append(_network(job))
            streams.append(get_rng_states(device))
    seeds = [job.seed for job in jobs]
    with flush_denormals():
        data = DeviceData.for_runs(
            [(job.X, job.y, job.weight) for job in jobs], device, first.dtype
        )
        step = StackedStep(
            modules,
            [job.run.config for job in jobs],
            label_smoothing=[job.label_smoothing for job in jobs],
            dropout=[job.architecture.get("dropout", 0.0) for job in jobs],
            dropout_seed=int(np.random.SeedSequence(seeds).generate_state(1)[0]),
            previous=[job.optimizer for job in jobs],
            precision=first.precision,
        )

        def outcomes() -> list[Outcome]:
            made = []
            for index, (job, module) in enumerate(zip(jobs, modules, strict=True)):
                optimizer = make_optimizer(module, job.run.config)
                step.optimizer_of(index, optimizer)
                made.append(Outcome(module, optimizer, job.run.state, step.precision))
            return made

        threads = _threads(first).for_step(modules[0], first.batch_size * len(jobs))
        with threads.applied() as tuner, _interruptible(outcomes):
            train_epochs(
                [job.run for job in jobs],
                step,
                data,
                Streams(device, streams),
                max_iter=first.max_iter,
                batch_size=first.batch_size,
                shuffle=first.shuffle,
                threads=tuner,
            )
    return outcomes()
