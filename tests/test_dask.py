"""skmnist on a real dask.distributed LocalCluster (2 worker processes, loopback)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist._training.device import claim_device
from skmnist.datasets import load_mnist

# These tests fit a few epochs on purpose, short of convergence.
# Few epochs on purpose; a local cluster starts in each test (slow).
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.slow,
]

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
joblib = pytest.importorskip("joblib")
dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")

TINY = {"hidden_layer_sizes": (24,), "max_iter": 3, "batch_size": 64, "device": "cpu"}


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on 127.0.0.1, shut down afterwards."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture
def one_thread():
    """Compute local references with one torch thread, like the dask workers
    (which run with OMP_NUM_THREADS=1): float32 sums depend on the split."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sample():
    X, y = load_mnist(source="sample", return_X_y=True)
    return X, y


def _search_results(search):
    keys = ["params", "mean_test_score", "rank_test_score"]
    keys += [k for k in search.cv_results_ if k.startswith("split")]
    return {k: search.cv_results_[k] for k in keys}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["grid", "randomized"])
def test_search_on_cluster_equals_local_search(client, sample, kind, one_thread):
    X, y = sample[0][:900], sample[1][:900]
    pipe = make_pipeline(PixelScaler(), MLPDigitClassifier(random_state=0, **TINY))
    grid = {
        "mlpdigitclassifier__learning_rate_init": [1e-3, 3e-3],
        "mlpdigitclassifier__alpha": [1e-4, 1e-2],
    }
    if kind == "grid":
        search = GridSearchCV(pipe, grid, cv=3, n_jobs=-1)
    else:
        search = RandomizedSearchCV(
            pipe, grid, n_iter=3, cv=3, n_jobs=-1, random_state=0
        )
    local = clone(search).set_params(n_jobs=1).fit(X, y)
    with (
        distributed.get_task_stream(client) as tasks,
        joblib.parallel_backend("dask"),
    ):
        remote = clone(search).fit(X, y)
    # The candidates' fits ran as tasks on both workers of the cluster.
    assert len(tasks.data) >= 3
    assert len({task["worker"] for task in tasks.data}) == 2
    local_results, remote_results = _search_results(local), _search_results(remote)
    assert local_results["params"] == remote_results["params"]
    for key in local_results:
        if key != "params":
            np.testing.assert_array_equal(local_results[key], remote_results[key], key)
    assert remote.best_params_ == local.best_params_
    assert remote.best_score_ == local.best_score_
    # The refitted best model predicts identically.
    np.testing.assert_array_equal(remote.predict_proba(X), local.predict_proba(X))


def test_incremental_over_out_of_core_idx_equals_local_partial_fit(
    client, sample, tmp_path, one_thread
):
    """dask-ml's Incremental trains block by block on the workers, reading only
    each block's rows from the file, exactly as partial_fit in one process."""
    from skmnist.datasets import write_idx
    from skmnist.parallel import read_idx_dask

    X, y = sample[0][:2000], sample[1][:2000]
    write_idx(tmp_path / "images-idx3-ubyte", X.reshape(-1, 28, 28))
    write_idx(tmp_path / "labels-idx1-ubyte", y.astype(np.uint8))
    X_dask = read_idx_dask(tmp_path / "images-idx3-ubyte", chunk_rows=500)
    y_dask = read_idx_dask(tmp_path / "labels-idx1-ubyte", chunk_rows=500)
    assert X_dask.chunks == ((500,) * 4, (784,))
    scaled = (X_dask / 255.0).astype(np.float32)
    classes = np.arange(10)
    model = MLPDigitClassifier(random_state=0, keep_optimizer_state=True, **TINY)

    incremental = dask_ml_wrappers.Incremental(clone(model), shuffle_blocks=False)
    for _ in range(2):  # two passes over the blocks
        incremental.partial_fit(scaled, y_dask, classes=classes)

    local = clone(model)
    Xs = (X / 255.0).astype(np.float32)
    for _ in range(2):
        for start in range(0, 2000, 500):
            local.partial_fit(
                Xs[start : start + 500], y[start : start + 500], classes=classes
            )
    np.testing.assert_array_equal(
        incremental.estimator_.predict_proba(Xs), local.predict_proba(Xs)
    )
    # n_iter_ counts the last partial_fit call (MLPClassifier's meaning)
    assert incremental.estimator_.n_iter_ == local.n_iter_ == 1
    assert len(incremental.estimator_.loss_curve_) == len(local.loss_curve_) == 8


