"""
==========================================
Saving a model and loading it elsewhere
==========================================

A fitted :class:`~skmnist.MLPDigitClassifier`, alone or inside a pipeline, is
saved with :func:`joblib.dump` (or :mod:`pickle`) like any scikit-learn
estimator. The file holds the network's architecture and its weights as
NumPy arrays, never device tensors: a model trained on a GPU loads on a
machine without one. It then predicts on the CPU and says so with a
``UserWarning`` ("This model was trained on 'cuda:0', which is not available
here; it was loaded on the CPU."); ``device_`` tells where the loaded model
lives.

.. warning::

   A joblib or pickle file can run arbitrary code when loaded: only load
   model files from sources you trust. For files from elsewhere use the
   secure format of :func:`skmnist.persistence.save_model`, whose loading
   runs no code (shown at the end), or export to ONNX (:mod:`skmnist.onnx`).
"""

import tempfile
from pathlib import Path

import joblib
import matplotlib.pyplot as plt
import numpy as np
import skops.io
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist
from skmnist.persistence import TRUSTED_TYPES, load_model, save_model

X_train, y_train = load_mnist(subset="train", source="sample", return_X_y=True)
X_test, y_test = load_mnist(subset="test", source="sample", return_X_y=True)

model = make_pipeline(
    PixelScaler(), MLPDigitClassifier(hidden_layer_sizes=(256,), random_state=0)
)
model.fit(X_train, y_train)
print(
    f"trained on {model[-1].device_}, test accuracy {model.score(X_test, y_test):.3f}"
)

# %%
# Save and load
# -------------
# The whole pipeline goes into one file: the scaler's constants and the
# network. ``compress`` trades a little time for a smaller file.
folder = Path(tempfile.mkdtemp())
path = folder / "mnist-mlp.joblib"
joblib.dump(model, path, compress=3)
print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB")

loaded = joblib.load(path)
print("loaded:", loaded)
print("device of the loaded model:", loaded[-1].device_)

# %%
# The reloaded model predicts exactly like the original
# -----------------------------------------------------
# On the same device the weights are bit-for-bit the same, and so are the
# probabilities. (On another device, e.g. GPU to CPU, expect agreement to
# floating-point precision rather than bit for bit.)
proba_before = model.predict_proba(X_test)
proba_after = loaded.predict_proba(X_test)
print("identical probabilities:", np.array_equal(proba_before, proba_after))
print(
    "identical first-layer weights:",
    np.array_equal(model[-1].coefs_[0], loaded[-1].coefs_[0]),
)

# %%
# The loaded model at work: for ten test digits, the predicted digit and its
# probability, computed by the model read back from disk.
fig, axes = plt.subplots(1, 10, figsize=(10, 1.9), layout="constrained")
predicted = loaded.predict(X_test[:10])
for ax, image, label, proba in zip(
    axes, X_test[:10], predicted, proba_after[:10].max(axis=1), strict=True
):
    ax.imshow(image.reshape(28, 28), cmap="gray_r")
    ax.set_title(f"{label}\np = {proba:.2f}", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Predictions of the reloaded pipeline")

# %%
# Continuing training after loading
# ---------------------------------
# The file holds no optimizer state (Adam's moment estimates) unless the
# classifier has ``keep_optimizer_state=True``, so ``partial_fit`` or a
# ``warm_start`` fit on a loaded model continues from its weights with a
# fresh optimizer.
# %%
# The secure format
# -----------------
# :func:`~skmnist.persistence.save_model` writes a `skops
# <https://skops.readthedocs.io>`_ file; :func:`~skmnist.persistence.load_model`
# reads it without pickle, and builds only skmnist's estimators, scikit-learn's
# ``Pipeline`` and plain values: a file holding any other type is refused.
secure_path = folder / "mnist-mlp.skmnist"
save_model(model, secure_path)
secure = load_model(secure_path)
print(f"{secure_path.name}: {secure_path.stat().st_size / 1e6:.2f} MB")
print(
    "identical probabilities:",
    np.array_equal(secure.predict_proba(X_test), proba_before),
)

# %%
# It is an ordinary skops file: ``skops.io.load`` reads it when told to trust
# the types of ``TRUSTED_TYPES``, and nothing more.
print("trusted:", TRUSTED_TYPES)
plain = skops.io.load(secure_path, trusted=TRUSTED_TYPES)
print(
    "identical probabilities:",
    np.array_equal(plain.predict_proba(X_test), proba_before),
)

path.unlink()
secure_path.unlink()
folder.rmdir()
plt.show()
