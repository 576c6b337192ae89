"""Behaviour of MLPDigitClassifier beyond scikit-learn's generic checks."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelBinarizer

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist._training import steps as _steps
from skmnist._training.prediction import predict_batches

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = {
    "hidden_layer_sizes": (32,),
    "max_iter": 5,
    "batch_size": 32,
    "learning_rate_init": 3e-3,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def digits():
    """8x8 digits scaled to [0, 1] as float32, split into train and test."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def assert_same_model(a, b, X):
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    for wa, wb in zip(a.coefs_, b.coefs_, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_learns_digits(digits):
    X_train, X_test, y_train, y_test = digits
    clf = MLPDigitClassifier(max_iter=15, random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.95
    assert clf.n_iter_ == 15 == len(clf.loss_curve_)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] / 5
    assert clf.t_ == 15 * len(X_train)
    assert clf.device_ == "cpu"
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert [w.shape for w in clf.coefs_] == [(64, 512), (512, 256), (256, 10)]
    assert [b.shape for b in clf.intercepts_] == [(512,), (256,), (10,)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 10


def test_probabilities(digits):
    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
    proba = clf.predict_proba(X_test)
    assert proba.dtype == np.float32 and proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_test)), proba, rtol=1e-4)
    np.testing.assert_array_equal(
        clf.classes_[proba.argmax(axis=1)], clf.predict(X_test)
    )


def test_compute_dtype_follows_input(digits):
    X_train, _, y_train, _ = digits
    for X, dtype in [
        (X_train, torch.float32),
        (X_train.astype(np.float64), torch.float64),
        ((X_train * 16).astype(np.uint8), torch.float32),
    ]:
        clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X, y_train)
        assert next(clf.module_.parameters()).dtype == dtype


@pytest.mark.slow
def test_string_and_binary_labels(digits):
    X_train, X_test, y_train, y_test = digits
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    clf = MLPDigitClassifier(max_iter=10, random_state=0).fit(X_train, names[y_train])
    assert clf.classes_.dtype.kind == "U"
    assert set(clf.classes_) == set(names)
    assert clf.predict(X_test).dtype.kind == "U"
    assert clf.score(X_test, names[y_test]) > 0.9

    odd = np.where(y_train % 2 == 1, "odd", "even")
    binary = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, odd)
    assert list(binary.classes_) == ["even", "odd"]
    assert binary.predict_proba(X_test).shape == (len(X_test), 2)


def test_rejects_unsupported_targets(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL)
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(X_train, y_train + 0.5)
    with pytest.raises(ValueError, match="multilabel indicator matrix"):
        clf.fit(X_train, np.stack([y_train, y_train], axis=1))  # multiclass-multioutput


def test_multilabel_and_one_class_targets(digits):
    """As MLPClassifier: indicator y gets per-label outputs; one class fits."""
    X_train, X_test, y_train, _ = digits
    Y = np.stack([y_train % 2, y_train > 4], axis=1).astype(int)
    clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, Y)
    assert clf.out_activation_ == "logistic" and clf.predict(X_test).shape == (
        len(X_test),
        2,
    )
    assert set(np.unique(clf.predict(X_test))) <= {0, 1}
    assert clf.score(X_train, Y) > 0.5
    one = MLPDigitClassifier(**SMALL).fit(X_train, np.full(len(X_train), 7))
    assert (one.predict(X_test) == 7).all()


def test_reproducible_and_leaves_global_rng_alone(digits):
    X_train, X_test, y_train, _ = digits
    params = dict(SMALL, dropout=0.2, early_stopping=True)
    torch.manual_seed(123)
    before = torch.get_rng_state().clone()
    a = MLPDigitClassifier(**params, random_state=7).fit(X_train, y_train)
    assert torch.equal(torch.get_rng_state(), before)
    b = MLPDigitClassifier(**params, random_state=7).fit(X_train, y_train)
    assert_same_model(a, b, X_test)
    c = MLPDigitClassifier(**params, random_state=8).fit(X_train, y_train)
    assert not np.array_equal(a.predict_proba(X_test), c.predict_proba(X_test))


def test_random_state_instance_is_consumed(digits):
    X_train, X_test, y_train, _ = digits
    rng = np.random.RandomState(0)
    a = MLPDigitClassifier(**SMALL, random_state=rng).fit(X_train, y_train)
    b = MLPDigitClassifier(**SMALL, random_state=rng).fit(X_train, y_train)
    assert not np.array_equal(a.predict_proba(X_test), b.predict_proba(X_test))


