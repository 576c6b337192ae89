"""Run benchmark stages one by one, each in a forked process with a time limit.

A stage is a function that takes a context and reports its figures as it
goes (``context.report(name=value, ...)``). :func:`run_stage` forks a process
for it, in a process group of its own, and waits at most ``limit_s``
seconds: a stage that raises is recorded as ``failed`` with its traceback, a
:class:`StageSkipped` as ``skipped`` with its reason, one that runs too long
as ``timeout`` (its process group is killed, subprocesses included) and one
whose process dies as ``crashed``; the figures reported before that are
kept. Nothing a stage does can stop the next one. The parent must not have
started CUDA before forking (the forked processes could not use it).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class StageSkipped(Exception):
    """Raised by a stage that cannot run here (its reason is recorded)."""


@dataclass
class Stage:
    name: str
    run: Callable[[object], None]
    limit_s: float


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def write_json(path: Path, payload: dict) -> None:
    """Replace ``path`` in one step, so that a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    partial.replace(path)


def log(log_path: Path, message: str) -> None:
    """Print ``message`` with the time, and append it to the log."""
    line = f"[gpu_check {time.strftime('%H:%M:%S')}] {message}"
    print(line, flush=True)
    with open(log_path, "a") as file:
        file.write(line + "\n")


def _child(stage: Stage, make_context, result_path: Path, log_path: Path) -> None:
    """Run one stage (in a forked process); its record goes to ``result_path``."""
    code = 0
    try:
        os.setpgid(0, 0)  # its own group: a timeout ends its subprocesses too
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.dup2(fd, 1)  # all it prints, C libraries' output too, goes to the log
        os.dup2(fd, 2)
        print(f"---- stage {stage.name}", flush=True)
        record = {"status": "running", "figures": {}, "error": None}

        def report(**figures):
            record["figures"].update(figures)
            write_json(result_path, record)

        try:
            stage.run(make_context(report=report))
            record["status"] = "ok"
        except StageSkipped as reason:
            record.update(status="skipped", error=str(reason))
        except BaseException:
            record.update(status="failed", error=traceback.format_exc()[-4000:])
            traceback.print_exc()
        write_json(result_path, record)
    except BaseException:
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _end_group(process) -> None:
    """Stop a stage's process and everything it started."""
    for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except OSError:
            if process.is_alive():
                process.kill()
        process.join(wait)
        if not process.is_alive():
            return


def run_stage(
    stage: Stage, make_context, limit_s: float, work: Path, log_path: Path
) -> dict:
    """One stage in a forked process with a time limit: its status and figures."""
    result_path = work / f"{stage.name}.json"
    process = multiprocessing.get_context("fork").Process(
        target=_child, args=(stage, make_context, result_path, log_path)
    )
    started = time.monotonic()
    process.start()
    try:
        os.setpgid(process.pid, process.pid)
    except OSError:
        pass  # the child has already done it
    process.join(limit_s)
    timed_out = process.is_alive()
    if timed_out:
        _end_group(process)
    else:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything it left behind
        except OSError:
            pass
    record = {"status": "running", "figures": {}, "error": None}
    if result_path.exists():
        record = json.loads(result_path.read_text())
    if timed_out:
        record.update(status="timeout", error=f"stopped after {limit_s:.0f} s")
    elif record["status"] == "running":
        record.update(
            status="crashed", error=f"the stage's process ended with {process.exitcode}"
        )
    record["seconds"] = round(time.monotonic() - started, 2)
    record["limit_s"] = round(limit_s, 1)
    return record
