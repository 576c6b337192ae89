"""A CUDA fit's hand-derived step, recorded once as a CUDA graph and replayed.

On a GPU a minibatch step of a small MLP is a few dozen microseconds of
arithmetic spread over twenty-odd kernels (:class:`~.hand_step.FastStep`'s
operations), each launched by the host in several microseconds: launching,
not computing, sets the pace. A CUDA graph records the launches of one step
and replays them all with one. A replay finds every tensor at the address
the recording saw, so :class:`GraphedKernel`

* trains on static buffers: each minibatch is copied into them (one
  device-to-device copy each for the rows and the labels), and the short
  last minibatch is padded with rows of weight 0, which add nothing to the
  gradient; the mean is taken over the real rows
  (:attr:`FastStep.mean_over <.hand_step.FastStep>`);
* weighs every minibatch (by ones when the fit has no sample weights), so
  that one recording serves every step;
* hands the update its learning rate as a device tensor
  (:attr:`FastStep.learning_rate <.hand_step.FastStep>`), rewritten when a
  schedule changes it; fused Adam already keeps its step counts on the
  device.

The first :data:`WARMUP_STEPS` steps run eagerly on these buffers, on a side
stream as CUDA graph capture requires (they create cuBLAS's workspace and
the kernels' caches); the next one is recorded, and replayed from then on.
If recording fails, the fit carries on eagerly after a warning. Only fused
Adam/AdamW updates are recorded: SGD's Python ``step`` would keep the
learning rate of the recording. A replay runs the eager step's kernels on
the same values, so it computes the same weights up to rounding: the
padded last minibatch's products also add the padding's zeros, and CUDA's
fused Adam reads the rate from the tensor in float32 where the eager step
passes it in double precision (float64 fits are therefore not recorded).
Setting the environment variable ``SKMNIST_CUDA_GRAPHS=0`` before skmnist is
imported turns recording off (eager steps on the GPU, to compare or to
debug); ``ENABLED`` is the switch it sets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol

import torch

from .._user_warning import warn_user
from .hand_step import FastStep

__all__ = ["CudaGraphRecorder", "EagerRecorder", "GraphedKernel", "graphed"]

#: Eager steps on the static buffers before the recording.
WARMUP_STEPS = 3

#: Whether CUDA fits record their steps (``SKMNIST_CUDA_GRAPHS=0``: no).
ENABLED = os.environ.get("SKMNIST_CUDA_GRAPHS", "1") != "0"

#: Set when a recording failed: later fits of the process do not retry (a
#: failed capture may leave memory in the graph's pool for good).
_FAILED = False

#: ``torch._fused_adam_`` with the learning rate as a tensor.
TENSOR_LEARNING_RATE = hasattr(torch.ops.aten._fused_adam_, "tensor_lr")


class Recorder(Protocol):
    """How :class:`GraphedKernel` warms a step up and records it."""

    def warm(self, call: Callable[[], None]) -> None:
        """Run ``call`` eagerly, as the recording needs the steps before it run."""

    def record(self, call: Callable[[], None]) -> Callable[[], None]:
        """Record ``call`` without running it; return what replays it."""


class CudaGraphRecorder:
    """Records a step as a :class:`torch.cuda.CUDAGraph`, warmed on a side stream.

    Everything runs with the fit's GPU as the current device (a fit may run
    on any GPU of the machine, and a recording on another device's stream
    would capture nothing).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.stream = torch.cuda.Stream(device)
        self.graph: torch.cuda.CUDAGraph | None = None

    def warm(self, call: Callable[[], None]) -> None:
        with torch.cuda.device(self.device):
            current = torch.cuda.current_stream()
            self.stream.wait_stream(current)
            with torch.cuda.stream(self.stream):
                call()
            current.wait_stream(self.stream)

    def record(self, call: Callable[[], None]) -> Callable[[], None]:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.device(self.device):
            current = torch.cuda.current_stream()
            try:
                with torch.cuda.graph(graph, stream=self.stream):
                    call()
            except BaseException:
                # A failed capture can leave the capture stream current.
                torch.cuda.set_stream(current)
                try:
                    torch.cuda.synchronize()
                except Exception:  # a sticky error: the capture's own is the one
                    pass
                raise
        self.graph = graph

        def replay() -> None:
            with torch.cuda.device(self.device):
                graph.replay()

        return replay


class EagerRecorder:
    """Records nothing: each "replay" runs the step eagerly.

    The static buffers, the padding and the learning-rate tensor work as
    with a CUDA graph, so a CPU fit exercises everything but the graph.
    """

    def warm(self, call: Callable[[], None]) -> None:
        call()

    def record(self, call: Callable[[], None]) -> Callable[[], None]:
        return call