def test_dask_predict_ships_the_model_once(client, sample, monkeypatch):
    from skmnist.parallel import dask_predict

    X, y = sample
    model = make_pipeline(PixelScaler(), MLPDigitClassifier(random_state=0, **TINY))
    model.fit(X[:1000], y[:1000])
    pickles = []
    original = MLPDigitClassifier.__getstate__
    monkeypatch.setattr(
        MLPDigitClassifier,
        "__getstate__",
        lambda self: pickles.append(1) or original(self),
    )
    X_dask = da.from_array(X, chunks=(500, 784))  # 10 blocks
    proba = dask_predict(model, X_dask, method="predict_proba")
    labels = dask_predict(model, X_dask)
    assert proba.chunks == ((500,) * 10, (10,)) and labels.chunks == ((500,) * 10,)
    np.testing.assert_array_equal(proba.compute(), model.predict_proba(X))
    np.testing.assert_array_equal(labels.compute(), model.predict(X))
    assert len(pickles) == 2  # once per dask_predict call, not once per block


def test_dask_predict_rejects_bad_input(sample):
    from skmnist.parallel import dask_predict

    model = MLPDigitClassifier(random_state=0, **TINY).fit(
        sample[0][:300] / 255.0, sample[1][:300]
    )
    with pytest.raises(ValueError, match="2-D dask array"):
        dask_predict(model, sample[0])
    with pytest.raises(ValueError, match="method must be one of"):
        dask_predict(model, da.from_array(sample[0]), method="transform")


def test_pickle_payload_is_the_weights_only():
    """What crosses a process boundary does not grow with the training data."""
    rng = np.random.default_rng(0)
    sizes = {}
    for n in (200, 4000):
        X = rng.random((n, 784), dtype=np.float32)
        y = rng.integers(0, 10, n)
        model = MLPDigitClassifier(hidden_layer_sizes=(64,), max_iter=1, device="cpu")
        sizes[n] = len(pickle.dumps(model.fit(X, y)))
        kept = clone(model).set_params(keep_optimizer_state=True).fit(X, y)
        sizes[n, "with optimizer"] = len(pickle.dumps(kept))
    weight_bytes = 4 * (784 * 64 + 64 + 64 * 10 + 10)
    assert weight_bytes < sizes[200] < weight_bytes + 8_000
    assert abs(sizes[4000] - sizes[200]) < 100  # ints in the history differ
    # Adam's two moments (and step counts) roughly triple it, when asked.
    assert 3 * weight_bytes < sizes[200, "with optimizer"] < 3 * weight_bytes + 16_000


def test_workers_claim_different_gpus(client, tmp_path):
    """The device choice of device="auto" on a host with several GPUs, simulated:
    each worker process claims a different device."""
    claims = client.run(claim_device, ["GPU-aaaa", "GPU-bbbb"], str(tmp_path))
    assert sorted(claims.values()) == [0, 1]


def test_pickles_from_before_the_newer_parameters_still_load():
    rng = np.random.default_rng(0)
    X, y = rng.random((100, 16), dtype=np.float32), np.arange(100) % 3
    model = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=1, device="cpu")
    state = model.fit(X, y).__getstate__()
    del state["keep_optimizer_state"], state["augment"]  # as saved by 0.1.0
    old = MLPDigitClassifier.__new__(MLPDigitClassifier)
    old.__setstate__(state)
    assert old.get_params()["keep_optimizer_state"] is False
    again = pickle.loads(pickle.dumps(old))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
