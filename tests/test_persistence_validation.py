"""Secure model files: every value a file sets is checked before anything uses it.

Hostile files are written with skops directly (bypassing save_model), from
real fitted models whose attributes, or whose classifier's stored state, are
changed first. Each must be refused by load_model with a ValueError naming
the file and what is wrong; what loads must be safe for every public method.
"""

import copy
import time
import warnings

import numpy as np
import pytest
import skops.io
from sklearn.datasets import load_digits
from sklearn.pipeline import Pipeline, make_pipeline

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist._training.network import build_mlp, from_portable, to_portable
from skmnist.persistence import load_model, save_model

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def tiny(**params):
    defaults = dict(
        hidden_layer_sizes=(8,), max_iter=2, batch_size=64, random_state=0, device="cpu"
    )
    return MLPDigitClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:200].astype(np.float32), y[:200]


@pytest.fixture(scope="module")
def pipeline(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_pipeline(
            PixelScaler(max_value=16), tiny(keep_optimizer_state=True)
        ).fit(X, y)


def copy_of(estimator, **attributes):
    """A shallow copy of ``estimator`` with ``attributes`` set (or deleted: ...)."""
    duplicate = object.__new__(type(estimator))
    duplicate.__dict__.update(estimator.__dict__)
    for name, value in attributes.items():
        if value is ...:
            del duplicate.__dict__[name]
        else:
            duplicate.__dict__[name] = value
    return duplicate


def dump(model, tmp_path, monkeypatch=None, edit_state=None):
    """``model`` written by skops.io.dumps; ``edit_state`` edits the classifier's
    stored state (what __getstate__ gives skops) on the way."""
    if edit_state is not None:
        original = MLPDigitClassifier.__getstate__

        def edited(self):
            state = copy.deepcopy(original(self))  # the model's own values stay
            edit_state(state)
            return state

        monkeypatch.setattr(MLPDigitClassifier, "__getstate__", edited)
    path = tmp_path / "hostile.skmnist"
    path.write_bytes(skops.io.dumps(model))
    if edit_state is not None:
        monkeypatch.undo()
    return path


def refused(path, message):
    with pytest.raises(ValueError, match=r"hostile.skmnist' is not a valid") as info:
        load_model(path)
    assert info.match(message), str(info.value)


# --------------------------------------------------------------------------
# Parameters that name a folder, a cache or code
# --------------------------------------------------------------------------
def test_a_pipeline_memory_folder_is_refused(pipeline, tmp_path):
    # A refit would unpickle joblib's cache from that folder: code from it runs.
    hostile = copy_of(pipeline, memory=str(tmp_path / "cache"))
    refused(dump(hostile, tmp_path), r"parameter memory=.*names a cache folder")


def test_save_model_never_stores_a_memory_folder(digits, tmp_path):
    X, y = digits
    model = Pipeline([("mlp", tiny())], memory=str(tmp_path / "cache")).fit(X, y)
    with pytest.warns(UserWarning, match="memory=.*saved as memory=None"):
        save_model(model, tmp_path / "model.skmnist")
    assert load_model(tmp_path / "model.skmnist").memory is None
    assert model.memory == str(tmp_path / "cache")  # the model is unchanged


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"callbacks": []}, r"parameter callbacks=\[\] are code"),
        ({"max_iter": 2**70}, r"max_iter.* in the range \[1, 2147483647\]"),
        (
            {"class_weight": {0: float("nan")}},
            r"class_weight must map classes to finite, non-negative numbers, got nan",
        ),
        (
            {"class_weight": {0: -1.0}},
            r"class_weight must map classes to finite, non-negative numbers, got -1.0",
        ),
        (
            {"hidden_layer_sizes": (10**6, 10**6)},
            r"hidden_layer_sizes=\(1000000, 1000000\) contradicts its fitted network",
        ),
        ({"activation": "tanh"}, r"activation='tanh' contradicts"),
        ({"dropout": 0.5}, r"dropout=0.5 contradicts"),
        ({"device": "cuda:x"}, r"device='cuda:x' is not a device"),
        ({"learning_rate_init": True}, r"learning_rate_init=True is a boolean"),
    ],
    ids=lambda value: str(value)[:30],
)
def test_classifier_parameters_are_checked(pipeline, tmp_path, parameters, message):
    hostile = copy_of(pipeline[-1], **parameters)
    refused(dump(hostile, tmp_path), message)


