"""Predictions of a trained network, in memory-bounded blocks of rows on its device.

The input is never copied whole: each block of ``batch_rows`` rows is read
from the host array in place (a CPU network computes on a view of it when its
dtype is the network's) or converted on its own, and the results go straight
into one output array allocated once. On CUDA, blocks travel through two
reused page-locked (pinned) staging buffers: while the GPU computes block
``i`` on the current stream, the host fills the other buffer with block
``i + 1`` and a second stream copies it to the device, so that copies overlap
compute; the results come back through pinned buffers too, collected one
block late so that the host never waits for the block it just queued. Torch
keeps freed pinned memory in its host cache, so the buffers of one call are
reused by the next.

A ``prepare`` function (``skmnist.preprocessing.ScaledPixels.scale_block``)
runs on the device on each block as it arrives, so that raw pixels travel in
their own dtype (uint8: a quarter of the bytes of float32) and are scaled
there. Without one, rows of a dtype whose every value is a float32 (uint8
pixels) travel in their own dtype too and are converted on the device; rows
that must be converted as scikit-learn's validation would convert them all
(``host_dtype``: int64 to float32 by NumPy) are converted a block at a time on
the host.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from .data import SparseRows, device_rows, host_tensor
from .threads import ThreadPolicy

__all__ = ["finite", "predict_batches", "validation_accuracy"]

Prepare = Callable[[torch.Tensor], torch.Tensor]

#: Predictions of fewer blocks than this run at the policy's largest count:
#: timing needs a few blocks at each candidate count.
TUNED_BLOCKS = 16

#: Host dtypes a block is read in without conversion (native byte order only):
#: those torch computes with. Other blocks (uint16, big-endian data) are
#: converted to the network's dtype on the host, one block at a time.
_TORCH_DTYPES = frozenset(
    np.dtype(t)
    for t in (
        np.bool_,
        np.uint8,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.float16,
        np.float32,
        np.float64,
    )
)


class _Output:
    """The results of every block, written into one array allocated at the first."""

    def __init__(self, n_rows: int):
        self.n_rows = n_rows
        self.array: np.ndarray | None = None
        self.tensor: torch.Tensor | None = None  # a view of ``array``

    def rows(self, like: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """The host rows ``start:stop`` of the output, shaped and typed as ``like``."""
        if self.tensor is None:
            self.tensor = torch.empty((self.n_rows, *like.shape[1:]), dtype=like.dtype)
            self.array = self.tensor.numpy()
        return self.tensor[start:stop]


#: Host dtypes every value of which is a float32 (and a float64): torch
#: converts their blocks to the network's dtype exactly, on the device.
EXACT_IN_FLOAT32 = frozenset(
    np.dtype(t) for t in (np.bool_, np.uint8, np.int8, np.int16, np.float16)
)


def _host_block(
    X: np.ndarray,
    start: int,
    stop: int,
    dtype: torch.dtype,
    host_dtype: np.dtype | None = None,
) -> torch.Tensor:
    """Rows ``start:stop`` of ``X`` as a CPU tensor: a view, or a converted copy.

    ``host_dtype``, when given, is the dtype NumPy converts every block to
    first; otherwise only blocks of a dtype torch lacks are converted, to the
    network's ``dtype``. A block with negative strides is copied (torch reads
    none).
    """
    block = X[start:stop]
    if host_dtype is not None:
        block = block.astype(host_dtype, copy=False)
    elif block.dtype not in _TORCH_DTYPES:
        block = block.astype(torch.empty(0, dtype=dtype).numpy().dtype)
    if any(stride < 0 for stride in block.strides):
        block = np.ascontiguousarray(block)
    return host_tensor(block)


def _staging_dtype(
    X: np.ndarray, dtype: torch.dtype, prepare, host_dtype: np.dtype | None
) -> torch.dtype:
    """The dtype that rows of ``X`` travel to the device in.

    Raw rows travel as they are when that is fewer bytes than the network's
    dtype and the device makes of them what the host would: rows for
    ``prepare``, and rows whose every value is a float32 (uint8 pixels).
    Everything else is converted to the network's dtype on the way into the
    staging buffer, in the same pass.
    """
    exact = prepare is not None or X.dtype in EXACT_IN_FLOAT32
    if host_dtype is None and exact and X.dtype in _TORCH_DTYPES:
        raw = torch.from_numpy(np.empty(0, dtype=X.dtype)).dtype
        if raw.itemsize < dtype.itemsize:
            return raw
    return dtype


class _CudaStaging:
    """Two pinned buffers in, two out, and the events that order their reuse."""

    def __init__(self, X: np.ndarray, device: torch.device, dtype, rows: int):
        shape = (rows, *X.shape[1:])
        self.host = [torch.empty(shape, dtype=dtype, pin_memory=True) for _ in "ab"]
        self.device = [torch.empty(shape, dtype=dtype, device=device) for _ in "ab"]
        self.copied = [torch.cuda.Event() for _ in "ab"]
        self.computed = [torch.cuda.Event() for _ in "ab"]
        self.results: list[torch.Tensor | None] = [None, None]
        self.returned = [torch.cuda.Event() for _ in "ab"]
        self.pending: list[tuple[int, int, int] | None] = [None, None]
        self.copy_stream = torch.cuda.Stream(device)
        self.compute_stream = torch.cuda.current_stream(device)
        for buffer in self.device:  # freed only once the copy stream is done too
            buffer.record_stream(self.copy_stream)

    def send(
        self, slot: int, X: np.ndarray, start: int, stop: int, host_dtype
    ) -> torch.Tensor:
        """Rows ``start:stop`` of ``X`` on the device, via pinned buffer ``slot``."""
        host, device = self.host[slot][: stop - start], self.device[slot]
        self.copied[slot].synchronize()  # the buffer's last copy has left
        host.copy_(_host_block(X, start, stop, host.dtype, host_dtype))
        with torch.cuda.stream(self.copy_stream):
            self.copy_stream.wait_event(self.computed[slot])  # its last reader
            device[: stop - start].copy_(host, non_blocking=True)
            self.copied[slot].record(self.copy_stream)
        self.compute_stream.wait_event(self.copied[slot])
        return device[: stop - start]

    def receive(self, slot: int, result: torch.Tensor, out: _Output, start: int):
        """Queue ``result`` (rows from ``start``) for the host; collect slot's last."""
        self.computed[slot].record(self.compute_stream)
        self.collect(slot, out)
        buffer = self.results[slot]
        if buffer is None or buffer.shape[1:] != result.shape[1:]:
            shape = (self.host[slot].shape[0], *result.shape[1:])
            buffer = torch.empty(shape, dtype=result.dtype, pin_memory=True)
            self.results[slot] = buffer
        buffer[: result.shape[0]].copy_(result, non_blocking=True)
        self.returned[slot].record(self.compute_stream)
        out.rows(result, 0, 0)  # the output array, allocated from the first result
        self.pending[slot] = (start, start + result.shape[0], result.shape[0])

    def collect(self, slot: int, out: _Output) -> None:
        """Write the results waiting in ``slot`` into the output array."""
        if self.pending[slot] is None:
            return
        start, stop, n = self.pending[slot]
        self.returned[slot].synchronize()
        out.rows(self.results[slot], start, stop).copy_(self.results[slot][:n])
        self.pending[slot] = None

    def drain(self, out: _Output) -> None:
        torch.cuda.synchronize(self.compute_stream.device)
        for slot in (0, 1):
            self.collect(slot, out)


