"""The skmnist command line: train / evaluate / predict, in-process through main()."""

import contextlib
import csv
import io
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from skmnist import MLPDigitClassifier, __version__
from skmnist.cli import main
from skmnist.datasets import load_mnist, write_idx
from skmnist.persistence import load_model

TINY = ["--param", "hidden_layer_sizes=32", "--param", "max_iter=2"]


def run(*argv):
    """Run main(argv) in-process; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(arg) for arg in argv])
    return status, out.getvalue(), err.getvalue()


def read_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained on the embedded sample by `skmnist train`.

    Without ``--out``: saved to the default file, in the current folder.
    """
    folder = tmp_path_factory.mktemp("model")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        status, out, err = run("train", "--source", "sample", *TINY)
    return folder / "skmnist-model.skmnist", status, out, err


@pytest.fixture(scope="module")
def model_file(trained):
    path, status, _, err = trained
    assert status == 0, err
    return path


@pytest.fixture(scope="module")
def sample_test():
    return load_mnist(subset="test", source="sample", return_X_y=True)


def predictions(model_file, X):
    return load_model(model_file).predict(X).tolist()


def assert_error(result, status, *fragments):
    code, _, err = result
    assert code == status, err
    assert err.strip().splitlines()[-1].startswith("skmnist: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


# --------------------------------------------------------------------- train
def test_train_on_sample_prints_summary_and_saves_pipeline(trained, sample_test):
    path, status, out, err = trained
    assert status == 0, err
    for line in (
        "MNIST, source sample",
        "5,000",
        "1,000",
        "device:",
        "cpu",
        "fit time:",
    ):
        assert line in out
    assert "test accuracy:" in out and " %" in out
    precision = load_model(path)[-1].precision_
    assert f"matrix products: {precision} (precision='auto')\n" in out
    assert "training" in err  # the progress bar
    assert "saved to:        skmnist-model.skmnist\n" in out
    assert path.read_bytes().startswith(b"PK\x03\x04")  # the secure format
    model = load_model(path)
    assert isinstance(model, Pipeline) and isinstance(model[-1], MLPDigitClassifier)
    assert model[-1].hidden_layer_sizes == 32 and model[-1].n_iter_ == 2
    assert model[-1].verbose == 0  # the progress bar is not saved
    X, y = sample_test
    assert f"{model.score(X, y):.2%}".replace("%", " %") in out


def test_train_quiet_without_tqdm(tmp_path, monkeypatch):
    for module in ("tqdm", "tqdm.auto"):  # plain lines instead of a bar
        monkeypatch.setitem(sys.modules, module, None)
    args = ["train", "--source", "sample", "--param", "hidden_layer_sizes=8"]
    # max_iter="auto": a fit that ends at an explicit max_iter warns on stderr
    args += ["--param", "max_iter='auto'", "--out", tmp_path / "m.skmnist"]
    status, out, err = run(*args)
    assert status == 0, err
    assert "Iteration 1, loss = " in out
    status, out, err = run(*args, "--quiet")
    assert status == 0 and err == "" and "test accuracy" in out


@pytest.mark.parametrize(
    "param, fragments",
    [
        (
            "hiden_layer_sizes=32",
            [
                "unknown estimator parameter 'hiden_layer_sizes'",
                "did you mean 'hidden_layer_sizes'",
                "max_value",
            ],
        ),
        ("callbacks=None", ["unknown estimator parameter 'callbacks'"]),
        ("max_iter=abc", ["invalid --param value", "'max_iter'", "'abc'"]),
        ("solver=newton", ["invalid --param value", "'solver'"]),
        ("max_iter", ["expected NAME=VALUE"]),
        ("hidden_layer_sizes=(0,)", ["invalid --param value", "positive integers"]),
        ("device=tpu", ["invalid --param value", "device='tpu' is not a device"]),
    ],
)
def test_train_bad_param_is_a_usage_error(tmp_path, param, fragments):
    out = tmp_path / "m.joblib"
    result = run("train", "--source", "sample", "--param", param, "--out", out)
    assert_error(result, 2, *fragments)
    assert not out.exists()


def test_train_unknown_device_is_a_usage_error(tmp_path):
    result = run("train", "--source", "sample", "--device", "tpu")
    assert_error(result, 2, "argument --device", "device='tpu' is not a device")


def test_train_idx_without_files_fails(tmp_path):
    result = run("train", "--source", "idx", "--data-home", tmp_path, "-q")
    assert_error(result, 1, "IDX files not found", str(tmp_path))
    # The advice names the command's options, not load_mnist's arguments.
    assert "pass --data-home FOLDER" in result[2]
    assert "data_home=" not in result[2]


def test_train_unwritable_output_fails_before_training(tmp_path):
    result = run("train", "--source", "sample", "--out", tmp_path / "no" / "m.joblib")
    assert_error(result, 1, "does not exist")
    assert result[1] == ""


# ------------------------------------------------------------------ evaluate
def test_evaluate_prints_accuracy_report_and_matrix(model_file, sample_test):
    status, out, err = run("evaluate", model_file, "--source", "sample")
    assert status == 0, err
    X, y = sample_test
    accuracy = load_model(model_file).score(X, y)
    assert f"accuracy:     {accuracy:.2%}".replace("%", " %") in out
    assert "classification report" in out and "macro avg" in out
    matrix_lines = out.split("true\\pred")[1].strip().splitlines()
    assert len(matrix_lines) == 11  # header, then one row per digit
    counts = np.array([line.split()[1:] for line in matrix_lines[1:]], dtype=int)
    assert counts.sum() == len(y) and np.trace(counts) == round(accuracy * len(y))


# The command prints the warning (an error elsewhere in the suite).
@pytest.mark.filterwarnings("default::skmnist.datasets.DatasetWarning")
def test_evaluate_names_the_dataset_read(model_file, fashion_mnist_dir):
    status, out, err = run(
        "evaluate", model_file, "--source", "idx", "--data-home", fashion_mnist_dir
    )
    assert status == 0, err
    assert "data:         Fashion-MNIST (not MNIST) test set, source idx" in out
    assert "MNIST test set" not in out
    assert "skmnist: warning:" in err and "load_fashion_mnist()" in err


# The command prints the warning (an error elsewhere in the suite).
@pytest.mark.filterwarnings("default::skmnist.datasets.DatasetWarning")
def test_evaluate_on_unknown_files_says_so(model_file, tmp_path):
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(4, dtype=np.uint8))
    status, out, err = run(
        "evaluate", model_file, "--source", "idx", "--data-home", tmp_path
    )
    assert status == 0, err
    assert "data:         unknown IDX files (not the official MNIST release)" in out
    assert "results on them are not comparable" in err


