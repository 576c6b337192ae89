"""Batched fitting of many models (fit_many, BatchedGridSearchCV)."""

import warnings

import numpy as np
import pytest
import torch
from _versions import requires
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.datasets import load_mnist
from skmnist.model_selection import BatchedGridSearchCV, fit_many

# These tests fit a few epochs on purpose, short of convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

BASE = {
    "hidden_layer_sizes": (32, 16),
    "max_iter": 4,
    "batch_size": 100,
    "random_state": 1,
    "device": "cpu",
    # Bit-for-bit equality with GridSearchCV's fits needs a fixed thread
    # count: torch's float32 products round differently on 1 and 2 threads.
    "n_jobs": 1,
}


@pytest.fixture(scope="module")
def data():
    """1200 real MNIST images in float64 (float64 input trains in float64)."""
    X, y = load_mnist(source="sample", return_X_y=True)
    return X[:1200] / 255.0, y[:1200]


def _fit_quietly(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of some schedules
        return fit()


def assert_same_fit(batched, alone, X):
    np.testing.assert_allclose(
        batched.predict_proba(X), alone.predict_proba(X), rtol=0, atol=1e-12
    )
    for a, b in zip(batched.coefs_, alone.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(batched.loss_curve_, alone.loss_curve_, rtol=1e-12)
    assert (batched.n_iter_, batched.t_) == (alone.n_iter_, alone.t_)
    if alone.best_loss_ is None:  # early stopping
        assert batched.best_loss_ is None
    else:
        assert batched.best_loss_ == pytest.approx(alone.best_loss_, rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"learning_rate_init": 3e-3, "alpha": 1e-2},
        {"solver": "adamw", "alpha": 0.05, "beta_2": 0.99},
        {"solver": "sgd", "learning_rate_init": 0.05},
        {"solver": "sgd", "momentum": 0.0, "learning_rate": "invscaling"},
        {"solver": "sgd", "nesterovs_momentum": False, "learning_rate": "constant"},
        {"label_smoothing": 0.1, "learning_rate": "constant"},
        {"learning_rate": "adaptive", "tol": 10.0, "n_iter_no_change": 1},
        {"learning_rate": "constant", "tol": 10.0, "n_iter_no_change": 1},
        {"class_weight": {0: 3.0, 7: 0.5}},
        {"shuffle": False},
        {"activation": "tanh", "hidden_layer_sizes": ()},
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults",
)
def test_each_batched_model_matches_its_single_fit(data, params):
    X, y = data
    # Folds of different sizes: 10, 9 and 8 minibatches per epoch.
    datasets = [(X[:1000], y[:1000]), (X[300:1150], y[300:1150]), (X[:790], y[:790])]
    settings = {**BASE, **params}
    batched = [MLPDigitClassifier(**settings) for _ in datasets]
    _fit_quietly(lambda: fit_many(batched, datasets))
    alone = [
        _fit_quietly(lambda d=d: MLPDigitClassifier(**settings).fit(*d))
        for d in datasets
    ]
    for b, a in zip(batched, alone, strict=True):
        assert_same_fit(b, a, X)
    # The optimizer state carries over: training goes on identically.
    for model in batched + alone:
        _fit_quietly(lambda m=model: m.partial_fit(X[:300], y[:300]))
    for b, a in zip(batched, alone, strict=True):
        assert_same_fit(b, a, X)


@pytest.mark.slow
def test_models_with_different_settings_share_one_batch(data, monkeypatch):
    from skmnist import _fit_many

    calls = []
    original = _fit_many.train
    monkeypatch.setattr(
        _fit_many, "train", lambda jobs: calls.append(len(jobs)) or original(jobs)
    )
    X, y = data
    grid = [
        {"learning_rate_init": 1e-3, "random_state": 0},
        {"learning_rate_init": 1e-2, "alpha": 0.1, "random_state": 1},
        {"learning_rate": "constant", "label_smoothing": 0.2, "random_state": 2},
        {"hidden_layer_sizes": (16,)},  # another shape: another batch
    ]
    models = [MLPDigitClassifier(**{**BASE, **g}) for g in grid]
    _fit_quietly(lambda: fit_many(models, [(X, y)] * 4))
    assert sorted(calls) == [1, 3]
    calls.clear()
    _fit_quietly(
        lambda: fit_many([clone(m) for m in models[:3]], [(X, y)] * 3, max_models=2)
    )
    assert calls == [2, 1]


@pytest.fixture
def stack_sizes(monkeypatch):
    """The number of models of each call into the engine from fit_many."""
    from skmnist import _fit_many

    sizes = []
    original = _fit_many.train
    monkeypatch.setattr(
        _fit_many, "train", lambda jobs: sizes.append(len(jobs)) or original(jobs)
    )
    return sizes


@pytest.mark.slow
@pytest.mark.parametrize(
    "params",
    [
        {"early_stopping": True, "n_iter_no_change": 1, "tol": 0.01, "max_iter": 6},
        {
            "early_stopping": True,
            "validation_fraction": 0.2,
            "class_weight": "balanced",
        },
        {"augment": True},
        {"augment": True, "early_stopping": True, "max_iter": 3},
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()),
)
def test_every_training_feature_trains_in_one_stack(data, stack_sizes, params):
    """Early stopping, augment and class weights train together, each model
    ending as it would alone (same validation scores, weights, history)."""
    X, y = data
    datasets = [(X[:1000], y[:1000]), (X[300:1150], y[300:1150]), (X[:790], y[:790])]
    settings = {**BASE, **params}
    batched = [MLPDigitClassifier(**settings) for _ in datasets]
    _fit_quietly(lambda: fit_many(batched, datasets))
    assert stack_sizes == [3]
    for model, dataset in zip(batched, datasets, strict=True):
        alone = _fit_quietly(lambda d=dataset: MLPDigitClassifier(**settings).fit(*d))
        assert_same_fit(model, alone, X)
        assert model.validation_scores_ == alone.validation_scores_
        assert model.best_validation_score_ == alone.best_validation_score_


@pytest.mark.slow
def test_each_models_callbacks_see_its_own_epochs(data, stack_sizes):
    X, y = data

    def models(logs):
        # Different tolerances: the models stop after different epochs.
        return [
            MLPDigitClassifier(
                **{**BASE, "max_iter": 8},
                learning_rate="constant",
                tol=tol,
                n_iter_no_change=1,
                callbacks=[lambda info, log=log: log.append(dict(info))],
            )
            for tol, log in zip((0.5, 0.05, 0.0), logs, strict=True)
        ]

    batched_logs, alone_logs = [[], [], []], [[], [], []]
    _fit_quietly(lambda: fit_many(models(batched_logs), [(X, y)] * 3))
    assert stack_sizes == [3]
    for model in models(alone_logs):
        _fit_quietly(lambda m=model: m.fit(X, y))
    lengths = [len(log) for log in batched_logs]
    assert lengths == [len(log) for log in alone_logs]
    assert len(set(lengths)) > 1, lengths  # they did stop at different epochs
    for batched, alone in zip(batched_logs, alone_logs, strict=True):
        assert [i["epoch"] for i in batched] == list(range(1, len(batched) + 1))
        for got, want in zip(batched, alone, strict=True):
            assert got["loss"] == pytest.approx(want["loss"], rel=1e-12)
            assert got["learning_rate"] == want["learning_rate"]
            assert got["n_samples"] == want["n_samples"]


def test_callbacks_stop_one_model_of_a_stack(data, stack_sizes):
    X, y = data
    settings = {**BASE, "max_iter": 5, "learning_rate": "constant"}
    stop_at_2 = [lambda info: info["epoch"] == 2]
    batched = [MLPDigitClassifier(**settings), MLPDigitClassifier(**settings)]
    batched[0].set_params(callbacks=stop_at_2)
    _fit_quietly(lambda: fit_many(batched, [(X, y)] * 2))
    assert stack_sizes == [2]
    assert [m.n_iter_ for m in batched] == [2, 5]
    alone = MLPDigitClassifier(**settings, callbacks=stop_at_2).fit(X, y)
    assert_same_fit(batched[0], alone, X)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_warm_starts_train_in_one_stack(data, stack_sizes, solver):
    """A warm fit continues each network and its optimizer state, together."""
    X, y = data
    settings = {**BASE, "solver": solver, "warm_start": True, "max_iter": 2}
    datasets = [(X[:1000], y[:1000]), (X[200:1100], y[200:1100])]
    batched = [MLPDigitClassifier(**settings) for _ in datasets]
    alone = [MLPDigitClassifier(**settings) for _ in datasets]
    for model, dataset in zip(batched + alone, datasets * 2, strict=True):
        _fit_quietly(lambda m=model, d=dataset: m.fit(*d))  # the first fit, alone
    for model in batched + alone:
        model.set_params(learning_rate_init=3e-3)
    _fit_quietly(lambda: fit_many(batched, datasets))
    assert stack_sizes == [2]
    for model, dataset in zip(alone, datasets, strict=True):
        _fit_quietly(lambda m=model, d=dataset: m.fit(*d))
    for b, a in zip(batched, alone, strict=True):
        assert len(b.loss_curve_) == 4
        assert_same_fit(b, a, X)


@pytest.mark.slow
def test_dropout_models_train(data):
    """Dropout masks are drawn for the batch, so these models are not the single
    fits' twins, but they train as well."""
    X, y = data
    settings = {**BASE, "learning_rate_init": 1e-2, "max_iter": 6}
    models = [MLPDigitClassifier(**settings, dropout=p) for p in (0.0, 0.2, 0.5)]
    fit_many(models, [(X[:1000], y[:1000])] * 3)
    for model in models:
        alone = clone(model).fit(X[:1000], y[:1000])
        assert model.score(X[1000:], y[1000:]) > 0.6
        assert (
            abs(model.score(X[1000:], y[1000:]) - alone.score(X[1000:], y[1000:]))
            < 0.08
        )
        assert model.loss_curve_[-1] < 0.8 * model.loss_curve_[0]


def test_a_failure_leaves_every_estimator_as_it_was(data):
    X, y = data
    models = [MLPDigitClassifier(**BASE) for _ in range(2)]
    with pytest.raises(ValueError, match="Unknown label type"):  # continuous y
        fit_many(models, [(X, y), (X[:10], np.linspace(0, 1, 10))])
    for model in models:
        assert not hasattr(model, "n_features_in_") and not hasattr(model, "_rng")
        with pytest.raises(NotFittedError):
            model.predict(X)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (([MLPDigitClassifier()], []), {}, ValueError, "1 estimators but 0 datasets"),
        (([LogisticRegression()], [(1, 2)]), {}, TypeError, "LogisticRegression"),
        (
            ([MLPDigitClassifier()], [(1, 2)]),
            {"max_models": 0},
            ValueError,
            "max_models",
        ),
    ],
)
def test_fit_many_rejects_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fit_many(*args, **kwargs)


