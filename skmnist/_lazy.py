"""Names of a package imported on first use (PEP 562), so that importing it is cheap.

``import skmnist`` imports neither torch nor scikit-learn: the names of the
package are looked up in their modules when first used, and kept. A package
declares them with :func:`lazy_names` and lists them in ``__all__``; static
type checkers read the imports under ``if TYPE_CHECKING:`` instead.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a package with lazy names.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping of str to str
        Each name, and the submodule (relative to ``package``) that defines it.

    Returns
    -------
    getattr : callable
        The package's ``__getattr__``: imports the submodule of a name on first
        use and stores the name in the package, so that it is looked up once.
    dir : callable
        The package's ``__dir__``: its globals and the lazy names.

    Examples
    --------
    ``skmnist`` imports its estimators on first use:

    >>> import skmnist
    >>> "MLPDigitClassifier" in dir(skmnist)
    True
    >>> skmnist.MLPDigitClassifier.__module__
    'skmnist.classifier'
    >>> skmnist.absent
    Traceback (most recent call last):
    ...
    AttributeError: module 'skmnist' has no attribute 'absent'
    """
    namespace = sys.modules[package].__dict__  # the package, being imported

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f".{names[name]}", package)
        value = getattr(module, name)
        namespace[name] = value  # found by the next lookup without this call
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
