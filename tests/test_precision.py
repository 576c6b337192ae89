"""precision="auto" | "float32" | "bfloat16", and the hand-derived bfloat16 step."""

import contextlib
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist._training import precision as _precision
from skmnist._training import steps as _steps
from skmnist._training.data import DeviceData
from skmnist._training.hand_step import BFloat16Step, FastStep
from skmnist._training.network import build_mlp
from skmnist._training.precision import PRECISIONS
from skmnist.datasets import load_mnist

CPU = torch.device("cpu")


@pytest.fixture
def cpu_flags(monkeypatch):
    """Set the bfloat16 flags the CPU reports: ``cpu_flags({"amx_bf16"})``."""

    def set_flags(flags):
        monkeypatch.setattr(_precision, "cpu_bf16_flags", lambda: frozenset(flags))

    return set_flags


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile amx_bf16\n\n"
        "processor\t: 1\nflags\t\t: fpu\n"
    )
    assert _precision.cpu_bf16_flags(str(cpuinfo)) == {"avx512_bf16", "amx_bf16"}
    zen3 = tmp_path / "zen3"
    zen3.write_text("processor\t: 0\nflags\t\t: fpu avx2 fma\n")
    assert _precision.cpu_bf16_flags(str(zen3)) == frozenset()
    assert _precision.cpu_bf16_flags(str(tmp_path / "missing")) == frozenset()


@pytest.mark.parametrize(
    "flags, precision, dtype, expected",
    [
        ({"amx_bf16", "avx512_bf16"}, "auto", torch.float32, torch.bfloat16),
        ({"avx512_bf16"}, "auto", torch.float32, torch.bfloat16),  # measured
        (set(), "auto", torch.float32, None),  # no bf16 units: float32
        ({"amx_bf16"}, "float32", torch.float32, None),
        (set(), "bfloat16", torch.float32, torch.bfloat16),  # asked for
        ({"amx_bf16"}, "auto", torch.float64, None),  # float64 keeps float64
        ({"amx_bf16"}, "bfloat16", torch.float64, None),
    ],
)
def test_hand_step_precision_on_the_cpu(cpu_flags, flags, precision, dtype, expected):
    cpu_flags(flags)
    assert _precision.hand_step_dtype(precision, CPU, dtype) == expected


@pytest.mark.parametrize("major, expected", [(9, torch.bfloat16), (7, None)])
def test_hand_step_precision_on_cuda(monkeypatch, major, expected):
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(
        torch.cuda,
        "get_device_properties",
        lambda device: types.SimpleNamespace(major=major),
    )
    cuda = torch.device("cuda", 0)
    assert _precision.hand_step_dtype("auto", cuda, torch.float32) == expected
    assert _precision.hand_step_dtype("float32", cuda, torch.float32) is None


def test_autograd_path_precision(cpu_flags):
    cpu_flags({"amx_bf16"})
    null = contextlib.nullcontext
    # On the CPU autocast costs more than it gains: only when asked for.
    assert _precision.autograd_autocast(CPU, torch.float32, "auto") is null
    assert _precision.autograd_autocast(CPU, torch.float32, "float32") is null
    assert _precision.autograd_autocast(CPU, torch.float64, "bfloat16") is null
    with _precision.autograd_autocast(CPU, torch.float32, "bfloat16")():
        assert torch.is_autocast_enabled("cpu")


def test_unknown_precision_is_refused():
    X, y = np.random.RandomState(0).rand(20, 4), np.arange(20) % 2
    with pytest.raises(InvalidParameterError, match="'precision' parameter"):
        MLPDigitClassifier(precision="float16").fit(X, y)


