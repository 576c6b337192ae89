"""A device out of memory in fit: a clear error, nothing kept alive, a retry works.

The device is simulated: on the CPU, torch's ``OutOfMemoryError`` is raised
where a GPU would raise it (building the network or the optimizer, moving
the data, a training step that is too large).
"""

import gc
import weakref

import numpy as np
import pytest
import torch

from skmnist import MLPDigitClassifier
from skmnist._training import fit as _fit
from skmnist._training import steps as _steps
from skmnist.datasets import load_mnist
from skmnist.model_selection import fit_many

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SETTINGS = dict(
    hidden_layer_sizes=(32,),
    max_iter=2,
    learning_rate="constant",
    random_state=0,
    device="cpu",
)


@pytest.fixture(scope="module")
def data():
    X, y = load_mnist(source="sample", return_X_y=True)
    return (X[:600] / 255.0).astype(np.float32), y[:600]


def _out_of_memory(*args, **kwargs):
    raise torch.OutOfMemoryError("CUDA out of memory (simulated)")


@pytest.fixture
def small_device(monkeypatch):
    """A device on which a training step of more than 64 rows does not fit.

    Records weak references to every network the fits build.
    """
    built = []
    original_network = _fit._network

    def network(job):
        module = original_network(job)
        built.append(weakref.ref(module))
        return module

    original_step = _steps.SingleStep.__call__

    def step(self, index, X, *args):
        if X.shape[1] > 64:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return original_step(self, index, X, *args)

    monkeypatch.setattr(_fit, "_network", network)
    monkeypatch.setattr(_steps.SingleStep, "__call__", step)
    return built


def test_failed_fit_keeps_nothing_alive_and_a_smaller_batch_succeeds(
    data, small_device
):
    X, y = data
    clf = MLPDigitClassifier(**SETTINGS, batch_size=128)
    with pytest.raises(MemoryError, match="batch_size=128") as caught:
        clf.fit(X, y)
    # The error in hand, its chain no longer holds the failed fit's network.
    assert caught.value.__context__ is None
    gc.collect()
    assert small_device and all(ref() is None for ref in small_device)
    assert not hasattr(clf, "module_")  # the failed fit left no fitted state
    clf.set_params(batch_size=64).fit(X, y)
    clean = MLPDigitClassifier(**SETTINGS, batch_size=64).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), clean.predict_proba(X))


@pytest.mark.parametrize(
    "where",
    ["skmnist._training.fit.make_optimizer", "skmnist._training.fit.build_mlp"],
    ids=["optimizer", "network"],
)
def test_out_of_memory_building_the_fit_is_a_memory_error(data, monkeypatch, where):
    X, y = data
    monkeypatch.setattr(where, _out_of_memory)
    with pytest.raises(
        MemoryError, match="Lower hidden_layer_sizes or batch_size"
    ) as caught:
        MLPDigitClassifier(**SETTINGS).fit(X, y)
    assert not isinstance(caught.value, torch.OutOfMemoryError)


def test_out_of_memory_moving_the_data_is_a_memory_error(data, monkeypatch):
    X, y = data
    monkeypatch.setattr(_fit.DeviceData, "from_numpy", _out_of_memory)
    with pytest.raises(MemoryError, match="ran out of memory in fit"):
        MLPDigitClassifier(**SETTINGS).fit(X, y)


def test_failed_warm_fit_leaves_the_fitted_model_as_it_was(data, small_device):
    X, y = data
    clf = MLPDigitClassifier(**SETTINGS, batch_size=32, warm_start=True).fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(MemoryError):
        clf.set_params(batch_size=128).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert len(clf.loss_curve_) == 2
    with pytest.raises(MemoryError):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_fit_many_falls_back_to_one_fit_at_a_time_in_a_search(data, monkeypatch):
    from skmnist.model_selection import BatchedGridSearchCV

    X, y = data
    monkeypatch.setattr(_fit, "_train_stacked", _out_of_memory)
    with pytest.warns(UserWarning, match="one at a time"):
        search = BatchedGridSearchCV(
            MLPDigitClassifier(**SETTINGS), {"alpha": [1e-4, 1e-2]}, cv=2
        ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    with pytest.raises(MemoryError, match="lower max_models"):
        fit_many([MLPDigitClassifier(**SETTINGS) for _ in range(2)], [(X, y)] * 2)


def test_a_network_too_large_for_the_host_is_a_memory_error():
    """The CPU allocator's failure (a RuntimeError from inside torch) is one too."""
    X = np.random.default_rng(0).random((20, 4)).astype(np.float32)
    y = np.arange(20) % 2
    clf = MLPDigitClassifier((10**6, 10**5), max_iter=1, device="cpu")
    # 10**11 weights of the second layer: 400 GB, refused at once.
    with pytest.raises(
        MemoryError, match=r"100,005,300,002 weights \(372.5 GB"
    ) as caught:
        clf.fit(X, y)
    assert "device='cpu'" not in str(caught.value)  # it is on the CPU already
    assert caught.value.__context__ is None
    assert not hasattr(clf, "module_")


def test_host_memory_running_out_in_a_gpu_fit_names_the_host(data, monkeypatch):
    import dataclasses

    X, y = data
    jobs = []

    def host_out_of_memory(job):
        jobs.append(job)
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory (simulated)")

    monkeypatch.setattr(_fit, "_train_one", host_out_of_memory)
    with pytest.raises(MemoryError, match=r"^The cpu device ran out"):
        MLPDigitClassifier(**SETTINGS).fit(X, y)
    gpu_job = dataclasses.replace(jobs[0], device=torch.device("cuda"))
    with pytest.raises(MemoryError, match=r"^The cpu device ran out") as caught:
        _fit.train([gpu_job])
    assert "device='cpu'" not in str(caught.value)
    # Other runtime errors are not memory errors.
    monkeypatch.setattr(_fit, "_train_one", lambda job: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        _fit.train([gpu_job])
