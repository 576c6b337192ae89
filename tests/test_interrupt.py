"""Ctrl-C stops: a real SIGINT in a subprocess, as a user's Control-C sends it.

Each child prints a marker once training is under way; the test then sends
SIGINT and checks what the child did: the KeyboardInterrupt propagates (out
of fit, cross_val_score, the CLI), the estimator is left consistent (as it
was before the call, or at its last complete epoch), and no file is written.
"""

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.model_selection import BatchedGridSearchCV, fit_many
from skmnist.persistence import load_model, save_model

pytestmark = [
    pytest.mark.skipif(
        sys.platform == "win32", reason="SIGINT cannot be sent to a child on Windows"
    ),
    # These tests fit a few epochs on purpose, short of convergence.
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.slow,  # each test starts a Python process that imports torch
]

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120

# The child's common part: small digits, a model, and markers on stdout. The
# minibatch step ``slow`` says so at its third call and waits for the signal,
# so that it lands inside the first epoch however late it comes.
PRELUDE = """
import json, sys, time
import numpy as np
from sklearn.datasets import load_digits
from skmnist import MLPDigitClassifier
from skmnist._training import steps

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
PARAMS = dict(hidden_layer_sizes=(16,), batch_size=64, max_iter=1000,
              learning_rate="constant", device="cpu", random_state=0)
original = steps.set_learning_rate
calls = [0]
name = [""]

def slow(*args):
    calls[0] += 1
    if calls[0] == 3:
        print(f"{name[0]}: inside an epoch", flush=True)
        time.sleep(600)
    return original(*args)

def marker(info):
    print(f"{name[0]}: epoch {info['epoch']} done", flush=True)
"""

# Four fits, each interrupted by the parent once its marker shows.
FITS = (
    PRELUDE
    + """
def interrupted_fit(scenario, clf, slowed):
    name[0], calls[0] = scenario, 0
    before = clf.predict_proba(X[:50]).tolist() if hasattr(clf, "module_") else None
    steps.set_learning_rate = slow if slowed else original
    clf.set_params(callbacks=[marker])
    try:
        clf.fit(X, y)
        interrupt = None
    except KeyboardInterrupt as error:
        interrupt = str(error)
    steps.set_learning_rate = original
    out = {"name": scenario, "interrupted": interrupt, "before": before}
    if hasattr(clf, "module_"):
        out.update(n_iter=clf.n_iter_, epochs=len(clf.loss_curve_), t=clf.t_,
                   proba=clf.predict_proba(X[:50]).tolist())
    print("RESULT " + json.dumps(out), flush=True)

def warm():
    clf = MLPDigitClassifier(**dict(PARAMS, max_iter=2)).fit(X, y)
    return clf.set_params(max_iter=1000, warm_start=True)

interrupted_fit("fresh-first", MLPDigitClassifier(**PARAMS), True)
interrupted_fit("fresh-later", MLPDigitClassifier(**PARAMS), False)
interrupted_fit("warm-first", warm(), True)
interrupted_fit("warm-later", warm(), False)
"""
)
MARKERS = [
    "fresh-first: inside an epoch",
    "fresh-later: epoch 2 done",
    "warm-first: inside an epoch",
    "warm-later: epoch 4 done",  # the refit's second epoch
]


