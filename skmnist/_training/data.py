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

A scipy sparse training matrix stays sparse on the device (:class:`SparseRows`,
its CSR arrays) and is densified there one minibatch at a time
(:func:`densify_rows`), never as a whole: a minibatch of it equals the dense
matrix's, value for value.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

__all__ = [
    "COMPACT_DEVICE_TYPES",
    "DeviceData",
    "SparseRows",
    "densify_rows",
    "device_rows",
    "host_tensor",
    "minibatches",
    "to_device",
]

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
class SparseRows:
    """A CSR matrix on the device, densified a block of rows at a time.

    ``crow``, ``col`` and ``values`` are the CSR arrays on the device
    (``col`` as int32, half the memory of int64); ``indptr`` is the row
    pointer kept on the host too, so that contiguous rows are cut out without
    waiting for the device, and ``max_row_nnz`` the most entries of a row.
    """

    crow: torch.Tensor
    col: torch.Tensor
    values: torch.Tensor
    indptr: np.ndarray
    shape: tuple[int, int]
    max_row_nnz: int

    @classmethod
    def from_scipy(
        cls, X: sp.sparray | sp.spmatrix, device: torch.device, dtype: torch.dtype
    ) -> SparseRows:
        """The CSR arrays of ``X`` (any scipy sparse format) moved to ``device``."""
        X = X.tocsr()
        indptr = np.asarray(X.indptr, dtype=np.int64)
        first, last = int(indptr[0]), int(indptr[-1])
        indptr = indptr - first
        return cls(
            crow=torch.from_numpy(indptr).to(device),
            col=torch.from_numpy(np.asarray(X.indices[first:last], dtype=np.int32)).to(
                device
            ),
            values=host_tensor(X.data[first:last]).to(device=device, dtype=dtype),
            indptr=indptr,
            shape=(int(X.shape[0]), int(X.shape[1])),
            max_row_nnz=int(np.diff(indptr).max(initial=0)),
        )

    @property
    def dtype(self) -> torch.dtype:
        return self.values.dtype

    @property
    def device(self) -> torch.device:
        return self.values.device

    def dense(self, rows: slice | torch.Tensor | None = None) -> torch.Tensor:
        """The dense rows ``rows`` (all by default); see :func:`densify_rows`."""
        return densify_rows(self, rows)


def densify_rows(
    sparse: SparseRows, rows: slice | torch.Tensor | None = None
) -> torch.Tensor:
    """Rows of ``sparse`` as a dense tensor on its device, shaped ``(*rows, d)``.

    ``rows`` is a slice of contiguous rows (None: all), or a tensor of row
    indices of any shape (a shuffled minibatch, or one per model of a batched
    fit). Entries a CSR matrix repeats are summed, as scipy's ``toarray``
    does; every other value is copied exactly. Only the rows asked for are
    ever densified.
    """
    n_features = sparse.shape[1]
    if not isinstance(rows, torch.Tensor):
        start, stop, _ = (rows or slice(None)).indices(sparse.shape[0])
        stop = max(start, stop)
        first, last = int(sparse.indptr[start]), int(sparse.indptr[stop])
        out = sparse.values.new_zeros((stop - start) * n_features)
        if last > first:
            counts = sparse.crow[start + 1 : stop + 1] - sparse.crow[start:stop]
            row = torch.repeat_interleave(
                torch.arange(stop - start, device=sparse.device),
                counts,
                output_size=last - first,
            )
            flat = row * n_features + sparse.col[first:last]
            out.index_add_(0, flat, sparse.values[first:last])
        return out.view(stop - start, n_features)
    index = rows.reshape(-1)
    out = sparse.values.new_zeros((index.numel(), n_features))
    width = sparse.max_row_nnz
    if width and index.numel():
        # Each row's entries, padded to the longest row: no size to wait for.
        starts = sparse.crow[index]
        counts = sparse.crow[index + 1] - starts
        offsets = torch.arange(width, device=sparse.device)
        present = offsets < counts[:, None]
        position = torch.where(present, starts[:, None] + offsets, 0)
        values = torch.where(present, sparse.values[position], 0)
        out.scatter_add_(1, sparse.col[position].long(), values)
    return out.view(*rows.shape, n_features)


