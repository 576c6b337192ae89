"""skmnist train's --param: names resolved to the pipeline's parameters."""

from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.cli._train import set_params


def test_param_names_values_and_steps():
    model = make_pipeline(PixelScaler(), MLPDigitClassifier())
    set_params(
        model,
        [
            ("hidden_layer_sizes", (512, 256)),
            ("solver", "sgd"),
            ("pixelscaler__standardize", True),
            ("clip", False),
            ("mlpdigitclassifier__max_iter", 5),
        ],
    )
    params = model.get_params()
    assert params["mlpdigitclassifier__hidden_layer_sizes"] == (512, 256)
    assert params["mlpdigitclassifier__solver"] == "sgd"
    assert params["mlpdigitclassifier__max_iter"] == 5
    assert params["pixelscaler__standardize"] is True
    assert params["pixelscaler__clip"] is False
