"""The one description of the classifier's fitted state (skmnist._fitted_state):
what every way of fitting sets, reading the history back, pickles of older
versions, and secure files that hold every described attribute exactly."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits

from skmnist import MLPDigitClassifier
from skmnist._fitted_state import FITTED, PARAMETERS_ADDED, assign
from skmnist.model_selection import fit_many
from skmnist.persistence import load_model, save_model

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

PARAMETERS = set(MLPDigitClassifier().get_params())
DESCRIBED = {attribute.name for attribute in FITTED}


def tiny(**params):
    defaults = dict(hidden_layer_sizes=(8,), max_iter=2, batch_size=64, random_state=0)
    return MLPDigitClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300].astype(np.float32) / 16, y[:300]


def fitted_attributes(clf):
    return set(vars(clf)) - PARAMETERS


def _fit(X, y):
    return tiny().fit(X, y)


def _partial_fit(X, y):
    return tiny().partial_fit(X, y, classes=np.arange(10))


def _partial_fit_twice(X, y):
    return _partial_fit(X, y).partial_fit(X, y)


def _warm_start(X, y):
    return tiny(warm_start=True).fit(X, y).fit(X, y)


def _early_stopping(X, y):
    return tiny(early_stopping=True, max_iter=3).fit(X, y)


def _early_stopping_then_partial_fit(X, y):
    clf = _early_stopping(X, y).set_params(early_stopping=False)
    return clf.partial_fit(X, y)


def _lbfgs(X, y):
    return tiny(solver="lbfgs", max_iter=3).fit(X, y)


def _multilabel(X, y):
    return tiny().fit(X, np.c_[y > 4, y % 2 == 0])


def _fit_many(X, y):
    return fit_many([tiny(), tiny(random_state=1)], [(X, y), (X, y)])[1]


WAYS = [
    _fit,
    _partial_fit,
    _partial_fit_twice,
    _warm_start,
    _early_stopping,
    _early_stopping_then_partial_fit,
    _lbfgs,
    _multilabel,
    _fit_many,
]


@pytest.mark.parametrize("way", WAYS, ids=lambda way: way.__name__.lstrip("_"))
def test_a_fit_sets_exactly_the_described_attributes(digits, way):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        clf = way(X, y)
    assert fitted_attributes(clf) == DESCRIBED - {"feature_names_in_"}
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = way(frame, y)
    assert fitted_attributes(clf) == DESCRIBED


def test_the_description_is_consistent():
    assert len(DESCRIBED) == len(FITTED)  # each attribute once
    documented = MLPDigitClassifier.__doc__.split("Attributes\n")[1]
    documented = documented.split("See Also\n")[0]
    for attribute in FITTED:
        assert attribute.public != attribute.name.startswith("_"), attribute.name
        assert (f"    {attribute.name} :" in documented) == attribute.public
    assert not PARAMETERS & DESCRIBED
    assert set(PARAMETERS_ADDED) <= PARAMETERS


def test_a_fit_cannot_set_other_attributes_than_the_described_ones(digits):
    X, y = digits
    clf = tiny().fit(X, y)
    values = {"_architecture": {}, "_device_param": "cpu", "n_iter_": 1}
    values["out_activation_"], values["loss_"] = "softmax", 0.5
    values["precision_"] = "float32"
    before = dict(vars(clf))
    with pytest.raises(RuntimeError, match="'finish' step sets"):
        assign(clf, "finish", {**values, "undescribed_": 1})
    with pytest.raises(RuntimeError, match="'finish' step sets"):
        assign(clf, "finish", {k: v for k, v in values.items() if k != "loss_"})
    assert vars(clf).keys() == before.keys()
    assign(clf, "finish", values)
    assert clf.loss_ == 0.5


@pytest.mark.parametrize("early_stopping", [False, True])
def test_the_stored_history_reads_back_as_it_was_stored(digits, early_stopping):
    X, y = digits
    clf = tiny(early_stopping=early_stopping, max_iter=3).fit(X, y)
    before = {name: getattr(clf, name) for name in DESCRIBED - {"feature_names_in_"}}
    state = clf._training_state()
    assert state.n_iter == len(clf.loss_curve_)
    clf._store(
        clf.module_,
        clf._optimizer,
        state,
        clf.classes_,
        clf.module_[0].weight.device,
        early_stopping,
    )
    for name, value in before.items():
        assert_same_value(getattr(clf, name), value, name)
    n_epochs = len(clf.loss_curve_)
    clf._training_state().loss_curve.append(1.0)  # copies: training on from it
    assert len(clf.loss_curve_) == n_epochs  # leaves the fitted model as it is


def assert_same_value(got, expected, name):
    if isinstance(expected, torch.nn.Module):
        assert str(got) == str(expected), name
        got, expected = got.state_dict(), expected.state_dict()
        assert got.keys() == expected.keys(), name
        for key, value in expected.items():
            assert got[key].dtype == value.dtype and torch.equal(got[key], value), name
    elif isinstance(expected, torch.optim.Optimizer):  # its state: moments, steps
        assert type(got) is type(expected), name  # (its settings: the parameters')
        got, expected = got.state_dict(), expected.state_dict()
        assert got["state"].keys() == expected["state"].keys(), name
        for index, entries in expected["state"].items():
            for key, value in entries.items():
                assert torch.equal(got["state"][index][key], value), (name, key)
    elif isinstance(expected, np.random.RandomState):
        for a, b in zip(got.get_state(), expected.get_state(), strict=True):
            assert np.array_equal(a, b), name
    elif isinstance(expected, np.ndarray):
        assert got.dtype == expected.dtype and np.array_equal(got, expected), name
    else:
        assert type(got) is type(expected) and got == expected, name


def test_files_hold_every_described_attribute_exactly(digits, tmp_path):
    X, y = digits
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    clf = tiny(keep_optimizer_state=True, device=torch.device("cpu"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        clf.fit(frame, y)
    assert isinstance(clf._device_param, torch.device)
    save_model(clf, tmp_path / "model.skmnist")  # a torch.device is stored as str
    secure = load_model(tmp_path / "model.skmnist")
    unpickled = pickle.loads(pickle.dumps(clf))
    for loaded, device_param in [(secure, "cpu"), (unpickled, clf._device_param)]:
        assert fitted_attributes(loaded) == DESCRIBED
        for name in DESCRIBED - {"_device_param"}:
            assert_same_value(getattr(loaded, name), getattr(clf, name), name)
        assert_same_value(loaded._device_param, device_param, "_device_param")
        loaded.partial_fit(frame, y)  # on the device it was fitted on
        assert loaded.device_ == "cpu"


def test_pickles_of_older_versions_load_with_the_described_defaults(digits):
    X, y = digits
    clf = tiny(device="cpu").fit(X, y)
    state = clf.__getstate__()
    # A file from before loss_, _device_param and max_fun existed.
    for name in ("loss_", "_device_param", "max_fun"):
        del state[name]
    old = MLPDigitClassifier.__new__(MLPDigitClassifier)
    old.__setstate__(state)
    assert old.loss_ is None and old._device_param == "cpu"
    assert old.get_params() == clf.get_params()  # max_fun: its default
    np.testing.assert_array_equal(old.predict_proba(X), clf.predict_proba(X))
    old.partial_fit(X, y)
    again = pickle.loads(pickle.dumps(old))
    np.testing.assert_array_equal(again.predict_proba(X), old.predict_proba(X))


def test_every_described_default_is_given(digits):
    X, y = digits
    clf = tiny(device="cpu").fit(X, y)
    state = clf.__getstate__()
    newer = [a for a in FITTED if a.older is not None]
    assert newer  # else this test checks nothing
    for attribute in newer:
        del state[attribute.name]
    for name in PARAMETERS_ADDED:
        del state[name]
    old = MLPDigitClassifier.__new__(MLPDigitClassifier)
    old.__setstate__(dict(state))
    assert fitted_attributes(old) == DESCRIBED - {"feature_names_in_", "_optimizer"}
    for attribute in newer:
        assert getattr(old, attribute.name) == attribute.older(state)
    assert old.get_params() == clf.get_params()


def test_a_fitted_pickle_without_a_described_attribute_is_refused(digits):
    X, y = digits
    state = tiny().fit(X, y).__getstate__()
    del state["t_"]
    with pytest.raises(ValueError, match=r"lacks the fitted attributes \['t_'\]"):
        MLPDigitClassifier.__new__(MLPDigitClassifier).__setstate__(state)


@pytest.mark.parametrize(
    "dtype, expected", [(np.float64, "float64"), (np.float32, None)]
)
def test_files_from_before_precision_were_recorded(digits, dtype, expected):
    X, y = digits
    clf = tiny().fit(X.astype(dtype), y)
    state = clf.__getstate__()
    del state["precision_"]
    older = MLPDigitClassifier.__new__(MLPDigitClassifier)
    older.__setstate__(state)
    assert older.precision_ == expected
