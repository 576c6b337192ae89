"""PixelScaler: maps raw pixel intensities to the network's input range."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["MNIST_MEAN", "MNIST_STD", "PixelScaler"]

#: Mean and standard deviation of the MNIST training pixels after division by 255.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


class PixelScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale pixel intensities to [0, 1], optionally standardised, as float32.

    Each value is clipped to ``[0, max_value]`` (when ``clip``), divided by
    ``max_value`` and, when ``standardize`` is set, centred and scaled by one
    global mean and standard deviation (pixels share a scale, so a per-pixel
    standardisation would blow up the always-blank border pixels). Works for
    any number of features.

    Parameters
    ----------
    max_value : float or "auto", default=255.0
        Intensity that maps to 1. ``"auto"`` learns the maximum of the
        training data (1.0 if the data holds no positive value).
    standardize : bool or "mnist", default=False
        ``False`` keeps the [0, 1] range; ``True`` learns the mean and
        standard deviation of the scaled training pixels; ``"mnist"`` uses the
        MNIST training values 0.1307 and 0.3081.
    clip : bool, default=True
        Clip values into ``[0, max_value]`` before scaling, so out-of-range
        pixels cannot leave the network's input range.

    Attributes
    ----------
    data_max_ : float
        The intensity mapped to 1 (``max_value`` or the learned maximum).
    mean_ : float
        Subtracted after scaling (0.0 without standardisation).
    scale_ : float
        Divisor after centring (1.0 without standardisation).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit, when ``X`` had string column names.

    See Also
    --------
    skmnist.MLPDigitClassifier : The classifier this scaler feeds.
    sklearn.preprocessing.MinMaxScaler : Per-feature min-max scaling.

    Examples
    --------
    >>> import numpy as np
    >>> from skmnist import PixelScaler
    >>> PixelScaler().fit_transform(np.array([[0, 51, 255, 300]]))
    array([[0. , 0.2, 1. , 1. ]], dtype=float32)
    """

    _parameter_constraints: dict = {
        "max_value": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "standardize": ["boolean", StrOptions({"mnist"})],
        "clip": ["boolean"],
    }

    def __init__(self, max_value=255.0, standardize=False, clip=True):
        self.max_value = max_value
        self.standardize = standardize
        self.clip = clip

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the scaling constants from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixel intensities.
        y : None
            Ignored.

        Returns
        -------
        self : PixelScaler
            The fitted scaler.
        """
        X = validate_data(self, X, dtype=(np.float32, np.float64))
        if self.max_value == "auto":
            data_max = float(X.max())
            self.data_max_ = data_max if data_max > 0 else 1.0
        else:
            self.data_max_ = float(self.max_value)
        if self.standardize == "mnist":
            self.mean_, self.scale_ = MNIST_MEAN, MNIST_STD
        elif self.standardize:
            scaled = self._unit_range(X)
            std = float(scaled.std(dtype=np.float64))
            self.mean_ = float(scaled.mean(dtype=np.float64))
            self.scale_ = std if std > 0 else 1.0
        else:
            self.mean_, self.scale_ = 0.0, 1.0
        return self

    def _unit_range(self, X):
        X = np.asarray(X, dtype=np.float32)
        out = np.divide(X, np.float32(self.data_max_), dtype=np.float32)
        if self.clip:
            np.clip(out, 0.0, 1.0, out=out)
        return out

    def transform(self, X):
        """Scale ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixel intensities.

        Returns
        -------
        X_scaled : ndarray of shape (n_samples, n_features), dtype float32
            The scaled pixels.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float32, np.float64), reset=False)
        out = self._unit_range(X)
        if self.mean_ != 0.0 or self.scale_ != 1.0:
            out -= np.float32(self.mean_)
            out *= np.float32(1.0 / self.scale_)
        return out

    def inverse_transform(self, X):
        """Map scaled values back to intensities (clipped values stay clipped).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Scaled pixels.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features), dtype float32
            Intensities on the original scale.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float32, np.float64), reset=False)
        out = np.asarray(X, dtype=np.float32) * np.float32(self.scale_)
        out += np.float32(self.mean_)
        out *= np.float32(self.data_max_)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
