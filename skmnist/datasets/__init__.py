"""Datasets: MNIST and Fashion-MNIST loaders and an IDX file reader and writer.

- :func:`load_mnist` and :func:`load_fashion_mnist` return the official data,
  from the IDX files, from OpenML, or (MNIST only) from a small real subset
  shipped with the package (``source="sample"``).
- :func:`read_idx` and :func:`write_idx` read and write any IDX file, the
  format of the original MNIST distribution.
- :func:`read_samples` reads the images of digits in an IDX file, a ``.npy``
  array or an image file (PNG, JPEG, BMP or GIF) as the rows of ``X`` a model
  takes, as ``skmnist predict`` does.
- :class:`DatasetWarning` tells that IDX files are not the official release
  of the dataset asked for (another dataset's, or unknown files).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:  # imported on first use, below
    from ._idx import read_idx, write_idx
    from ._mnist import DatasetWarning, load_fashion_mnist, load_mnist
    from ._samples import read_samples

__all__ = [
    "DatasetWarning",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "read_samples",
    "write_idx",
]

# read_idx and write_idx need only NumPy; the loaders scikit-learn, and
# read_samples scikit-learn and (for image files) Pillow.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "DatasetWarning": "_mnist",
        "load_fashion_mnist": "_mnist",
        "load_mnist": "_mnist",
        "read_idx": "_idx",
        "read_samples": "_samples",
        "write_idx": "_idx",
    },
)