@pytest.mark.slow
def test_pipeline_grid_search_parallel(digits):
    X_train, X_test, y_train, y_test = digits
    X_raw = (X_train * 255).astype(np.uint8)
    pipe = make_pipeline(
        PixelScaler(),
        MLPDigitClassifier(
            max_iter=4,
            batch_size=32,
            learning_rate_init=3e-3,
            random_state=0,
            device="cpu",
        ),
    )
    grid = GridSearchCV(
        pipe,
        {
            "mlpdigitclassifier__hidden_layer_sizes": [(16,), (64,)],
            "mlpdigitclassifier__solver": ["adam", "sgd"],
        },
        cv=2,
        n_jobs=2,
    ).fit(X_raw, y_train)
    assert grid.cv_results_["mean_test_score"].shape == (4,)
    assert grid.best_params_["mlpdigitclassifier__hidden_layer_sizes"] == (64,)
    assert grid.score((X_test * 255).astype(np.uint8), y_test) > 0.85

    serial = GridSearchCV(pipe, grid.param_grid, cv=2, n_jobs=1).fit(X_raw, y_train)
    np.testing.assert_allclose(
        serial.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"]
    )


def test_joblib_round_trip_is_device_independent(digits, tmp_path):
    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)
    loaded = joblib.load(path)
    assert_same_model(clf, loaded, X_test)
    assert loaded.get_params() == clf.get_params()

    # The pickle holds numpy weights and plain data only: no torch tensor,
    # hence nothing bound to the device the model was trained on.
    payload = pickle.dumps(clf)
    assert b"torch" not in payload


def test_model_trained_on_cuda_loads_on_cpu(digits):
    """A model saved from a CUDA device loads on a CPU-only machine, with a warning."""
    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
    expected = clf.predict_proba(X_test)
    clf.device_ = "cuda:0"  # as stored by a fit on a GPU
    payload = pickle.dumps(clf)
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA, so the CPU fallback is not exercised")
    with pytest.warns(UserWarning, match="trained on 'cuda:0'.*loaded on the CPU"):
        loaded = pickle.loads(payload)
    assert loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X_test), expected)