def test_evaluate_plot_writes_png(model_file, tmp_path):
    pytest.importorskip("matplotlib")
    image_module = pytest.importorskip("PIL.Image")
    plot = tmp_path / "confusion.png"
    status, out, err = run("evaluate", model_file, "--source", "sample", "--plot", plot)
    assert status == 0, err
    assert f"saved to {plot}" in out
    with image_module.open(plot) as image:
        assert image.format == "PNG"
        assert 400 <= image.width <= 2000 and 400 <= image.height <= 2000


# ------------------------------------------------------------------- predict
def test_predict_npy_and_idx_inputs(model_file, sample_test, tmp_path):
    X, _ = sample_test
    np.save(tmp_path / "rows.npy", X[:4])
    np.save(tmp_path / "one.npy", X[4].reshape(28, 28))
    write_idx(tmp_path / "images-idx3-ubyte.gz", X[5:8].reshape(3, 28, 28))
    inputs = [
        tmp_path / name for name in ("rows.npy", "one.npy", "images-idx3-ubyte.gz")
    ]
    status, out, err = run("predict", model_file, *inputs)
    assert status == 0, err
    rows = read_csv(out)
    assert list(rows[0]) == ["source", "index", "prediction"]
    counts = [4, 1, 3]
    sources = [
        str(p) for p, count in zip(inputs, counts, strict=True) for _ in range(count)
    ]
    assert [row["source"] for row in rows] == sources
    assert [int(row["index"]) for row in rows] == [0, 1, 2, 3, 0, 0, 1, 2]
    assert [int(row["prediction"]) for row in rows] == predictions(model_file, X[:8])


