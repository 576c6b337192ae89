"""scikit-learn's own estimator checks, with no expected failures."""

import warnings

import pytest
from sklearn.utils.estimator_checks import (
    check_param_validation,
    parametrize_with_checks,
)

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.preprocessing import PixelRangeWarning

# The defaults (on the GPU when there is one), and a small SGD network on the CPU.
ESTIMATORS = [
    MLPDigitClassifier(),
    MLPDigitClassifier(
        hidden_layer_sizes=(32,), solver="sgd", learning_rate_init=0.05, device="cpu"
    ),
    PixelScaler(),
    PixelScaler(max_value="auto", standardize=True),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    if not isinstance(estimator, PixelScaler):
        check(estimator)
        return
    # The checks' random data (uniform in [0, 1), standard normal) are not
    # 0-255 pixels: PixelRangeWarning is right there. Any other warning fails.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", PixelRangeWarning)
        check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_invalid_parameters_raise_invalid_parameter_error(estimator):
    """Every constraint in _parameter_constraints is enforced in fit and partial_fit."""
    check_param_validation(type(estimator).__name__, estimator)