def _compare_searches(grid_search, batched_search):
    for key in ["params", "rank_test_score"]:
        assert list(grid_search.cv_results_[key]) == list(
            batched_search.cv_results_[key]
        )
    for key in grid_search.cv_results_:
        if key.startswith("split") or key in ("mean_test_score", "std_test_score"):
            np.testing.assert_allclose(
                batched_search.cv_results_[key],
                grid_search.cv_results_[key],
                atol=1e-12,
            )
        if key.startswith("param_"):
            assert list(batched_search.cv_results_[key]) == list(
                grid_search.cv_results_[key]
            )
    assert batched_search.best_params_ == grid_search.best_params_
    assert batched_search.best_index_ == grid_search.best_index_


@pytest.mark.slow
def test_search_equals_gridsearchcv(data):
    X, y = data
    estimator = MLPDigitClassifier(**BASE)
    grid = [
        {"learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1e-1]},
        {"solver": ["sgd"], "learning_rate_init": [0.05]},
    ]
    expected = _fit_quietly(lambda: GridSearchCV(estimator, grid, cv=3).fit(X, y))
    search = _fit_quietly(lambda: BatchedGridSearchCV(estimator, grid, cv=3).fit(X, y))
    _compare_searches(expected, search)
    assert search.n_splits_ == 3
    assert search.cv_results_["mean_fit_time"].shape == (5,)
    np.testing.assert_array_equal(search.predict(X), expected.predict(X))
    np.testing.assert_array_equal(search.predict_proba(X), expected.predict_proba(X))
    assert search.score(X, y) == expected.score(X, y)
    np.testing.assert_array_equal(search.classes_, np.arange(10))


@pytest.mark.slow
def test_search_over_pipeline_steps_and_scoring(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), MLPDigitClassifier(**BASE))
    grid = {
        "standardscaler__with_std": [True, False],
        "mlpdigitclassifier__alpha": [1e-4, 1e-2],
    }
    cv = KFold(3, shuffle=True, random_state=0)
    kwargs = {"cv": cv, "scoring": "neg_log_loss", "refit": False}
    expected = GridSearchCV(pipe, grid, **kwargs).fit(X, y)
    search = BatchedGridSearchCV(pipe, grid, **kwargs).fit(X, y)
    _compare_searches(expected, search)
    assert not hasattr(search, "best_estimator_")
    assert not hasattr(search, "predict")


