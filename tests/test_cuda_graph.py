"""The hand step replayed from a CUDA graph: static buffers, padding, fallback.

On the CPU the graph is replaced by an eager "recording"
(:class:`EagerRecorder`), which runs the same static-buffer step: the padded
last minibatch, the weights, the learning rate as a tensor, the warm-up and
the fallback are all exercised. The tests marked ``cuda`` record real graphs.
"""

import warnings

import numpy as np
import pytest
import torch

from skmnist import MLPDigitClassifier
from skmnist._training import cuda_graph, steps
from skmnist._training.cuda_graph import EagerRecorder, GraphedKernel, graphed
from skmnist._training.hand_step import FastStep

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


class CountingRecorder(EagerRecorder):
    """An eager recorder that counts what it is asked to do."""

    instances: list = []

    def __init__(self, fail: bool = False):
        self.fail, self.warmed, self.recorded, self.replayed = fail, 0, 0, 0
        CountingRecorder.instances.append(self)

    def warm(self, call):
        self.warmed += 1
        call()

    def record(self, call):
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        self.recorded += 1

        def replay():
            self.replayed += 1
            call()

        return replay


@pytest.fixture
def recording(monkeypatch):
    """CPU fits record their hand steps with a :class:`CountingRecorder`."""
    CountingRecorder.instances = []

    def use(fail=False):
        def wrap(kernel, optimizer, device):
            if isinstance(kernel, FastStep) and kernel.fused:
                return GraphedKernel(kernel, optimizer, CountingRecorder(fail))
            return kernel

        monkeypatch.setattr(steps, "graphed", wrap)
        return CountingRecorder.instances

    return use


def _data(n=530, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d)).astype(np.float32)
    y = (X[:, :3].sum(1) * 2).astype(int) % 4
    return X, y


def _fit(X, y, **params):
    settings = dict(
        hidden_layer_sizes=(16, 8),
        batch_size=64,  # 530 rows: a short last minibatch of 18
        max_iter=4,
        random_state=0,
        device="cpu",
        precision="float32",
    )
    settings.update(params)
    sample_weight = settings.pop("sample_weight", None)
    if settings.pop("float64", False):  # float64 input trains in float64
        X = X.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)
        return MLPDigitClassifier(**settings).fit(X, y, sample_weight=sample_weight)


def _same_fit(a, b, rtol):
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)
    for left, right in zip(
        a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True
    ):
        np.testing.assert_allclose(left, right, rtol=rtol, atol=rtol)


@pytest.mark.parametrize(
    "params, rtol",
    [
        ({"float64": True}, 1e-12),
        ({}, 1e-5),  # float32: the padded products may round differently
        ({"learning_rate": "invscaling", "float64": True}, 1e-12),
        ({"solver": "adamw", "alpha": 1e-3, "float64": True}, 1e-12),
        ({"label_smoothing": 0.1, "float64": True}, 1e-12),
        ({"shuffle": False, "float64": True}, 1e-12),
    ],
)
def test_static_buffer_steps_train_as_the_eager_step(recording, params, rtol):
    """Warm-up, one recording, replays: the fit the eager step makes."""
    X, y = _data()
    eager = _fit(X, y, **params)
    recorders = recording()
    replayed = _fit(X, y, **params)
    (recorder,) = recorders
    assert recorder.warmed == cuda_graph.WARMUP_STEPS
    assert recorder.recorded == 1
    assert recorder.replayed == 4 * 9 - cuda_graph.WARMUP_STEPS  # 9 steps an epoch
    _same_fit(replayed, eager, rtol)


def test_full_minibatches_replay_the_eager_step_exactly(recording):
    """No padding (640 rows in 64s): bit for bit, in float32 too."""
    X, y = _data(n=640)
    eager = _fit(X, y)
    recording()
    replayed = _fit(X, y)
    assert replayed.loss_curve_ == eager.loss_curve_
    for left, right in zip(replayed.coefs_, eager.coefs_, strict=True):
        np.testing.assert_array_equal(left, right)


def test_sample_weights_and_padding(recording):
    X, y = _data()
    weight = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    eager = _fit(X, y, sample_weight=weight, float64=True)
    recording()
    replayed = _fit(X, y, sample_weight=weight, float64=True)
    _same_fit(replayed, eager, 1e-12)


def test_bfloat16_step_records_too(recording):
    X, y = _data()
    eager = _fit(X, y, precision="bfloat16")
    recorders = recording()
    replayed = _fit(X, y, precision="bfloat16")
    assert recorders[0].recorded == 1
    # bf16 products over padded rows may round differently on the last step.
    np.testing.assert_allclose(replayed.loss_curve_, eager.loss_curve_, rtol=2e-2)
    assert np.mean(replayed.predict(X) == eager.predict(X)) > 0.97


def test_a_failed_recording_trains_on_eagerly_with_a_warning(recording, monkeypatch):
    X, y = _data()
    eager = _fit(X, y, float64=True)
    monkeypatch.setattr(cuda_graph, "_FAILED", False)  # restored afterwards
    recorders = recording(fail=True)
    with pytest.warns(RuntimeWarning, match="CUDA graph failed .* eager steps"):
        failed = MLPDigitClassifier(
            hidden_layer_sizes=(16, 8),
            batch_size=64,
            max_iter=4,
            random_state=0,
            device="cpu",
        ).fit(X.astype(np.float64), y)
    assert recorders[0].recorded == 0
    _same_fit(failed, eager, 1e-12)
    # Later fits of the process do not try again.
    module = torch.nn.Sequential(torch.nn.Linear(4, 2))
    adam = torch.optim.Adam(module.parameters(), fused=True)
    kernel = FastStep.create(module, adam, autocast=False)
    assert graphed(kernel, adam, torch.device("cuda")) is kernel


