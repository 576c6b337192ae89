"""Shared fixtures: the real datasets next to the repository (../shared/data)."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _dataset_dir(name: str) -> Path:
    folder = SHARED_DATA / name
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real {name} IDX files not found in {folder}")
    return folder


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder of the official MNIST IDX files (the test skips without them)."""
    return _dataset_dir("mnist")


@pytest.fixture(scope="session")
def fashion_mnist_dir() -> Path:
    """Folder of the official Fashion-MNIST IDX files (skips without them)."""
    return _dataset_dir("fashion-mnist")


class _RunsCodeWhenLoaded:
    """Unpickling this object creates ``marker``: pickle runs code from the file.

    The same attack as ``os.system("echo PWNED > pwned.txt")`` in
    ``__reduce__``, without a shell.
    """

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        # Written and closed at once: an unclosed file is a ResourceWarning.
        code = f"__import__('pathlib').Path({self.marker!r}).write_text('PWNED')"
        return (exec, (code,))


@pytest.fixture
def write_malicious_pickle():
    """``write(path, marker)``: a pickle at ``path`` whose loading creates ``marker``.

    Names ending in ``.joblib`` or ``.gz`` are written with :func:`joblib.dump`
    (``.gz`` compressed), others with :func:`pickle.dump`.
    """
    import pickle

    import joblib

    def write(path: Path, marker: Path) -> Path:
        payload = _RunsCodeWhenLoaded(marker)
        if path.suffix in (".joblib", ".gz"):
            joblib.dump(payload, path)
        else:
            with open(path, "wb") as file:
                pickle.dump(payload, file)
        assert not marker.exists()
        return path

    return write


#: scikit-learn's estimator checks on the default network train it for long:
#: ``make test-fast`` leaves them out (it runs them on the small SGD network).
SLOW_CHECKS = "[MLPDigitClassifier()-"


def pytest_collection_modifyitems(items):
    """The exclusions of the vendored scikit-learn MLP suite, with their reasons.

    And the ``slow`` mark on the estimator checks named :data:`SLOW_CHECKS`.
    """
    from sklearn_mlp_exclusions import mark_excluded

    mark_excluded(items)
    for item in items:
        if item.path.name == "test_estimator_checks.py" and SLOW_CHECKS in item.name:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def global_random_seed():
    """scikit-learn's own test fixture, for the vendored MLP suite: its default seed."""
    return 42