@pytest.mark.parametrize(
    "attributes, message",
    [
        ({"transform_input": [1]}, r"transform_input is not a list of names"),
        ({"verbose": 2}, r"verbose"),
        ({"predict": 1}, r"holds the attributes \['predict'\]"),
        ({"_sklearn_output_config": {"transform": "os"}}, r"set_output"),
    ],
    ids=["transform_input", "verbose", "shadowing-attribute", "output-config"],
)
def test_pipeline_attributes_are_checked(pipeline, tmp_path, attributes, message):
    refused(dump(copy_of(pipeline, **attributes), tmp_path), message)


# --------------------------------------------------------------------------
# PixelScaler
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "attributes, message",
    [
        ({"scale_": 0.0}, r"scale_ = 0.0 is not a number above"),
        ({"scale_": 1e-300}, r"scale_ = 1e-300 is not a number above"),
        ({"data_max_": ...}, r"lacks the fitted attributes \['data_max_'\]"),
        ({"data_max_": float("inf")}, r"data_max_ = inf is not a finite number"),
        ({"data_max_": 255.0}, r"data_max_ = 255.0 contradicts the scaler's param"),
        ({"mean_": float("nan")}, r"mean_ = nan is not a finite number"),
        ({"mean_": "0"}, r"mean_ = '0' is not a finite number"),
        ({"mean_": 0.5}, r"mean_ = 0.5 contradicts the scaler's parameters"),
        ({"transform": 1}, r"holds the attributes \['transform'\]"),
        ({"n_features_in_": 63}, r"steps take different numbers of features"),
        ({"n_features_in_": True}, r"n_features_in_ = True is not an integer"),
        ({"_fit_problem": "evil"}, r"_fit_problem = 'evil' is not one of"),
        ({"max_value": float("inf")}, r"max_value"),
    ],
    ids=lambda value: str(value)[:25],
)
def test_the_scaler_is_checked(pipeline, tmp_path, attributes, message):
    hostile = copy_of(pipeline, steps=list(pipeline.steps))
    hostile.steps[0] = ("pixelscaler", copy_of(pipeline[0], **attributes))
    refused(dump(hostile, tmp_path), message)


def test_a_standardising_scaler_keeps_its_learned_statistics(digits, tmp_path):
    X, _ = digits
    for standardize in (True, "mnist"):
        scaler = PixelScaler(max_value="auto", standardize=standardize).fit(X)
        save_model(scaler, tmp_path / "scaler.skmnist")
        loaded = load_model(tmp_path / "scaler.skmnist")
        assert np.array_equal(loaded.transform(X), scaler.transform(X))


# --------------------------------------------------------------------------
# The classifier's fitted attributes
# --------------------------------------------------------------------------
def nan_weight(state):
    state["module_"]["state"]["0.weight"][0, 0] = np.nan


def float64_weights(state):
    weights = state["module_"]["state"]
    weights["0.weight"] = weights["0.weight"].astype(np.float64)


