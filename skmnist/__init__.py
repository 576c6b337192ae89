"""skmnist: a scikit-learn-native PyTorch MLP classifier for handwritten digits.

Examples
--------
>>> from skmnist import MLPDigitClassifier, PixelScaler
>>> MLPDigitClassifier().get_params()["hidden_layer_sizes"]
(512, 256)
"""

from ._version import __version__
from .classifier import MLPDigitClassifier
from .preprocessing import PixelScaler

__all__ = ["MLPDigitClassifier", "PixelScaler", "__version__"]
