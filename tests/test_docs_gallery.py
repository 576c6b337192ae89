"""The documentation's check that gallery pages show nothing of the build machine."""

import importlib.util
import logging
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import sklearn.pipeline
from sklearn.exceptions import ConvergenceWarning

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def checks():
    pytest.importorskip("sphinx")
    spec = importlib.util.spec_from_file_location(
        "gallery_checks", DOCS / "sphinxext" / "gallery_checks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def printed_warning() -> str:
    """A ConvergenceWarning as an example's output showed it, from this machine."""
    return warnings.formatwarning(
        "Stochastic optimizer: maximum iterations (10) reached and the "
        "optimization hasn't converged yet.",
        ConvergenceWarning,
        sklearn.pipeline.__file__,
        645,
        'self._final_estimator.fit(Xt, y, **last_step_params["fit"])',
    )


def page(output: str) -> str:
    """A gallery page's reStructuredText with ``output`` as the script's output."""
    block = "\n".join(f"    {line}" for line in output.splitlines())
    return (
        "Title\n=====\n\n.. code-block:: Python\n\n    model.fit(X, y)\n\n"
        f".. rst-class:: sphx-glr-script-out\n\n .. code-block:: none\n\n{block}\n"
    )


def test_a_printed_warning_and_its_path_are_found(checks):
    paths = checks.machine_paths(DOCS.parent)
    assert str(Path(sys.prefix)) in paths
    found = checks.problems(page(printed_warning()), paths)
    assert found[0] == "a printed ConvergenceWarning (from pipeline.py, line 645)"
    assert any("the build machine's path" in problem for problem in found)


def test_paths_of_the_repository_and_temporary_folders_are_found(checks):
    paths = checks.machine_paths(DOCS.parent)
    saved = DOCS.parent / "docs" / "model.skops"
    found = checks.problems(page(f"saved to {saved}"), paths)
    assert found == [f"the build machine's path {str(DOCS.parent)!r}: saved to {saved}"]


def test_a_clean_page_passes(checks):
    paths = checks.machine_paths(DOCS.parent)
    output = "model.skops: 0.82 MB\naccuracy: 0.952 (/ 1.0)\nsee docs/quickstart.rst"
    assert checks.problems(page(output), paths) == []


def test_only_gallery_pages_are_checked_and_each_problem_is_a_warning(checks, caplog):
    app = SimpleNamespace(srcdir=str(DOCS))
    source = [page(printed_warning() * 3)]
    with caplog.at_level(logging.WARNING):
        checks.check_page(app, "user_guide/classifier", source)
        assert caplog.records == []
        checks.check_page(app, "auto_examples/plot_grid_search", source)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0] == (
        "the page shows a printed ConvergenceWarning (from pipeline.py, line 645)"
        " (3 times); the example should not print it."
    )
    assert "the build machine's path" in messages[1]
    assert messages[1].endswith("(3 times); the example should not print it.")
