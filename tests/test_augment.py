"""augment=True: random distortions of the training minibatches on the device."""

import numpy as np
import pytest
import torch

from skmnist import MLPDigitClassifier
from skmnist._training.augment import Distortion, image_side
from skmnist.datasets import load_mnist
from skmnist.model_selection import fit_many

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = {"hidden_layer_sizes": (64,), "max_iter": 4, "device": "cpu"}


@pytest.fixture(scope="module")
def data():
    X, y = load_mnist(source="sample", return_X_y=True)
    return (X / 255.0).astype(np.float32), y


def test_image_side():
    assert image_side(784) == 28
    assert image_side(64) == 8
    assert image_side(783) is None
    assert image_side(9) is None  # too small to distort


def test_zero_distortion_is_the_identity(data):
    x = torch.as_tensor(data[0][:16])
    still = Distortion(28, rotation=0, scale=0, shear=0, shift=0, elastic=0)
    torch.testing.assert_close(still(x), x, atol=1e-5, rtol=0)


def test_distortions_move_pixels_but_keep_the_digit(data):
    x = torch.as_tensor(data[0][:256])
    torch.manual_seed(0)
    distorted = Distortion(28)(x)
    assert distorted.shape == x.shape and distorted.dtype == x.dtype
    assert float((distorted - x).abs().mean()) > 0.02  # pixels moved
    # Ink is preserved to within a few percent, and stays in [0, 1].
    ink_ratio = distorted.sum(1) / x.sum(1)
    assert 0.75 < float(ink_ratio.mean()) < 1.25
    assert float(distorted.min()) >= 0 and float(distorted.max()) <= 1 + 1e-6
    # Every call and every image gets fresh random parameters.
    again = Distortion(28)(x)
    assert float((again - distorted).abs().mean()) > 0.02
    same_input = Distortion(28)(x[:1].expand(8, -1))
    assert float(same_input.std(0).mean()) > 0.01


@pytest.mark.slow
def test_fit_with_augment_is_reproducible_and_differs(data):
    X, y = data[0][:2000], data[1][:2000]
    longer = {**SMALL, "max_iter": 8}
    a = MLPDigitClassifier(augment=True, random_state=0, **longer).fit(X, y)
    b = MLPDigitClassifier(augment=True, random_state=0, **longer).fit(X, y)
    plain = MLPDigitClassifier(random_state=0, **longer).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), plain.predict_proba(X))
    # Predictions are not distorted: they are the network's on the plain
    # images, and the model has learnt.
    with torch.no_grad():
        logits = a.module_(torch.as_tensor(X))
    np.testing.assert_allclose(
        a.predict_proba(X), torch.softmax(logits, dim=1).numpy(), rtol=1e-6, atol=1e-7
    )
    assert a.score(data[0][4000:], data[1][4000:]) > 0.8
    # Distorted minibatches are harder to fit than the plain ones.
    assert a.loss_curve_[-1] > plain.loss_curve_[-1]


@pytest.mark.slow
def test_augment_leaves_the_global_torch_generator_alone(data):
    state = torch.get_rng_state()
    MLPDigitClassifier(augment=True, random_state=0, **SMALL).fit(*data)
    assert torch.equal(torch.get_rng_state(), state)


def test_augment_needs_square_images():
    X = np.random.default_rng(0).random((40, 30), dtype=np.float32)
    with pytest.raises(ValueError, match="30 features, which is not the pixel count"):
        MLPDigitClassifier(augment=True, **SMALL).fit(X, np.arange(40) % 2)


def test_fit_many_trains_augmented_models_as_they_train_alone(data):
    X, y = data[0][:1000], data[1][:1000]
    batched = fit_many(
        [MLPDigitClassifier(augment=True, random_state=0, **SMALL)], [(X, y)]
    )
    alone = MLPDigitClassifier(augment=True, random_state=0, **SMALL).fit(X, y)
    np.testing.assert_array_equal(batched[0].predict_proba(X), alone.predict_proba(X))