def _bf16_autograd_reference(module, X, y, weight, label_smoothing):
    """Each sample's loss and the gradients, by autograd, hidden layers in bf16."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        top = module[:-1](X)
    losses = F.cross_entropy(
        module[-1](top.float()), y, reduction="none", label_smoothing=label_smoothing
    )
    if weight is not None:
        losses = losses * weight
    (losses.sum() / len(y)).backward()
    return losses.detach(), {n: p.grad.clone() for n, p in module.named_parameters()}


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("hidden", [(), (48,), (48, 32)])
@pytest.mark.parametrize("weighted, label_smoothing", [(False, 0.0), (True, 0.1)])
def test_bf16_gradients_match_autograd_in_bf16(
    activation, hidden, weighted, label_smoothing
):
    torch.manual_seed(0)
    module = build_mlp(40, hidden, 10, activation=activation)
    generator = torch.Generator().manual_seed(1)
    X = torch.randn(96, 40, generator=generator)
    y = torch.randint(10, (96,), generator=generator)
    weight = torch.rand(96, generator=generator) + 0.5 if weighted else None
    losses, expected = _bf16_autograd_reference(module, X, y, weight, label_smoothing)
    frozen = torch.optim.SGD(module.parameters(), lr=0.0)
    step = FastStep.create(
        module,
        frozen,
        autocast=False,
        label_smoothing=label_smoothing,
        matmul_dtype=torch.bfloat16,
    )
    assert type(step) is (BFloat16Step if hidden else FastStep)
    log_likelihood = torch.full((96,), np.nan)
    step(X, y, weight, log_likelihood)

    # bfloat16 keeps 8 significant bits (relative rounding 2**-9): the two
    # computations round the same products, in different orders here and
    # there, so they agree to a few roundings of each tensor's scale.
    assert_allclose(-log_likelihood.numpy(), losses.numpy(), rtol=2e-2, atol=1e-2)
    for name, parameter in module.named_parameters():
        assert parameter.dtype == torch.float32
        reference = expected[name].numpy()
        scale = np.abs(reference).max()
        assert_allclose(parameter.grad.numpy(), reference, atol=1e-2 * scale)


def _sample(n_train=2000):
    X, y = load_mnist(source="sample", return_X_y=True)
    X = PixelScaler().fit_transform(X)
    return X[:n_train], y[:n_train], X[-1000:], y[-1000:]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_bf16_trains_as_well_as_float32(monkeypatch):
    X, y, X_test, y_test = _sample()
    model = MLPDigitClassifier(
        (128, 64), max_iter=3, batch_size=64, random_state=0, device="cpu"
    )
    calls = []
    original = BFloat16Step.__call__
    monkeypatch.setattr(
        BFloat16Step, "__call__", lambda self, *a: calls.append(1) or original(self, *a)
    )
    low = clone(model).set_params(precision="bfloat16").fit(X, y)
    assert len(calls) == 3 * 32  # every minibatch took the bf16 step
    full = clone(model).set_params(precision="float32").fit(X, y)
    assert len(calls) == 3 * 32
    assert (low.precision_, full.precision_) == ("bfloat16", "float32")
    assert abs(low.score(X_test, y_test) - full.score(X_test, y_test)) <= 0.015
    assert_allclose(low.loss_curve_, full.loss_curve_, rtol=0.05)
    # Full-precision model and predictions.
    assert all(p.dtype == torch.float32 for p in low.module_.parameters())
    assert low.predict_proba(X_test).dtype == np.float32
    assert_allclose(low.coefs_[0], low.module_[0].weight.detach().numpy().T)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("early_stopping", [False, True])
def test_bf16_fits_keep_their_rows_in_bf16_with_the_same_results(
    monkeypatch, early_stopping
):
    """Rows converted once per fit, not once per minibatch: nothing else moves."""
    X, y, _, _ = _sample(1000)
    model = MLPDigitClassifier(
        (32,),
        max_iter=3,
        batch_size=64,
        random_state=0,
        device="cpu",
        precision="bfloat16",
        early_stopping=early_stopping,
    )
    seen = []
    original = BFloat16Step.__call__

    def call(self, X, *rest):
        seen.append(X.dtype)
        return original(self, X, *rest)

    monkeypatch.setattr(BFloat16Step, "__call__", call)
    kept = clone(model).fit(X, y)
    assert set(seen) == {torch.bfloat16}
    seen.clear()
    monkeypatch.setattr(DeviceData, "rows_in", lambda self, dtype: self)
    cast = clone(model).fit(X, y)
    assert set(seen) == {torch.float32}
    assert kept.loss_curve_ == cast.loss_curve_
    for a, b in zip(kept.coefs_, cast.coefs_, strict=True):
        assert_array_equal(a, b)
    if early_stopping:
        assert kept.validation_scores_ == cast.validation_scores_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_float64_input_ignores_bfloat16():
    rng = np.random.RandomState(0)
    X, y = rng.rand(200, 12), rng.randint(3, size=200)
    model = MLPDigitClassifier((16,), max_iter=2, random_state=0, device="cpu")
    low = clone(model).set_params(precision="bfloat16").fit(X, y)
    full = clone(model).set_params(precision="float32").fit(X, y)
    assert_array_equal(low.predict_proba(X), full.predict_proba(X))
    assert low.predict_proba(X).dtype == np.float64
    assert low.precision_ == full.precision_ == "float64"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_auto_follows_the_cpu_flags(cpu_flags, monkeypatch):
    X, y, _, _ = _sample(n_train=400)
    created = []
    original = FastStep.create.__func__

    def create(cls, *args, **kwargs):
        created.append(original(cls, *args, **kwargs))
        return created[-1]

    monkeypatch.setattr(_steps.FastStep, "create", classmethod(create))
    model = MLPDigitClassifier((32,), max_iter=1, random_state=0, device="cpu")
    cpu_flags({"amx_bf16"})
    model.fit(X, y)
    cpu_flags(set())
    model.fit(X, y)
    model.set_params(precision="bfloat16").fit(X, y)
    assert [type(step) for step in created] == [BFloat16Step, FastStep, BFloat16Step]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_bfloat16_networks_outside_the_hand_step_train_under_autocast(monkeypatch):
    X, y, _, _ = _sample(n_train=400)
    entered = []
    original = _precision.autograd_autocast

    def recording(device, dtype, precision):
        factory = original(device, dtype, precision)

        def enter():
            entered.append(factory())
            return entered[-1]

        return enter

    monkeypatch.setattr(_steps, "autograd_autocast", recording)
    model = MLPDigitClassifier(
        (32,), max_iter=1, dropout=0.1, random_state=0, device="cpu"
    )
    model.set_params(precision="bfloat16").fit(X, y)
    assert len(entered) == 4  # 400 samples in minibatches of 128
    assert all(isinstance(context, torch.autocast) for context in entered)
    assert all(p.dtype == torch.float32 for p in model.module_.parameters())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_batched_fits_follow_precision(monkeypatch):
    from skmnist._training import stacked as _stacked
    from skmnist.model_selection import fit_many

    X, y, _, _ = _sample(n_train=300)
    asked = []
    original = _stacked.autograd_autocast

    def recording(device, dtype, precision):
        asked.append(precision)
        return original(device, dtype, precision)

    monkeypatch.setattr(_stacked, "autograd_autocast", recording)
    model = MLPDigitClassifier((16,), max_iter=1, random_state=0, device="cpu")
    models = [clone(model).set_params(precision=p) for p in PRECISIONS * 2]
    fit_many(models, [(X, y)] * len(models))
    assert sorted(asked) == sorted(PRECISIONS)  # one batch per precision


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "params, flags, expected",
    [
        ({}, {"avx512_bf16"}, "bfloat16"),  # auto, the hand step, bf16 units
        ({}, set(), "float32"),  # auto without them
        ({"precision": "float32"}, {"amx_bf16"}, "float32"),
        ({"dropout": 0.1, "precision": "bfloat16"}, set(), "bfloat16"),  # autocast
        ({"dropout": 0.1}, {"amx_bf16"}, "float32"),  # no autocast on the CPU
        ({"solver": "lbfgs", "precision": "bfloat16"}, set(), "float32"),
    ],
)
def test_precision_attribute_says_what_the_products_ran_in(
    cpu_flags, params, flags, expected
):
    from skmnist.model_selection import fit_many

    cpu_flags(flags)
    X, y, _, _ = _sample(n_train=300)
    model = MLPDigitClassifier((16,), max_iter=1, random_state=0, device="cpu")
    model.set_params(**params)
    assert clone(model).fit(X, y).precision_ == expected
    if params.get("solver") != "lbfgs":  # batched fits: the stack's products
        stacked = [clone(model).set_params(random_state=s) for s in (0, 1)]
        fit_many(stacked, [(X, y)] * 2)
        batched = "bfloat16" if params.get("precision") == "bfloat16" else "float32"
        assert [m.precision_ for m in stacked] == [batched] * 2
