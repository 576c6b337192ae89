"""Skip markers for tests that need a newer library than skmnist's floors.

``make test-min`` runs the suite with every dependency at the lowest version
pyproject.toml allows (constraints-min.txt); a test that checks a feature of
a newer release skips there, saying which release it needs.
"""

from importlib.metadata import version

import pytest
from packaging.version import Version


def installed(distribution: str) -> Version:
    """The installed version of a distribution (``"scikit-learn"``, ``"numpy"``)."""
    return Version(version(distribution))


def below(distribution: str, minimum: str) -> bool:
    """Whether the installed ``distribution`` is older than ``minimum``."""
    return installed(distribution) < Version(minimum)


def requires(distribution: str, minimum: str, why: str) -> pytest.MarkDecorator:
    """Skip unless ``distribution`` is ``minimum`` or newer (``why``: what it adds)."""
    return pytest.mark.skipif(
        below(distribution, minimum),
        reason=f"needs {distribution} >= {minimum} ({why}); "
        f"{installed(distribution)} is installed",
    )
