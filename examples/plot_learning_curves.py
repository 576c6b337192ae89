"""
=====================================================
Training curves, early stopping and epoch callbacks
=====================================================

Like :class:`~sklearn.neural_network.MLPClassifier`, a fitted
:class:`~skmnist.MLPDigitClassifier` records its training history:
``loss_curve_`` holds the mean training loss of each epoch and, with
``early_stopping=True``, ``validation_scores_`` the accuracy on a stratified
hold-out of ``validation_fraction`` of the training data after each epoch.
Training stops when that accuracy has not improved by ``tol`` for
``n_iter_no_change`` epochs, and the weights of the best epoch are restored.

Two settings are compared. The first uses a ``"constant"`` learning rate
(MLPClassifier's default) and lets early stopping decide when to end. The
second keeps this estimator's defaults, the ``"cosine"`` schedule over
``max_iter="auto"`` (20 epochs here), which anneals the rate from
``learning_rate_init`` to zero over the epochs of a fit, and sets
``n_iter_no_change=np.inf``: the validation accuracy is still tracked and the
best epoch still restored, but training never stops early, so the schedule
runs to its end. Reaching the end of that planned schedule is no
:class:`~sklearn.exceptions.ConvergenceWarning`; an explicit ``max_iter=20``
would warn at the end of the fit, as MLPClassifier does. An epoch callback
records the learning rate the optimizer used.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist

X_train, y_train = load_mnist(subset="train", source="sample", return_X_y=True)
X_test, y_test = load_mnist(subset="test", source="sample", return_X_y=True)


class History:
    """Epoch callback: keeps the dict the estimator passes after every epoch."""

    def __init__(self):
        self.epochs = []

    def __call__(self, info):
        # info holds epoch, loss, validation_score, learning_rate, duration.
        self.epochs.append(info)
        return False  # returning True would stop the training


settings = {
    "constant, early stopping": {
        "learning_rate": "constant",
        "max_iter": 40,
        "n_iter_no_change": 6,
    },
    "cosine, no stopping": {
        "learning_rate": "cosine",
        "max_iter": "auto",
        "n_iter_no_change": np.inf,
    },
}
models, histories = {}, {}
for name, params in settings.items():
    histories[name] = History()
    models[name] = make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(
            hidden_layer_sizes=(256, 128),
            early_stopping=True,
            random_state=0,
            callbacks=[histories[name]],
            **params,
        ),
    ).fit(X_train, y_train)
    clf = models[name][-1]
    best_epoch = int(np.argmax(clf.validation_scores_)) + 1
    print(
        f"{name}: {clf.n_iter_} epochs, best validation accuracy "
        f"{clf.best_validation_score_:.3f} at epoch {best_epoch}, "
        f"test accuracy {models[name].score(X_test, y_test):.3f}"
    )

# %%
# Loss, validation accuracy and learning rate per epoch
# -----------------------------------------------------
# The dot marks the best validation epoch: the fitted model keeps the weights
# of that epoch, not those of the last one. The validation set holds 500
# images, so one image is 0.2 points of accuracy: small wiggles are noise.
# Early stopping and the cosine schedule pull in different directions: a
# cosine schedule is planned over ``max_iter`` epochs, and stopping early cuts
# it off before the rate has decayed.
colors = dict(zip(settings, ["tab:orange", "tab:blue"], strict=True))
fig, (ax_loss, ax_val, ax_lr) = plt.subplots(
    1, 3, figsize=(11, 4), layout="constrained"
)
for name, pipeline in models.items():
    clf = pipeline[-1]
    epochs = np.arange(1, clf.n_iter_ + 1)
    color = colors[name]
    ax_loss.plot(epochs, clf.loss_curve_, color=color, label=name)
    ax_val.plot(epochs, clf.validation_scores_, color=color, label=name)
    best = int(np.argmax(clf.validation_scores_))
    ax_val.plot(best + 1, clf.validation_scores_[best], "o", color=color)
    rates = [info["learning_rate"] for info in histories[name].epochs]
    ax_lr.plot(epochs, rates, color=color, label=name)

handles, labels = ax_loss.get_legend_handles_labels()
fig.legend(handles, labels, loc="outside lower center", ncols=2)
ax_loss.set_yscale("log")
ax_loss.set_title("Training loss (loss_curve_)")
ax_val.set_title("Validation accuracy (validation_scores_)")
ax_lr.set_title("Learning rate (from a callback)")
for ax in (ax_loss, ax_val, ax_lr):
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)

# %%
# Stopping from a callback
# ------------------------
# A callback that returns True ends the training after the current epoch, for
# rules the estimator's parameters do not cover: a time budget, a target
# loss, a signal from outside. Here training stops once the training loss
# drops below 0.05.
clf = MLPDigitClassifier(
    hidden_layer_sizes=(256, 128),
    max_iter=40,
    random_state=0,
    callbacks=[lambda info: info["loss"] < 0.05],
)
make_pipeline(PixelScaler(), clf).fit(X_train, y_train)
print(f"stopped after {clf.n_iter_} epochs, final loss {clf.loss_curve_[-1]:.4f}")
plt.show()
