"""Warnings that point at the user's code, not at skmnist's internals.

A warning is shown with the file and line of one frame of the call stack.
skmnist warns from several layers deep (the estimator, the training engine,
the persistence code), and the depth depends on the way in (``fit``,
``partial_fit``, :func:`~skmnist.model_selection.fit_many`, ...), so a fixed
``stacklevel`` points into the library on some of them. :func:`warn_user`
finds the first frame outside skmnist instead.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType

__all__ = ["warn_user"]

_PACKAGE = __name__.partition(".")[0]


def _internal(frame: FrameType) -> bool:
    """Whether ``frame`` runs skmnist code, or scikit-learn's ``fit`` wrapper."""
    module = frame.f_globals.get("__name__", "")
    if module == _PACKAGE or module.startswith(_PACKAGE + "."):
        return True
    # sklearn.base._fit_context wraps fit and partial_fit; TransformerMixin's
    # fit_transform calls fit; set_output wraps transform and fit_transform.
    if module == "sklearn.utils._set_output":
        return True
    return module == "sklearn.base" and frame.f_code.co_name in (
        "wrapper",
        "fit_transform",
    )


def warn_user(message: str | Warning, category: type[Warning]) -> None:
    """``warnings.warn(message, category)`` at the first frame outside skmnist.

    Parameters
    ----------
    message : str or Warning
        The warning's text, or a warning to raise again (``category`` is
        then its class).
    category : type of Warning
        Its class, e.g. ``UserWarning``.

    Examples
    --------
    >>> import warnings
    >>> from skmnist._user_warning import warn_user
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_user("careful", UserWarning)
    >>> str(caught[0].message)
    'careful'
    """
    frame = sys._getframe(1)  # the caller, inside skmnist
    stacklevel = 2
    while frame.f_back is not None and _internal(frame):
        frame = frame.f_back
        stacklevel += 1
    warnings.warn(message, category, stacklevel=stacklevel)
