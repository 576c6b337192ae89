"""
==========================================
Tuning the network with a grid search
==========================================

:class:`~skmnist.MLPDigitClassifier` is an ordinary scikit-learn estimator, so
its hyper-parameters are tuned the usual way: put it in a
:class:`~sklearn.pipeline.Pipeline` after :class:`~skmnist.PixelScaler` and
hand the pipeline to :class:`~sklearn.model_selection.GridSearchCV`. Each
candidate is cloned and fitted on every training fold; parameters of a
pipeline step are named ``<step>__<parameter>``.

Here the grid crosses three architectures with two initial learning rates,
with 3-fold cross-validation on the 5,000 training images of the embedded
sample, and 10 epochs per fit to keep the example fast.
"""

import warnings

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist

X_train, y_train = load_mnist(subset="train", source="sample", return_X_y=True)
X_test, y_test = load_mnist(subset="test", source="sample", return_X_y=True)

pipe = Pipeline(
    [
        ("scale", PixelScaler()),
        ("mlp", MLPDigitClassifier(max_iter=10, random_state=0)),
    ]
)
param_grid = {
    "mlp__hidden_layer_sizes": [(64,), (256,), (256, 128)],
    "mlp__learning_rate_init": [1e-3, 3e-3],
}
search = GridSearchCV(pipe, param_grid, cv=3)
# Each of the 19 fits (6 candidates on 3 folds, then the best one refitted on
# the whole training set) ends at its explicit ``max_iter=10``, before the
# stopping rule (no improvement of the training loss by ``tol`` for
# ``n_iter_no_change=10`` epochs) could end it. As MLPClassifier does, each
# such fit warns: "ConvergenceWarning: Stochastic optimizer: maximum
# iterations (10) reached and the optimization hasn't converged yet". Here the
# short budget is chosen, so the search runs with that one warning silenced.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"best cross-validated accuracy: {search.best_score_:.3f}")

# %%
# The results table
# -----------------
# ``cv_results_`` is a dict of arrays, one entry per candidate; a DataFrame
# makes it readable. ``mean_fit_time`` is the time of one fit on two thirds
# of the training set.
results = pd.DataFrame(search.cv_results_)
columns = {
    "param_mlp__hidden_layer_sizes": "hidden_layer_sizes",
    "param_mlp__learning_rate_init": "learning_rate_init",
    "mean_test_score": "mean accuracy",
    "std_test_score": "std",
    "mean_fit_time": "fit time (s)",
    "rank_test_score": "rank",
}
table = results[list(columns)].rename(columns=columns).sort_values("rank")
table.round(4)

# %%
# Accuracy and cost of each candidate
# -----------------------------------
# The heat map shows the mean cross-validated accuracy of each cell of the
# grid (the best in bold), the bars the mean time of one fit of each
# architecture, averaged over the two learning rates, on the machine that
# built this page.
sizes = [str(size) for size in param_grid["mlp__hidden_layer_sizes"]]
rates = param_grid["mlp__learning_rate_init"]
scores = (
    results.assign(size=results["param_mlp__hidden_layer_sizes"].astype(str))
    .pivot_table(
        index="size", columns="param_mlp__learning_rate_init", values="mean_test_score"
    )
    .loc[sizes, rates]
)
fit_times = (
    results.assign(size=results["param_mlp__hidden_layer_sizes"].astype(str))
    .groupby("size")["mean_fit_time"]
    .mean()
    .loc[sizes]
)

fig, (ax_score, ax_time) = plt.subplots(
    1, 2, figsize=(9, 3.6), layout="constrained", width_ratios=[1.2, 1]
)
image = ax_score.imshow(scores.to_numpy(), cmap="viridis")
for (row, column), value in pd.DataFrame(scores.to_numpy()).stack().items():
    best = value == scores.to_numpy().max()
    ax_score.text(
        column,
        row,
        f"{value:.3f}",
        ha="center",
        va="center",
        color="black" if value > scores.to_numpy().mean() else "white",
        fontweight="bold" if best else "normal",
    )
ax_score.set_xticks(range(len(rates)), [f"{rate:g}" for rate in rates])
ax_score.set_yticks(range(len(sizes)), sizes)
ax_score.set_xlabel("learning_rate_init")
ax_score.set_ylabel("hidden_layer_sizes")
ax_score.set_title("Mean CV accuracy (3 folds)")
fig.colorbar(image, ax=ax_score, shrink=0.8)

ax_time.barh(sizes, fit_times.to_numpy(), color="tab:gray")
ax_time.invert_yaxis()
ax_time.set_xlabel("mean fit time (s), 10 epochs")
ax_time.set_title("Cost of one fit")

# %%
# The refitted best pipeline
# --------------------------
# With ``refit=True`` (the default) the best candidate is refitted on the
# whole training set; ``search`` then predicts like that pipeline.
print(f"test accuracy of the best pipeline: {search.score(X_test, y_test):.3f}")
plt.show()
