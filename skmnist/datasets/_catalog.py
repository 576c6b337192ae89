"""What skmnist knows about MNIST and Fashion-MNIST: files, sizes, names, sources."""

import http.client
import os
from dataclasses import dataclass
from urllib.error import URLError

import numpy as np

DataHome = str | os.PathLike[str] | None

IMAGE_SHAPE = (28, 28)
N_FEATURES = 28 * 28
N_TRAIN, N_TEST = 60_000, 10_000
#: Column names, the same for every source (OpenML's naming).
FEATURE_NAMES = [f"pixel{i}" for i in range(1, N_FEATURES + 1)]
TARGET_COLUMN = "class"
ENV_VAR = "SKMNIST_DATA"

SUBSETS = ("train", "test", "all")
SOURCES = ("auto", "idx", "openml", "sample")
# Official file names (without .gz) of the images and labels of each split.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_NETWORK_ERRORS = (URLError, TimeoutError, ConnectionError, http.client.HTTPException)


@dataclass(frozen=True)
class _Dataset:
    title: str
    folder: str  # sub-folder of the data home that holds the IDX files
    descr: str  # file in descr/
    target_names: tuple[str, ...]
    # The published md5 of each official IDX file, uncompressed and as
    # distributed (gzipped): files are identified by either.
    md5: dict[str, str]
    gz_md5: dict[str, str]
    loader: str  # the function that loads it
    download: str
    openml_name: str
    openml_id: int
    has_sample: bool


MNIST = _Dataset(
    title="MNIST",
    folder="mnist",
    descr="mnist.rst",
    target_names=tuple(str(digit) for digit in range(10)),
    md5={
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    gz_md5={
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    loader="load_mnist",
    download=(
        "http://yann.lecun.com/exdb/mnist/ (or a mirror such as "
        "https://ossci-datasets.s3.amazonaws.com/mnist/)"
    ),
    openml_name="mnist_784",
    openml_id=554,
    has_sample=True,
)

FASHION_MNIST = _Dataset(
    title="Fashion-MNIST",
    folder="fashion-mnist",
    descr="fashion_mnist.rst",
    target_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    md5={
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    gz_md5={
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    loader="load_fashion_mnist",
    download="https://github.com/zalandoresearch/fashion-mnist#get-the-data",
    openml_name="Fashion-MNIST",
    openml_id=40996,
    has_sample=False,
)

DATASETS = (MNIST, FASHION_MNIST)

Parts = dict[str, tuple[np.ndarray, np.ndarray]]
