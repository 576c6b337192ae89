"""Deferred pixel scaling: what a PixelScaler hands to the classifier after it.

:class:`ScaledPixels` holds the validated pixels and the scaler's constants;
:class:`~skmnist.MLPDigitClassifier` scales them on its device a block of rows
at a time, and every other consumer reads the scaled array through
:func:`numpy.asarray`. :func:`feeds_classifier` tells ``PixelScaler(defer=
"auto")`` whether its output goes straight to a classifier.
"""

from __future__ import annotations

import inspect
import sys

import numpy as np
import torch

__all__ = ["ScaledPixels", "feeds_classifier", "scale_array"]


def scale_array(values, data_max, mean, scale, *, clip: bool) -> np.ndarray:
    """``((values / data_max) clipped - mean) / scale`` as a new float32 array."""
    scaled = np.divide(values, np.float32(data_max), dtype=np.float32)
    if clip:
        np.clip(scaled, 0.0, 1.0, out=scaled)
    if mean != 0.0 or scale != 1.0:
        scaled -= np.float32(mean)
        scaled *= np.float32(1.0 / scale)
    return scaled


class ScaledPixels:
    """Pixels that :class:`PixelScaler` leaves for their consumer to scale.

    What ``PixelScaler(defer=True).transform`` returns for dense input (and
    ``defer="auto"`` in a pipeline's prediction, when the classifier is the
    next step): the validated pixels as they were given (``pixels``, not
    copied) and the scaler's constants. :class:`~skmnist.MLPDigitClassifier`
    scales them on its device a block at a time (:meth:`scale_block`); every
    other consumer reads them with :func:`numpy.asarray`, which gives exactly
    the float32 array of ``PixelScaler(defer=False).transform``.

    Why a deferred array, and not the classifier detecting the scaler before
    it: in a scikit-learn pipeline each step sees only the output of the step
    before, so the classifier cannot know that it is fed by a scaler. The
    scaler hands over its pixels unscaled only when it knows who reads them
    (``defer=True``, or ``"auto"`` in a pipeline's prediction that feeds the
    classifier); the scaling stays the scaler's (one definition, here), and
    the pipeline keeps its usual steps (persistence, ONNX export and
    ``get_params`` are unchanged).

    Parameters
    ----------
    pixels : ndarray of shape (n_samples, n_features)
        The validated pixel intensities, in their own dtype.
    data_max, mean, scale : float
        The scaler's ``data_max_``, ``mean_`` and ``scale_``.
    clip : bool
        Whether values are clipped into ``[0, 1]`` after the division.

    Attributes
    ----------
    pixels : ndarray of shape (n_samples, n_features)
        The raw pixels.
    shape : tuple of int
        ``pixels.shape``.
    dtype : numpy.dtype
        float32, the dtype of the scaled values.

    Examples
    --------
    >>> import numpy as np
    >>> from skmnist import PixelScaler
    >>> X = np.array([[0, 51, 255]], dtype=np.uint8)
    >>> deferred = PixelScaler(defer=True).fit(X).transform(X)
    >>> deferred.pixels is X
    True
    >>> np.asarray(deferred)
    array([[0. , 0.2, 1. ]], dtype=float32)
    """

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, pixels: np.ndarray, data_max, mean, scale, *, clip: bool):
        self.pixels = pixels
        self.shape = pixels.shape
        self._constants = (float(data_max), float(mean), float(scale))
        self._clip = clip

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        data_max, mean, scale = self._constants
        return (
            f"ScaledPixels(shape={self.shape}, pixels dtype={self.pixels.dtype}, "
            f"data_max={data_max:g}, mean={mean:g}, scale={scale:g}, "
            f"clip={self._clip})"
        )

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if copy is False:
            raise ValueError(
                "ScaledPixels cannot be read without a copy: its values are "
                "computed from the raw pixels when read."
            )
        scaled = scale_array(self.pixels, *self._constants, clip=self._clip)
        return scaled if dtype is None else scaled.astype(dtype, copy=False)

    def scale_block(self, block: torch.Tensor) -> torch.Tensor:
        """Scale a block of the raw pixels (a tensor on any device), as float32.

        The same float32 operations, in the same order, as :meth:`__array__`:
        the results are equal value for value. The constants are tensors on
        the block's device, since CUDA divides by a host scalar through its
        reciprocal, which can differ in the last bit.

        Parameters
        ----------
        block : torch.Tensor of shape (n_rows, n_features)
            Rows of ``pixels`` (or their float32 values), on any device.

        Returns
        -------
        scaled : torch.Tensor of shape (n_rows, n_features)
            A new float32 tensor on the block's device.

        Examples
        --------
        >>> import numpy as np
        >>> import torch
        >>> from skmnist import PixelScaler
        >>> X = np.array([[0, 51, 255]], dtype=np.uint8)
        >>> deferred = PixelScaler(defer=True).fit(X).transform(X)
        >>> deferred.scale_block(torch.from_numpy(X))
        tensor([[0.0000, 0.2000, 1.0000]])
        """
        data_max, mean, scale = (
            torch.tensor(value, dtype=torch.float32, device=block.device)
            for value in (
                self._constants[0],
                self._constants[1],
                1.0 / self._constants[2],
            )
        )
        scaled = block.to(torch.float32, copy=True)  # one new tensor, never block
        scaled.div_(data_max)
        if self._clip:
            scaled.clamp_(0.0, 1.0)
        if self._constants[1] != 0.0 or self._constants[2] != 1.0:
            scaled.sub_(mean).mul_(scale)
        return scaled


