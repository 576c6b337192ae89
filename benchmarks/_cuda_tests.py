"""The tests that are skipped without CUDA: found, then run on this machine's GPU.

A test counts when a ``skipif`` marker whose reason names CUDA or a GPU
skips it once CUDA is hidden (``CUDA_VISIBLE_DEVICES=""``): the files of
``tests/`` that mention CUDA are collected in a forked process that hides
it, then the tests found run in this one, which sees the GPU. Tests that
call ``pytest.skip`` inside their body are not found this way.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


class _CudaOnly:
    """pytest plugin: the node ids of tests a skipif marker skips for want of CUDA."""

    def __init__(self):
        self.ids = []

    def pytest_collection_modifyitems(self, items):
        for item in items:
            for mark in item.iter_markers("skipif"):
                reason = str(mark.kwargs.get("reason", "")).lower()
                condition = mark.args[0] if mark.args else False
                if condition is True and ("cuda" in reason or "gpu" in reason):
                    self.ids.append(item.nodeid)
                    break


class _Outcomes:
    """pytest plugin: each test's outcome, and the first lines of each failure."""

    def __init__(self):
        self.outcomes, self.failures = {}, {}

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome != "passed":
            self.outcomes[report.nodeid] = report.outcome
            if report.outcome == "failed":
                self.failures[report.nodeid] = str(report.longrepr)[-2000:]


def run_cuda_only_tests(repo: Path, report: Callable[..., None]) -> None:
    """Find the tests that skip without CUDA, run them here, ``report`` outcomes."""
    import pytest  # here, so that importing gpu_check needs no pytest

    os.chdir(repo)  # pytest's node ids are relative to the repository
    files = sorted(
        str(path.relative_to(repo))
        for path in (repo / "tests").glob("test_*.py")
        if "cuda" in path.read_text().lower() and path.name != "test_gpu_check.py"
    )
    ids_file = Path(tempfile.mkstemp(suffix=".json")[1])
    pid = os.fork()  # collect with CUDA hidden, in a process of its own
    if pid == 0:
        code = 1
        try:
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
            collector = _CudaOnly()
            options = ["--collect-only", "-q", "-p", "no:cacheprovider"]
            options.append("--continue-on-collection-errors")
            exit_code = pytest.main([*options, *files], plugins=[collector])
            ids_file.write_text(json.dumps([int(exit_code), collector.ids]))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    exit_code, ids = json.loads(ids_file.read_text() or "[null, []]")
    ids_file.unlink()
    report(files=files, collection_exit_code=exit_code, cuda_only_tests=ids)
    if not ids:
        raise RuntimeError(
            f"no test found that skips without CUDA in {files} (pytest exit code "
            f"{exit_code}, process status {status}; see the log)"
        )
    outcomes = _Outcomes()
    code = pytest.main(
        ["-q", "-rs", "-p", "no:cacheprovider", *ids], plugins=[outcomes]
    )
    counts = {
        k: list(outcomes.outcomes.values()).count(k)
        for k in ("passed", "failed", "skipped")
    }
    report(
        pytest_exit_code=int(code),
        outcomes=outcomes.outcomes,
        failures=outcomes.failures,
        **counts,
        goal="every CUDA-only test passes",
        goal_met=counts["passed"] == len(ids),
        summary=", ".join(f"{v} {k}" for k, v in counts.items()),
    )