def to_device(
    X: np.ndarray | torch.Tensor | sp.sparray | sp.spmatrix,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor | SparseRows:
    """Host rows on ``device``: a tensor, or :class:`SparseRows` for sparse input."""
    if sp.issparse(X):
        return SparseRows.from_scipy(X, device, dtype)
    return host_tensor(X).to(device=device, dtype=dtype)


def device_rows(
    X: np.ndarray | torch.Tensor | sp.sparray | sp.spmatrix | SparseRows,
    rows: slice,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """The dense rows ``rows`` of ``X`` on ``device``, densified there if sparse.

    A scipy matrix must be CSR, whose rows slice cheaply.
    """
    if isinstance(X, SparseRows):
        return X.dense(rows)
    if sp.issparse(X):
        return SparseRows.from_scipy(X[rows], device, dtype).dense()
    return host_tensor(X[rows]).to(device=device, dtype=dtype, non_blocking=True)


def _identity(array) -> tuple:
    """What makes two arrays the same data: their memory, for NumPy arrays.

    Views of one buffer with the same layout (such as the arrays of one
    tensor, read afresh by each estimator's validation) are the same data.
    """
    if isinstance(array, np.ndarray):
        interface = array.__array_interface__
        return (interface["data"][0], array.shape, interface["strides"], array.dtype)
    return (id(array),)


def _joined(arrays: list, device: torch.device, dtype: torch.dtype | None):
    """The distinct arrays of ``arrays`` on the device, and each one's first row.

    An array that is the very same as, or equal to, an earlier one (the
    folds of a search, the equal validation splits of its candidates) is
    moved once. A single array is moved as :func:`to_device` moves it (on
    the CPU: shared, not copied). If any is scipy sparse, all are joined as
    one CSR matrix kept sparse on the device (:class:`SparseRows`).
    """
    seen: dict[tuple, int] = {}
    parts: list = []
    part_starts: list[int] = []
    starts: list[int] = []
    total = 0
    for array in arrays:
        key = _identity(array)
        at = seen.get(key)
        if at is None and isinstance(array, np.ndarray):
            at = next(
                (
                    start
                    for part, start in zip(parts, part_starts, strict=True)
                    if isinstance(part, np.ndarray)
                    and part.shape == array.shape
                    and part.dtype == array.dtype
                    and np.array_equal(part[:1], array[:1])  # most differ here
                    and np.array_equal(part, array)
                ),
                None,
            )
        if at is None:
            at = total
            parts.append(array)
            part_starts.append(at)
            total += array.shape[0]
        seen.setdefault(key, at)
        starts.append(at)
    if len(parts) == 1 and dtype is not None:
        return to_device(parts[0], device, dtype), starts
    if any(sp.issparse(a) for a in parts):
        joined = sp.vstack([sp.csr_matrix(a) for a in parts], format="csr")
        return SparseRows.from_scipy(joined, device, dtype), starts
    tensor = torch.cat([host_tensor(np.asarray(a)) for a in parts]).to(device=device)
    return (tensor if dtype is None else tensor.to(dtype)), starts


@dataclass
class DeviceData:
    """The training arrays of one or more networks, moved to the device once.

    ``X`` holds the rows, or their uint8 codes into ``values`` when that is
    not None, or a sparse matrix's CSR arrays (:class:`SparseRows`). Networks
    trained together (:meth:`for_runs`) share it: network ``m`` trains on the
    ``sizes[m]`` rows of ``X`` from ``x_start[m]`` (and of ``y`` from
    ``y_start[m]``, of ``weight`` from ``w_start[m]``). ``weight`` is None
    when all samples weigh the same; otherwise each network's weights are
    normalised to mean one, so that a minibatch loss is an unbiased estimate
    of the weighted mean loss. ``float_dtype``, when set, is the training's
    float dtype where the rows come in another (:meth:`rows_in`).
    """

    X: torch.Tensor | SparseRows
    y: torch.Tensor
    weight: torch.Tensor | None
    values: torch.Tensor | None = None
    sizes: tuple[int, ...] = ()
    x_start: torch.Tensor | None = None
    y_start: torch.Tensor | None = None
    w_start: torch.Tensor | None = None
    float_dtype: torch.dtype | None = None

    @classmethod
    def from_numpy(
        cls,
        X: np.ndarray | sp.sparray | sp.spmatrix,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        device: torch.device,
        dtype: torch.dtype,
    ) -> DeviceData:
        """One network's arrays on ``device``; a scipy sparse ``X`` stays sparse."""
        return cls.for_runs([(X, y, sample_weight)], device, dtype)

    @classmethod
    def for_runs(
        cls, datasets: list[tuple], device: torch.device, dtype: torch.dtype
    ) -> DeviceData:
        """The ``(X, y, sample_weight)`` of each network, joined on ``device``.

        A 2-D ``y`` (multilabel indicators) is kept in ``dtype``, 1-D labels
        as int64 class indices.
        """
        X_t, x_starts = _joined([d[0] for d in datasets], device, dtype)
        values = None
        if (
            isinstance(X_t, torch.Tensor)
            and device.type in COMPACT_DEVICE_TYPES
            and X_t.numel()
        ):
            compact = value_codes(X_t)
            if compact is not None:
                values, X_t = compact
        labels = [np.asarray(d[1]) for d in datasets]
        y_t, y_starts = _joined(labels, device, None)
        y_t = y_t.to(dtype if labels[0].ndim == 2 else torch.long)
        sizes = tuple(int(d[0].shape[0]) for d in datasets)
        w_t = None
        weights = [d[2] for d in datasets]
        if any(w is not None and not np.all(w == w[0]) for w in weights):
            w = np.concatenate(
                [
                    np.ones(n) if w is None else np.asarray(w, np.float64) / np.mean(w)
                    for w, n in zip(weights, sizes, strict=True)
                ]
            )
            w_t = torch.as_tensor(w, device=device, dtype=dtype)
        w_starts = np.cumsum([0, *sizes])[:-1]

        def column(starts):
            return torch.as_tensor(np.asarray(starts, dtype=np.int64), device=device)

        return cls(
            X_t,
            y_t,
            w_t,
            values,
            sizes,
            column(x_starts),
            column(y_starts),
            column(w_starts),
        )

    @property
    def sparse(self) -> bool:
        return isinstance(self.X, SparseRows)

    @property
    def dtype(self) -> torch.dtype:
        """The training's float dtype: of the losses, weights and validation rows."""
        return self.float_dtype or self.row_dtype

    @property
    def row_dtype(self) -> torch.dtype:
        """The dtype of the minibatches' rows."""
        return self.X.dtype if self.values is None else self.values.dtype

    def rows_in(self, dtype: torch.dtype) -> DeviceData:
        """The same data, its minibatches' rows in ``dtype``.

        For a step that multiplies in ``dtype`` (bfloat16): the rows are
        converted once, here, rather than every minibatch, and a shuffled
        epoch gathers half the bytes. The copy holds the rows in ``dtype``
        next to the caller's array (on the CPU, the data were shared, not
        copied); on a GPU the float32 rows are let go once it is made (the
        conversion holds both a moment). Rows kept as uint8 codes keep them:
        only the table of their values is converted. Sparse rows stay as
        they are.
        """
        if self.sparse or self.row_dtype == dtype:
            return self
        if self.values is not None:
            changed = {"values": self.values.to(dtype)}
        else:
            changed = {"X": self.X.to(dtype)}
        return dataclasses.replace(self, float_dtype=self.dtype, **changed)

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
        """The rows of the first (for a single fit: the only) network's data."""
        return self.sizes[0]


def minibatches(
    data: DeviceData, order: torch.Tensor | None, batch_size: int
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """``(start, X, y, weight)`` of each minibatch of every network at once.

    ``order`` holds each network's rows in the order it trains on them, as
    positions into its own data, one row of ``order`` per network (a model
    with fewer rows repeats some: their weight is for the caller to zero);
    None takes a single network's rows in order. ``X`` is shaped
    ``(n_networks, rows, features)``, ``y`` and ``weight`` ``(n_networks,
    rows)`` (``weight`` None when all samples weigh the same).

    Shuffled rows are gathered a chunk of several minibatches at a time into
    buffers allocated once, so that no more than about ``GATHER_BYTES`` of
    the data is ever copied at once. A minibatch is a view into them, valid
    until the next one is drawn. Sparse rows are densified one minibatch at
    a time.
    """
    if order is None:
        n_networks, length = 1, data.sizes[0]
    else:
        n_networks, length = order.shape
    row_bytes = max(1, math.prod(data.X.shape[1:]) * data.row_dtype.itemsize)
    per_chunk = max(1, GATHER_BYTES // (row_bytes * batch_size * n_networks))
    chunk = per_chunk * batch_size
    arrays = [data.y] + ([] if data.weight is None else [data.weight])
    starts = [data.y_start, data.w_start][: len(arrays)]
    if not data.sparse:
        arrays.insert(0, data.X)
        starts.insert(0, data.x_start)
    if order is None:
        positions = None
    else:
        positions = [order + start[:, None] for start in starts]
        if data.sparse:  # dense rows are among ``positions``
            x_positions = order + data.x_start[:, None]
    buffers = None
    for chunk_start in range(0, length, chunk):
        columns = slice(chunk_start, chunk_start + chunk)
        if positions is None:
            parts = [array[columns].unsqueeze(0) for array in arrays]
        else:
            index = [p[:, columns].reshape(-1) for p in positions]
            if buffers is None:  # the first chunk is the longest
                buffers = [
                    a.new_empty((len(i), *a.shape[1:]))
                    for a, i in zip(arrays, index, strict=True)
                ]
            parts = [
                torch.index_select(array, 0, i, out=buffer[: len(i)]).view(
                    n_networks, -1, *array.shape[1:]
                )
                for array, i, buffer in zip(arrays, index, buffers, strict=True)
            ]
        if not data.sparse:
            parts[0] = data.rows(parts[0])
        for start in range(0, parts[-1].shape[1], batch_size):
            batch = [part[:, start : start + batch_size] for part in parts]
            if data.sparse:
                at = chunk_start + start
                rows = (
                    torch.arange(at, min(at + batch_size, length), device=data.device)[
                        None
                    ]
                    if positions is None
                    else x_positions[:, at : at + batch_size]
                )
                batch.insert(0, data.X.dense(rows))
            yield chunk_start + start, batch[0], batch[1], (batch[2:] or [None])[0]