@torch.inference_mode()
def predict_batches(
    module: nn.Module,
    X: np.ndarray | torch.Tensor | sp.sparray | sp.spmatrix | SparseRows,
    *,
    output: Callable[[torch.Tensor], torch.Tensor] = lambda logits: logits,
    batch_rows: int = 8192,
    prepare: Prepare | None = None,
    host_dtype: np.dtype | None = None,
    threads: ThreadPolicy | None = None,
) -> np.ndarray:
    """Apply ``output(module(prepare(X)))`` in memory-bounded blocks on its device.

    The device never holds more than ``batch_rows`` rows of input at once, and
    the host only the input, one block's conversion and the output. Sparse
    rows (scipy, or :class:`SparseRows` already on the device) are densified
    there a block at a time. ``prepare``, when given, turns each block of raw
    rows on the device into the network's input. ``host_dtype``, when given,
    is the dtype NumPy converts each block of a dense host ``X`` to before
    anything else (the conversion that validating all of ``X`` would have
    made, one block at a time). If the device runs out of memory, the block is
    halved and the part retried. ``threads`` sets torch's CPU threads (None:
    as they are); with several candidate counts and at least
    :data:`TUNED_BLOCKS` blocks, the blocks are timed to choose among them,
    else the largest is used.
    """
    parameter = next(module.parameters())
    device, dtype = parameter.device, parameter.dtype
    if sp.issparse(X):
        X = X.tocsr()  # rows slice cheaply
    dense_host = isinstance(X, np.ndarray)
    staging = None
    if dense_host and device.type == "cuda":
        travel = _staging_dtype(X, dtype, prepare, host_dtype)
        try:
            staging = _CudaStaging(X, device, travel, min(batch_rows, max(len(X), 1)))
        except torch.OutOfMemoryError:  # no room for the buffers: copy unstaged
            torch.cuda.empty_cache()

    def network_input(slot: int, start: int, stop: int) -> torch.Tensor:
        if staging is not None:
            block = staging.send(slot, X, start, stop, host_dtype)
        elif dense_host:
            block = _host_block(X, start, stop, dtype, host_dtype)
            block = block.to(device, non_blocking=True)
        else:
            block = device_rows(X, slice(start, stop), device, dtype)
        if prepare is not None:
            block = prepare(block)
        return block.to(dtype)  # the block itself when it has the network's dtype

    module.eval()
    policy = (threads or ThreadPolicy.current()).for_step(module, batch_rows)
    if -(-X.shape[0] // batch_rows) < TUNED_BLOCKS:
        policy = ThreadPolicy(policy.candidates[-1:])
    with policy.applied(warmup=1, rounds=2, per_round=2) as tuner:
        out = _Output(X.shape[0])
        start, block_index = 0, 0
        while True:
            stop = min(start + batch_rows, X.shape[0])
            slot = block_index % 2
            try:
                with tuner:
                    result = output(module(network_input(slot, start, stop)))
                if staging is not None:
                    staging.receive(slot, result, out, start)
                else:
                    out.rows(result, start, stop).copy_(result)
            except torch.OutOfMemoryError:
                result = None
                if batch_rows == 1:
                    raise MemoryError(
                        f"The {device} device ran out of memory predicting "
                        "a single row."
                    ) from None
                # Retry this part in smaller blocks.
                batch_rows = max(1, batch_rows // 2)
                if staging is not None:
                    staging.drain(out)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            start, block_index = stop, block_index + 1
            if start >= X.shape[0]:
                break
        if staging is not None:
            staging.drain(out)
        return out.array


def validation_accuracy(
    module: nn.Module, X_val: np.ndarray, y_val: np.ndarray, w_val: np.ndarray | None
) -> float:
    if y_val.ndim == 2:  # multilabel: the share of samples with every label right
        predicted = predict_batches(module, X_val, output=lambda z: z > 0)
        correct = np.all(predicted == (y_val > 0.5), axis=1)
    else:
        predicted = predict_batches(module, X_val, output=lambda z: z.argmax(dim=1))
        correct = predicted == y_val
    return float(np.average(correct, weights=w_val))


def finite(output: Callable[[torch.Tensor], torch.Tensor]) -> Callable:
    """``output``, refusing logits that are not finite with a ValueError.

    A row far outside the scale the network was trained on (or damaged
    weights) overflows float32: its probabilities would be NaN and its class
    the first, without a word.
    """

    def checked(logits: torch.Tensor) -> torch.Tensor:
        if not bool(torch.isfinite(logits).all()):
            raise ValueError(
                "The network's outputs overflow for some rows of X: their values "
                "are far outside the range the model was trained on (scale them "
                "as its training data were), or its weights are damaged."
            )
        return output(logits)

    return checked