def _child(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    return subprocess.Popen(
        [sys.executable, *(["-c", code] if code else []), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        # A shell's background job (a CI runner's, often) inherits SIGINT
        # ignored, and Python then keeps ignoring it: the child is given the
        # default, so that it raises KeyboardInterrupt as at a terminal.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_after(process: subprocess.Popen, *markers: str) -> tuple[str, str]:
    """Send SIGINT on each of ``markers`` on the child's stdout; collect it all."""
    seen = []
    deadline = time.monotonic() + TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        for marker in markers:
            while not seen or marker not in seen[-1]:
                if time.monotonic() > deadline or not selector.select(TIMEOUT):
                    process.kill()
                    pytest.fail(f"no {marker!r} from the child: {seen}")
                line = process.stdout.readline()
                if not line:  # the child ended without the marker
                    _, err = process.communicate()
                    pytest.fail(f"the child ended before {marker!r}: {seen}\n{err}")
                seen.append(line)
            process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the child did not stop after SIGINT")
    return "".join(seen) + out, err


def _reference_proba(epochs: int, warm_from: int = 0) -> np.ndarray:
    """What the child's model predicts after ``epochs`` complete epochs.

    The child trains ``max_iter=1000`` epochs at a constant rate; a fit that
    a callback stops after ``epochs`` has the same weights (CPU training is
    deterministic). ``warm_from`` epochs of an earlier fit come first.
    """
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    clf = MLPDigitClassifier(
        hidden_layer_sizes=(16,),
        batch_size=64,
        max_iter=1000,
        learning_rate="constant",
        device="cpu",
        random_state=0,
    )
    if warm_from:
        clf.set_params(max_iter=warm_from).fit(X, y)
        clf.set_params(max_iter=1000, warm_start=True)
    clf.set_params(callbacks=[lambda info: info["epoch"] >= epochs]).fit(X, y)
    return clf.predict_proba(X[:50])


@pytest.fixture(scope="module")
def interrupted_fits() -> dict:
    """The four fits of FITS, each stopped by a real SIGINT, by name."""
    out, err = _interrupt_after(_child(FITS), *MARKERS)
    results = [
        json.loads(line.removeprefix("RESULT "))
        for line in out.splitlines()
        if line.startswith("RESULT ")
    ]
    assert len(results) == 4, err
    return {result["name"]: result for result in results}


def test_sigint_in_the_first_epoch_leaves_the_estimator_unfitted(interrupted_fits):
    result = interrupted_fits["fresh-first"]
    assert "before it completed an epoch" in result["interrupted"]
    assert "n_iter" not in result  # no module_: unfitted


def test_sigint_after_epochs_keeps_the_last_complete_epoch(interrupted_fits):
    result = interrupted_fits["fresh-later"]
    epochs = result["n_iter"]
    assert f"after {epochs} complete epochs" in result["interrupted"]
    assert 2 <= epochs < 1000 and result["epochs"] == epochs
    assert result["t"] == epochs * 1797  # the samples of complete epochs only
    np.testing.assert_array_equal(result["proba"], _reference_proba(epochs))


def test_sigint_in_a_warm_refit_keeps_the_previous_fit(interrupted_fits):
    result = interrupted_fits["warm-first"]
    assert "before it completed an epoch" in result["interrupted"]
    assert result["n_iter"] == 2 == result["epochs"]  # the first fit's, as it was
    assert result["proba"] == result["before"]


def test_sigint_later_in_a_warm_refit_keeps_its_last_complete_epoch(interrupted_fits):
    result = interrupted_fits["warm-later"]
    epochs = result["epochs"]  # since the network was made
    assert epochs >= 4 and result["n_iter"] == epochs - 2  # this call's
    assert f"after {epochs - 2} complete epochs" in result["interrupted"]
    np.testing.assert_array_equal(
        result["proba"], _reference_proba(epochs, warm_from=2)
    )


CROSS_VALIDATION = (
    PRELUDE
    + """
from sklearn.model_selection import cross_val_score
fits = [0]

def count(info):
    if info["epoch"] == 1:
        fits[0] += 1
    print(f"fit {fits[0]} epoch {info['epoch']}", flush=True)
    if fits[0] == 1 and info["epoch"] == 2:
        time.sleep(600)  # the signal comes here, however late

clf = MLPDigitClassifier(**dict(PARAMS, max_iter=30), callbacks=[count])
scores = cross_val_score(clf, X, y, cv=5)
print("finished", scores, flush=True)
"""
)


def test_sigint_stops_cross_val_score():
    process = _child(CROSS_VALIDATION)
    out, err = _interrupt_after(process, "fit 1 epoch 2")
    assert process.returncode in (-signal.SIGINT, 128 + signal.SIGINT), err
    assert "KeyboardInterrupt" in err
    assert "fit 2 " not in out and "finished" not in out  # no further fold


def _good_model(path: Path) -> bytes:
    X, y = load_digits(return_X_y=True)
    model = MLPDigitClassifier((8,), max_iter=2, random_state=0).fit(X / 16.0, y)
    save_model(model, path)
    return path.read_bytes()


def test_sigint_in_cli_train_writes_nothing_and_exits_130(tmp_path):
    out_file = tmp_path / "good.skmnist"
    good = _good_model(out_file)
    process = _child(
        "",
        "-m",
        "skmnist",
        "train",
        "--source",
        "sample",
        "--param",
        "hidden_layer_sizes=16",
        "--param",
        "max_iter=100000",
        "--param",
        "verbose=2",
        "--out",
        str(out_file),
    )
    out, err = _interrupt_after(process, "Iteration 2,")
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "skmnist: interrupted"
    assert "test accuracy" not in out and "Traceback" not in err
    assert out_file.read_bytes() == good
    assert load_model(out_file).n_iter_ == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.skmnist"]


# ----------------------------------------- in-process: the interrupt's paths


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32)[:600], y[:600]


def _interrupt_at(epoch: int):
    def callback(info):
        if info["epoch"] == epoch:
            raise KeyboardInterrupt

    return callback


SMALL = dict(hidden_layer_sizes=(8,), max_iter=20, device="cpu", random_state=0)


@pytest.mark.parametrize("search", [GridSearchCV, BatchedGridSearchCV])
def test_keyboard_interrupt_propagates_through_searches(digits, search):
    fits = []

    def count(info):
        fits.append(info["epoch"])
        if len(fits) == 3:
            raise KeyboardInterrupt

    grid = search(
        MLPDigitClassifier(**SMALL, callbacks=[count]),
        {"alpha": [1e-4, 1e-3]},
        cv=3,
        error_score=np.nan,  # an error would be caught; an interrupt is not
    )
    with pytest.raises(KeyboardInterrupt):
        grid.fit(*digits)
    assert len(fits) == 3  # nothing trained after the interrupt
    assert not hasattr(grid, "best_estimator_")


def test_keyboard_interrupt_propagates_through_cross_val_score(digits):
    fits = []

    def count(info):
        fits.append(info["epoch"])
        if len(fits) == 2:
            raise KeyboardInterrupt

    clf = MLPDigitClassifier(**SMALL, callbacks=[count])
    with pytest.raises(KeyboardInterrupt):
        cross_val_score(clf, *digits, cv=3)
    assert fits == [1, 2]


def test_fit_many_interrupted_keeps_each_models_complete_epochs(digits):
    X, y = digits
    fitted = MLPDigitClassifier(**dict(SMALL, max_iter=2)).fit(X, y)
    before = fitted.predict_proba(X)
    models = [
        MLPDigitClassifier(**SMALL, callbacks=[_interrupt_at(3)]),
        MLPDigitClassifier(**dict(SMALL, random_state=1)),
        fitted.set_params(warm_start=True, max_iter=20),
    ]
    # Model 0 stops the stack after its epoch 3, before the others record
    # theirs: they keep epochs 1-2 of this call.
    with pytest.raises(KeyboardInterrupt, match="fit_many was interrupted"):
        fit_many(models, [(X, y)] * 3)
    assert [m.n_iter_ for m in models] == [3, 2, 2]
    assert len(models[2].loss_curve_) == 4
    assert not np.array_equal(models[2].predict_proba(X), before)


def test_fit_many_interrupted_in_the_first_epoch_leaves_all_as_they_were(
    digits, monkeypatch
):
    from skmnist._training import loop

    X, y = digits
    fitted = MLPDigitClassifier(**dict(SMALL, max_iter=2)).fit(X, y)
    before = fitted.predict_proba(X)
    models = [
        MLPDigitClassifier(**SMALL),
        fitted.set_params(warm_start=True, max_iter=20),
    ]

    batches = loop.minibatches

    def one_step_then_interrupt(*args):
        yield next(iter(batches(*args)))
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "minibatches", one_step_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        fit_many(models, [(X, y)] * 2)
    assert not hasattr(models[0], "module_") and not hasattr(models[0], "classes_")
    assert models[1].n_iter_ == 2
    np.testing.assert_array_equal(models[1].predict_proba(X), before)


def test_interrupted_fit_with_early_stopping_keeps_the_best_epoch(digits):
    X, y = digits
    params = dict(SMALL, early_stopping=True, n_iter_no_change=1000)
    clf = MLPDigitClassifier(**params, callbacks=[_interrupt_at(6)])
    with pytest.raises(KeyboardInterrupt, match="best validation epoch"):
        clf.fit(X, y)
    reference = MLPDigitClassifier(**params, callbacks=[lambda i: i["epoch"] >= 6])
    reference.fit(X, y)  # a normal end restores the best epoch too
    assert clf.n_iter_ == 6 and clf.validation_scores_ == reference.validation_scores_
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))


def test_interrupted_pipeline_keeps_the_scaler_and_the_epochs(digits):
    from sklearn.pipeline import make_pipeline

    X, y = digits
    model = make_pipeline(
        PixelScaler(), MLPDigitClassifier(**SMALL, callbacks=[_interrupt_at(2)])
    )
    with pytest.raises(KeyboardInterrupt):
        model.fit(X * 255, y)
    assert model[-1].n_iter_ == 2
    assert model.predict(X * 255).shape == (600,)
