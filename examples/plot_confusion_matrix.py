"""
=====================================================
Confusion matrix and the most confident mistakes
=====================================================

Accuracy says how often the classifier is wrong; the confusion matrix says
which digits it confuses, and the images it gets wrong with the highest
probability say why. :class:`~skmnist.MLPDigitClassifier` has
``predict_proba`` like any scikit-learn classifier, so the usual tools of
:mod:`sklearn.metrics` apply directly.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist

X_train, y_train = load_mnist(subset="train", source="sample", return_X_y=True)
X_test, y_test = load_mnist(subset="test", source="sample", return_X_y=True)

# The default network: two hidden layers of 512 and 256 units, 20 epochs.
model = make_pipeline(PixelScaler(), MLPDigitClassifier(random_state=0))
model.fit(X_train, y_train)
proba = model.predict_proba(X_test)
y_pred = model.classes_[proba.argmax(axis=1)]
print(f"test accuracy: {np.mean(y_pred == y_test):.3f}")
print(f"{np.sum(y_pred != y_test)} of {len(y_test)} test images misclassified")

# %%
# Confusion matrix
# ----------------
# Rows are the true digits, columns the predicted ones; the diagonal holds the
# correct predictions. Each row holds the 100 test images of one digit, so a
# count is also a percentage.
fig, ax = plt.subplots(figsize=(6, 5.2), layout="constrained")
ConfusionMatrixDisplay.from_predictions(y_test, y_pred, ax=ax, cmap="Blues")
ax.set_title("Confusion matrix, 1,000 test images")

# %%
# The most confident mistakes
# ---------------------------
# Among the misclassified test images, those whose predicted class got the
# highest probability. Under each image, the probability of every class: the
# predicted class in red, the true class in green (often too small to see,
# hence its probability in the title). Some of these digits would puzzle a
# human reader too; others are plain mistakes of the model.
wrong = np.flatnonzero(y_pred != y_test)
confidence = proba[wrong].max(axis=1)
worst = wrong[np.argsort(-confidence)][:12]

# sphinx_gallery_thumbnail_number = 2
n_columns = 6
n_rows = int(np.ceil(len(worst) / n_columns))
fig = plt.figure(figsize=(11, 3.7 * n_rows), layout="constrained")
rows = fig.subfigures(n_rows, 1)
for row, indices in zip(
    np.atleast_1d(rows), np.array_split(worst, n_rows), strict=True
):
    axes = row.subplots(2, n_columns, height_ratios=[1.5, 1])
    for column, index in enumerate(indices):
        ax_image, ax_proba = axes[0, column], axes[1, column]
        ax_image.imshow(X_test[index].reshape(28, 28), cmap="gray_r")
        ax_image.set_xticks([])
        ax_image.set_yticks([])
        ax_image.set_title(
            f"predicted {y_pred[index]}: p = {proba[index].max():.2f}\n"
            f"true {y_test[index]}: p = {proba[index, y_test[index]]:.2f}",
            fontsize=10,
        )
        colors = ["lightgray"] * 10
        colors[y_test[index]] = "tab:green"
        colors[y_pred[index]] = "tab:red"
        ax_proba.bar(model.classes_, proba[index], color=colors)
        ax_proba.set_ylim(0, 1)
        ax_proba.set_xticks(model.classes_)
        ax_proba.tick_params(labelsize=8)
        for label in ax_proba.get_xticklabels():
            if label.get_text() == str(y_test[index]):
                label.set_color("tab:green")
                label.set_fontweight("bold")
        if column:
            ax_proba.set_yticklabels([])
        else:
            ax_proba.set_ylabel("probability")
fig.suptitle("Misclassified test images with the highest predicted probability")
plt.show()
