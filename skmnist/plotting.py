"""Plots of classification results, drawn with matplotlib (imported lazily).

matplotlib is an optional dependency: ``pip install -e ".[cli]"``. The
figures are built without :mod:`matplotlib.pyplot`'s global state, so they
never open a window and can be drawn on a machine without a display.
"""

from __future__ import annotations

import os
from typing import Any

from numpy.typing import ArrayLike

from ._atomic import atomic_write

__all__ = ["plot_confusion_matrix"]


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "plotting needs matplotlib: pip install -e '.[cli]' "
            "(or pip install matplotlib)"
        ) from exc
    return Figure


def plot_confusion_matrix(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    path: str | os.PathLike[str] | None = None,
    *,
    labels: ArrayLike | None = None,
    normalize: str | None = None,
    title: str | None = "Confusion matrix",
    cmap: str = "Blues",
    dpi: int = 100,
) -> Any:
    """Draw the confusion matrix of predictions, and save it to a file.

    A thin wrapper around
    :meth:`sklearn.metrics.ConfusionMatrixDisplay.from_predictions` on a
    standalone matplotlib figure (no pyplot window), with the true labels as
    rows and the predicted labels as columns.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    path : str, os.PathLike or None, default=None
        Where to save the picture, atomically (an existing file stays as it
        was on a failure); the format follows the extension (``.png``,
        ``.svg``, ``.pdf``, ...). None only returns the figure.
    labels : array-like of shape (n_classes,), default=None
        Labels to show, in order; None uses the sorted labels present in
        ``y_true`` or ``y_pred``.
    normalize : {"true", "pred", "all"} or None, default=None
        Show rates normalised over the true labels (rows), the predicted
        labels (columns) or all samples instead of counts.
    title : str or None, default="Confusion matrix"
        Title of the plot.
    cmap : str, default="Blues"
        matplotlib colormap of the cells.
    dpi : int, default=100
        Resolution of the saved picture; the figure is 6.4 x 5.6 inches.

    Returns
    -------
    figure : matplotlib.figure.Figure
        The figure, for further changes or saving.

    Raises
    ------
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> from skmnist.plotting import plot_confusion_matrix
    >>> figure = plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], title="digits")
    >>> figure.axes[0].get_title()
    'digits'
    >>> figure.axes[0].get_ylabel(), figure.axes[0].get_xlabel()
    ('True label', 'Predicted label')

    Saving it as a PNG:

    >>> plot_confusion_matrix(y_test, y_pred, "confusion.png")  # doctest: +SKIP
    """
    figure_class = _figure_class()
    from sklearn.metrics import ConfusionMatrixDisplay

    figure = figure_class(figsize=(6.4, 5.6), layout="constrained")
    ax = figure.add_subplot()
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=labels,
        normalize=normalize,
        ax=ax,
        cmap=cmap,
        colorbar=True,
        values_format=".2f" if normalize else "d",
    )
    if title:
        ax.set_title(title)
    if path is not None:
        _save(figure, os.fspath(path), dpi)
    return figure


def _save(figure: Any, path: str, dpi: int) -> None:
    """``figure.savefig(path)``, written atomically (see :mod:`skmnist._atomic`).

    The format follows the extension, as savefig's; without one, savefig's
    default format is used and its extension appended.
    """
    import matplotlib

    extension = os.path.splitext(path)[1][1:]
    if not extension:
        extension = matplotlib.rcParams["savefig.format"]
        path = f"{path}.{extension}"
    with atomic_write(path) as file:
        figure.savefig(file, format=extension.lower(), dpi=dpi)