@pytest.mark.slow
def test_search_on_the_usual_float32_pipeline(data):
    """PixelScaler gives float32: scores agree up to float32 rounding."""
    X, y = data
    pipe = make_pipeline(PixelScaler(max_value=1.0), MLPDigitClassifier(**BASE))
    grid = {"mlpdigitclassifier__learning_rate_init": [1e-3, 3e-3]}
    expected = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    search = BatchedGridSearchCV(pipe, grid, cv=3).fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        expected.cv_results_["mean_test_score"],
        atol=0.01,
    )


def test_search_rejects_other_estimators(data):
    with pytest.raises(ValueError, match="MLPDigitClassifier or a pipeline"):
        BatchedGridSearchCV(LogisticRegression(), {"C": [1.0]}).fit(*data)
    with pytest.raises(ValueError, match="no candidates"):
        BatchedGridSearchCV(MLPDigitClassifier(), []).fit(*data)


def test_sgd_momentum_settings_in_one_batch(data):
    """Nesterov applies only to the models that have momentum and ask for it."""
    X, y = data
    grid = [
        {"momentum": 0.0, "nesterovs_momentum": True},
        {"momentum": 0.9, "nesterovs_momentum": False},
    ]
    settings = [
        {**BASE, "solver": "sgd", "learning_rate_init": 0.05, **g} for g in grid
    ]
    batched = fit_many([MLPDigitClassifier(**s) for s in settings], [(X, y)] * 2)
    for model, s in zip(batched, settings, strict=True):
        assert_same_fit(model, MLPDigitClassifier(**s).fit(X, y), X)


