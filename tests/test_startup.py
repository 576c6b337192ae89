"""Start-up: what ``import skmnist`` and the command line import, and Ctrl-C then.

Each check runs in a fresh interpreter (this process has imported everything
already) and asserts which modules were imported, not how long it took:
``benchmarks/startup.py`` measures the times.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_digits

from skmnist import MLPDigitClassifier, PixelScaler
from skmnist.cli._options import init_params, settable_params
from skmnist.cli._parser import ESTIMATORS
from skmnist.persistence import save_model

pytestmark = (
    pytest.mark.slow
)  # each test starts Python processes and times their imports

ROOT = Path(__file__).resolve().parents[1]

# Loaded by none of the commands' --help, nor by their usage errors.
HEAVY = ("numpy", "scipy", "sklearn", "torch", "skops", "PIL", "matplotlib")
# Optional libraries, used by some functions only: never imported by the
# estimators nor by loading a model. sympy is torch's, which its meta kernels
# import on first use (0.3-0.9 s).
OPTIONAL = ("skops", "PIL", "matplotlib", "dask", "onnx", "skl2onnx", "sympy")
# Loading a model file needs skops, which imports every module of scikit-learn
# (sklearn.utils.all_estimators), one of which imports dask when it is there.
LOADING = ("PIL", "matplotlib", "onnx", "skl2onnx", "sympy")


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def _loaded(names: tuple[str, ...]) -> str:
    """Code for the child: the modules of ``names`` it has imported, sorted."""
    return f"sorted(m for m in {names!r} if m in sys.modules)"


CLI = f"""
import contextlib, io, json, sys
from skmnist.cli import main

commands = [
    ["--help"], ["--version"], ["train", "--help"], ["evaluate", "--help"],
    ["predict", "--help"], ["predict"], ["train", "--device", "tpu"],
    ["train", "--param", "max_iter"], ["evaluate", "--subset", "half", "m"],
]
statuses = []
for argv in commands:
    with contextlib.redirect_stdout(io.StringIO()) as out, \\
            contextlib.redirect_stderr(io.StringIO()):
        statuses.append(main(argv))
    if argv == ["train", "--help"]:
        train_help = out.getvalue()
print(json.dumps({{"statuses": statuses, "loaded": {_loaded(HEAVY)},
                  "lists_params": "hidden_layer_sizes" in train_help}}))
"""


def test_help_and_usage_errors_import_neither_torch_nor_numpy():
    result = _python(CLI)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["statuses"] == [0, 0, 0, 0, 0, 2, 2, 2, 2]
    assert report["loaded"] == []
    assert report["lists_params"]


@pytest.mark.parametrize(("module", "name"), ESTIMATORS)
def test_train_help_lists_the_parameters_get_params_gives(module, name):
    estimator = {"MLPDigitClassifier": MLPDigitClassifier, "PixelScaler": PixelScaler}
    assert init_params(module, name) == settable_params(estimator[name]())


IMPORTS = f"""
import json, sys
import skmnist, skmnist.datasets
package = {_loaded(HEAVY)}
from skmnist import MLPDigitClassifier, PixelScaler
estimators = {_loaded((*OPTIONAL, "sklearn.model_selection"))}
from skmnist.persistence import load_model
model = load_model(sys.argv[1])
loading = {_loaded(LOADING)}
print(json.dumps({{"package": package, "estimators": estimators,
                  "loading": loading, "class": type(model).__name__}}))
"""


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_import_skmnist_is_lazy_and_loading_imports_no_optional_library(tmp_path):
    X, y = load_digits(return_X_y=True)
    path = tmp_path / "model.skmnist"
    save_model(MLPDigitClassifier((8,), max_iter=1).fit(X[:100], y[:100]), path)
    result = _python(IMPORTS, str(path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["package"] == []  # neither torch nor scikit-learn, nor NumPy
    assert report["estimators"] == []  # torch and sklearn.base, little more
    assert report["loading"] == []
    assert report["class"] == "MLPDigitClassifier"


# Ctrl-C as the command imports torch: a real SIGINT, sent by the child to
# itself when the import starts (Python's own handler installed, whatever the
# child inherited: see test_interrupt.py).
INTERRUPTED_IMPORT = """
import os, signal, sys

signal.signal(signal.SIGINT, signal.default_int_handler)


class ControlC:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            os.kill(os.getpid(), signal.SIGINT)
        return None


sys.meta_path.insert(0, ControlC())
from skmnist.cli import main

sys.exit(main(["predict", "model.skmnist", "digits.npy"]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGINT to oneself on Windows")
def test_ctrl_c_while_importing_prints_one_line_and_exits_130():
    result = _python(INTERRUPTED_IMPORT)
    assert result.returncode == 130, result.stderr
    assert result.stderr == "skmnist: interrupted\n"
    assert result.stdout == ""