def test_pickle_excludes_optimizer_but_partial_fit_continues(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
    loaded = pickle.loads(pickle.dumps(clf))
    assert "_optimizer" not in loaded.__dict__
    loaded.partial_fit(X_train, y_train)
    # n_iter_ counts the last call (MLPClassifier's meaning); the history goes on.
    assert loaded.n_iter_ == 1 and len(loaded.loss_curve_) == clf.n_iter_ + 1


def test_sample_weight_zero_equals_removal_and_integer_equals_repetition(digits):
    X_train, X_test, y_train, _ = digits
    X, y = X_train[:60].astype(np.float64), y_train[:60]
    rng = np.random.RandomState(0)
    weight = rng.randint(0, 3, size=len(y))
    full_batch = dict(
        hidden_layer_sizes=(16,),
        max_iter=30,
        batch_size="auto",  # min(128, n_samples): one batch of all samples
        random_state=0,
        device="cpu",
    )
    weighted = MLPDigitClassifier(**full_batch).fit(X, y, sample_weight=weight)
    repeated = MLPDigitClassifier(**full_batch).fit(
        np.repeat(X, weight, axis=0), np.repeat(y, weight)
    )
    np.testing.assert_allclose(
        weighted.predict_proba(X_test), repeated.predict_proba(X_test), rtol=1e-7
    )


def test_sample_weight_changes_the_fit(digits):
    X_train, X_test, y_train, _ = digits
    weight = np.where(y_train == 3, 20.0, 1.0)
    plain = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
    heavy = MLPDigitClassifier(**SMALL, random_state=0).fit(
        X_train, y_train, sample_weight=weight
    )
    assert (heavy.predict(X_test) == 3).sum() > (plain.predict(X_test) == 3).sum()
    original = weight.copy()
    MLPDigitClassifier(**SMALL, class_weight={3: 5.0}).fit(X_train, y_train, weight)
    np.testing.assert_array_equal(weight, original)


def test_class_weight_validation(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="class_weight names labels"):
        MLPDigitClassifier(**SMALL, class_weight={42: 2.0}).fit(X_train, y_train)
    balanced = MLPDigitClassifier(
        **dict(SMALL, max_iter=10), class_weight="balanced", random_state=0
    )
    assert balanced.fit(X_train, y_train).score(X_train, y_train) > 0.9


def test_warm_start_continues(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(**dict(SMALL, max_iter=3), warm_start=True, random_state=0)
    clf.fit(X_train, y_train)
    first_curve = list(clf.loss_curve_)
    module = clf.module_
    clf.fit(X_train, y_train)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 6  # n_iter_: this fit's
    assert clf.loss_curve_[:3] == first_curve
    assert clf.module_ is not module  # trained on a copy, swapped in on success
    assert clf.loss_curve_[-1] < first_curve[-1]

    with pytest.raises(ValueError, match="same classes"):  # MLPClassifier's message
        clf.fit(X_train, y_train + 10)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 6
    cold = clone(clf).set_params(warm_start=False).fit(X_train, y_train)
    assert cold.n_iter_ == 3


def test_partial_fit(digits):
    X_train, X_test, y_train, y_test = digits
    clf = MLPDigitClassifier(
        hidden_layer_sizes=(64,), batch_size=32, random_state=0, device="cpu"
    )
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X_train, y_train)
    classes = np.arange(10)
    for chunk in np.array_split(np.arange(len(X_train)), 4):
        clf.partial_fit(X_train[chunk], y_train[chunk], classes=classes)
    for _ in range(5):
        clf.partial_fit(X_train, y_train)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 9
    assert clf.t_ == 6 * len(X_train)
    assert clf.score(X_test, y_test) > 0.9
    with pytest.raises(ValueError, match="not among the classes"):
        clf.partial_fit(X_train[:5], np.full(5, 11))
    with pytest.raises(ValueError, match="not the same as the classes"):
        clf.partial_fit(X_train, y_train, classes=np.arange(11))
    with pytest.raises(ValueError, match="X has 10 features"):
        clf.partial_fit(X_train[:, :10], y_train)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 9


def test_partial_fit_single_class_batch_is_allowed(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0)
    ones = y_train == 1
    clf.partial_fit(X_train[ones], y_train[ones], classes=np.arange(10))
    assert clf.n_iter_ == 1


def test_early_stopping_keeps_best_epoch(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(
        hidden_layer_sizes=(64,),
        early_stopping=True,
        n_iter_no_change=2,
        tol=0.5,
        max_iter=50,
        random_state=0,
        device="cpu",
    ).fit(X_train, y_train)
    assert (
        clf.n_iter_ == 4
    )  # the first epoch sets the bar; no later one beats it by 0.5
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None

    patient = MLPDigitClassifier(
        hidden_layer_sizes=(64,),
        early_stopping=True,
        max_iter=8,
        batch_size=32,
        learning_rate_init=3e-3,
        random_state=0,
        device="cpu",
    ).fit(X_train, y_train)
    assert patient.best_validation_score_ > 0.9


def test_training_loss_stopping_and_convergence_warning(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(
        **dict(SMALL, max_iter=100),
        learning_rate="constant",
        tol=10.0,
        n_iter_no_change=3,
    )
    clf.fit(X_train, y_train)
    assert clf.n_iter_ == 5  # epoch 1 improves on inf; epochs 2-5 do not by tol
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        MLPDigitClassifier(**SMALL, learning_rate="constant").fit(X_train, y_train)
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        MLPDigitClassifier(**SMALL).fit(X_train, y_train)  # explicit max_iter
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MLPDigitClassifier(**dict(SMALL, max_iter="auto")).fit(
            X_train[:64], y_train[:64]
        )  # cosine over max_iter="auto": the budget is the plan


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive", "cosine"])
@pytest.mark.parametrize("solver", ["adam", "adamw", "sgd"])
def test_solvers_and_schedules_learn(digits, solver, schedule):
    X_train, X_test, y_train, y_test = digits
    lr = 0.1 if solver == "sgd" else 3e-3
    clf = MLPDigitClassifier(
        hidden_layer_sizes=(64,),
        solver=solver,
        learning_rate=schedule,
        learning_rate_init=lr,
        max_iter=8,
        batch_size=32,
        random_state=0,
        device="cpu",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    if schedule != "invscaling":  # lr / sqrt(samples seen) is slow by design
        assert clf.score(X_test, y_test) > 0.9


def test_activations_dropout_and_label_smoothing(digits):
    X_train, X_test, y_train, y_test = digits
    for activation in ["identity", "logistic", "tanh", "relu", "gelu", "silu"]:
        clf = MLPDigitClassifier(
            **dict(SMALL, max_iter=10, hidden_layer_sizes=(64,)),
            activation=activation,
            dropout=0.1,
            label_smoothing=0.1,
            random_state=0,
        ).fit(X_train, y_train)
        assert clf.score(X_test, y_test) > 0.85, activation
    linear = MLPDigitClassifier(**dict(SMALL, hidden_layer_sizes=())).fit(
        X_train, y_train
    )
    assert [w.shape for w in linear.coefs_] == [(64, 10)]


def test_divergence_keeps_last_finite_weights(digits):
    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(
        **dict(SMALL, learning_rate_init=1e6),
        solver="sgd",
        learning_rate="constant",
        momentum=0.0,
        random_state=0,
    )
    with pytest.warns(RuntimeWarning, match="diverged"):
        clf.fit(X_train * 1e3, y_train)
    assert np.isfinite(clf.predict_proba(X_test)).all()
    assert all(np.isfinite(loss) for loss in clf.loss_curve_)


def test_failed_fit_leaves_fitted_model_intact(digits):
    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
    before = dict(clf.__dict__)
    proba = clf.predict_proba(X_test)
    with pytest.raises(ValueError):
        clf.fit(X_train[:, :5], y_train + 0.5)  # continuous y: not labels
    with pytest.raises(ValueError):
        clf.set_params(batch_size=0).fit(X_train, y_train)
    clf.set_params(batch_size="auto")
    assert clf.__dict__.keys() == before.keys()
    assert clf.n_features_in_ == 64
    np.testing.assert_array_equal(clf.predict_proba(X_test), proba)


def test_device_selection():
    X = np.random.RandomState(0).rand(20, 3).astype(np.float32)
    y = np.arange(20) % 2
    small = dict(SMALL, batch_size=len(X))
    assert MLPDigitClassifier(**dict(small, device="auto")).fit(X, y).device_ in (
        "cpu",
        "mps",
        *(f"cuda:{i}" for i in range(8)),
    )
    assert (
        MLPDigitClassifier(**dict(small, device=torch.device("cpu"))).fit(X, y).device_
        == "cpu"
    )
    with pytest.raises(ValueError, match="is not a device"):
        MLPDigitClassifier(**dict(small, device="tpu")).fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            MLPDigitClassifier(**dict(small, device="cuda")).fit(X, y)


def test_batch_size_larger_than_data_is_clipped():
    X = np.random.RandomState(0).rand(20, 3).astype(np.float32)
    y = np.arange(20) % 2
    with pytest.warns(UserWarning, match="batch_size=64, larger than the 20"):
        MLPDigitClassifier(**dict(SMALL, batch_size=64)).fit(X, y)


def test_predictions_are_batched_without_changing_results(digits):
    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
    whole = predict_batches(clf.module_, X_test, batch_rows=len(X_test))
    np.testing.assert_allclose(
        predict_batches(clf.module_, X_test, batch_rows=7), whole, rtol=1e-6, atol=1e-6
    )


def test_pandas_feature_names(digits):
    pd = pytest.importorskip("pandas")
    X_train, X_test, y_train, _ = digits
    columns = [f"px{i}" for i in range(X_train.shape[1])]
    clf = MLPDigitClassifier(**SMALL).fit(
        pd.DataFrame(X_train, columns=columns), y_train
    )
    np.testing.assert_array_equal(clf.feature_names_in_, columns)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(pd.DataFrame(X_test, columns=columns[::-1]))


def test_verbose_prints_one_line_per_epoch(digits, capsys):
    X_train, _, y_train, _ = digits
    MLPDigitClassifier(**SMALL, verbose=2).fit(X_train, y_train)
    lines = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("Iteration")
    ]
    assert len(lines) == SMALL["max_iter"]
    assert "loss = " in lines[0]


def test_unfitted_errors():
    with pytest.raises(NotFittedError):
        MLPDigitClassifier().predict_proba(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        _ = MLPDigitClassifier().coefs_


def test_callbacks_see_every_epoch_and_can_stop(digits):
    X_train, _, y_train, _ = digits
    seen = []
    MLPDigitClassifier(**SMALL, callbacks=[seen.append]).fit(X_train, y_train)
    assert [info["epoch"] for info in seen] == [1, 2, 3, 4, 5]
    assert seen[0].keys() == {
        "epoch",
        "loss",
        "validation_score",
        "learning_rate",
        "duration",
        "n_samples",
    }
    assert seen[-1]["learning_rate"] < seen[0]["learning_rate"]  # cosine decay

    def stop_after_two(info):
        return info["epoch"] >= 2

    clf = MLPDigitClassifier(**SMALL, callbacks=[stop_after_two]).fit(X_train, y_train)
    assert clf.n_iter_ == 2


def test_keyboard_interrupt_keeps_last_complete_epoch_and_propagates(digits):
    X_train, X_test, y_train, _ = digits

    def interrupt_at_epoch_3(info):
        if info["epoch"] == 3:
            raise KeyboardInterrupt

    clf = MLPDigitClassifier(**SMALL, random_state=0, callbacks=[interrupt_at_epoch_3])
    with pytest.raises(KeyboardInterrupt, match="after 3 complete epochs"):
        clf.fit(X_train, y_train)
    assert clf.n_iter_ == 3 == len(clf.loss_curve_)
    reference = MLPDigitClassifier(**dict(SMALL, max_iter=5), random_state=0)
    reference.set_params(callbacks=[lambda info: info["epoch"] == 3]).fit(
        X_train, y_train
    )
    np.testing.assert_array_equal(
        clf.predict_proba(X_test), reference.predict_proba(X_test)
    )
    assert clf.loss_ == reference.loss_ and clf.t_ == reference.t_


def _interrupt_at_step(monkeypatch, step):
    """Raise KeyboardInterrupt before minibatch step number ``step`` (from 1)."""
    calls = {"n": 0}
    original = _steps.set_learning_rate  # called before every minibatch step

    def step_then_interrupt(*args):
        calls["n"] += 1
        if calls["n"] == step:
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(_steps, "set_learning_rate", step_then_interrupt)


def test_keyboard_interrupt_inside_a_warm_refit_leaves_the_model_as_it_was(
    digits, monkeypatch
):
    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0, warm_start=True)
    clf.fit(X_train, y_train)
    before = clf.predict_proba(X_test)
    attributes = dict(vars(clf))
    rng_state = clf._rng.get_state()
    _interrupt_at_step(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt, match="before it completed an epoch"):
        clf.fit(X_train, y_train)
    assert set(vars(clf)) == set(attributes)
    assert all(vars(clf)[k] is v for k, v in attributes.items() if k != "_rng")
    np.testing.assert_array_equal(clf._rng.get_state()[1], rng_state[1])
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 5  # the previous fit's
    np.testing.assert_array_equal(clf.predict_proba(X_test), before)


def test_keyboard_interrupt_in_the_first_epoch_leaves_the_model_unfitted(
    digits, monkeypatch
):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0)
    _interrupt_at_step(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X_train, y_train)
    assert not any(name.endswith("_") for name in vars(clf))
    with pytest.raises(NotFittedError):
        clf.predict(X_train)


def test_keyboard_interrupt_inside_a_later_epoch_undoes_only_that_epoch(
    digits, monkeypatch
):
    X_train, X_test, y_train, _ = digits
    steps_per_epoch = -(-len(X_train) // SMALL["batch_size"])
    reference = MLPDigitClassifier(**SMALL, random_state=0)
    reference.set_params(callbacks=[lambda info: info["epoch"] == 2])
    reference.fit(X_train, y_train)
    clf = MLPDigitClassifier(**SMALL, random_state=0)
    _interrupt_at_step(monkeypatch, 2 * steps_per_epoch + 3)  # inside epoch 3
    with pytest.raises(KeyboardInterrupt, match="after 2 complete epochs"):
        clf.fit(X_train, y_train)
    assert clf.n_iter_ == 2 == len(clf.loss_curve_) and clf.t_ == reference.t_
    assert clf.loss_curve_ == reference.loss_curve_
    np.testing.assert_array_equal(
        clf.predict_proba(X_test), reference.predict_proba(X_test)
    )


def test_out_of_memory_in_predict_retries_smaller_batches(digits):
    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
    expected = clf.predict_proba(X_test)
    network = clf.module_

    class SmallMemory(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.network = network

        def forward(self, x):
            if x.shape[0] > 100:
                raise torch.OutOfMemoryError("simulated")
            return self.network(x)

    clf.module_ = SmallMemory()
    np.testing.assert_allclose(
        clf.predict_proba(X_test), expected, rtol=1e-6, atol=1e-7
    )


def test_out_of_memory_in_fit_names_batch_size(digits, monkeypatch):
    X_train, _, y_train, _ = digits

    def no_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr("skmnist._training.loop._Loop.epoch", no_memory)
    with pytest.raises(MemoryError, match="batch_size=32"):
        MLPDigitClassifier(**SMALL).fit(X_train, y_train)


def test_model_from_incompatible_version_is_refused(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL).fit(X_train, y_train)
    state = clf.__getstate__()
    state["module_"]["format"] = 99
    with pytest.raises(ValueError, match="incompatible skmnist version"):
        MLPDigitClassifier().__setstate__(state)


def test_concurrent_predictions_from_threads(digits):
    from concurrent.futures import ThreadPoolExecutor

    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
    expected = clf.predict_proba(X_test)
    chunks = np.array_split(np.arange(len(X_test)), 16)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda idx: clf.predict_proba(X_test[idx]), chunks))
    np.testing.assert_allclose(np.vstack(results), expected, rtol=1e-6, atol=1e-7)


def test_verbose_1_shows_a_progress_bar(digits, capsys):
    pytest.importorskip("tqdm")
    X_train, _, y_train, _ = digits
    MLPDigitClassifier(**SMALL, verbose=1).fit(X_train, y_train)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "5/5" in captured.err and "loss=" in captured.err


def test_quiet_by_default(digits, capsys):
    X_train, _, y_train, _ = digits
    MLPDigitClassifier(**SMALL).fit(X_train, y_train)
    assert capsys.readouterr() == ("", "")


def test_warm_start_uses_current_optimizer_parameters(digits):
    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, warm_start=True, random_state=0)
    clf.fit(X_train, y_train)
    clf.set_params(alpha=0.5).fit(X_train, y_train)
    decays = {group["weight_decay"] for group in clf._optimizer.param_groups}
    assert decays == {0.5, 0.0}  # weights get the new alpha, biases none
    clf.set_params(solver="sgd", learning_rate_init=0.01).fit(X_train, y_train)
    assert isinstance(clf._optimizer, torch.optim.SGD)
    assert np.isfinite(clf.predict_proba(X_test)).all()


def test_failed_warm_fit_leaves_optimizer_and_rng_untouched(digits, monkeypatch):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, warm_start=True, random_state=0)
    clf.fit(X_train, y_train)
    moments = [s["exp_avg"].clone() for s in clf._optimizer.state.values()]
    rng_state = clf._rng.get_state()[1].copy()

    def fail(info):
        raise RuntimeError("callback failure")

    with pytest.raises(RuntimeError, match="callback failure"):
        clf.set_params(callbacks=[fail]).fit(X_train, y_train)
    after = [s["exp_avg"] for s in clf._optimizer.state.values()]
    assert all(torch.equal(a, b) for a, b in zip(moments, after, strict=True))
    np.testing.assert_array_equal(clf._rng.get_state()[1], rng_state)


