"""Torch tensors as the NumPy and scipy arrays that scikit-learn validates.

scikit-learn's ``validate_data`` reads a tensor through ``numpy.asarray`` but
does not see its dtype (a torch dtype has no NumPy ``kind``), so a float64
tensor would be converted to float32, and it fails with torch's own errors
on tensors NumPy cannot read: those that require grad, those on a GPU, and
bfloat16 ones. The estimator therefore turns a tensor into the array of its
values first, here, and leaves every check to scikit-learn:

* the values are read without the autograd graph (the model never
  differentiates through its input) and copied to the host from any device;
* dtypes NumPy lacks are widened exactly: bfloat16 and the float8 types to
  float32 (each of their values is a float32), ``complex32`` to complex64
  (which scikit-learn then refuses as complex), and quantized tensors are
  dequantized;
* sparse COO, CSR and CSC tensors become scipy CSR matrices, without
  densifying.

:func:`prediction_input` validates the ``X`` of a prediction without
converting it whole: a dense NumPy array of numbers is checked (shape,
features, finiteness) as it is, and converted a block at a time by the
prediction loop, exactly as validation would have converted it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import validate_data

from ._training.prediction import EXACT_IN_FLOAT32

__all__ = ["FLOAT_DTYPES", "host_array", "prediction_input"]

#: The dtypes the network reads as they are; validation converts others to
#: the first.
FLOAT_DTYPES = (np.float32, np.float64)

_SPARSE_LAYOUTS = (torch.sparse_coo, torch.sparse_csr, torch.sparse_csc)


def host_array(value, name: str):
    """``value`` as a NumPy array or scipy CSR matrix if it is a torch tensor.

    Anything else is returned unchanged, for scikit-learn to validate.

    Parameters
    ----------
    value : object
        ``X``, ``y``, ``sample_weight`` or ``classes`` as the user passed it.
    name : str
        Its name, for the error messages.

    Returns
    -------
    array : object
        ``value`` itself, or the host array of a tensor's values.

    Raises
    ------
    ValueError
        For a tensor whose values cannot be read: on the meta device, of a
        blocked sparse layout, or of a dtype that is not a number.

    Examples
    --------
    >>> import torch
    >>> from skmnist._inputs import host_array
    >>> host_array(torch.ones(2, 3, dtype=torch.float64, requires_grad=True), "X")
    array([[1., 1., 1.],
           [1., 1., 1.]])
    >>> host_array(torch.tensor([0.5], dtype=torch.bfloat16), "X").dtype
    dtype('float32')
    """
    if not isinstance(value, torch.Tensor):
        return value
    tensor = value.detach()
    if tensor.device.type == "meta":
        raise ValueError(
            f"{name} is a tensor on the meta device, which holds no values; pass "
            "a tensor on the CPU or a GPU, or a NumPy array."
        )
    if tensor.layout in _SPARSE_LAYOUTS:
        return _sparse_to_scipy(tensor, name)
    if tensor.layout != torch.strided:
        raise ValueError(
            f"{name} is a sparse tensor of layout {tensor.layout}, which is not "
            f"read here; pass {name}.to_sparse_csr(), a COO or CSC tensor, or a "
            "scipy sparse matrix."
        )
    return _values(tensor.cpu(), name)


def _values(tensor: torch.Tensor, name: str) -> np.ndarray:
    """The values of a host tensor as a NumPy array, widened where NumPy must."""
    if tensor.is_quantized:
        tensor = tensor.dequantize()
    tensor = tensor.resolve_conj().resolve_neg()
    try:
        return tensor.numpy()
    except TypeError:  # a dtype NumPy lacks
        if tensor.is_floating_point():  # bfloat16, float8: each value is a float32
            return tensor.float().numpy()
        if tensor.is_complex():  # complex32
            return tensor.to(torch.complex64).numpy()
        raise ValueError(
            f"{name} is a tensor of dtype {tensor.dtype}, which has no NumPy "
            f"equivalent; convert it first, e.g. with {name}.float()."
        ) from None


def _sparse_to_scipy(tensor: torch.Tensor, name: str) -> sp.csr_matrix:
    """A 2-D COO, CSR or CSC tensor as a scipy CSR matrix (never densified)."""
    if tensor.dim() != 2 or tensor.dense_dim() != 0:
        raise ValueError(
            f"{name} is a sparse tensor of shape {tuple(tensor.shape)} with "
            f"{tensor.dense_dim()} dense dimensions; a 2-D sparse matrix of "
            "(samples, features) is expected."
        )
    tensor = tensor.cpu()
    shape = tuple(tensor.shape)
    values = _values(tensor.values(), name)
    # Read through scipy, not torch's CSR conversion (a beta feature that warns).
    if tensor.layout == torch.sparse_coo:
        rows, cols = tensor.indices().numpy()
        return sp.coo_matrix((values, (rows, cols)), shape=shape).tocsr()
    if tensor.layout == torch.sparse_csc:
        parts = (values, tensor.row_indices().numpy(), tensor.ccol_indices().numpy())
        return sp.csc_matrix(parts, shape=shape).tocsr()
    parts = (values, tensor.col_indices().numpy(), tensor.crow_indices().numpy())
    return sp.csr_matrix(parts, shape=shape)


def prediction_input(estimator, X) -> tuple[object, np.dtype | None]:
    """``X`` validated for a prediction, and the dtype to convert its blocks to.

    scikit-learn's ``validate_data`` checks ``X`` as for any estimator, but a
    dense NumPy array of numbers (bool, integer or float; a tensor's values)
    keeps its dtype, without a copy: converting 2,000,000 uint8 MNIST rows to
    float32 at once would take 6.3 GB. The prediction loop converts it a
    block at a time instead: to the returned dtype by NumPy (float32, as
    validation would have converted all of ``X``) where torch might round
    differently, else (float32 and float64, and dtypes whose every value is
    a float32, such as uint8) by torch to the network's dtype, exactly.
    Anything else (lists, data frames, sparse matrices, object arrays) is
    validated and converted to float32 or float64 whole, as before.

    Parameters
    ----------
    estimator : MLPDigitClassifier
        The fitted estimator (its ``n_features_in_`` and feature names).
    X : object
        ``X`` as the user passed it.

    Returns
    -------
    X : ndarray or scipy CSR matrix
        The validated input.
    host_dtype : numpy.dtype or None
        What each block of a dense ``X`` is converted to first, or None.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skmnist import MLPDigitClassifier
    >>> from skmnist._inputs import prediction_input
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPDigitClassifier((8,), max_iter=1, random_state=0).fit(X, y)
    >>> pixels = X.astype(np.uint8)
    >>> validated, host_dtype = prediction_input(clf, pixels)
    >>> validated is pixels, host_dtype
    (True, None)
    >>> prediction_input(clf, X.astype(np.int64))[1]
    dtype('float32')
    """
    X = host_array(X, "X")
    numbers = isinstance(X, np.ndarray) and X.dtype.kind in "biuf"
    X = validate_data(
        estimator,
        X,
        accept_sparse="csr",
        dtype=None if numbers else FLOAT_DTYPES,
        reset=False,
    )
    if sp.issparse(X) or X.dtype in FLOAT_DTYPES or X.dtype in EXACT_IN_FLOAT32:
        return X, None
    return X, np.dtype(FLOAT_DTYPES[0])