@pytest.mark.parametrize(
    "attributes, message",
    [
        (
            {"classes_": np.array([0, 0, 2, 3, 4, 5, 6, 7, 8, 9])},
            r"holds a class twice",
        ),
        ({"classes_": np.arange(10)[::-1].copy()}, r"is not sorted"),
        ({"classes_": np.array([0.0, np.nan, *range(2, 10)])}, r"NaN"),
        ({"classes_": np.zeros((10, 1))}, r"is not a 1-D array"),
        (
            {"classes_": np.arange(1, 11), "out_activation_": "logistic"},
            r"out_activation_ = 'logistic' contradicts classes_",
        ),
        ({"out_activation_": "relu"}, r"out_activation_ = 'relu' is not one of"),
        ({"n_outputs_": 9}, r"n_outputs_ = 9 contradicts"),
        ({"n_layers_": 5}, r"n_layers_ = 5 contradicts the network's 2 layers"),
        ({"n_iter_": -1}, r"n_iter_ = -1 is not an integer"),
        ({"t_": "600"}, r"t_ = '600' is not an integer"),
        ({"loss_curve_": [float("nan")]}, r"loss_curve_ = \[nan\] \[0\] is not a fin"),
        ({"loss_curve_": (1.0, 2.0)}, r"loss_curve_ = \(1.0, 2.0\) is not a list"),
        ({"best_loss_": -float("inf")}, r"best_loss_ = -inf is not a finite number"),
        ({"best_loss_": float("nan")}, r"best_loss_ = nan is not a finite number"),
        ({"best_loss_": None}, r"validation_scores_ = None and best_loss_ are both"),
        ({"_learning_rate": -1.0}, r"_learning_rate = -1.0 is not a number above"),
        ({"_no_improvement_count": 0.5}, r"_no_improvement_count = 0.5 is not an"),
        ({"precision_": "float64"}, r"precision_ = 'float64' contradicts the dtype"),
        ({"precision_": "int8"}, r"precision_ = 'int8' is not one of"),
        ({"loss_": float("nan")}, r"loss_ = nan is not a finite number"),
        ({"_device_param": "tpu"}, r"_device_param = 'tpu' is not a device name"),
        ({"_rng": 5}, r"_rng = 5 is not a RandomState"),
        ({"n_features_in_": 64.0}, r"n_features_in_ = 64.0 is not an integer"),
        (
            {"feature_names_in_": np.array(["a"] * 64, dtype=object)},
            r"feature_names_in_ = .* holds a name twice",
        ),
        (
            {"feature_names_in_": np.array(["a", "b"], dtype=object)},
            r"feature_names_in_ = .* is not an object array of 64 strings",
        ),
    ],
    ids=lambda value: str(value)[:30],
)
def test_classifier_attributes_are_checked(pipeline, tmp_path, attributes, message):
    refused(dump(copy_of(pipeline[-1], **attributes), tmp_path), message)


@pytest.mark.parametrize(
    "edit, message",
    [
        (nan_weight, r"module_ = .* holds NaN or infinite weights"),
        (float64_weights, r"weights \['0.weight'\] are not of the network's dtype"),
        (
            lambda s: s["_architecture"].update(hidden_layer_sizes=[9]),
            r"_architecture = .* contradicts the network",
        ),
        (
            lambda s: s["_architecture"].update(activation="tanh"),
            r"_architecture = .* contradicts the network",
        ),
        (
            lambda s: s["_architecture"].pop("dropout"),
            r"_architecture = .* is not a description of a network",
        ),
        (
            lambda s: s["module_"].update(extra=1),
            r"network's description is not one skmnist writes: its keys",
        ),
        (
            lambda s: s["module_"]["state"].update({"9.weight": np.zeros(1)}),
            r"stored weights \(5 arrays\) do not match",
        ),
    ],
    ids=["nan", "dtype", "sizes", "activation", "keys", "module-keys", "extra-array"],
)
def test_the_stored_network_is_checked(pipeline, tmp_path, monkeypatch, edit, message):
    refused(dump(pipeline[-1], tmp_path, monkeypatch, edit), message)


def test_a_network_of_many_layers_is_refused_before_it_is_laid_out():
    arch = {"n_features": 4, "hidden_layer_sizes": [3], "n_outputs": 2}
    portable = to_portable(build_mlp(**arch), arch)
    portable["architecture"] = {**arch, "hidden_layer_sizes": [1] * 100_000}
    start = time.perf_counter()
    with pytest.raises(
        ValueError,
        match=r"\(4 arrays\) do not match the stored architecture \(100000 hidden",
    ):
        from_portable(portable, "cpu")
    assert time.perf_counter() - start < 2  # laid out: minutes (232 s measured)