def test_dropout_batches_are_reproducible_and_leave_torch_alone(data):
    X, y = data
    settings = {**BASE, "dropout": 0.3}
    fits = []
    for torch_seed in (0, 1):
        torch.manual_seed(torch_seed)
        state = torch.get_rng_state()
        models = [MLPDigitClassifier(**{**settings, "random_state": s}) for s in (0, 1)]
        fit_many(models, [(X, y)] * 2)
        assert torch.equal(torch.get_rng_state(), state)
        fits.append([m.predict_proba(X) for m in models])
    for a, b in zip(*fits, strict=True):
        np.testing.assert_array_equal(a, b)


def test_dropout_keeps_its_rate_when_autocast_makes_activations_bfloat16():
    """Under bf16 autocast (on the GPU; the CPU's autocast stands in here) the
    activations are bfloat16, but the dropout noise is drawn in float32: noise
    on bfloat16's coarse grid keeps about 70.3 % of the units at dropout 0.3."""
    from torch import nn

    from skmnist._training.stacked import StackedMLP

    width, rows = 256, 8192
    modules = []
    for _ in range(2):
        net = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, width))
        with torch.no_grad():  # every hidden unit outputs 1; the last layer copies
            net[0].weight.zero_()
            net[0].bias.fill_(1.0)
            net[2].weight.copy_(torch.eye(width))
            net[2].bias.zero_()
        modules.append(net)
    dropout = torch.tensor([0.3, 0.3])
    stacked = StackedMLP(modules, dropout, torch.Generator().manual_seed(0))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = stacked(torch.zeros(2, rows, 4))
    assert out.dtype == torch.bfloat16  # the case under test
    kept = (out != 0).float().mean(dim=(1, 2))
    # Binomial standard error over 2.1 M units: 0.0003 per model.
    np.testing.assert_allclose(kept, 0.7, atol=0.0015)
    # The kept units are scaled by 1 / keep.
    np.testing.assert_allclose(out[out != 0].float(), 1 / 0.7, rtol=1e-2)


