"""scikit-learn's own estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skmnist import MLPDigitClassifier, PixelScaler

# Small networks keep the ~60 checks fast; every other parameter is the default.
ESTIMATORS = [
    MLPDigitClassifier(hidden_layer_sizes=(32,), device="cpu"),
    PixelScaler(),
    PixelScaler(max_value="auto", standardize=True),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
