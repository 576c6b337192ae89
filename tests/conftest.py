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


def pytest_collection_modifyitems(items):
    """The exclusions of the vendored scikit-learn MLP suite, with their reasons."""
    from sklearn_mlp_exclusions import mark_excluded

    mark_excluded(items)
