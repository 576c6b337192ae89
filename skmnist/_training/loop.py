"""The epoch loop: trains k >= 1 networks, whatever the step that trains them.

One loop for every minibatch fit. A single fit is ``k = 1``; a batched
search trains the ``k`` models of its candidates and folds together. The
loop owns, once, everything around the step (:mod:`.steps`):

* each epoch's shuffled minibatches, drawn from each network's own random
  stream and gathered from the shared device data (:mod:`.data`),
  distorted per network when it augments;
* each network's learning-rate schedule, history, stopping rule and early
  stopping on its own validation set, with the best epoch's weights kept;
* divergence (the last finite epoch's weights restored), interruption (the
  last complete epoch's, then :class:`TrainingInterrupted`) and callbacks,
  which see each network's epochs.

A network that stops leaves the stack untouched from then on, while the
others train on, so each ends as it would alone.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._user_warning import warn_user
from .data import DeviceData, minibatches, to_device
from .history import StoppingConfig, TrainingState, no_progress, record_epoch
from .numerics import FLUSH_EVERY, flush_subnormals
from .optimizers import OptimizerConfig, scheduled_rate
from .prediction import validation_accuracy
from .randomness import Streams
from .steps import Step
from .threads import ThreadTuner

__all__ = ["Checkpoint", "Run", "TrainingInterrupted", "train_epochs"]


@dataclass
class Run:
    """One network's part of the loop: its settings, history and callbacks.

    ``validation`` is ``(X_val, y_val, w_val)`` on the host when the network
    stops early on its own held-out set; ``augment`` distorts its minibatches;
    ``check_stopping`` False trains every epoch (partial_fit's single epoch).
    """

    config: OptimizerConfig
    stopping: StoppingConfig
    state: TrainingState
    validation: tuple | None = None
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None
    callbacks: Sequence[Callable[[dict], object]] = ()
    check_stopping: bool = True
    verbose: int = 0


class TrainingInterrupted(KeyboardInterrupt):
    """A ``KeyboardInterrupt`` that stopped training, with the networks consistent.

    Raised by :func:`train_epochs` once every network that was inside an
    epoch is back at its last complete epoch (its weights and history). The
    engine attaches what it trained as ``outcomes`` (one per job, see
    :func:`skmnist._training.fit.train`) for the caller to keep or drop; a
    plain ``KeyboardInterrupt`` (e.g. a second Ctrl-C while the weights were
    being restored) leaves nothing that may be kept.
    """

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: list = []


class Checkpoint:
    """A copy of a network's weights, in buffers allocated once and refreshed.

    Training keeps the weights of the last complete epoch (and of the best
    validation epoch) at every epoch: one copy into buffers made once costs
    a fraction of an epoch's work, even when an epoch is a single step.
    """

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        self.sources = tensors
        self.saved = [tensor.detach().clone() for tensor in tensors]

    @torch.no_grad()
    def save(self) -> None:
        for saved, source in zip(self.saved, self.sources, strict=True):
            saved.copy_(source)

    @torch.no_grad()
    def restore(self) -> None:
        for source, saved in zip(self.sources, self.saved, strict=True):
            source.copy_(saved)


class _Loop:
    """The state of one call of :func:`train_epochs` (see there)."""

    def __init__(
        self, runs, step, data, streams, batch_size, max_iter, shuffle, threads
    ):
        self.runs, self.step, self.data, self.streams = runs, step, data, streams
        self.threads = threads if threads is not None else contextlib.nullcontext()
        self.batch_size, self.shuffle = batch_size, shuffle
        self.sizes = np.asarray(data.sizes)
        self.steps_per_epoch = -(-self.sizes // batch_size)
        self.total_steps = self.steps_per_epoch * max_iter
        self.t_start = [run.state.t for run in runs]
        self.steps_done = np.zeros(len(runs), dtype=np.int64)
        self.training = [True] * len(runs)
        # Each network's history when its current epoch began, until the
        # epoch is recorded (None once it is).
        self.epoch_start: list = [None] * len(runs)
        self.last_complete = [Checkpoint(step.parameters(m)) for m in range(len(runs))]
        self.best: list[Checkpoint | None] = [None] * len(runs)
        self.flush_count = 0
        self.validation = []
        for run in runs:
            config = run.config
            if run.state.learning_rate is None or config.learning_rate != "adaptive":
                run.state.learning_rate = config.learning_rate_init
            if run.validation is None:
                self.validation.append(None)
                continue
            # Each fit holds out its own split: scores of earlier fits do not compare.
            run.state.best_validation_score = -math.inf
            run.state.no_improvement_count = 0
            X_val, y_val, w_val = run.validation
            X_val = to_device(X_val, data.device, data.dtype)
            self.validation.append((X_val, y_val, w_val))

    def active(self) -> list[int]:
        return [m for m, training in enumerate(self.training) if training]

    # ------------------------------------------------------------ an epoch

    def orders(self, active: list[int]) -> tuple[torch.Tensor | None, int]:
        """Each network's rows for this epoch, padded to one length."""
        device = self.data.device
        if len(self.runs) == 1 and not self.shuffle:
            return None, int(self.sizes[0])
        length = int(self.sizes[active].max())
        rows = []
        for m, n in enumerate(self.sizes.tolist()):
            if self.shuffle and m in active:
                with self.streams.of(m):
                    order = torch.randperm(n, device=device)
            else:
                order = torch.arange(n, device=device)
            if n != length:  # padding repeats rows; the step weighs them 0
                order = order[torch.arange(length, device=device).clamp(max=n - 1)]
            rows.append(order)
        return torch.stack(rows), length

    def schedule(self, active: list[int], n_steps: int) -> tuple:
        """The ``(n_steps, k)`` learning rates and rows of each step."""
        mask = np.zeros(len(self.runs), dtype=bool)
        mask[active] = True
        remaining = self.sizes[None, :] - self.batch_size * np.arange(n_steps)[:, None]
        counts = np.clip(remaining, 0, self.batch_size) * mask[None, :]
        rates = np.zeros((n_steps, len(self.runs)))
        for m in active:
            run = self.runs[m]
            for s in range(int(self.steps_per_epoch[m])):
                index = int(self.steps_done[m]) + s
                rates[s, m] = scheduled_rate(
                    run.config,
                    run.state.learning_rate,
                    self.t_start[m] + index * self.batch_size,
                    index,
                    int(self.total_steps[m]),
                )
        return rates, counts

    def epoch(self, active: list[int]) -> tuple[list[float], np.ndarray]:
        """Train every active network for one epoch; their mean losses, rates."""
        order, length = self.orders(active)
        n_steps = int(self.steps_per_epoch[active].max())
        rates, counts = self.schedule(active, n_steps)
        self.step.begin_epoch(rates, counts)
        data = self.data
        # Minus each sample's loss, summed once at the end of the epoch.
        log_likelihood = torch.empty(
            (len(self.runs), length), device=data.device, dtype=data.dtype
        )
        augmenting = any(self.runs[m].augment is not None for m in active)
        for index, (start, X, y, weight) in enumerate(
            minibatches(data, order, self.batch_size)
        ):
            if augmenting:
                X = self.augmented(X, counts[index])
            with self.threads:
                self.step(
                    index, X, y, weight, log_likelihood[:, start : start + y.shape[1]]
                )
            self.flush_count += 1
            if self.flush_count % FLUSH_EVERY == 0:
                flush_subnormals(self.step.float_state())
        self.steps_done += (counts > 0).sum(axis=0)
        if len(self.runs) == 1:  # no padding
            sums = log_likelihood[0].sum(dtype=torch.float64).reshape(1)
        else:
            within = torch.arange(length, device=data.device) < torch.as_tensor(
                self.sizes, device=data.device
            ).unsqueeze(1)
            sums = torch.where(within, log_likelihood, 0).sum(1, dtype=torch.float64)
        losses = (-sums.cpu().numpy() / self.sizes).tolist()
        return losses, rates

    def augmented(self, X: torch.Tensor, counts: np.ndarray) -> torch.Tensor:
        """Each augmenting network's rows distorted afresh, from its own stream."""
        if len(self.runs) == 1:
            return self.runs[0].augment(X[0]).unsqueeze(0)
        X = X.clone()
        for m, run in enumerate(self.runs):
            count = int(counts[m])
            if run.augment is not None and count:
                with self.streams.of(m):
                    X[m, :count] = run.augment(X[m, :count])
        return X

    # ------------------------------------------------- after each epoch

    def end_epoch(self, m: int, loss: float, rate: float, duration: float) -> None:
        """Record network ``m``'s epoch; stop it if a rule says so."""
        run, state = self.runs[m], self.runs[m].state
        if not math.isfinite(loss):
            self.last_complete[m].restore()
            self.step.reset_optimizer(m)
            state.diverged = True
            self.training[m] = False
            which = "Training" if len(self.runs) == 1 else f"Training of model {m}"
            warn_user(
                f"{which} diverged at epoch {state.n_iter + 1}: the loss is "
                f"{loss}. The weights of the last finite epoch were kept. Lower "
                "learning_rate_init or scale the input (e.g. with PixelScaler).",
                RuntimeWarning,
            )
            return
        validation = self.validation[m]
        score = (
            None
            if validation is None
            else validation_accuracy(self.step.network(m), *validation)
        )
        state.t += int(self.sizes[m])
        if record_epoch(state, loss, score, run.stopping.tol):
            if self.best[m] is None:
                self.best[m] = Checkpoint(self.step.parameters(m))
            self.best[m].save()
        self.epoch_start[m] = None  # recorded: the epoch is complete
        info = {
            "epoch": state.n_iter,
            "loss": loss,
            "validation_score": score,
            "learning_rate": rate,
            "duration": duration,
            "n_samples": int(self.sizes[m]),
        }
        if any([bool(callback(info)) for callback in run.callbacks]):
            state.stopped_by_callback = True
            self.training[m] = False
        elif run.check_stopping and no_progress(
            state, run.stopping, run.config, run.verbose
        ):
            state.converged = True
            self.training[m] = False

    def interrupted(self) -> None:
        """Undo every network's unrecorded epoch: its weights and its history."""
        for m, run in enumerate(self.runs):
            if not self.training[m]:
                continue
            started = self.epoch_start[m]
            if started is not None:  # inside an epoch: undo it
                self.last_complete[m].restore()
                run.state.__dict__.update(started)
            run.state.interrupted = True

    def run(self, max_iter: int) -> None:
        try:
            for _ in range(max_iter):
                active = self.active()
                if not active:
                    break
                started = time.perf_counter()
                for m in active:
                    self.last_complete[m].save()
                    self.epoch_start[m] = _snapshot(self.runs[m].state)
                losses, rates = self.epoch(active)
                duration = time.perf_counter() - started
                for m in active:
                    last = int(self.steps_per_epoch[m]) - 1
                    self.end_epoch(m, losses[m], float(rates[last, m]), duration)
        except KeyboardInterrupt as interrupt:
            self.interrupted()
            self.finish()
            raise TrainingInterrupted() from interrupt
        self.finish()

    def finish(self) -> None:
        """Restore each network's best validation epoch; release the step."""
        for best in self.best:
            if best is not None:
                best.restore()
        self.step.finish()


def _snapshot(state: TrainingState) -> dict:
    """The fields of ``state``, its lists copied (epochs append to them)."""
    return {
        name: list(value) if isinstance(value, list) else value
        for name, value in vars(state).items()
    }


def train_epochs(
    runs: Sequence[Run],
    step: Step,
    data: DeviceData,
    streams: Streams,
    *,
    max_iter: int,
    batch_size: int,
    shuffle: bool = True,
    threads: ThreadTuner | None = None,
) -> list[TrainingState]:
    """Train the networks of ``step`` for at most ``max_iter`` epochs.

    ``runs[m]`` describes network ``m``, which trains on its own rows of
    ``data`` (:meth:`DeviceData.for_runs`) and draws its shuffles and
    distortions from ``streams.of(m)``. Each network follows scikit-learn's
    MLP rules on its own: its schedule, its stopping rule (or early stopping
    on its validation set, after which the best epoch's weights are
    restored). After each of its epochs every callback of its run receives a
    dict with ``epoch``, ``loss``, ``validation_score`` (None without
    validation), ``learning_rate``, ``duration`` (seconds) and
    ``n_samples``; a callback that returns True stops that network. If its
    loss becomes NaN or infinite, the weights of its last finite epoch are
    restored with a warning and it stops. A ``KeyboardInterrupt`` puts every
    network inside an epoch back at its last complete epoch (weights and
    history; its optimizer keeps its moments), restores the best validation
    epoch's weights as a normal end does, marks each network still training
    ``interrupted`` and raises :class:`TrainingInterrupted`. ``threads``, when
    given, sets torch's CPU thread count for each step and times it
    (:class:`~skmnist._training.threads.ThreadTuner`). Returns each run's
    (updated) state.
    """
    loop = _Loop(runs, step, data, streams, batch_size, max_iter, shuffle, threads)
    loop.run(max_iter)
    return [run.state for run in runs]
