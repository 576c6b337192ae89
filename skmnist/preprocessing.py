"""PixelScaler: maps raw pixel intensities to the network's input range."""

from __future__ import annotations

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions

# Private, but the only way to ask which container set_output chose (stable
# since scikit-learn 1.2): transform defers only for the default container.
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted, validate_data

from ._inputs import host_array
from ._scaled_pixels import ScaledPixels, feeds_classifier, scale_array
from ._user_warning import warn_user

__all__ = [
    "MNIST_MEAN",
    "MNIST_STD",
    "PixelRangeWarning",
    "PixelScaler",
    "ScaledPixels",
]

#: Mean and standard deviation of the MNIST training pixels after division by 255.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

# The range checks. Data whose maximum is under a quarter of ``max_value``
# come from another scale (load_digits' 0..16, floats already in [0, 1],
# standardised features): real 8-bit images, faint digits included, reach far
# higher (every MNIST image has a maximum of 254 or 255). Values more than a
# quarter of the scale outside [0, max_value] are not the small over- and
# undershoot of resampled images, which clipping is meant for.
_LOW_FRACTION = 0.25
_OUTSIDE_FRACTION = 0.25
_ROUNDING = 1e-3


class PixelRangeWarning(UserWarning):
    """Data given to :class:`PixelScaler` do not look like pixels on its scale.

    Raised as a warning (never an error) when scaling would silently destroy
    most of the information: values that all map to a small part of [0, 1]
    (``load_digits``' 0..16, or data already scaled to [0, 1], with the default
    ``max_value=255``), or many values clipped away (standardised data with
    negative values, 16-bit images). The message names the observed range and
    the fix.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from skmnist.preprocessing import PixelRangeWarning, PixelScaler
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = PixelScaler().fit(np.array([[0.0, 0.5, 1.0]]))
    >>> caught[0].category is PixelRangeWarning
    True
    """


def _share(X, mask_of) -> str:
    """The share of the values of ``X`` (dense or sparse) that ``mask_of`` selects."""
    if sp.issparse(X):
        count = np.count_nonzero(mask_of(X.data))
        if mask_of(np.zeros(1)).any():
            count += X.shape[0] * X.shape[1] - X.nnz
    else:
        count = np.count_nonzero(mask_of(X))
    return f"{count / (X.shape[0] * X.shape[1]):.0%}"


def _range_problem(
    X, low: float, high: float, scale: float, *, clip: bool
) -> tuple[str, str] | None:
    """What scaling ``X`` (values ``low`` to ``high``) by ``scale`` would destroy.

    Returns ``(kind, explanation)`` or None. Only ``low``, ``high`` and the
    parameters decide whether there is a problem; ``X`` is read again only to
    count the values concerned, once a warning is due.
    """
    values = f"values from {low:g} to {high:g}"
    # Negative values as large as a quarter of the data's (or the scale's)
    # maximum: not the undershoot of resampled images but centred data. Data
    # with no positive value: any negative beyond rounding noise.
    reference = min(high, scale) if high > 0 else _ROUNDING * scale
    if clip and low < -_OUTSIDE_FRACTION * reference:
        share = _share(X, lambda v: v < 0)
        return "negative", (
            f"{values}: clip=True sets every negative value ({share} of them) to "
            "0, and pixel intensities are never negative, so these data look "
            "standardised or centred. PixelScaler is for pixel intensities: "
            "leave it out for other data (or use sklearn's StandardScaler), or "
            "pass clip=False"
        )
    if clip and high > (1 + _OUTSIDE_FRACTION) * scale:
        share = _share(X, lambda v: v > scale)
        return "high", (
            f"{values}: clip=True maps every value above max_value={scale:g} "
            f"({share} of them) to 1. Pass the data's full scale as max_value "
            "(e.g. 65535 for 16-bit images) or max_value='auto' to learn it"
        )
    if 0 < high < _LOW_FRACTION * scale:
        if high <= 1 and low >= 0:
            return "unit", (
                f"{values}, which look already scaled to [0, 1], but max_value="
                f"{scale:g} divides them by {scale:g} again (into [0, "
                f"{high / scale:.2g}]). Pass max_value=1, or leave PixelScaler "
                f"out, or multiply them by {scale:g} if the model was trained on "
                f"intensities from 0 to {scale:g}"
            )
        if low < 0:
            return "low", (
                f"{values}, which fill only {high / scale:.1%} of [0, {scale:g}] "
                "and hold negative values: they look standardised or centred, "
                "not like pixel intensities. Leave PixelScaler out for such data "
                "(or use sklearn's StandardScaler)"
            )
        return "low", (
            f"{values}, which fill only {high / scale:.1%} of [0, {scale:g}]: "
            f"they all map into [0, {high / scale:.2g}]. If these are pixels on "
            f"another scale, pass their full scale as max_value (max_value={high:g} "
            f"if no value can exceed {high:g}, as with load_digits' 0..16) or "
            "max_value='auto' to learn it; if they are not pixel intensities, "
            "leave PixelScaler out"
        )
    return None


