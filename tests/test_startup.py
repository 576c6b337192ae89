"""Start-up: what ``import skmnist`` imports.

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

from skmnist import MLPDigitClassifier
from skmnist.persistence import save_model

ROOT = Path(__file__).resolve().parents[1]

# None of which `import skmnist` imports.
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


IMPORTS = f"""
import json, sys
import skmnist, skmnist.datasets
package = {_loaded(HEAVY)}
from skmnist import MLPDigitClassifier
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