def test_shared_integer_images_are_converted_once(data, monkeypatch):
    from skmnist import _fit_many

    seen = []
    original = _fit_many.train
    monkeypatch.setattr(
        _fit_many,
        "train",
        lambda jobs: seen.extend(j.X for j in jobs) or original(jobs),
    )
    X = (data[0] * 255).astype(np.uint8)
    fit_many([MLPDigitClassifier(**BASE) for _ in range(3)], [(X, data[1])] * 3)
    assert len(seen) == 3 and seen[0] is seen[1] is seen[2]
    assert seen[0].dtype == np.float32


def test_search_with_sample_weight_equals_gridsearchcv(data):
    X, y = data
    weight = np.random.default_rng(0).integers(0, 3, len(y)).astype(float)
    grid = {"alpha": [1e-4, 1e-1]}
    estimator = MLPDigitClassifier(**BASE)
    expected = GridSearchCV(estimator, grid, cv=3).fit(X, y, sample_weight=weight)
    search = BatchedGridSearchCV(estimator, grid, cv=3).fit(X, y, sample_weight=weight)
    _compare_searches(expected, search)
    np.testing.assert_allclose(
        search.predict_proba(X), expected.predict_proba(X), rtol=0, atol=1e-12
    )


def test_search_is_a_classifier_and_takes_one_step_pipelines(data):
    from sklearn.base import is_classifier
    from sklearn.pipeline import Pipeline

    X, y = data
    pipe = Pipeline([("mlp", MLPDigitClassifier(**BASE))])
    search = BatchedGridSearchCV(pipe, {"mlp__alpha": [1e-4]}, cv=2).fit(X, y)
    assert is_classifier(search)
    np.testing.assert_allclose(
        np.exp(search.predict_log_proba(X)), search.predict_proba(X), rtol=1e-6
    )


# ------------------------------------ drop-in parity with GridSearchCV

SMALL = {**BASE, "hidden_layer_sizes": (16,), "max_iter": 2}
TIMES = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")


@pytest.fixture(scope="module")
def small():
    """600 real MNIST images in float64, with integer sample weights."""
    X, y = load_mnist(source="sample", return_X_y=True)
    weight = np.random.default_rng(0).integers(0, 4, 600).astype(float)
    return X[:600] / 255.0, y[:600], weight


def assert_same_results(expected, search):
    """cv_results_ key by key (all but the timings), and the best_* attributes."""
    want, got = expected.cv_results_, search.cv_results_
    assert sorted(got) == sorted(want)
    for key in sorted(set(want) - set(TIMES)):
        if key == "params":
            assert got[key] == want[key]
        elif key.startswith("param_"):
            assert list(got[key]) == list(want[key])
            np.testing.assert_array_equal(np.ma.getmaskarray(got[key]), want[key].mask)
        elif key.startswith("rank_"):
            np.testing.assert_array_equal(got[key], want[key])
            assert got[key].dtype == want[key].dtype
        else:
            np.testing.assert_allclose(got[key], want[key], rtol=0, atol=1e-12)
    for name in ("best_index_", "best_params_", "best_score_", "multimetric_"):
        assert hasattr(search, name) == hasattr(expected, name), name
        if hasattr(expected, name):
            assert getattr(search, name) == pytest.approx(getattr(expected, name))
    assert search.n_splits_ == expected.n_splits_


