"""Tests of load_mnist and load_fashion_mnist: every source, all offline."""

import gzip
import hashlib
import importlib.util
import inspect
import json
import shutil
import socket
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skmnist.datasets import (
    DatasetWarning,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    write_idx,
)
from skmnist.datasets._sample import load_sample_arrays

REPO = Path(__file__).resolve().parents[1]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FASHION_CLASSES = [
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
]
IDX_NAMES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Make every connection attempt fail at once, as on an offline machine.

    Used by every test of this module, so that none of them can download.
    """

    def refuse(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "network disabled in the tests")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def official(mnist_dir):
    """The official MNIST arrays, read directly with read_idx."""
    return {
        split: (
            read_idx(mnist_dir / f"{prefix}-images-idx3-ubyte.gz"),
            read_idx(mnist_dir / f"{prefix}-labels-idx1-ubyte.gz"),
        )
        for split, prefix in (("train", "train"), ("test", "t10k"))
    }


@pytest.fixture(scope="module")
def mnist_all(mnist_dir):
    return load_mnist(mnist_dir, subset="all", source="idx", md5_check=True)


# ---------------------------------------------------------------------------
# API and argument validation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("loader", [load_mnist, load_fashion_mnist])
def test_signature(loader):
    parameters = inspect.signature(loader).parameters
    assert list(parameters) == [
        "data_home",
        "subset",
        "source",
        "return_X_y",
        "as_frame",
        "md5_check",
    ]
    assert parameters["data_home"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    defaults = {name: parameter.default for name, parameter in parameters.items()}
    assert defaults == {
        "data_home": None,
        "subset": "train",
        "source": "auto",
        "return_X_y": False,
        "as_frame": False,
        "md5_check": False,
    }
    assert all(
        parameter.kind is inspect.Parameter.KEYWORD_ONLY
        for name, parameter in parameters.items()
        if name != "data_home"
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"subset": "validation"}, "subset must be one of 'train', 'test', 'all'"),
        ({"subset": None}, "subset must be one of"),
        ({"source": "web"}, "source must be one of 'auto', 'idx', 'openml', 'sample'"),
        ({"return_X_y": "yes"}, "return_X_y must be True or False"),
        ({"as_frame": 1}, "as_frame must be True or False"),
        ({"md5_check": None}, "md5_check must be True or False"),
        ({"data_home": 3}, "data_home must be None, a str or an os.PathLike"),
    ],
)
@pytest.mark.parametrize("loader", [load_mnist, load_fashion_mnist])
def test_invalid_arguments(loader, kwargs, message):
    with pytest.raises(ValueError, match=message):
        loader(**kwargs)


# ---------------------------------------------------------------------------
# The embedded sample
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "subset, n_samples, per_class",
    [("train", 5000, 500), ("test", 1000, 100), ("all", 6000, 600)],
)
def test_sample(subset, n_samples, per_class):
    mnist = load_mnist(subset=subset, source="sample")
    assert mnist.data.shape == (n_samples, 784) and mnist.data.dtype == np.uint8
    assert mnist.images.shape == (n_samples, 28, 28)
    assert mnist.images.dtype == np.uint8
    assert np.shares_memory(mnist.data, mnist.images)
    np.testing.assert_array_equal(mnist.data, mnist.images.reshape(n_samples, -1))
    assert isinstance(mnist.target, np.ndarray) and mnist.target.dtype == np.int64
    assert np.bincount(mnist.target).tolist() == [per_class] * 10
    assert mnist.feature_names == [f"pixel{i}" for i in range(1, 785)]
    assert mnist.target_names.tolist() == [str(digit) for digit in range(10)]
    assert mnist.frame is None
    assert "MNIST" in mnist.DESCR
    assert mnist.data.max() == 255 and mnist.data.min() == 0


def test_sample_all_is_train_then_test():
    train = load_mnist(subset="train", source="sample")
    test = load_mnist(subset="test", source="sample")
    everything = load_mnist(subset="all", source="sample")
    np.testing.assert_array_equal(everything.data[:5000], train.data)
    np.testing.assert_array_equal(everything.data[5000:], test.data)
    np.testing.assert_array_equal(everything.target[5000:], test.target)


def test_sample_return_X_y():
    X, y = load_mnist(subset="test", source="sample", return_X_y=True)
    assert X.shape == (1000, 784) and X.dtype == np.uint8
    assert y.shape == (1000,) and y.dtype == np.int64


def test_sample_as_frame():
    mnist = load_mnist(subset="test", source="sample", as_frame=True)
    assert isinstance(mnist.frame, pd.DataFrame)
    assert mnist.frame.shape == (1000, 785)
    assert list(mnist.frame.columns) == [*mnist.feature_names, "class"]
    assert isinstance(mnist.data, pd.DataFrame)
    assert list(mnist.data.columns) == mnist.feature_names
    assert (mnist.data.dtypes == np.uint8).all()
    assert isinstance(mnist.target, pd.Series) and mnist.target.name == "class"
    assert mnist.target.dtype == np.int64
    X, y = load_mnist(subset="test", source="sample", return_X_y=True)
    np.testing.assert_array_equal(mnist.data.to_numpy(), X)
    np.testing.assert_array_equal(mnist.target.to_numpy(), y)
    X_frame, y_series = load_mnist(
        subset="test", source="sample", as_frame=True, return_X_y=True
    )
    assert isinstance(X_frame, pd.DataFrame) and isinstance(y_series, pd.Series)


def test_sample_file_is_small():
    path = REPO / "skmnist" / "datasets" / "data" / "mnist_sample.npz"
    assert 500_000 < path.stat().st_size < 2_000_000


def test_sample_is_official_mnist(official):
    for split, (images, labels, indices) in load_sample_arrays().items():
        official_images, official_labels = official[split]
        assert np.all(np.diff(indices) > 0)  # official order, no duplicates
        np.testing.assert_array_equal(images, official_images[indices])
        np.testing.assert_array_equal(labels, official_labels[indices])


def test_sample_matches_make_sample_script(official):
    spec = importlib.util.spec_from_file_location(
        "make_sample", REPO / "benchmarks" / "make_sample.py"
    )
    make_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_sample)
    stored = load_sample_arrays()
    for split, per_class in (("train", 500), ("test", 100)):
        indices = make_sample.choose_indices(official[split][1], per_class)
        np.testing.assert_array_equal(indices, stored[split][2])


def test_fashion_has_no_sample():
    with pytest.raises(ValueError, match="no sample of Fashion-MNIST"):
        load_fashion_mnist(source="sample")


# ---------------------------------------------------------------------------
# The official IDX files
# ---------------------------------------------------------------------------
def test_idx_all(mnist_all):
    assert mnist_all.data.shape == (70000, 784) and mnist_all.data.dtype == np.uint8
    assert mnist_all.images.shape == (70000, 28, 28)
    assert mnist_all.target.dtype == np.int64
    assert mnist_all.data[:60000].mean() == pytest.approx(33.318, abs=1e-3)
    assert np.bincount(mnist_all.target[:60000]).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist_all.target[60000:]).tolist() == TEST_COUNTS
    assert mnist_all.feature_names == [f"pixel{i}" for i in range(1, 785)]


def test_idx_all_is_train_then_test(mnist_all, official):
    (train_images, train_labels), (test_images, test_labels) = (
        official["train"],
        official["test"],
    )
    np.testing.assert_array_equal(mnist_all.images[:60000], train_images)
    np.testing.assert_array_equal(mnist_all.images[60000:], test_images)
    np.testing.assert_array_equal(mnist_all.target[:60000], train_labels)
    np.testing.assert_array_equal(mnist_all.target[60000:], test_labels)


def test_idx_test_subset(mnist_dir, official):
    X, y = load_mnist(mnist_dir, subset="test", source="idx", return_X_y=True)
    assert X.shape == (10000, 784)
    np.testing.assert_array_equal(X, official["test"][0].reshape(10000, 784))
    np.testing.assert_array_equal(y, official["test"][1])


def test_skmnist_data_environment_variable(monkeypatch, mnist_dir):
    monkeypatch.setenv("SKMNIST_DATA", str(mnist_dir.parent))
    X, y = load_mnist(subset="test", source="idx", return_X_y=True)
    assert X.shape == (10000, 784) and np.bincount(y).tolist() == TEST_COUNTS
    X_auto, _ = load_mnist(subset="test", return_X_y=True)  # auto: IDX first
    np.testing.assert_array_equal(X_auto, X)


def test_skmnist_data_is_the_parent_folder(monkeypatch, mnist_dir):
    monkeypatch.setenv("SKMNIST_DATA", str(mnist_dir))
    with pytest.raises(FileNotFoundError, match="is the parent folder") as error:
        load_mnist(subset="test", source="idx")
    assert str(mnist_dir / "mnist") in str(error.value)


def test_missing_idx_files(tmp_path, mnist_dir):
    shutil.copy(mnist_dir / "t10k-labels-idx1-ubyte.gz", tmp_path)
    with pytest.raises(FileNotFoundError) as error:
        load_mnist(tmp_path, subset="all", source="idx")
    message = str(error.value)
    assert str(tmp_path) in message
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        assert name in message
    assert "t10k-images-idx3-ubyte" in message
    assert "t10k-labels-idx1-ubyte" not in message
    assert "SKMNIST_DATA" in message and "yann.lecun.com" in message
    assert isinstance(error.value, OSError)


def test_uncompressed_files_and_md5_check(tmp_path, mnist_dir, official):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        raw = gzip.decompress((mnist_dir / f"{name}.gz").read_bytes())
        (tmp_path / name).write_bytes(raw)
    _, y = load_mnist(
        tmp_path, subset="test", source="idx", md5_check=True, return_X_y=True
    )
    np.testing.assert_array_equal(y, official["test"][1])

    labels = official["test"][1].copy()
    labels[0] = (labels[0] + 1) % 10  # still a valid file, but not the official one
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    with pytest.raises(ValueError, match="md5 mismatch") as error:
        load_mnist(tmp_path, subset="test", source="idx", md5_check=True)
    assert "t10k-labels-idx1-ubyte" in str(error.value)
    assert "27ae3e4e09519cfbb04c329615203637" in str(error.value)
    with pytest.warns(DatasetWarning, match="t10k-labels-idx1-ubyte is no official"):
        _, y = load_mnist(tmp_path, subset="test", source="idx", return_X_y=True)
    assert y[0] == labels[0]


def test_inconsistent_idx_files(tmp_path, mnist_dir):
    shutil.copy(mnist_dir / "t10k-images-idx3-ubyte.gz", tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="holds 5 labels for the 10000 images"):
        load_mnist(tmp_path, subset="test", source="idx")


def test_malformed_idx_file_is_reported(tmp_path, mnist_dir):
    shutil.copy(mnist_dir / "t10k-labels-idx1-ubyte.gz", tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03")
    with pytest.raises(ValueError, match=r"Invalid IDX file .*t10k-images"):
        load_mnist(tmp_path, subset="test")  # auto: no silent fallback


def test_fashion_mnist_idx(fashion_mnist_dir):
    fashion = load_fashion_mnist(
        fashion_mnist_dir, subset="all", source="idx", md5_check=True
    )
    assert fashion.data.shape == (70000, 784) and fashion.data.dtype == np.uint8
    assert fashion.target.dtype == np.int64
    assert np.bincount(fashion.target[:60000]).tolist() == [6000] * 10
    assert np.bincount(fashion.target[60000:]).tolist() == [1000] * 10
    assert fashion.target_names.tolist() == FASHION_CLASSES
    first = fashion.target_names[fashion.target[60000:60003]].tolist()
    assert first == ["Ankle boot", "Pullover", "Trouser"]
    assert "Fashion-MNIST" in fashion.DESCR


# ---------------------------------------------------------------------------
# Which dataset was read: files identified by their md5
# ---------------------------------------------------------------------------
def dataset_warnings(action):
    """``action()``'s result and the DatasetWarnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = action()
    return result, [w for w in caught if issubclass(w.category, DatasetWarning)]


