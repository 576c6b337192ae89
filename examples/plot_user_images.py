"""
=====================================
Reading users' images of digits
=====================================

A model trained on MNIST has only ever seen MNIST's digits: white ink on a
black background, scaled into a 20x20 box and centred by their centre of mass
on 28x28 pixels. A user's file is something else: a large canvas, the digit
somewhere on it at another size, dark ink on grey paper, JPEG noise.
:func:`~skmnist.images.normalize_digit` applies MNIST's own normalisation to
such an image (:func:`~skmnist.images.read_digit_image` does it for a file,
and ``skmnist predict`` uses it), see :ref:`images`.

Here a few test digits of the embedded sample are re-drawn as such images,
then read two ways: inverted and resized to 28x28 (what a plain
``ImageOps.invert(image).resize((28, 28))`` gives), and normalised.
"""

import io

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image, ImageOps
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist
from skmnist.images import normalize_digit

X_train, y_train = load_mnist(subset="train", source="sample", return_X_y=True)
X_test, y_test = load_mnist(subset="test", source="sample", return_X_y=True)
model = make_pipeline(
    PixelScaler(), MLPDigitClassifier(hidden_layer_sizes=(128,), random_state=0)
)
model.fit(X_train, y_train)
print(f"accuracy on the sample's test digits: {model.score(X_test, y_test):.3f}")


# %%
# Digits as users' files
# ----------------------
# Each digit is enlarged, put at some place on a canvas of another size and
# shade, and saved as a JPEG (light on dark for the last one, like chalk).
def as_users_file(digit, canvas, at, height, paper, ink):
    crop = digit[np.ix_(digit.any(axis=1), digit.any(axis=0))]
    width = round(crop.shape[1] * height / crop.shape[0])
    big = Image.fromarray(crop).resize((width, height), Image.Resampling.BICUBIC)
    coverage = np.asarray(big, dtype=float) / 255
    sheet = np.full(canvas[::-1], float(paper))
    region = sheet[at[1] : at[1] + height, at[0] : at[0] + width]
    region[...] = paper + (ink - paper) * coverage
    buffer = io.BytesIO()
    Image.fromarray(sheet.round().astype(np.uint8)).save(buffer, "JPEG", quality=75)
    return Image.open(buffer)


settings = [  # canvas (width, height), position, digit height, paper, ink
    ((240, 180), (20, 15), 60, 200, 30),
    ((300, 300), (160, 150), 110, 170, 20),
    ((160, 320), (40, 200), 40, 230, 60),
    ((400, 200), (250, 25), 150, 150, 10),
    ((200, 200), (70, 60), 90, 40, 230),
]
indices = [0, 1, 2, 3, 4]
files = [
    as_users_file(X_test[i].reshape(28, 28), *setting)
    for i, setting in zip(indices, settings, strict=True)
]

# %%
# Before and after
# ----------------
# Inverting and resizing keeps the grey paper grey, and the digit where and
# as small as it was; the normalised digits look like MNIST's.
inverted = [
    np.asarray(
        ImageOps.invert(f.convert("L")).resize((28, 28), Image.Resampling.LANCZOS)
    )
    for f in files
]
inverted[-1] = np.asarray(files[-1].convert("L").resize((28, 28)))  # already light
normalized = [normalize_digit(f) for f in files]
before = model.predict(np.stack(inverted).reshape(len(files), -1))
after = model.predict(np.stack(normalized).reshape(len(files), -1))

fig, axes = plt.subplots(3, len(files), figsize=(8, 5.4), layout="constrained")
for column, index in enumerate(indices):
    axes[0, column].imshow(files[column], cmap="gray", vmin=0, vmax=255)
    axes[0, column].set_title(f"file: a {y_test[index]}")
    axes[1, column].imshow(inverted[column], cmap="gray", vmin=0, vmax=255)
    axes[1, column].set_title(f"predicted {before[column]}")
    axes[2, column].imshow(normalized[column], cmap="gray", vmin=0, vmax=255)
    axes[2, column].set_title(f"predicted {after[column]}")
axes[0, 0].set_ylabel("user's file")
axes[1, 0].set_ylabel("inverted, resized")
axes[2, 0].set_ylabel("normalised")
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
print("true:      ", y_test[indices])
print("inverted:  ", before)
print("normalised:", after)

# %%
# In a pipeline
# -------------
# :class:`~skmnist.images.DigitNormalizer` is the same normalisation as a
# scikit-learn transformer, for arrays that hold one image per row. Here the
# sample's test digits are drawn dark on grey 56x56 sheets, each at a random
# place: the model alone gets few of them right, behind the normaliser nearly
# as many as of the originals. From the command line, ``skmnist predict
# model.joblib photo.jpg`` reads files the same way.
from skmnist.images import DigitNormalizer  # noqa: E402

rng = np.random.default_rng(0)
sheets = np.full((len(X_test), 56, 56), 190, dtype=np.uint8)
for sheet, digit in zip(sheets, X_test.reshape(-1, 28, 28), strict=True):
    top, left = rng.integers(0, 29, size=2)
    sheet[top : top + 28, left : left + 28] -= (digit * 0.65).astype(np.uint8)
X_sheets = sheets.reshape(len(X_test), -1)
normalizer = DigitNormalizer().fit(X_sheets)  # learns nothing: checks the shape
X_normalized = normalizer.transform(X_sheets)
inverted_sheets = np.stack(
    [np.asarray(Image.fromarray(255 - sheet).resize((28, 28))) for sheet in sheets]
)
X_inverted = inverted_sheets.reshape(len(X_test), -1)
print(
    f"model on the sheets, inverted and resized: {model.score(X_inverted, y_test):.3f}"
)
print(
    f"model behind DigitNormalizer:            {model.score(X_normalized, y_test):.3f}"
)
plt.show()