def _both(estimator, grid, fit_params, quiet=True, **kwargs):
    """GridSearchCV and BatchedGridSearchCV, fitted alike (3 folds)."""
    kwargs.setdefault("cv", 3)
    fits = [
        lambda s=search: s(estimator, grid, **kwargs).fit(**fit_params)
        for search in (GridSearchCV, BatchedGridSearchCV)
    ]
    return [_fit_quietly(fit) if quiet else fit() for fit in fits]


def _pipe(*head):
    return make_pipeline(*head, MLPDigitClassifier(**SMALL))


def test_search_takes_step_fit_params_like_gridsearchcv(small):
    X, y, w = small
    grid = {"mlpdigitclassifier__alpha": [1e-4, 1e-1]}
    fit = {"X": X, "y": y, "mlpdigitclassifier__sample_weight": w}
    expected, search = _both(_pipe(StandardScaler()), grid, fit)
    assert_same_results(expected, search)
    np.testing.assert_allclose(
        search.predict_proba(X), expected.predict_proba(X), rtol=0, atol=1e-12
    )
    # The weights reach the classifier: unweighted training scores otherwise.
    unweighted = BatchedGridSearchCV(_pipe(StandardScaler()), grid, cv=3).fit(X, y)
    assert not np.allclose(
        unweighted.cv_results_["mean_test_score"],
        search.cv_results_["mean_test_score"],
    )


def test_a_pipeline_rejects_unprefixed_sample_weight_like_gridsearchcv(small):
    X, y, w = small
    grid = {"mlpdigitclassifier__alpha": [1e-4]}
    for search in (GridSearchCV, BatchedGridSearchCV):
        with pytest.raises(ValueError, match="All the 3 fits failed"):
            _fit_quietly(
                lambda s=search: s(_pipe(), grid, cv=3).fit(X, y, sample_weight=w)
            )
        with pytest.raises(ValueError, match="does not accept the sample_weight"):
            search(_pipe(), grid, cv=3, error_score="raise").fit(X, y, sample_weight=w)


@pytest.mark.slow
@pytest.mark.parametrize(
    "weighted_scorer",
    [
        pytest.param(
            False,
            marks=requires(
                "scikit-learn",
                "1.8",
                "GridSearchCV routes sample_weight to the default scorer, "
                "Pipeline.score",
            ),
            id="default",
        ),
        pytest.param(True, id="weighted"),
    ],
)
def test_search_with_metadata_routing_equals_gridsearchcv(small, weighted_scorer):
    import sklearn
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import GroupKFold

    X, y, w = small
    groups = np.arange(len(y)) % 4
    grid = {"mlpdigitclassifier__alpha": [1e-4, 1e-1]}
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=True),
            MLPDigitClassifier(**SMALL)
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=True),
        )
        scoring = (
            get_scorer("accuracy").set_score_request(sample_weight=True)
            if weighted_scorer
            else None
        )
        fit = {"X": X, "y": y, "sample_weight": w, "groups": groups}
        expected, search = _both(pipe, grid, fit, scoring=scoring, cv=GroupKFold(4))
        assert_same_results(expected, search)
        np.testing.assert_allclose(
            search.predict_proba(X), expected.predict_proba(X), atol=1e-12
        )
        assert search.score(X, y, sample_weight=w) == pytest.approx(
            expected.score(X, y, sample_weight=w)
        )


@pytest.mark.parametrize(
    ("scoring", "refit"),
    [
        (["accuracy", "neg_log_loss"], "neg_log_loss"),
        ({"acc": "accuracy", "bal": "balanced_accuracy"}, False),
        (
            lambda est, X, y: {"acc": est.score(X, y), "half": est.score(X, y) / 2},
            lambda results: int(np.argmin(results["mean_test_half"])),
        ),
    ],
    ids=["list", "dict", "callable"],
)
def test_search_with_multimetric_scoring_equals_gridsearchcv(small, scoring, refit):
    X, y, _ = small
    grid = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}
    estimator = MLPDigitClassifier(**SMALL)
    expected, search = _both(
        estimator, grid, {"X": X, "y": y}, scoring=scoring, refit=refit
    )
    assert_same_results(expected, search)
    assert search.multimetric_
    assert hasattr(search, "best_estimator_") == bool(refit)
    if refit:
        np.testing.assert_allclose(
            search.predict_proba(X), expected.predict_proba(X), atol=1e-12
        )
    if isinstance(refit, str):
        assert search.score(X, y) == pytest.approx(expected.score(X, y))


