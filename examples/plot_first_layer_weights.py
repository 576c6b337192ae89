"""
=============================================
What the first layer looks at
=============================================

``coefs_[0]`` holds the weights from the 784 input pixels to the units of the
first hidden layer, as a ``(784, n_hidden)`` NumPy array (a copy of the
network's weights, laid out as in
:class:`~sklearn.neural_network.MLPClassifier`). Each column reshaped to
28x28 shows the pattern a unit responds to: red pixels excite it, blue ones
inhibit it.

Two single-layer networks of 32 units are compared: the default penalty
``alpha=1e-4`` and a strong one, ``alpha=1e-2``. In skmnist ``alpha`` is the
optimizer's weight decay on the weights (not the biases): larger values pull
every weight towards zero at each step.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist

X_train, y_train = load_mnist(subset="train", source="sample", return_X_y=True)
X_test, y_test = load_mnist(subset="test", source="sample", return_X_y=True)

models = {}
for alpha in [1e-4, 1e-2]:
    model = make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(hidden_layer_sizes=(32,), alpha=alpha, random_state=0),
    ).fit(X_train, y_train)
    models[alpha] = model
    weights = model[-1].coefs_[0]
    # Units whose ReLU output is 0 for every training image ("dead" units).
    hidden = model[0].transform(X_train) @ weights + model[-1].intercepts_[0]
    dead = np.flatnonzero(hidden.max(axis=0) <= 0)
    print(
        f"alpha={alpha:g}: coefs_[0] has shape {weights.shape}, "
        f"mean |weight| {np.abs(weights).mean():.4f}, dead units {dead.tolist()}, "
        f"test accuracy {model.score(X_test, y_test):.3f}"
    )

# %%
# The 32 weight images of each model
# ----------------------------------
# Each image has its own symmetric colour scale (white is zero), so that weak
# and strong units are equally visible. Most units respond to strokes and
# loops in the centre of the image, where the digits are; the stronger
# penalty gives smoother, more localised patterns. A unit marked "dead" never
# fires on the training set: it passes nothing on to the next layer, and its
# image is whatever is left of its initial random weights.
fig = plt.figure(figsize=(11, 3.9), layout="constrained")
subfigs = fig.subfigures(1, 2, wspace=0.04)
for subfig, (alpha, model) in zip(subfigs, models.items(), strict=True):
    weights = model[-1].coefs_[0]
    hidden = model[0].transform(X_train) @ weights + model[-1].intercepts_[0]
    axes = subfig.subplots(4, 8)
    for unit, ax in enumerate(axes.flat):
        column = weights[:, unit]
        limit = np.abs(column).max()
        ax.imshow(column.reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])
        if hidden[:, unit].max() <= 0:
            ax.set_title("dead", fontsize=9, color="gray", pad=2)
    subfig.suptitle(f"alpha={alpha:g}")
plt.show()