def write_split(folder, n=3, label=0):
    """A test split written with write_idx: files that are not the official ones."""
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((n, 28, 28), np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.full(n, label, np.uint8))


def test_official_files_say_what_they_are_without_warning(mnist_dir, fashion_mnist_dir):
    for loader, folder, title in [
        (load_mnist, mnist_dir, "MNIST"),
        (load_fashion_mnist, fashion_mnist_dir, "Fashion-MNIST"),
    ]:
        data, caught = dataset_warnings(
            lambda loader=loader, folder=folder: loader(
                folder, subset="test", source="idx"
            )
        )
        assert data.dataset == title and caught == []


@pytest.mark.slow  # parses an OpenML ARFF file of 70,000 rows
def test_sample_and_openml_say_mnist(tmp_path, no_network):
    assert load_mnist(source="sample").dataset == "MNIST"
    write_openml_cache(tmp_path, 70000)
    assert load_mnist(tmp_path, subset="test", source="openml").dataset == "MNIST"


def test_fashion_files_asked_as_mnist_say_so(fashion_mnist_dir):
    fashion, caught = dataset_warnings(
        lambda: load_mnist(fashion_mnist_dir, subset="test", source="idx")
    )
    assert fashion.dataset == "Fashion-MNIST"
    assert fashion.target_names.tolist() == FASHION_CLASSES
    assert "Fashion-MNIST" in fashion.DESCR
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "official Fashion-MNIST files, not MNIST's" in message
    assert "load_fashion_mnist()" in message and str(fashion_mnist_dir) in message
    assert caught[0].filename == __file__
    with pytest.raises(ValueError, match=r"md5 mismatch .*load_fashion_mnist\(\)"):
        load_mnist(fashion_mnist_dir, subset="test", source="idx", md5_check=True)