def _value_range(X) -> tuple[float, float]:
    """The minimum and maximum of ``X`` (implicit zeros of sparse ``X`` included)."""
    return float(X.min()), float(X.max())


class PixelScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale pixel intensities to [0, 1], optionally standardised, as float32.

    Each value is clipped to ``[0, max_value]`` (when ``clip``), divided by
    ``max_value`` and, when ``standardize`` is set, centred and scaled by one
    global mean and standard deviation (pixels share a scale, so a per-pixel
    standardisation would blow up the always-blank border pixels). Works for
    any number of features. Scipy sparse input stays sparse (CSR or CSC, as
    given) when nothing is centred, that is with ``standardize=False``.

    ``fit`` checks that the data look like pixels on the scale of
    ``max_value`` and warns (:class:`PixelRangeWarning`) when scaling would
    silently destroy them; ``transform`` warns when its data have such a
    problem and the training data did not (e.g. pixels already in [0, 1] given
    to a scaler fitted on 0-255 images). See the Warns section.

    Parameters
    ----------
    max_value : float or "auto", default=255.0
        Intensity that maps to 1. ``"auto"`` learns the maximum of the
        training data (1.0 if the data holds no positive value).
    standardize : bool or "mnist", default=False
        ``False`` keeps the [0, 1] range; ``True`` learns the mean and
        standard deviation of the scaled training pixels; ``"mnist"`` uses the
        MNIST training values 0.1307 and 0.3081. Sparse input needs ``False``.
    clip : bool, default=True
        Clip values into ``[0, max_value]`` before scaling, so out-of-range
        pixels cannot leave the network's input range.
    defer : bool or "auto", default="auto"
        ``True``: ``transform`` of dense input returns :class:`ScaledPixels`
        (the validated pixels, not copied, and the scaling constants) instead
        of the scaled float32 array. :class:`~skmnist.MLPDigitClassifier` then
        scales them on its device a block of rows at a time, so that
        ``predict`` on uint8 images never holds a float32 copy of them all
        (four times their size) and ships one byte a pixel to a GPU; any
        other consumer gets exactly the array ``defer=False`` returns when it
        reads them with :func:`numpy.asarray`. ``"auto"``: so only when the
        output goes straight to the classifier, in the ``predict``,
        ``predict_proba``, ``predict_log_proba`` or ``score`` of a
        scikit-learn pipeline whose next and final step is an
        :class:`~skmnist.MLPDigitClassifier`; everywhere else (``fit``,
        ``transform`` called directly, other final steps) it returns the
        array. ``False``: always the array. Sparse input, and a scaler whose
        ``set_output`` asks for another container, are transformed as with
        ``False``.

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

    Warns
    -----
    PixelRangeWarning
        When the data's maximum is under a quarter of ``max_value`` (unless
        ``standardize=True``, which rescales anyway): ``load_digits``' 0..16 or
        floats already in [0, 1] with the default ``max_value=255`` would all
        map close to 0. With ``clip=True``, also when values fall more than a
        quarter of ``max_value`` below 0 (standardised data: every negative
        value would become 0) or above ``max_value`` (16-bit images). Real
        8-bit images never warn, faint ones included. The message names the
        observed range and the fix (``max_value=16``, ``max_value="auto"``,
        ``max_value=1``, or no PixelScaler for data that are not pixels).

    See Also
    --------
    skmnist.MLPDigitClassifier : The classifier this scaler feeds.
    sklearn.preprocessing.MinMaxScaler : Per-feature min-max scaling.
    sklearn.preprocessing.StandardScaler : For features that are not pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from skmnist import PixelScaler
    >>> PixelScaler().fit_transform(np.array([[0, 51, 255, 300]]))
    array([[0. , 0.2, 1. , 1. ]], dtype=float32)

    Data on another scale, such as :func:`sklearn.datasets.load_digits`'
    intensities 0 to 16, need their own ``max_value``:

    >>> from sklearn.datasets import load_digits
    >>> X, _ = load_digits(return_X_y=True)
    >>> float(PixelScaler(max_value=16).fit_transform(X).max())
    1.0

    A pipeline predicts on many uint8 images without a float32 copy of them
    all (``defer="auto"``):

    >>> from sklearn.pipeline import make_pipeline
    >>> from skmnist import MLPDigitClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> model = make_pipeline(
    ...     PixelScaler(max_value=16),
    ...     MLPDigitClassifier((32,), max_iter=20, random_state=0),
    ... ).fit(X, y)
    >>> model.predict(X[:5]).shape
    (5,)
    """

    _parameter_constraints: dict = {
        "max_value": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "standardize": ["boolean", StrOptions({"mnist"})],
        "clip": ["boolean"],
        "defer": ["boolean", StrOptions({"auto"})],
    }

    def __init__(self, max_value=255.0, standardize=False, clip=True, defer="auto"):
        self.max_value = max_value
        self.standardize = standardize
        self.clip = clip
        self.defer = defer

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the scaling constants from ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Pixel intensities. Sparse input needs ``standardize=False``.
        y : None
            Ignored.

        Returns
        -------
        self : PixelScaler
            The fitted scaler.

        Raises
        ------
        ValueError
            If ``X`` is sparse and ``standardize`` is not False.

        Warns
        -----
        PixelRangeWarning
            If ``X`` does not look like pixels on the scale of ``max_value``
            (see the class documentation).
        """
        X = validate_data(
            self, host_array(X, "X"), accept_sparse=("csr", "csc"), dtype="numeric"
        )
        if sp.issparse(X) and self.standardize:
            raise ValueError(
                f"PixelScaler(standardize={self.standardize!r}) cannot take sparse "
                "X: centring would make every zero non-zero. Pass "
                "standardize=False to scale sparse X (it stays sparse), or "
                "X.toarray() to standardise it densely"
            )
        low, high = _value_range(X)
        if self.max_value == "auto":
            self.data_max_ = high if high > 0 else 1.0
        else:
            self.data_max_ = float(self.max_value)
        problem = _range_problem(X, low, high, self.data_max_, clip=self.clip)
        # transform warns only about problems that the training data lacked.
        self._fit_problem = None if problem is None else problem[0]
        # A learned standardisation undoes a small scale (not clipping).
        rescaled = self.standardize is True and self._fit_problem in ("low", "unit")
        if problem is not None and not rescaled:
            warn_user(
                f"{self._describe()} was fitted on {problem[1]}.", PixelRangeWarning
            )
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

    def _describe(self) -> str:
        return f"PixelScaler(max_value={self.max_value!r})"

    def _transform_problem(self, X) -> str | None:
        """Why transforming validated ``X`` would destroy it, or None.

        None also when the training data had the same problem (``fit`` warned).
        """
        problem = _range_problem(X, *_value_range(X), self.data_max_, clip=self.clip)
        # A scaler restored from a file may lack _fit_problem: then check anyway.
        if problem is None or problem[0] == getattr(self, "_fit_problem", None):
            return None
        return (
            f"{self._describe()} with data_max_={self.data_max_:g} is given "
            f"{problem[1]}."
        )

    def _unit_range(self, X):
        """``X / data_max_``, clipped, as a new float32 array (X is not changed).

        ``X`` keeps its own numeric dtype until here: the division converts it
        to float32 on the way, and the range check reads uint8 pixels, four
        times fewer bytes than their float32 copy.
        """
        values = X.data if sp.issparse(X) else X
        scaled = scale_array(values, self.data_max_, 0.0, 1.0, clip=self.clip)
        if sp.issparse(X):
            out = X.astype(np.float32)  # a copy, indices included
            out.data = scaled
            return out
        return scaled

    def _check_centring(self, X, method: str) -> None:
        if sp.issparse(X) and (self.mean_ != 0.0 or self.scale_ != 1.0):
            raise ValueError(
                f"PixelScaler.{method} cannot take sparse X: this scaler "
                f"standardises (mean_={self.mean_:g}, scale_={self.scale_:g}), "
                "which would make every zero non-zero; pass X.toarray()"
            )

    def transform(self, X):
        """Scale ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Pixel intensities. Sparse input needs a scaler that does not
            standardise.

        Returns
        -------
        X_scaled : {ndarray, sparse matrix} of shape (n_samples, n_features)
            The scaled pixels, float32; sparse (CSR or CSC) when ``X`` is.

        Raises
        ------
        ValueError
            If ``X`` is sparse and the scaler standardises.

        Warns
        -----
        PixelRangeWarning
            If ``X`` does not look like pixels on the fitted scale while the
            training data did (see the class documentation).
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            host_array(X, "X"),
            accept_sparse=("csr", "csc"),
            dtype="numeric",
            reset=False,
        )
        self._check_centring(X, "transform")
        message = self._transform_problem(X)
        if message is not None:
            warn_user(message, PixelRangeWarning)
        constants = (self.data_max_, self.mean_, self.scale_)
        if (
            not sp.issparse(X)
            and _get_output_config("transform", self)["dense"] == "default"
            and self._defers()
        ):
            return ScaledPixels(X, *constants, clip=self.clip)
        if sp.issparse(X):
            return self._unit_range(X)
        return scale_array(X, *constants, clip=self.clip)

    def _defers(self) -> bool:
        """Whether this call of ``transform`` returns :class:`ScaledPixels`."""
        defer = getattr(self, "defer", False)  # scalers saved before defer existed
        if isinstance(defer, str) and defer == "auto":
            # The call stack: transform <- this method <- transform's caller.
            return feeds_classifier(self, depth=2)
        return bool(defer)

    def inverse_transform(self, X):
        """Map scaled values back to intensities (clipped values stay clipped).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Scaled pixels.

        Returns
        -------
        X_original : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Intensities on the original scale, float32; sparse when ``X`` is.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            host_array(X, "X"),
            accept_sparse=("csr", "csc"),
            dtype=(np.float32, np.float64),
            reset=False,
        )
        self._check_centring(X, "inverse_transform")
        if sp.issparse(X):
            return X.astype(np.float32) * np.float32(self.data_max_)
        out = np.asarray(X, dtype=np.float32) * np.float32(self.scale_)
        out += np.float32(self.mean_)
        out *= np.float32(self.data_max_)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = not self.standardize  # centring densifies
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
