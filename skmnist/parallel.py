"""dask arrays for skmnist: out-of-core IDX reading and batch inference.

:func:`read_idx_dask` exposes an IDX file as a chunked dask array whose tasks
read only their own rows, for dask-ml's ``Incremental`` training; and
:func:`dask_predict` applies a fitted model to a dask array with the model
shipped to the workers once. Needs the ``dask`` extra
(``pip install -e ".[dask]"``). Hyper-parameter searches need nothing
here: run scikit-learn's searches under ``joblib.parallel_backend("dask")``.
See :ref:`scale-out`.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .datasets import read_idx

__all__ = ["dask_predict", "read_idx_dask"]

_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")


def _idx_rows(path: str, start: int, stop: int, flatten: bool) -> np.ndarray:
    rows = np.array(read_idx(path, mmap=True)[start:stop])  # only these rows
    return rows.reshape(rows.shape[0], -1) if flatten else rows


def read_idx_dask(
    file: str | os.PathLike, *, chunk_rows: int = 10_000, flatten: bool = True
) -> Any:
    """An uncompressed IDX file as a dask array whose tasks each read their rows.

    Nothing is read now but the header. Each chunk's task memory-maps the
    file on its worker and copies out only its ``chunk_rows`` rows, so the
    whole array never has to fit in one process's memory. The file must be
    readable at the same path by every worker (a shared or copied folder).

    Parameters
    ----------
    file : str or path-like
        An uncompressed IDX file (``gunzip`` the official ``.gz`` files
        first: gzip streams cannot be read from the middle).
    chunk_rows : int, default=10_000
        Rows (images) per chunk.
    flatten : bool, default=True
        Flatten each image into one row, ``(n_samples, 784)`` for MNIST, the
        shape estimators take; False keeps the file's shape.

    Returns
    -------
    dask.array.Array
        Of the file's dtype (uint8 for images and labels).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skmnist.datasets import write_idx
    >>> from skmnist.parallel import read_idx_dask
    >>> path = os.path.join(tempfile.mkdtemp(), "images-idx3-ubyte")
    >>> write_idx(path, np.arange(5 * 2 * 2, dtype=np.uint8).reshape(5, 2, 2))
    >>> images = read_idx_dask(path, chunk_rows=2)
    >>> images.shape, images.chunks
    ((5, 4), ((2, 2, 1), (4,)))
    >>> int(images[4, 3].compute())
    19
    """
    import dask
    import dask.array as da

    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive int, got {chunk_rows!r}.")
    path = os.fspath(file)
    header = read_idx(path, mmap=True)  # the shape and dtype; reads no data
    if header.ndim < 1:
        raise ValueError(f"{path}: an IDX file with no dimensions has no rows.")
    n_rows, dtype = header.shape[0], header.dtype
    row_shape = (
        (int(np.prod(header.shape[1:])),)
        if flatten and header.ndim > 1
        else header.shape[1:]
    )
    bounds = [
        (start, min(start + chunk_rows, n_rows))
        for start in range(0, n_rows, chunk_rows)
    ]
    blocks = [
        da.from_delayed(
            dask.delayed(_idx_rows)(path, start, stop, flatten),
            shape=(stop - start, *row_shape),
            dtype=dtype,
        )
        for start, stop in bounds
    ]
    del header  # closes the memory map
    if not blocks:
        return da.empty((0, *row_shape), dtype=dtype)
    return da.concatenate(blocks, axis=0)


def _apply(block: np.ndarray, model: Any, method: str) -> np.ndarray:
    return getattr(model, method)(block)


def dask_predict(estimator: Any, X: Any, *, method: str = "predict") -> Any:
    """Apply a fitted estimator to every block of rows of a dask array, lazily.

    When a :class:`distributed.Client` is active, the estimator is pickled
    once and broadcast to every worker (``Client.scatter``); each task then
    refers to the worker's copy instead of carrying its own, which dask-ml's
    ``ParallelPostFit`` does (one pickle of the model per block). Without a
    client, the blocks run on dask's local scheduler with no pickling at all.

    Parameters
    ----------
    estimator : fitted estimator
        An :class:`~skmnist.MLPDigitClassifier`, or a pipeline ending in one
        (any fitted scikit-learn estimator with ``method`` works).
    X : dask.array.Array of shape (n_samples, n_features)
        The images, chunked along the rows only (columns are rechunked into
        one block if needed).
    method : {"predict", "predict_proba", "predict_log_proba", \
            "decision_function"}, default="predict"
        The estimator's method to apply to each block.

    Returns
    -------
    dask.array.Array
        ``(n_samples,)`` labels for ``"predict"``, else ``(n_samples,
        n_outputs)``, chunked like ``X``'s rows. Call ``.compute()`` or store
        it (e.g. ``to_zarr``) to run it.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import load_digits
    >>> from skmnist import MLPDigitClassifier
    >>> from skmnist.parallel import dask_predict
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPDigitClassifier((16,), max_iter=2, random_state=0).fit(X, y)
    >>> images = da.from_array(X, chunks=(500, -1))  # blocks of 500 rows
    >>> labels = dask_predict(clf, images)  # lazy: nothing is predicted yet
    >>> labels.chunks
    ((500, 500, 500, 297),)
    >>> bool((labels.compute() == clf.predict(X)).all())
    True
    >>> dask_predict(clf, images, method="predict_proba").shape
    (1797, 10)
    """
    import dask.array as da

    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}, got {method!r}.")
    if not hasattr(estimator, method):
        raise ValueError(f"{type(estimator).__name__} has no method {method!r}.")
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise ValueError(
            "X must be a 2-D dask array of shape (n_samples, n_features); got "
            f"{type(X).__name__}"
            + (f" with {X.ndim} dimensions." if hasattr(X, "ndim") else ".")
        )
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    # The output's dtype and width, from one all-zero row computed here.
    probe = getattr(estimator, method)(np.zeros((1, X.shape[1]), dtype=X.dtype))
    model = _shipped_once(estimator)
    chunks = (X.chunks[0],) if probe.ndim == 1 else (X.chunks[0], (probe.shape[1],))
    return X.map_blocks(
        _apply,
        model,
        method,
        dtype=probe.dtype,
        chunks=chunks,
        drop_axis=1 if probe.ndim == 1 else None,
        meta=np.empty((0,) * probe.ndim, dtype=probe.dtype),
    )


def _shipped_once(estimator: Any) -> Any:
    """A future of the estimator on every worker, or the estimator itself."""
    try:
        from distributed import get_client
    except ImportError:  # only dask's local schedulers: nothing is shipped
        return estimator
    try:
        client = get_client()
    except ValueError:  # no active client
        return estimator
    return client.scatter(estimator, broadcast=True, hash=False)