def test_mnist_files_asked_as_fashion_say_so(mnist_dir):
    mnist, caught = dataset_warnings(
        lambda: load_fashion_mnist(mnist_dir, subset="test", source="idx")
    )
    assert mnist.dataset == "MNIST" and mnist.target_names.tolist()[:2] == ["0", "1"]
    assert len(caught) == 1 and "use load_mnist()" in str(caught[0].message)


def test_unknown_files_are_not_comparable(tmp_path):
    write_split(tmp_path)
    mnist, caught = dataset_warnings(
        lambda: load_mnist(tmp_path, subset="test", source="idx")
    )
    assert mnist.dataset is None
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "not the official MNIST release" in message
    assert "results on them are not comparable" in message
    assert "t10k-images-idx3-ubyte.gz is no official" in message
    assert "md5_check=True" in message
    with pytest.raises(ValueError, match="md5 mismatch"):
        load_mnist(tmp_path, subset="test", source="idx", md5_check=True)
    _, caught = dataset_warnings(lambda: load_mnist(tmp_path, subset="test"))
    assert len(caught) == 1  # source="auto" reads them too


def test_mixed_files_name_the_odd_one(tmp_path, mnist_dir, fashion_mnist_dir):
    shutil.copy(mnist_dir / "t10k-images-idx3-ubyte.gz", tmp_path)
    shutil.copy(fashion_mnist_dir / "t10k-labels-idx1-ubyte.gz", tmp_path)
    data, caught = dataset_warnings(
        lambda: load_mnist(tmp_path, subset="test", source="idx")
    )
    assert data.dataset is None and len(caught) == 1
    message = str(caught[0].message)
    assert (
        "t10k-labels-idx1-ubyte.gz is the official Fashion-MNIST file "
        "t10k-labels-idx1-ubyte" in message
    )
    assert "t10k-images" not in message.partition("(")[2]