class GraphedKernel:
    """A :class:`~.hand_step.FastStep` trained through static buffers, replayed.

    Parameters
    ----------
    kernel : FastStep
        The eager step, whose update is the fused Adam/AdamW kernel.
    optimizer : torch.optim.Optimizer
        Its optimizer, whose first group's ``lr`` is the learning rate.
    recorder : Recorder
        :class:`CudaGraphRecorder` on a GPU; :class:`EagerRecorder` elsewhere.
    """

    def __init__(
        self, kernel: FastStep, optimizer: torch.optim.Optimizer, recorder: Recorder
    ) -> None:
        self.kernel, self.optimizer, self.recorder = kernel, optimizer, recorder
        self.replay: Callable[[], None] | None = None
        self.eager = False  # the plain kernel from now on
        self.steps = 0
        self.buffers: tuple | None = None
        self.rate: float | None = None  # in ``kernel.learning_rate``
        self.mean_rows = 0  # in ``kernel.mean_over``
        self.ones_rows: int | None = None  # rows of ones atop zeros in the weights

    @property
    def precision(self) -> str:
        """The kernel's (see :attr:`FastStep.precision <.hand_step.FastStep>`)."""
        return self.kernel.precision

    @property
    def row_dtype(self) -> torch.dtype | None:
        """The kernel's (see :attr:`FastStep.row_dtype <.hand_step.FastStep>`)."""
        return self.kernel.row_dtype

    def _allocate(self, X, y, log_likelihood) -> None:
        rows, device, dtype = y.shape[0], X.device, log_likelihood.dtype
        # CUDA's fused kernels read a float32 rate; the CPU's read any.
        rate_dtype = torch.float32 if device.type == "cuda" else torch.float64
        self.buffers = (
            torch.zeros((rows, *X.shape[1:]), dtype=X.dtype, device=device),
            torch.zeros(rows, dtype=y.dtype, device=device),
            torch.ones(rows, dtype=dtype, device=device),
            torch.zeros(rows, dtype=dtype, device=device),
        )
        self.kernel.mean_over = torch.tensor(float(rows), dtype=dtype, device=device)
        self.kernel.learning_rate = torch.zeros((), dtype=rate_dtype, device=device)
        self.mean_rows = self.ones_rows = rows

    def _fill(self, X, y, weight) -> int:
        """The minibatch into the static buffers; its number of rows."""
        X_s, y_s, w_s, _ = self.buffers
        n = y.shape[0]
        X_s[:n].copy_(X)
        y_s[:n].copy_(y)
        # Rows past ``n`` get weight 0, and the mean is over ``n`` rows; they
        # are zeroed too, so that no overflow in them (inf * 0) can reach the
        # gradient.
        if n < len(y_s) and self.mean_rows != n:
            X_s[n:].zero_()
        if weight is not None:
            w_s[:n].copy_(weight)
            if n < len(w_s):
                w_s[n:].zero_()
            self.ones_rows = None
        elif self.ones_rows != n:
            w_s[:n].fill_(1.0)
            w_s[n:].zero_()
            self.ones_rows = n
        if self.mean_rows != n:
            self.kernel.mean_over.fill_(float(n))
            self.mean_rows = n
        rate = self.optimizer.param_groups[0]["lr"]
        if rate != self.rate:
            self.kernel.learning_rate.fill_(rate)
            self.rate = rate
        return n

    def _static_step(self) -> None:
        self.kernel(*self.buffers)

    def __call__(self, X, y, weight, log_likelihood) -> None:
        """Train on one minibatch (as :meth:`FastStep.__call__`)."""
        if self.eager:
            self.kernel(X, y, weight, log_likelihood)
            return
        if self.buffers is None:
            self._allocate(X, y, log_likelihood)
        if y.shape[0] > len(self.buffers[1]):
            self._stop_recording()  # not the loop's minibatches: none is longer
            self.kernel(X, y, weight, log_likelihood)
            return
        n = self._fill(X, y, weight)
        if self.replay is not None:
            self.replay()
        elif self.steps < WARMUP_STEPS:
            self.recorder.warm(self._static_step)
        else:
            try:
                self.replay = self.recorder.record(self._static_step)
            except torch.OutOfMemoryError:
                raise  # the fit's MemoryError, as an eager step's would be
            except Exception as error:  # whatever else it is, train on eagerly
                self._failed(error)
                self._static_step()
                self._stop_recording()
            else:
                self.replay()
        self.steps += 1
        log_likelihood.copy_(self.buffers[3][:n])

    def _failed(self, error: Exception) -> None:
        global _FAILED
        _FAILED = True
        # The capture's end reports the failure; what broke it is its context.
        cause = f"{error!r}" + (
            f", after {error.__context__!r}" if error.__context__ is not None else ""
        )
        warn_user(
            f"Recording the training step as a CUDA graph failed ({cause}); "
            "this fit and the next ones of this process train with eager "
            "steps, which give the same results more slowly.",
            RuntimeWarning,
        )

    def _stop_recording(self) -> None:
        self.eager, self.replay = True, None
        self.kernel.learning_rate = self.kernel.mean_over = None

    def release(self) -> None:
        """Let go of the graph and the static buffers (the fit is over)."""
        self._stop_recording()
        self.buffers = None
        if isinstance(self.recorder, CudaGraphRecorder):
            self.recorder.graph = None


def graphed(
    kernel: Callable, optimizer: torch.optim.Optimizer, device: torch.device
) -> Callable:
    """``kernel`` replayed from a CUDA graph where it can be; else ``kernel``.

    It can be for a :class:`~.hand_step.FastStep` of a float32 network with
    a fused Adam/AdamW update in a CUDA fit, unless ``SKMNIST_CUDA_GRAPHS=0``
    or a recording failed earlier in the process. (The fused kernels read a
    rate tensor in float32: a float64 fit's rate would be rounded.)
    """
    if not (
        ENABLED
        and not _FAILED
        and TENSOR_LEARNING_RATE
        and device.type == "cuda"
        and isinstance(kernel, FastStep)
        and kernel.fused
        and kernel.output[0].dtype == torch.float32
    ):
        return kernel
    return GraphedKernel(kernel, optimizer, CudaGraphRecorder(device))
