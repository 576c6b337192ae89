"""skmnist: a scikit-learn-native PyTorch MLP classifier for handwritten digits.

``import skmnist`` is quick: torch and scikit-learn are imported when
:class:`MLPDigitClassifier` or :class:`PixelScaler` is first used.

Examples
--------
>>> from skmnist import MLPDigitClassifier, PixelScaler
>>> MLPDigitClassifier().get_params()["hidden_layer_sizes"]
(512, 256)
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_names
from ._version import __version__

if TYPE_CHECKING:  # imported on first use, below
    from .classifier import MLPDigitClassifier
    from .preprocessing import PixelScaler

__all__ = ["MLPDigitClassifier", "PixelScaler", "__version__"]

__getattr__, __dir__ = lazy_names(
    __name__, {"MLPDigitClassifier": "classifier", "PixelScaler": "preprocessing"}
)