def test_search_returns_train_scores_like_gridsearchcv(small):
    X, y, w = small
    grid = {"alpha": [1e-4, 1e-1]}
    fit = {"X": X, "y": y, "sample_weight": w}
    expected, search = _both(
        MLPDigitClassifier(**SMALL), grid, fit, return_train_score=True
    )
    assert "split2_train_score" in search.cv_results_
    assert_same_results(expected, search)


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_a_failing_candidate_gets_error_score_like_gridsearchcv(small):
    from sklearn.exceptions import FitFailedWarning

    X, y, _ = small
    # Candidates (alpha, with_mean): (-1, True), (-1, "no"), (1e-4, True) and
    # (1e-4, "no"); a negative alpha fails the classifier, "no" the scaler.
    grid = {
        "standardscaler__with_mean": [True, "no"],
        "mlpdigitclassifier__alpha": [-1.0, 1e-4],
    }
    for error_score in (np.nan, -1.0):
        with pytest.warns(FitFailedWarning, match="9 fits failed out of a total of 12"):
            expected, search = _both(
                _pipe(StandardScaler()),
                grid,
                {"X": X, "y": y},
                quiet=False,
                error_score=error_score,
            )
        assert_same_results(expected, search)
        means = search.cv_results_["mean_test_score"]
        failed = np.isnan(means) | (means == error_score)
        np.testing.assert_array_equal(failed, [True, True, False, True])
        assert list(search.cv_results_["rank_test_score"]) == [2, 2, 1, 2]
    for search in (GridSearchCV, BatchedGridSearchCV):
        with pytest.raises(ValueError, match="alpha"):
            search(
                _pipe(),
                {"mlpdigitclassifier__alpha": [1e-4, -1.0]},
                cv=3,
                error_score="raise",
            ).fit(X, y)


def test_a_batch_out_of_memory_is_fitted_one_model_at_a_time(small, monkeypatch):
    from skmnist._training import fit as _fit

    def out_of_memory(jobs):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(_fit, "_train_stacked", out_of_memory)
    X, y, _ = small
    grid = {"alpha": [1e-4, 1e-1]}
    with pytest.warns(UserWarning, match="one at a time"):
        expected, search = _both(
            MLPDigitClassifier(**SMALL), grid, {"X": X, "y": y}, quiet=False
        )
    assert_same_results(expected, search)
    with pytest.raises(MemoryError, match="lower max_models"):
        fit_many([MLPDigitClassifier(**SMALL) for _ in range(2)], [(X, y)] * 2)


def test_search_refuses_callbacks(small):
    callback = pytest.importorskip("sklearn.callback")
    search = BatchedGridSearchCV(MLPDigitClassifier(**SMALL), {"alpha": [1e-4]})
    search.set_callbacks(callback.ScoringMonitor(scoring="accuracy"))
    with pytest.raises(ValueError, match="does not support callbacks"):
        search.fit(*small[:2])


@pytest.mark.parametrize("kind", ["csr", "tensor requiring grad"])
def test_search_on_sparse_and_tensor_input_equals_gridsearchcv(small, kind):
    import scipy.sparse as sp

    X, y, _ = small
    if kind == "csr":
        data = sp.csr_matrix(X)
    else:
        data = torch.tensor(X, requires_grad=True)
    grid = {"mlpdigitclassifier__alpha": [1e-4, 1e-2]}
    # float32 training: batched and single fits agree to rounding in float32
    # (precision="auto" would give single fits bf16 products where the CPU
    # multiplies bfloat16 fast, and batched ones float32).
    pipe = _pipe(PixelScaler(max_value=1.0))
    pipe.set_params(mlpdigitclassifier__precision="float32")
    expected, search = _both(pipe, grid, {"X": data, "y": y})
    assert_same_results(expected, search)