# --------------------------------------------------------------------------
# The optimizer state (keep_optimizer_state=True)
# --------------------------------------------------------------------------
def moments(edit):
    return lambda state: edit(state["_optimizer"]["state"])


@pytest.mark.parametrize(
    "edit, message",
    [
        (  # partial_fit wrote past the moment's buffer: the process crashed
            moments(lambda s: s[0].update(exp_avg=np.zeros((2, 2), np.float32))),
            r"exp_avg of parameter 0 is not a finite array of shape \(8, 64\)",
        ),
        (
            moments(lambda s: s[1].update(exp_avg=s[1]["exp_avg"].astype(np.float64))),
            r"exp_avg of parameter 1 is not .* dtype float32",
        ),
        (
            moments(lambda s: s[2]["exp_avg"].__setitem__(0, np.inf)),
            r"exp_avg of parameter 2 is not a finite array",
        ),
        (
            moments(lambda s: s[3]["exp_avg_sq"].__setitem__(0, -1.0)),
            r"exp_avg_sq of parameter 3 is not .* non-negative",
        ),
        (
            moments(lambda s: s[0].update(step=np.float32(0.0).reshape(()))),
            r"step of parameter 0 is not a whole number of steps",
        ),
        (
            moments(lambda s: s[0].update(step=np.array(1.5, np.float32))),
            r"step of parameter 0 is not a whole number",
        ),
        (
            moments(lambda s: s[0].update(step=np.array([3.0], np.float32))),
            r"step of parameter 0 is not a whole number",
        ),
        (moments(lambda s: s.pop(3)), r"no entry for parameters \[3\]"),
        (
            moments(lambda s: s.update({4: s[3]})),
            r"has parameters \[4\], which the network lacks",
        ),
        (moments(lambda s: s.update({"0": s.pop(0)})), r"not indexed by parameter"),
        (moments(lambda s: s[0].update(evil=np.zeros(1))), r"does not hold"),
        (
            lambda state: state["_optimizer"].update(solver="sgd", state={}),
            r"_optimizer = SGD .* is the state of another solver than solver='adam'",
        ),
        (
            lambda state: state["_optimizer"].update(solver="lbfgs"),
            r"optimizer state is not one skmnist writes",
        ),
        (
            lambda state: state.update(_optimizer=[1]),
            r"stored optimizer state is a list",
        ),
        (
            lambda state: state.update(keep_optimizer_state=False),
            r"_optimizer = .* is kept although keep_optimizer_state is not True",
        ),
    ],
    ids=[
        "shape",
        "dtype",
        "infinite",
        "negative",
        "step-0",
        "step-1.5",
        "step-shape",
        "missing",
        "extra",
        "key-type",
        "extra-key",
        "solver",
        "unknown-solver",
        "not-a-dict",
        "not-kept",
    ],
)
def test_the_optimizer_state_is_checked(pipeline, tmp_path, monkeypatch, edit, message):
    refused(dump(pipeline[-1], tmp_path, monkeypatch, edit), message)


# --------------------------------------------------------------------------
# What loads is safe for every public method
# --------------------------------------------------------------------------
def exercise(model, X, y, tmp_path):
    """Every public method of a loaded model: no error, consistent results."""
    proba = model.predict_proba(X)
    assert proba.shape[0] == len(X) and np.isfinite(proba).all()
    assert model.predict(X).shape[0] == len(X)
    assert 0.0 <= model.score(X, y) <= 1.0
    clf = model[-1] if isinstance(model, Pipeline) else model
    Xc = model[:-1].transform(X) if isinstance(model, Pipeline) else X
    if clf.solver != "lbfgs" and not clf.early_stopping:  # else not available
        clf.partial_fit(Xc, y)
    clf.set_params(warm_start=True, max_iter=1).fit(Xc, y)
    model.fit(X, y)
    save_model(model, tmp_path / "again.skmnist")
    load_model(tmp_path / "again.skmnist").predict(X)