def test_predict_image_files_and_inversion(model_file, sample_test, tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    X, _ = sample_test
    digit = X[0].reshape(28, 28)
    image_module.fromarray(digit).save(tmp_path / "digit.png")
    image_module.fromarray(255 - digit).save(tmp_path / "paper.png")  # black on white
    big = image_module.fromarray(255 - digit).resize((56, 84)).convert("RGB")
    big.save(tmp_path / "big.png")
    names = ["digit.png", "paper.png", "big.png"]
    status, out, err = run("predict", model_file, *(tmp_path / name for name in names))
    assert status == 0, err
    labels = [int(row["prediction"]) for row in read_csv(out)]
    expected = predictions(model_file, X[:1])[0]
    assert labels[:2] == [expected, expected]
    assert len(labels) == 3
    status, out, err = run(
        "predict", model_file, tmp_path / "paper.png", "--invert", "never"
    )
    assert status == 0
    # Taken as light ink, the dark digit is no ink at all: a blank digit.
    assert "holds no ink" in err
    blank = predictions(model_file, np.zeros((1, 784), X.dtype))[0]
    assert [int(row["prediction"]) for row in read_csv(out)] == [blank]


def test_predict_proba_to_csv_file(model_file, sample_test, tmp_path):
    X, _ = sample_test
    np.save(tmp_path / "x.npy", X[:5])
    output = tmp_path / "predictions.csv"
    status, out, err = run(
        "predict", model_file, tmp_path / "x.npy", "--proba", "--output", output
    )
    assert status == 0, err
    assert out == "" and "5 predictions written" in err
    rows = read_csv(output.read_text())
    assert list(rows[0]) == ["source", "index", "prediction"] + [
        f"proba_{digit}" for digit in range(10)
    ]
    proba = np.array([[float(row[f"proba_{d}"]) for d in range(10)] for row in rows])
    np.testing.assert_allclose(
        proba, load_model(model_file).predict_proba(X[:5]), rtol=0, atol=1e-6
    )
    assert [int(row["prediction"]) for row in rows] == predictions(model_file, X[:5])


# The command prints the warning (an error elsewhere in the suite).
@pytest.mark.filterwarnings("default::skmnist.preprocessing.PixelRangeWarning")
def test_predict_warns_about_unit_range_pixels(model_file, sample_test, tmp_path):
    np.save(tmp_path / "unit.npy", sample_test[0][:2] / 255.0)
    status, _, err = run("predict", model_file, tmp_path / "unit.npy")
    assert status == 0
    assert "skmnist: warning:" in err and "multiply them by 255" in err
    assert err.count("skmnist: warning:") == 1 and "unit.npy" in err


# The command prints the warning (an error elsewhere in the suite).
@pytest.mark.filterwarnings("default::skmnist.preprocessing.PixelRangeWarning")
def test_predict_warns_about_standardised_pixels(model_file, sample_test, tmp_path):
    X = sample_test[0][:3].astype(np.float64)
    np.save(tmp_path / "centred.npy", (X - X.mean()) / X.std())
    status, _, err = run("predict", model_file, tmp_path / "centred.npy")
    assert status == 0
    assert err.count("skmnist: warning:") == 1
    assert "centred.npy" in err and "look standardised" in err


# -------------------------------------------------------------------- errors
def test_missing_model_file(tmp_path):
    result = run("predict", tmp_path / "absent.joblib", tmp_path / "x.npy")
    assert_error(result, 1, "absent.joblib: No such file or directory")


@pytest.mark.parametrize("content", [b"just some notes\n", b""])
def test_file_that_is_not_a_model(tmp_path, content):
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    result = run("evaluate", path, "--source", "sample")
    assert_error(result, 1, "is not a skmnist model file")


def test_pickle_that_is_not_a_model(tmp_path):
    joblib.dump({"weights": [1, 2]}, tmp_path / "dict.joblib")
    result = run("evaluate", tmp_path / "dict.joblib", "--source", "sample")
    assert_error(result, 1, "is a pickle", "--allow-pickle")
    result = run(
        "evaluate", tmp_path / "dict.joblib", "--source", "sample", "--allow-pickle"
    )
    assert_error(result, 1, "is not a skmnist model file", "dict")


# ------------------------------------------- model files and --allow-pickle
PICKLE_NAMES = ["evil.joblib", "evil.joblib.gz", "evil.pkl", "evil"]


def load_command(command, model, tmp_path, *options):
    """The command line of ``command`` on ``model``; the model is loaded first."""
    if command == "predict":
        np.save(tmp_path / "x.npy", np.zeros((2, 784), dtype=np.uint8))
        return ("predict", model, tmp_path / "x.npy", *options)
    return ("evaluate", model, "--source", "sample", *options)


def assert_one_line_error(result, *fragments):
    assert_error(result, 1, *fragments)
    assert len(result[2].strip().splitlines()) == 1, result[2]


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("name", PICKLE_NAMES)
def test_pickle_model_runs_no_code_without_allow_pickle(
    command, name, tmp_path, write_malicious_pickle
):
    marker = tmp_path / "pwned.txt"
    path = write_malicious_pickle(tmp_path / name, marker)
    result = run(*load_command(command, path, tmp_path))
    assert not marker.exists()
    assert_one_line_error(result, f"{str(path)!r} is a pickle", "--allow-pickle")
    # The flag loads it, so the payload above is real: its code runs.
    result = run(*load_command(command, path, tmp_path, "--allow-pickle"))
    assert marker.read_text() == "PWNED"
    assert_one_line_error(result, "is not a skmnist model file", "NoneType")


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("flag", [[], ["--allow-pickle"]])
def test_skmnist_name_is_never_unpickled(
    command, flag, tmp_path, write_malicious_pickle
):
    marker = tmp_path / "pwned.txt"
    path = write_malicious_pickle(tmp_path / "evil.skmnist", marker)
    result = run(*load_command(command, path, tmp_path, *flag))
    assert not marker.exists()
    assert_one_line_error(result, "evil.skmnist", "holds a pickle", "never unpickled")


def test_default_model_file_loads_without_pickle(model_file, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        pytest.fail("a secure model file reached an unpickler")

    for module, name in [(joblib, "load"), (pickle, "load"), (pickle, "Unpickler")]:
        monkeypatch.setattr(module, name, refuse)
    status, out, err = run(*load_command("evaluate", model_file, tmp_path))
    assert status == 0 and "accuracy:" in out, err
    status, out, err = run(*load_command("predict", model_file, tmp_path))
    assert status == 0 and len(read_csv(out)) == 2, err


def test_train_out_joblib_writes_a_pickle_loaded_with_allow_pickle(tmp_path):
    path = tmp_path / "m.joblib"
    tiny = ["--param", "hidden_layer_sizes=8", "--param", "max_iter=1", "-q"]
    status, out, err = run("train", "--source", "sample", *tiny, "--out", path)
    assert status == 0, err
    assert "--allow-pickle" in out  # the summary says how to load it
    model = joblib.load(path)
    assert isinstance(model, Pipeline) and isinstance(model[-1], MLPDigitClassifier)
    result = run(*load_command("evaluate", path, tmp_path))
    assert_one_line_error(result, "is a pickle", "--allow-pickle")
    status, out, err = run(*load_command("evaluate", path, tmp_path, "--allow-pickle"))
    assert status == 0, err
    X, y = load_mnist(subset="test", source="sample", return_X_y=True)
    assert f"{model.score(X, y):.2%}".replace("%", " %") in out
    status, out, err = run(*load_command("predict", path, tmp_path, "--allow-pickle"))
    assert status == 0, err
    labels = [int(row["prediction"]) for row in read_csv(out)]
    assert labels == model.predict(np.zeros((2, 784), dtype=np.uint8)).tolist()


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_allow_pickle_help_says_why(command):
    status, out, _ = run(command, "--help")
    assert status == 0
    help_text = " ".join(out.split())
    assert "--allow-pickle" in help_text and "arbitrary code" in help_text
    assert "trust" in help_text


def test_predict_wrong_feature_count(model_file, tmp_path):
    np.save(tmp_path / "small.npy", np.zeros((3, 100)))
    result = run("predict", model_file, tmp_path / "small.npy")
    assert_error(result, 1, "shape (3, 100)", "784 features", "(n, 28, 28)")


def test_predict_missing_or_unreadable_input(model_file, tmp_path):
    result = run("predict", model_file, tmp_path / "absent.png")
    assert_error(result, 1, "absent.png: No such file or directory")
    (tmp_path / "notes.txt").write_text("not an image\n")
    pytest.importorskip("PIL")
    result = run("predict", model_file, tmp_path / "notes.txt")
    assert_error(result, 1, "is not a .npy array, an IDX file or an image file")


def test_usage_errors_and_help():
    status, _, err = run("predict")
    assert status == 2 and "skmnist: error:" in err
    assert run()[0] == 2
    status, out, _ = run("train", "--help")
    assert status == 0
    assert "--param NAME=VALUE" in out and "hidden_layer_sizes" in out


def test_python_m_skmnist_version():
    result = subprocess.run(
        [sys.executable, "-m", "skmnist", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"skmnist {__version__}"
