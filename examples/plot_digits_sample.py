"""
==========================
The embedded MNIST sample
==========================

skmnist ships a real subset of MNIST so that everything, these examples
included, runs without a download: 500 training and 100 test images of each
digit, taken from the official files with a fixed seed.
:func:`~skmnist.datasets.load_mnist` returns it like any scikit-learn loader:
a :class:`~sklearn.utils.Bunch` whose ``data`` holds one row of 784 pixels
(0 = background, 255 = ink) per image, and whose ``images`` holds the same
pixels as 28x28 arrays.
"""

import matplotlib.pyplot as plt
import numpy as np

from skmnist.datasets import load_mnist

mnist = load_mnist(subset="train", source="sample")
print(mnist.data.shape, mnist.data.dtype)
print(mnist.images.shape)
print("images per digit:", np.bincount(mnist.target))

# %%
# Eight images of each digit
# --------------------------
# ``images`` is a view of ``data``: no copy, just another shape. Rows of the
# grid are digits, columns the first eight training images of that digit.
n_columns = 8
fig, axes = plt.subplots(10, n_columns, figsize=(6.4, 8.2), layout="constrained")
for digit in range(10):
    (indices,) = np.nonzero(mnist.target == digit)
    for column, index in enumerate(indices[:n_columns]):
        ax = axes[digit, column]
        ax.imshow(mnist.images[index], cmap="gray_r")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[digit, 0].set_ylabel(str(digit), rotation=0, fontsize=14, labelpad=12)
fig.suptitle("MNIST sample: eight training images per digit")

# %%
# The average digit
# -----------------
# The mean image of each class shows how centred and size-normalised MNIST
# digits are, and which pixels never hold ink: the border columns are blank in
# every image, which is why :class:`~skmnist.PixelScaler` scales all pixels
# by one global constant rather than standardising each pixel separately.
fig, axes = plt.subplots(2, 6, figsize=(8, 3.4), layout="constrained")
for digit, ax in zip(range(10), axes.flat, strict=False):
    ax.imshow(mnist.images[mnist.target == digit].mean(axis=0), cmap="gray_r")
    ax.set_title(f"mean {digit}")
never_inked = (mnist.images.max(axis=0) == 0).astype(float)
axes.flat[10].imshow(mnist.images.mean(axis=0), cmap="gray_r")
axes.flat[10].set_title("mean, all")
axes.flat[11].imshow(never_inked, cmap="Reds", vmin=0, vmax=1)
axes.flat[11].set_title("always blank (red)")
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
print(f"{int(never_inked.sum())} of 784 pixels are 0 in every training image")

# %%
# Other sources
# -------------
# The same call reads the official IDX files, or OpenML's ``mnist_784``
# through scikit-learn's cache; every source returns the same arrays, in the
# official order (see :ref:`datasets`)::
#
#     X, y = load_mnist("path/to/mnist", source="idx", return_X_y=True)
#     X, y = load_mnist(source="openml", return_X_y=True)
#
# With ``as_frame=True`` the data come as a pandas DataFrame with OpenML's
# column names ``pixel1`` ... ``pixel784`` and a ``"class"`` target.
plt.show()
