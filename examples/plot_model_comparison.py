"""
==============================================
Three classic MNIST networks, side by side
==============================================

Three architectures, each a scikit-learn pipeline of
:class:`~skmnist.PixelScaler` and :class:`~skmnist.MLPDigitClassifier`:

* **defaults**: ``MLPDigitClassifier()``, two hidden layers of 512 and 256
  units, minibatches of 128, 20 epochs, cosine learning-rate schedule;
* **Keras-style**: the small network of the classic Keras MNIST tutorials,
  two hidden layers of 128 units on pixels divided by 255
  (``PixelScaler(max_value=255)``, the default);
* **784-256-10**: one hidden layer of 256 units trained with minibatches of
  64, a common textbook baseline.

All three train for the default 20 epochs with Adam. Accuracy and fit time
are measured on the embedded sample, on the machine that built this page.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist

X_train, y_train = load_mnist(subset="train", source="sample", return_X_y=True)
X_test, y_test = load_mnist(subset="test", source="sample", return_X_y=True)

candidates = {
    "defaults\n784-512-256-10": MLPDigitClassifier(random_state=0),
    "Keras-style\n784-128-128-10": MLPDigitClassifier(
        hidden_layer_sizes=(128, 128), random_state=0
    ),
    "784-256-10\nbatch_size=64": MLPDigitClassifier(
        hidden_layer_sizes=(256,), batch_size=64, random_state=0
    ),
}
names, accuracies, fit_times, n_weights = [], [], [], []
for name, classifier in candidates.items():
    model = make_pipeline(PixelScaler(max_value=255), classifier)
    started = time.perf_counter()
    model.fit(X_train, y_train)
    fit_times.append(time.perf_counter() - started)
    accuracies.append(model.score(X_test, y_test))
    n_weights.append(sum(w.size for w in classifier.coefs_ + classifier.intercepts_))
    names.append(name)
    print(
        f"{name.replace(chr(10), ', ')}: accuracy {accuracies[-1]:.3f}, "
        f"fit {fit_times[-1]:.1f} s, {n_weights[-1]:,} parameters, "
        f"device {classifier.device_}"
    )

# %%
# Accuracy and fit time
# ---------------------
# The error bars are one binomial standard error of the accuracy,
# ``sqrt(p * (1 - p) / n)`` with ``n = 1000`` test images: differences
# smaller than about two of them are within the noise of this small test set.
# Trained on the full 60,000 images, the networks reach other accuracies and
# fit times; :doc:`/benchmarks` lists the ones measured there.
accuracies = np.array(accuracies)
errors = np.sqrt(accuracies * (1 - accuracies) / len(y_test))
colors = ["tab:blue", "tab:orange", "tab:green"]
positions = np.arange(len(names))

fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
bars = ax_acc.bar(
    positions, 100 * accuracies, yerr=100 * errors, color=colors, capsize=6
)
ax_acc.bar_label(
    bars,
    labels=[f"{100 * a:.1f} %" for a in accuracies],
    label_type="center",
    color="white",
    fontweight="bold",
)
ax_acc.set_ylim(80, 100)
ax_acc.set_ylabel("test accuracy (%)")
ax_acc.set_title("Accuracy on 1,000 test images")

bars = ax_time.bar(positions, fit_times, color=colors)
ax_time.bar_label(bars, labels=[f"{t:.1f} s" for t in fit_times], padding=3)
ax_time.set_ylabel("fit time (s)")
ax_time.set_title("Fit time on 5,000 training images")
ax_time.margins(y=0.15)
for ax in (ax_acc, ax_time):
    ax.set_xticks(positions, names)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)

# %%
# Size of each network
# --------------------
# The number of weights and biases, which drives the cost of an epoch.
for name, count in zip(names, n_weights, strict=True):
    print(f"{name.replace(chr(10), ', '):>30}: {count:>7,} parameters")
plt.show()
