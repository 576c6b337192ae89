"""Predictions of a trained network, in memory-bounded batches on its device."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from .data import SparseRows, device_rows

__all__ = ["predict_batches", "validation_accuracy"]


@torch.inference_mode()
def predict_batches(
    module: nn.Module,
    X: np.ndarray | torch.Tensor | sp.sparray | sp.spmatrix | SparseRows,
    *,
    output: Callable[[torch.Tensor], torch.Tensor] = lambda logits: logits,
    batch_rows: int = 8192,
) -> np.ndarray:
    """Apply ``output(module(X))`` in memory-bounded batches on the module's device.

    Host rows are converted to the module's dtype batch by batch, so the
    device never holds more than ``batch_rows`` rows of input at once; sparse
    rows (scipy, or :class:`SparseRows` already on the device) are densified
    there a batch at a time. If the device runs out of memory, the batch is
    halved and the part retried.
    """
    parameter = next(module.parameters())
    device, dtype = parameter.device, parameter.dtype
    if sp.issparse(X):
        X = X.tocsr()  # rows slice cheaply
    module.eval()
    outputs = []
    start = 0
    while start < X.shape[0]:
        stop = start + batch_rows
        try:
            xb = device_rows(X, slice(start, stop), device, dtype)
            outputs.append(output(module(xb)))
        except torch.OutOfMemoryError:
            xb = None
            if batch_rows == 1:
                raise MemoryError(
                    f"The {device} device ran out of memory predicting a single row."
                ) from None
            batch_rows = max(1, batch_rows // 2)  # retry this part in smaller batches
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        start = stop
    return torch.cat(outputs).cpu().numpy()


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