#: The methods of :class:`sklearn.pipeline.Pipeline` that transform ``X`` and
#: hand it to the final step's prediction (``score`` through ``predict``).
_PREDICTING_METHODS = ("predict", "predict_proba", "predict_log_proba", "score")
#: How many frames above ``PixelScaler.transform`` the pipeline's method may
#: be (scikit-learn's ``set_output`` wrapper is one).
_FRAMES = 4
_codes: frozenset | None = None


def _predicting_codes() -> frozenset:
    """The code objects of the pipeline's predicting methods (found once)."""
    global _codes
    if _codes is None:
        from sklearn.pipeline import Pipeline

        methods = (getattr(Pipeline, name, None) for name in _PREDICTING_METHODS)
        _codes = frozenset(
            code
            for method in methods
            if (code := getattr(inspect.unwrap(method), "__code__", None))
        )
    return _codes


def feeds_classifier(scaler, depth: int = 1) -> bool:
    """Whether ``scaler``'s output goes straight into an MLPDigitClassifier.

    True when the scaler's ``transform`` (``depth`` frames above this
    function) is called by one of a scikit-learn pipeline's
    ``predict``, ``predict_proba``, ``predict_log_proba`` or ``score``, in
    which ``scaler`` is the step right before the final one, an
    :class:`~skmnist.MLPDigitClassifier`. Each step of a pipeline sees only
    the output of the step before, so the call stack is the one place that
    says who reads the scaler's output. Anything else (a pipeline's
    ``transform`` or ``fit``, another final step, a step in between, a
    scikit-learn whose pipeline calls its steps otherwise) answers False:
    the scaler then returns its usual array.

    Parameters
    ----------
    scaler : PixelScaler
        The scaler whose ``transform`` asks.
    depth : int, default=1
        How many frames above this function the scaler's ``transform`` is
        (1: it calls this function itself).

    Returns
    -------
    bool
        Whether the scaler may hand over its pixels unscaled.

    Examples
    --------
    >>> from skmnist import PixelScaler
    >>> from skmnist._scaled_pixels import feeds_classifier
    >>> feeds_classifier(PixelScaler())
    False
    """
    from sklearn.pipeline import Pipeline

    from .classifier import MLPDigitClassifier

    codes = _predicting_codes()
    frame = sys._getframe(depth)  # the scaler's transform
    for _ in range(_FRAMES):
        frame = frame.f_back
        if frame is None:
            return False
        if frame.f_code in codes:
            break
    else:
        return False
    pipeline = frame.f_locals.get("self")
    if not isinstance(pipeline, Pipeline):
        return False
    steps = [
        step
        for _, step in pipeline.steps
        if step is not None and not (isinstance(step, str) and step == "passthrough")
    ]
    return (
        len(steps) >= 2
        and steps[-2] is scaler
        and isinstance(steps[-1], MLPDigitClassifier)
    )