def test_warm_start_and_partial_fit_continue_from_the_replayed_state(recording):
    X, y = _data()

    def three_fits():
        model = _fit(X, y, float64=True, warm_start=True)
        model.set_params(max_iter=2).fit(X, y)
        return model.partial_fit(X, y)

    eager = three_fits()
    recorders = recording()
    replayed = three_fits()
    assert [r.recorded for r in recorders] == [1, 1, 1]
    _same_fit(replayed, eager, 1e-12)


def test_only_cuda_fits_with_a_fused_update_are_recorded(monkeypatch):
    module = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2)
    )
    adam = torch.optim.Adam(module.parameters(), fused=True)
    kernel = FastStep.create(module, adam, autocast=False)
    assert kernel.fused
    assert graphed(kernel, adam, torch.device("cpu")) is kernel
    sgd = torch.optim.SGD(module.parameters(), lr=0.1)
    sgd_kernel = FastStep.create(module, sgd, autocast=False)
    assert not sgd_kernel.fused
    assert graphed(sgd_kernel, sgd, torch.device("cuda")) is sgd_kernel
    double = torch.nn.Sequential(torch.nn.Linear(4, 2)).double()
    double_adam = torch.optim.Adam(double.parameters(), fused=True)
    double_kernel = FastStep.create(double, double_adam, autocast=False)
    assert double_kernel.fused  # but CUDA's kernels read a float32 rate
    assert graphed(double_kernel, double_adam, torch.device("cuda")) is double_kernel
    monkeypatch.setattr(cuda_graph, "ENABLED", False)
    assert graphed(kernel, adam, torch.device("cuda")) is kernel


@cuda
def test_cuda_fits_replay_a_graph_with_the_eager_results(monkeypatch):
    from skmnist._training.cuda_graph import CudaGraphRecorder

    made = []
    original = CudaGraphRecorder.record

    def record(self, call):
        made.append(self)
        return original(self, call)

    monkeypatch.setattr(CudaGraphRecorder, "record", record)
    X, y = _data(n=2000, d=64)
    params = dict(device="cuda", precision="float32", max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback
        replayed = _fit(X, y, **params)
    assert made and made[0].graph is None  # recorded, then released
    monkeypatch.setattr(cuda_graph, "ENABLED", False)
    eager = _fit(X, y, **params)
    _same_fit(replayed, eager, 1e-4)
    # The padded last minibatch and the float32 rate round differently.
    assert np.mean(replayed.predict(X) == eager.predict(X)) >= 0.99


@cuda
def test_cuda_bfloat16_fit_replays_a_graph():
    X, y = _data(n=2000, d=64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = _fit(X, y, device="cuda", precision="bfloat16", max_iter=3)
    assert np.isfinite(model.loss_curve_).all()
    assert model.score(X, y) > 0.5


def test_a_replayed_step_launches_the_graph_and_four_copies():
    """What the host dispatches per step once the graph replays: the
    minibatch's rows and labels into the static buffers, the learning rate
    (cosine changes it every step), and the losses out; the graph's own
    launch is the replay."""
    from test_hand_step_kernels import _network_and_batch, dispatched

    module, optimizer, X, y = _network_and_batch()
    kernel = FastStep.create(module, optimizer, autocast=False)

    class Recorder(EagerRecorder):
        replays = 0

        def record(self, call):
            def replay():
                Recorder.replays += 1

            return replay

    graph = GraphedKernel(kernel, optimizer, Recorder())
    log_likelihood = torch.empty(len(y))
    for step in range(cuda_graph.WARMUP_STEPS + 1):
        optimizer.param_groups[0]["lr"] = 1e-3 / (step + 1)
        graph(X, y, None, log_likelihood)
    optimizer.param_groups[0]["lr"] = 1e-4
    names = dispatched(lambda: graph(X, y, None, log_likelihood))
    assert Recorder.replays == 2
    assert sorted(names) == ["copy_", "copy_", "copy_", "fill_"], names


def test_padding_rows_are_zeroed():
    """Rows past a short minibatch weigh 0 and hold zeros (no inf * 0 = NaN)."""
    module = torch.nn.Sequential(
        torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3)
    )
    adam = torch.optim.Adam(module.parameters(), fused=True)
    graph = GraphedKernel(
        FastStep.create(module, adam, autocast=False), adam, EagerRecorder()
    )
    X, y = torch.full((8, 6), 1e30), torch.zeros(8, dtype=torch.long)
    graph(X, y, None, torch.empty(8))  # the full minibatch: 8 rows of huge values
    graph(X[:3] * 0 + 1, y[:3], None, torch.empty(3))
    X_s, _, w_s, _ = graph.buffers
    assert torch.equal(X_s[3:], torch.zeros(5, 6))
    assert torch.equal(w_s, torch.tensor([1.0] * 3 + [0.0] * 5))
