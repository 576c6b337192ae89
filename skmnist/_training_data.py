"""The training set on the device, and the minibatches drawn from it.

The engine moves the training arrays to the device once per fit
(:class:`DeviceData`) and draws each epoch's shuffled minibatches from them by
index (:func:`minibatches`), so the device never waits for the host.

Images have few distinct pixel values: raw MNIST has 256, and any per-value
scaling of it (such as :class:`~skmnist.PixelScaler`'s) keeps that number. On
the devices listed in ``COMPACT_DEVICE_TYPES`` a training matrix with at
most 256 distinct values is kept as ``uint8`` codes into a table of those
values, a quarter of the memory of float32, and every gathered chunk of rows
is decoded by table lookup, which gives back exactly the original values.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["COMPACT_DEVICE_TYPES", "DeviceData", "host_tensor", "minibatches"]

#: Device types on which training sets of at most 256 distinct values are
#: stored as uint8 codes. Finding the values takes one sort of the data: a few
#: milliseconds on a GPU, but seconds on a CPU, where the data is shared with
#: the caller's array and not copied in the first place.
COMPACT_DEVICE_TYPES = frozenset({"cuda"})

#: Shuffled rows are gathered this many bytes at a time (whole minibatches):
#: one large gather runs on all threads and overlaps its memory reads, where
#: one gather per minibatch waits on memory alone.
GATHER_BYTES = 4 * 2**20


def host_tensor(array: np.ndarray) -> torch.Tensor:
    """A CPU tensor sharing ``array``'s memory, also for read-only arrays.

    The engine never writes to its input, so torch's warning about read-only
    (e.g. memory-mapped) arrays does not apply and is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The given NumPy array is not writable"
        )
        return torch.as_tensor(array)


def value_codes(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(values, codes)`` with ``values[codes] == X``, or None past 256 values.

    ``values`` holds the distinct values of ``X`` in ascending order and
    ``codes`` (uint8, shaped like ``X``) each entry's position among them.
    """
    values = torch.unique(X)
    if values.numel() > 256:
        return None
    codes = torch.searchsorted(values, X.reshape(-1), out_int32=True)
    return values, codes.to(torch.uint8).view(X.shape)


@dataclass
class DeviceData:
    """Training arrays moved to the device once.

    ``X`` holds the rows, or their uint8 codes into ``values`` when that is
    not None. ``weight`` is None when all samples weigh the same; otherwise
    it is normalised to mean one so that a minibatch loss is an unbiased
    estimate of the weighted mean loss.
    """

    X: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor | None
    values: torch.Tensor | None = None

    @classmethod
    def from_numpy(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        device: torch.device,
        dtype: torch.dtype,
    ) -> DeviceData:
        X_t = host_tensor(X).to(device=device, dtype=dtype)
        values = None
        if device.type in COMPACT_DEVICE_TYPES and X_t.numel():
            compact = value_codes(X_t)
            if compact is not None:
                values, X_t = compact
        y_t = torch.as_tensor(y, device=device, dtype=torch.long)
        w_t = None
        if sample_weight is not None and not np.all(sample_weight == sample_weight[0]):
            w = np.asarray(sample_weight, dtype=np.float64)
            w_t = torch.as_tensor(w / w.mean(), device=device, dtype=dtype)
        return cls(X_t, y_t, w_t, values)

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the rows the network sees."""
        return self.X.dtype if self.values is None else self.values.dtype

    @property
    def device(self) -> torch.device:
        return self.X.device

    def rows(self, X: torch.Tensor) -> torch.Tensor:
        """Rows of ``X`` (a part of :attr:`X`) as the network sees them."""
        if self.values is None:
            return X
        flat = torch.index_select(self.values, 0, X.reshape(-1).int())
        return flat.view(X.shape)

    def __len__(self) -> int:
        return self.X.shape[0]


def minibatches(
    data: DeviceData, order: torch.Tensor | None, batch_size: int
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """``(start, X, y, weight)`` of each minibatch, in ``order`` if given.

    Shuffled rows are gathered a chunk of several minibatches at a time into
    buffers allocated once, so that no more than about ``GATHER_BYTES`` of
    the data is ever copied at once. A minibatch is a view into them, valid
    until the next one is drawn.
    """
    n = len(data)
    row_bytes = max(1, data.X[:1].numel() * data.dtype.itemsize)
    chunk = max(1, GATHER_BYTES // (row_bytes * batch_size)) * batch_size
    arrays = [data.X, data.y] + ([] if data.weight is None else [data.weight])
    buffers = None
    for chunk_start in range(0, n, chunk):
        rows = slice(chunk_start, chunk_start + chunk)
        if order is None:
            parts = [array[rows] for array in arrays]
        else:
            index = order[rows]
            if buffers is None:  # the first chunk is the longest
                buffers = [a.new_empty((len(index), *a.shape[1:])) for a in arrays]
            parts = [
                torch.index_select(array, 0, index, out=buffer[: len(index)])
                for array, buffer in zip(arrays, buffers, strict=True)
            ]
        parts[0] = data.rows(parts[0])
        for start in range(0, parts[1].shape[0], batch_size):
            batch = [part[start : start + batch_size] for part in parts]
            yield chunk_start + start, batch[0], batch[1], (batch[2:] or [None])[0]