def test_early_stopping_warm_start_compares_within_one_fit(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(
        **dict(SMALL, max_iter=3), early_stopping=True, warm_start=True, random_state=0
    )
    clf.fit(X_train, y_train)
    clf.set_params(learning_rate_init=1e-5).fit(X_train, y_train)
    second = clf.validation_scores_[3:]
    assert clf.best_validation_score_ == max(second)


def test_divergence_resets_optimizer_so_training_can_resume(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(
        **dict(SMALL, learning_rate_init=1e6),
        solver="sgd",
        learning_rate="constant",
        random_state=0,
    )
    with pytest.warns(RuntimeWarning, match="diverged"):
        clf.fit(X_train * 1e3, y_train)
    assert len(clf._optimizer.state) == 0
    clf.set_params(learning_rate_init=1e-3).partial_fit(X_train, y_train)
    assert np.isfinite(clf.loss_curve_[-1])


def test_callback_stop_is_not_a_convergence_failure(digits):
    X_train, _, y_train, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MLPDigitClassifier(
            **SMALL, learning_rate="constant", callbacks=[lambda info: True]
        ).fit(X_train, y_train)


def test_partial_fit_refuses_balanced_class_weight(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="'balanced' is not supported by partial_fit"):
        MLPDigitClassifier(**SMALL, class_weight="balanced").partial_fit(
            X_train, y_train, classes=np.arange(10)
        )


def test_network_is_in_evaluation_mode_after_fit(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, dropout=0.5).fit(X_train, y_train)
    assert not clf.module_.training


def _warning_location(category, call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    found = [w for w in caught if issubclass(w.category, category)]
    assert found, f"no {category.__name__}"
    return {w.filename for w in found}


def test_warnings_point_at_the_callers_code(digits, tmp_path):
    from skmnist.model_selection import fit_many
    from skmnist.persistence import load_model, save_model

    X_train, _, y_train, _ = digits
    constant = dict(SMALL, learning_rate="constant", random_state=0)
    calls = {
        "convergence, fit": (
            ConvergenceWarning,
            lambda: MLPDigitClassifier(**constant).fit(X_train, y_train),
        ),
        "convergence, fit_many": (
            ConvergenceWarning,
            lambda: fit_many([MLPDigitClassifier(**constant)], [(X_train, y_train)]),
        ),
        "batch_size clipped": (
            UserWarning,
            lambda: MLPDigitClassifier(**dict(SMALL, batch_size=10_000)).fit(
                X_train, y_train
            ),
        ),
        "batch_size clipped, partial_fit": (
            UserWarning,
            lambda: MLPDigitClassifier(**dict(SMALL, batch_size=10_000)).partial_fit(
                X_train, y_train, classes=np.arange(10)
            ),
        ),
        "diverged": (
            RuntimeWarning,
            lambda: MLPDigitClassifier(
                **dict(constant, learning_rate_init=1e6), solver="sgd", momentum=0.0
            ).fit(X_train * 1e3, y_train),
        ),
        "callbacks not saved": (
            UserWarning,
            lambda: save_model(
                MLPDigitClassifier(**SMALL, callbacks=[lambda info: None]).fit(
                    X_train, y_train
                ),
                tmp_path / "model.skmnist",
            ),
        ),
    }
    if not torch.cuda.is_available():
        saved = MLPDigitClassifier(**SMALL).fit(X_train, y_train)
        saved.device_ = "cuda:0"  # as if fitted on a GPU this machine lacks
        save_model(saved, tmp_path / "gpu.skmnist")
        calls["loaded on the CPU"] = (
            UserWarning,
            lambda: load_model(tmp_path / "gpu.skmnist"),
        )
    for name, (category, call) in calls.items():
        assert _warning_location(category, call) == {__file__}, name


@pytest.mark.parametrize(
    "change",
    [{"hidden_layer_sizes": (7,)}, {"activation": "tanh"}, {"dropout": 0.25}],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_warm_fits_refuse_a_changed_architecture(digits, change, method):
    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, warm_start=True, random_state=0)
    clf.fit(X_train, y_train)
    before = clf.predict_proba(X_test)
    history = list(clf.loss_curve_)
    (name,) = change
    clf.set_params(**change)
    fresh = "set warm_start=False" if method == "fit" else "on a clone"
    with pytest.raises(ValueError, match=f"{name}=.*fitted network has.*{fresh}"):
        getattr(clf, method)(X_train, y_train)
    np.testing.assert_array_equal(clf.predict_proba(X_test), before)
    assert clf.loss_curve_ == history
    # A cold fit builds the new network.
    clf.set_params(warm_start=False).fit(X_train, y_train)
    assert clf._architecture[name] == (
        list(change[name]) if name == "hidden_layer_sizes" else change[name]
    )


def test_warm_fits_continue_where_a_loaded_model_is(digits, tmp_path):
    """A model loaded on the CPU although its device parameter names a GPU
    (this machine lacks it, or load_model was told device="cpu") trains on
    where it is: only a device parameter changed since the fit moves it."""
    from skmnist.persistence import load_model, save_model

    X_train, _, y_train, _ = digits
    gpu = "cuda:0"
    clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
    clf.set_params(device=gpu)
    clf._device_param, clf.device_ = gpu, gpu  # as if it was fitted on the GPU
    save_model(clf, tmp_path / "model.skmnist")
    loaded = load_model(tmp_path / "model.skmnist", device="cpu")
    loaded.partial_fit(X_train, y_train)
    loaded.set_params(warm_start=True).fit(X_train, y_train)
    assert loaded.device_ == "cpu" and loaded.get_params()["device"] == gpu
    assert loaded.n_iter_ == SMALL["max_iter"]
    assert len(loaded.loss_curve_) == 2 * SMALL["max_iter"] + 1
    if not torch.cuda.is_available():  # a pickle falls back to the CPU
        with pytest.warns(UserWarning, match="not available here"):
            unpickled = pickle.loads(pickle.dumps(clf))
        unpickled.partial_fit(X_train, y_train)
        assert unpickled.device_ == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_warm_fit_moves_to_a_newly_named_device(digits):
    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, warm_start=True, random_state=0)
    clf.fit(X_train, y_train)
    clf.set_params(device="cuda").fit(X_train, y_train)
    assert clf.device_ == "cuda:0"
    assert all(p.is_cuda for p in clf.module_.parameters())
    states = clf._optimizer.state.values()
    assert states and all(s["exp_avg"].is_cuda for s in states)
    assert clf.n_iter_ == SMALL["max_iter"]
    assert len(clf.loss_curve_) == 2 * SMALL["max_iter"]
    assert clf.predict_proba(X_test).shape == (len(X_test), 10)


def test_warm_fits_check_the_device_parameter(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, warm_start=True, random_state=0)
    clf.fit(X_train, y_train)
    for device in ("tpu", "cuda:7" if not torch.cuda.is_available() else "cuda:99"):
        with pytest.raises(ValueError, match="device="):
            clf.set_params(device=device).fit(X_train, y_train)
        with pytest.raises(ValueError, match="device="):
            clf.partial_fit(X_train, y_train)
    clf.set_params(device="cpu").fit(X_train, y_train)
    assert clf.device_ == "cpu"
    assert clf.n_iter_ == SMALL["max_iter"]
    assert len(clf.loss_curve_) == 2 * SMALL["max_iter"]


def test_partial_fit_on_a_fitted_model_checks_the_parameters_first(digits):
    from sklearn.utils._param_validation import InvalidParameterError

    X_train, X_test, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
    before = clf.predict_proba(X_test)
    for params in ({"callbacks": [1]}, {"device": "tpu"}):
        with pytest.raises(InvalidParameterError):
            clf.set_params(**params).partial_fit(X_train, y_train)
        clf.set_params(callbacks=None, device="cpu")
    np.testing.assert_array_equal(clf.predict_proba(X_test), before)
    assert clf.n_iter_ == SMALL["max_iter"]


def test_partial_fit_keeps_the_early_stopping_history(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(**SMALL, early_stopping=True, random_state=0)
    clf.fit(X_train, y_train)
    scores, best = list(clf.validation_scores_), clf.best_validation_score_
    with pytest.raises(ValueError, match="early_stopping"):  # as MLPClassifier
        clf.partial_fit(X_train, y_train)
    clf.set_params(early_stopping=False).partial_fit(X_train, y_train)
    assert clf.validation_scores_ == scores
    assert clf.best_validation_score_ == best
    assert clf.best_loss_ is None
    assert len(clf.loss_curve_) == len(scores) + 1


@pytest.mark.parametrize(
    "params",
    [{"hidden_layer_sizes": (0,)}, {"hidden_layer_sizes": (16.0,)}, {"device": "tpu"}],
)
def test_invalid_parameter_values_raise_invalid_parameter_error(digits, params):
    from sklearn.utils._param_validation import InvalidParameterError

    X_train, _, y_train, _ = digits
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        MLPDigitClassifier(**{**SMALL, **params}).fit(X_train, y_train)


@pytest.mark.parametrize("flushing", [False, True])
def test_fit_leaves_the_flush_denormal_setting_as_it_found_it(digits, flushing):
    def denormals_flushed():
        return float(torch.tensor(1e-30) * 1e-10) == 0.0

    X_train, _, y_train, _ = digits
    if not torch.set_flush_denormal(flushing) and flushing:
        pytest.skip("this CPU cannot flush subnormals")
    try:
        assert denormals_flushed() == flushing
        MLPDigitClassifier(**SMALL, random_state=0).fit(X_train, y_train)
        assert denormals_flushed() == flushing
    finally:
        torch.set_flush_denormal(False)


def _validation_split(X, y, random_state, validation_fraction=0.1):
    """The split an early-stopping fit holds out, drawn as the estimator draws it."""
    rng = np.random.RandomState(random_state)
    rng.randint(np.iinfo(np.int32).max)  # the torch seed comes first
    seed = rng.randint(np.iinfo(np.int32).max)
    n_val = int(np.ceil(validation_fraction * len(X)))
    stratify = LabelBinarizer().fit_transform(y).astype(bool)  # as MLPClassifier
    _, X_val, _, y_val = train_test_split(
        X, y, test_size=n_val, random_state=seed, stratify=stratify
    )
    return X_val, y_val


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_early_stopping_restores_the_best_epochs_weights(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(
        hidden_layer_sizes=(32,),
        learning_rate="constant",
        learning_rate_init=0.05,  # high: the validation accuracy wobbles
        batch_size=32,
        early_stopping=True,
        n_iter_no_change=4,
        max_iter=12,
        random_state=0,
        device="cpu",
    ).fit(X_train, y_train)
    scores = clf.validation_scores_
    assert max(scores) > scores[-1]  # the setting under test: the last is not best
    X_val, y_val = _validation_split(X_train, y_train, 0)
    assert clf.score(X_val, y_val) == clf.best_validation_score_ == max(scores)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_early_stopping_warm_fit_keeps_its_own_best(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(
        **dict(SMALL, max_iter=3), early_stopping=True, warm_start=True, random_state=0
    )
    clf.fit(X_train, y_train)
    first = list(clf.validation_scores_)
    # A rate far too high makes the second fit worse than the first.
    clf.set_params(learning_rate_init=0.5, learning_rate="constant")
    clf.fit(X_train, y_train)
    second = clf.validation_scores_[len(first) :]
    assert max(first) > max(second)
    assert clf.best_validation_score_ == max(second)


def _learning_rates(clf, X, y):
    rates = []
    clf.set_params(callbacks=[lambda info: rates.append(info["learning_rate"])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return rates


def test_invscaling_rate_follows_samples_seen(digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:1248], y_train[:1248]  # 39 minibatches of 32
    clf = MLPDigitClassifier(
        **dict(SMALL, max_iter=3),
        solver="sgd",
        learning_rate="invscaling",
        power_t=0.25,
        random_state=0,
    )
    rates = _learning_rates(clf, X, y)
    # Reported: the rate of each epoch's last step, after (39 e - 1) steps.
    seen = [(39 * epoch - 1) * 32 for epoch in (1, 2, 3)]
    expected = [SMALL["learning_rate_init"] / (t + 1) ** 0.25 for t in seen]
    np.testing.assert_allclose(rates, expected, rtol=1e-12)


def test_adaptive_rate_is_divided_by_five_without_progress(digits):
    X_train, _, y_train, _ = digits
    clf = MLPDigitClassifier(
        **dict(SMALL, max_iter=8),
        learning_rate="adaptive",
        tol=10.0,  # no epoch counts as progress
        n_iter_no_change=1,
        random_state=0,
    )
    rates = _learning_rates(clf, X_train, y_train)
    distinct = sorted(set(rates), reverse=True)
    assert distinct[0] == SMALL["learning_rate_init"] and len(distinct) >= 3
    np.testing.assert_allclose(np.divide(distinct[:-1], distinct[1:]), 5.0)
    assert clf.n_iter_ == 8  # adaptive lowers the rate instead of stopping


def test_balanced_class_weight_equals_balanced_sample_weight(digits):
    from sklearn.utils.class_weight import compute_sample_weight

    X_train, X_test, y_train, _ = digits
    keep = (y_train < 5) | (np.arange(len(y_train)) % 5 == 0)  # rare classes 5-9
    X, y = X_train[keep], y_train[keep]
    balanced = MLPDigitClassifier(**SMALL, class_weight="balanced", random_state=0)
    weighted = MLPDigitClassifier(**SMALL, random_state=0)
    balanced.fit(X, y)
    weighted.fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    plain = MLPDigitClassifier(**SMALL, random_state=0).fit(X, y)
    np.testing.assert_array_equal(
        balanced.predict_proba(X_test), weighted.predict_proba(X_test)
    )
    assert not np.array_equal(
        balanced.predict_proba(X_test), plain.predict_proba(X_test)
    )


def test_adam_and_validation_settings_reach_the_training(digits):
    X_train, _, y_train, _ = digits
    seen = []
    clf = MLPDigitClassifier(
        **SMALL,
        beta_1=0.8,
        beta_2=0.99,
        epsilon=1e-6,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=100,
        random_state=0,
        callbacks=[lambda info: seen.append(info["n_samples"])],
    ).fit(X_train, y_train)
    for group in clf._optimizer.param_groups:  # weights and biases
        assert tuple(group["betas"]) == (0.8, 0.99) and group["eps"] == 1e-6
    n_val = int(np.ceil(0.25 * len(X_train)))
    assert seen == [len(X_train) - n_val] * SMALL["max_iter"]
    assert clf.t_ == SMALL["max_iter"] * (len(X_train) - n_val)