def test_gzipped_file_under_the_plain_name_is_identified(tmp_path, mnist_dir):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(mnist_dir / f"{name}.gz", tmp_path / name)
    data, caught = dataset_warnings(
        lambda: load_mnist(tmp_path, subset="test", source="idx")
    )
    assert data.dataset == "MNIST" and caught == []


def test_recompressed_official_content_is_identified(tmp_path, mnist_dir):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        raw = gzip.decompress((mnist_dir / f"{name}.gz").read_bytes())
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
    data, caught = dataset_warnings(
        lambda: load_mnist(tmp_path, subset="test", source="idx", md5_check=True)
    )
    assert data.dataset == "MNIST" and caught == []


def test_official_gzip_files_are_hashed_in_one_pass(mnist_dir, monkeypatch):
    """The compressed bytes' md5 identifies them: no second pass over the data."""
    from skmnist.datasets import _idx_source

    def second_pass(array):
        raise AssertionError("the array was hashed after reading")

    monkeypatch.setattr(_idx_source, "idx_md5", second_pass)
    data = load_mnist(mnist_dir, subset="test", source="idx", md5_check=True)
    assert data.dataset == "MNIST"


# ---------------------------------------------------------------------------
# OpenML, through a scikit-learn cache written by the test
# ---------------------------------------------------------------------------
def write_openml_cache(data_home: Path, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Write a synthetic ``mnist_784`` into scikit-learn's OpenML cache layout.

    The files are those that ``fetch_openml("mnist_784", version=1)`` reads
    under ``data_home/openml/openml.org`` (gzipped JSON metadata and the ARFF
    data, which scikit-learn 1.6 reads under the file's id and later releases
    under the path of the description's ``url``); each row has two non-zero
    pixels, so that the values and the order can be checked. Returns the
    expected images and labels.
    """
    root = data_home / "openml" / "openml.org"
    rows = np.arange(n_rows)
    first, last, labels = rows % 256, rows * 7 % 256, rows * 3 % 10
    zeros = "0," * 782
    names = [f"pixel{i}" for i in range(1, 785)]
    arff = (
        "@RELATION mnist_784\n\n"
        + "".join(f"@ATTRIBUTE {name} NUMERIC\n" for name in names)
        + "@ATTRIBUTE class {0,1,2,3,4,5,6,7,8,9}\n\n@DATA\n"
        + "".join(
            f"{a},{zeros}{b},{c}\n" for a, b, c in zip(first, last, labels, strict=True)
        )
    ).encode()
    features = [
        {
            "index": str(index),
            "name": name,
            "data_type": "numeric",
            "is_target": "false",
            "is_ignore": "false",
            "is_row_identifier": "false",
            "number_of_missing_values": "0",
        }
        for index, name in enumerate(names)
    ]
    features.append(
        {
            **features[0],
            "index": "784",
            "name": "class",
            "data_type": "nominal",
            "is_target": "true",
            "nominal_value": [str(digit) for digit in range(10)],
        }
    )
    description = {
        "id": "554",
        "name": "mnist_784",
        "version": "1",
        "description": "Synthetic stand-in for the tests.",
        "format": "ARFF",
        "file_id": "52667",
        "default_target_attribute": "class",
        "status": "active",
        "url": "https://api.openml.org/data/v1/download/52667/mnist_784.arff",
        "md5_checksum": hashlib.md5(arff).hexdigest(),
    }
    files = {
        "api/v1/json/data/list/data_name/mnist_784/limit/2/data_version/1": {
            "data": {"dataset": [{"did": 554, "name": "mnist_784", "version": 1}]}
        },
        "api/v1/json/data/554": {"data_set_description": description},
        "api/v1/json/data/features/554": {"data_features": {"feature": features}},
        "api/v1/json/data/qualities/554": {
            "data_qualities": {
                "quality": [{"name": "NumberOfInstances", "value": f"{n_rows}.0"}]
            }
        },
        "data/v1/download/52667/mnist_784.arff": arff,
    }
    for relative, content in files.items():
        path = root / f"{relative}.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not isinstance(content, bytes):
            content = json.dumps(content).encode()
        path.write_bytes(gzip.compress(content, compresslevel=1))
    download = root / "data" / "v1" / "download"
    shutil.copyfile(download / "52667" / "mnist_784.arff.gz", download / "52667.gz")
    images = np.zeros((n_rows, 784), dtype=np.uint8)
    images[:, 0], images[:, -1] = first, last
    return images.reshape(-1, 28, 28), labels


@pytest.mark.slow
def test_openml_reads_the_scikit_learn_cache(tmp_path, no_network):
    images, labels = write_openml_cache(tmp_path, 70000)
    mnist = load_mnist(tmp_path, subset="all", source="openml")
    assert mnist.data.shape == (70000, 784) and mnist.data.dtype == np.uint8
    assert mnist.target.dtype == np.int64
    np.testing.assert_array_equal(mnist.images, images)
    np.testing.assert_array_equal(mnist.target, labels)
    assert mnist.feature_names == [f"pixel{i}" for i in range(1, 785)]
    assert mnist.target_names.tolist() == [str(digit) for digit in range(10)]
    assert "MNIST" in mnist.DESCR


def test_auto_uses_the_openml_cache_without_idx_files(tmp_path, no_network):
    # A cache of 70 rows is cheap to parse; the error proves that "auto" read it.
    write_openml_cache(tmp_path, 70)
    with pytest.raises(ValueError, match=r"'mnist_784' \(data id 554\) has shape"):
        load_mnist(tmp_path, subset="test")


def test_openml_needs_the_official_row_count(tmp_path, no_network):
    write_openml_cache(tmp_path, 70)
    with pytest.raises(ValueError, match=r"has shape \(70, 784\).*\(70000, 784\)"):
        load_mnist(tmp_path, subset="all", source="openml")


def test_openml_offline_fails_fast(tmp_path, no_network):
    with pytest.raises(ConnectionError):  # first call: pays for cold imports
        load_mnist(tmp_path, source="openml")
    start = time.perf_counter()
    with pytest.raises(ConnectionError) as error:
        load_mnist(tmp_path, source="openml")
    assert time.perf_counter() - start < 3  # no retries with minutes of delay
    message = str(error.value)
    assert "mnist_784" in message and "network disabled in the tests" in message
    assert "source='idx'" in message and "SKMNIST_DATA" in message
    assert "source='sample'" in message
    assert isinstance(error.value, OSError)


def test_fashion_openml_offline_fails_fast(tmp_path, no_network):
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="Fashion-MNIST") as error:
        load_fashion_mnist(tmp_path, source="openml")
    assert time.perf_counter() - start < 3
    assert "source='sample'" not in str(error.value)


def test_auto_offline_without_files_names_the_options(tmp_path, no_network):
    with pytest.raises(ConnectionError) as error:
        load_mnist(tmp_path, subset="train")
    message = str(error.value)
    assert str(tmp_path) in message
    assert "train-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message
    assert "SKMNIST_DATA" in message
    assert "OpenML" in message and "network" in message
    assert "source='sample'" in message