@pytest.mark.parametrize(
    "make, labels",
    [
        (lambda: make_pipeline(PixelScaler(max_value=16), tiny()), lambda y: y),
        (lambda: tiny(keep_optimizer_state=True, solver="adamw"), lambda y: y),
        (lambda: tiny(keep_optimizer_state=True, solver="sgd", momentum=0), None),
        (lambda: tiny(keep_optimizer_state=True, solver="sgd"), None),
        (lambda: tiny(), lambda y: np.array(list("abcdefghij"))[y]),
        (lambda: tiny(), lambda y: np.stack([y % 2, y > 4, y == 0], axis=1)),
        (lambda: tiny(dropout=0.2, activation="tanh"), None),
        (lambda: tiny(hidden_layer_sizes=()), None),
        (lambda: tiny(solver="lbfgs"), None),
        (lambda: tiny(early_stopping=True, max_iter=3), None),
    ],
    ids=[
        "pipeline",
        "adamw",
        "sgd-no-momentum",
        "sgd",
        "strings",
        "multilabel",
        "dropout",
        "linear",
        "lbfgs",
        "early-stopping",
    ],
)
def test_what_loads_works_with_every_method(digits, tmp_path, make, labels):
    X, y = digits
    y = y if labels is None else labels(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make().fit(X, y)
        save_model(model, tmp_path / "model.skmnist")
        exercise(load_model(tmp_path / "model.skmnist"), X, y, tmp_path)


def test_a_model_of_one_class_loads_and_predicts(digits, tmp_path):
    X, _ = digits
    y = np.full(len(X), 7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_pipeline(PixelScaler(max_value=16), tiny()).fit(X, y)
    save_model(model, tmp_path / "one.skmnist")
    loaded = load_model(tmp_path / "one.skmnist")
    assert loaded[-1].classes_.tolist() == [7]
    assert np.array_equal(loaded.predict(X), model.predict(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exercise(loaded, X, y, tmp_path)


def test_a_float64_model_with_its_optimizer_state_loads(digits, tmp_path):
    X, y = digits
    X = X.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tiny(keep_optimizer_state=True).fit(X, y)
        save_model(model, tmp_path / "model.skmnist")
        loaded = load_model(tmp_path / "model.skmnist")
        assert loaded.precision_ == "float64"
        loaded.partial_fit(X, y)
        model.partial_fit(X, y)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_a_model_whose_first_epoch_diverged_loads(digits, tmp_path):
    # No epoch kept: loss_curve_ is empty, best_loss_ infinite, the optimizer
    # state empty; save_model writes such a model, so load_model reads it.
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tiny(alpha=1e308, keep_optimizer_state=True).fit(X, y)
        assert model.loss_curve_ == [] and model.best_loss_ == np.inf
        save_model(model, tmp_path / "model.skmnist")
        loaded = load_model(tmp_path / "model.skmnist")
        assert np.array_equal(loaded.predict(X), model.predict(X))
        # A fitted model whose next epoch diverges: its final loss is infinite.
        model = tiny().fit(X, y).set_params(alpha=1e308).partial_fit(X, y)
        assert model.loss_ == np.inf
        save_model(model, tmp_path / "model.skmnist")
        loaded = load_model(tmp_path / "model.skmnist")
    assert np.array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("name", ["beta_1", "beta_2", "momentum"])
def test_integer_hyperparameters_train(digits, tmp_path, name):
    # A file (or a user) may give 0 where torch wants a float: torch refused
    # betas of mixed types ("betas must be either both floats or both Tensors").
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solver = "sgd" if name == "momentum" else "adam"
        model = tiny(solver=solver, **{name: 0}).fit(X, y)
        save_model(model, tmp_path / "model.skmnist")
        load_model(tmp_path / "model.skmnist").partial_fit(X, y)
    assert len(model.loss_curve_) == 2
