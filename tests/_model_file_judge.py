"""The judge of mutated model files: load each in a child process, use it, report.

:class:`Judge` starts a worker process (``python _model_file_judge.py
--worker``) that imports skmnist once and then, for each file it is sent,
forks a child that loads the file and, if it loads, runs every public method
on it (:func:`examine`). The child runs under ``RLIMIT_AS`` and a timeout: a
crash (SIGSEGV, heap corruption, abort), a hang or a memory blow-up is
reported for that file, and the next file gets a fresh child. If the worker
itself dies, it is started again after the file that killed it.

Each file gets one outcome:

``refused``
    :func:`~skmnist.persistence.load_model` raised a ValueError naming the
    file.
``safe``
    It loaded, and predict, predict_proba, score (or transform), a save and
    reload, partial_fit (where the solver has it), a warm-start fit and a
    fresh fit all ran. Those that train may instead raise a clear error (a
    ValueError, TypeError or MemoryError raised by skmnist or scikit-learn
    code, with a message): a file's parameters may be ones that a fit refuses.
    Training is bounded to ``max_iter=2`` epochs.
``FAILED``
    Anything else: load_model raised another exception, or a ValueError not
    naming the file, or ran out of memory (a file describing more than it
    holds); or a method on the loaded model crashed the process, hung, raised
    any exception from predict/predict_proba/score/transform/save, raised an
    exception from deep inside torch or NumPy (or of another type) in
    training, or returned non-finite or out-of-range probabilities or labels
    outside ``classes_``, or ``classes_`` that are not sorted and unique; or
    the file was one that must be refused (:attr:`Mutation.must_refuse`), or
    a pipeline's ``memory`` (a folder whose joblib cache a fit would
    unpickle) was loaded.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _model_file_mutations import (  # noqa: E402
    BASES,
    MEMORY_LIMIT,
    TIMEOUT_S,
    Mutation,
    base_data,
)

#: Exceptions a training method may raise for a file's parameters.
_CLEAR = (ValueError, TypeError, MemoryError)
_OUR_CODE = (f"{os.sep}skmnist{os.sep}", f"{os.sep}sklearn{os.sep}")
_MAX_ITER = 2


class Failure(Exception):
    """A method misbehaved; the message says how."""


def _origin(exc: BaseException) -> str:
    """``file:line`` of the innermost frame of the exception's traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"


def _describe(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    text = text if len(text) <= 240 else text[:237] + "..."
    where = _origin(exc)
    for marker in ("site-packages" + os.sep, f"{os.sep}skmnist{os.sep}"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{type(exc).__name__}: {text} [at {where}]"


def _is_clear(exc: BaseException) -> bool:
    """Raised on purpose by skmnist or scikit-learn, with a message.

    The innermost frame must be a ``raise`` statement of their code: an
    error that Python or torch raised inside it (a TypeError from ``+``, a
    ValueError from ``Tensor.item``) is not one.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    return (
        isinstance(exc, _CLEAR)
        and bool(str(exc).strip())
        and bool(frames)
        and any(part in frames[-1].filename for part in _OUR_CODE)
        and (frames[-1].line or "").lstrip().startswith("raise")
    )


def _classifier(model):
    from sklearn.pipeline import Pipeline

    from skmnist import MLPDigitClassifier

    last = model.steps[-1][1] if isinstance(model, Pipeline) else model
    return last if isinstance(last, MLPDigitClassifier) else None


def _labels(model, base: str, y: np.ndarray) -> np.ndarray:
    """``y`` as the loaded model's labels (its classes_ may differ from the base's)."""
    clf = _classifier(model)
    if base == "multilabel" or clf is None:
        return y
    base_classes = np.unique(y)
    classes = np.asarray(clf.classes_)
    if classes.ndim != 1 or len(classes) != len(base_classes):
        return y
    return classes[np.searchsorted(base_classes, y)]


def _check_classes(model) -> None:
    """classes_ as every scikit-learn classifier has them: np.unique of labels."""
    clf = _classifier(model)
    if clf is None:
        return
    classes = np.asarray(clf.classes_)  # multilabel: the labels' indices
    if classes.ndim != 1 or not np.array_equal(classes, np.unique(classes)):
        raise Failure(f"classes_ are not sorted and unique: {classes!r:.80}")


def _check_predictions(model, X, y) -> None:
    clf = _classifier(model)
    if clf is None:  # a pipeline of scalers, or a scaler
        out = np.asarray(model.transform(X))
        if out.shape != X.shape or not np.isfinite(out).all():
            raise Failure(f"transform gave {out.shape} or non-finite values")
        return
    labels = np.asarray(model.predict(X))
    if labels.shape[0] != len(X):
        raise Failure(f"predict gave shape {labels.shape} for {len(X)} rows")
    if labels.ndim == 1 and not np.isin(labels, np.asarray(clf.classes_)).all():
        raise Failure("predict gave labels outside classes_")
    proba = np.asarray(model.predict_proba(X))
    if proba.shape[0] != len(X) or not np.isfinite(proba).all():
        raise Failure(
            f"predict_proba gave {proba.shape}, finite: {np.isfinite(proba).mean():.0%}"
        )
    if proba.min() < 0 or proba.max() > 1:
        raise Failure("predict_proba gave values outside [0, 1]")
    score = model.score(X, y)
    if not 0 <= score <= 1:
        raise Failure(f"score gave {score!r}")


def examine(path: str, base: str, must_refuse: bool) -> dict:
    """Load the file and use it; the outcome (see the module documentation)."""
    from skmnist.persistence import load_model, save_model

    X, y = DATA[base]
    name = os.path.basename(path)
    try:
        model = load_model(path, device="cpu")
    except ValueError as exc:
        message = str(exc)
        if "more memory than this machine has" in message:
            return _failed("load", f"allocated beyond RLIMIT_AS: {_describe(exc)}")
        if name not in message:
            return _failed("load", f"message does not name the file: {_describe(exc)}")
        return {"outcome": "refused", "detail": _describe(exc)}
    except BaseException as exc:  # every other one is a failure
        return _failed("load", _describe(exc))
    if must_refuse:
        return _failed("load", f"loaded a {type(model).__name__}: must be refused")
    if getattr(model, "memory", None) is not None:  # joblib unpickles its cache
        return _failed("load", f"Pipeline.memory={model.memory!r:.60} was loaded")

    clear = []
    step = "classes_"
    try:
        _check_classes(model)
        step = "predict"
        yt = _labels(model, base, y)
        _check_predictions(model, X, yt)
        step = "save"
        copy = f"{path}.{os.getpid()}.saved.skmnist"  # workers warm up together
        save_model(model, copy)
        step = "load the saved copy"
        saved = load_model(copy, device="cpu")
        _check_predictions(saved, X, yt)
        for step in ("partial_fit", "warm start", "fit"):
            # A fresh fit uses only the parameters: the saved copy has them.
            loaded = saved if step == "fit" else load_model(path, device="cpu")
            error = _train(loaded, step, X, yt)
            if error:
                clear.append(f"{step}: {error}")
    except Failure as exc:
        return _failed(step, str(exc))
    except BaseException as exc:
        return _failed(step, _describe(exc))
    detail = "; ".join(clear) if clear else "every method ran"
    return {"outcome": "safe", "detail": detail, "clear_error": bool(clear)}


def _train(model, step: str, X, y) -> str | None:
    """Train the loaded model as ``step`` says; a clear error's text, or None."""
    clf = _classifier(model)
    if clf is None:
        if step == "fit":
            model.fit(X)
            _check_predictions(model, X, y)
        return None
    if isinstance(clf.max_iter, int) and clf.max_iter > _MAX_ITER:
        clf.set_params(max_iter=_MAX_ITER)
    try:
        if step == "partial_fit":
            if not hasattr(clf, "partial_fit") or clf.early_stopping is True:
                return None  # lbfgs, early stopping: partial_fit does not apply
            Xt = X
            for _, transformer in getattr(model, "steps", [])[:-1]:
                Xt = transformer.transform(Xt)
            clf.partial_fit(Xt, y)
        else:
            if step == "warm start":
                clf.set_params(warm_start=True)
            model.fit(X, y)
    except Failure:
        raise
    except BaseException as exc:
        if _is_clear(exc):
            return _describe(exc)
        raise
    _check_predictions(model, X, y)
    return None


def _failed(step: str, what: str) -> dict:
    return {"outcome": "FAILED", "step": step, "detail": what}


# --------------------------------------------------------------------------
# The worker: a fork server
# --------------------------------------------------------------------------
DATA: dict[str, tuple[np.ndarray, np.ndarray]] = {}


#: A child judges this many files, then a fresh one takes over (and after
#: any failure): what one hostile model did to the process cannot last long.
CHILD_FILES = 50


def _child_loop(requests: int, results: int) -> None:
    """In a forked child: judge the files the worker sends, until told to stop."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # verbose fits print: keep the protocol clean
        os.dup2(devnull, fd)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    import warnings

    warnings.simplefilter("ignore")
    with os.fdopen(requests, "rb") as lines:
        for line in lines:
            request = json.loads(line)
            try:
                probe = request.get("probe")
                if probe == "segfault":
                    os.kill(os.getpid(), signal.SIGSEGV)
                elif probe == "hang":
                    time.sleep(3600)
                elif probe == "allocate":
                    bytearray(2 * MEMORY_LIMIT)
                result = examine(
                    request["path"], request["base"], request["must_refuse"]
                )
            except BaseException as exc:
                result = _failed("judge", _describe(exc))
            os.write(results, (json.dumps(result) + "\n").encode())
    os._exit(0)


class _Child:
    """A forked child of the worker, and the pipes to it."""

    def __init__(self):
        requests_r, self.requests = os.pipe()
        self.results, results_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.requests)
            os.close(self.results)
            try:
                _child_loop(requests_r, results_w)
            finally:
                os._exit(1)
        os.close(requests_r)
        os.close(results_w)
        self.pending, self.files = b"", 0

    def judge(self, request: dict) -> tuple[dict, bool]:
        """The outcome, and whether this child is still alive."""
        os.write(self.requests, (json.dumps(request) + "\n").encode())
        deadline = time.perf_counter() + request.get("timeout", TIMEOUT_S)
        while b"\n" not in self.pending:
            left = deadline - time.perf_counter()
            ready, _, _ = select.select([self.results], [], [], max(left, 0))
            if not ready:
                self.close()
                return _failed(
                    "?", f"hang: no outcome in {request['timeout']} s"
                ), False
            chunk = os.read(self.results, 65536)
            if not chunk:
                return _failed("?", self._death()), False
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        self.files += 1
        result = json.loads(line)
        alive = result["outcome"] != "FAILED" and self.files < CHILD_FILES
        if not alive:
            self.close()
        return result, alive

    def _death(self) -> str:
        _, status = os.waitpid(self.pid, 0)
        self._close_pipes()
        if os.WIFSIGNALED(status):
            return f"crash: killed by {signal.Signals(os.WTERMSIG(status)).name}"
        return f"crash: the process exited with status {os.WEXITSTATUS(status)}"

    def _close_pipes(self) -> None:
        for fd in (self.requests, self.results):
            os.close(fd)

    def close(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        self._close_pipes()


def worker() -> None:
    """Read requests (JSON lines) on stdin; write one outcome line for each."""
    import importlib

    importlib.import_module("skmnist.persistence")  # once, before the forks

    for base in BASES:
        DATA[base] = base_data(base)
    print(json.dumps({"ready": True}), flush=True)
    child = None
    for line in sys.stdin:
        request = json.loads(line)
        if "warm" in request:  # the first use of each kind of model, here:
            _warm(request["warm"])  # the forked children start warm
            print(json.dumps({"warm": True}), flush=True)
            continue
        started = time.perf_counter()
        child = child or _Child()
        result, alive = child.judge(request)
        child = child if alive else None
        result["seconds"] = round(time.perf_counter() - started, 3)
        print(json.dumps(result), flush=True)


def _warm(paths: dict[str, str]) -> None:
    """Use the unchanged files once in this process, on one thread.

    torch initialises lazily (about two seconds of a child's first fit);
    with one thread it starts no thread pool, so forking stays safe.
    """
    import warnings

    import torch

    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for base, path in paths.items():
            result = examine(path, base, must_refuse=False)
            if result["outcome"] != "safe":
                raise RuntimeError(f"the unchanged {base} file is not safe: {result}")


class Judge:
    """Judge files in a worker process; started again if it dies."""

    def __init__(
        self, folder: Path, bases: dict[str, Path], timeout: float = TIMEOUT_S
    ):
        self.folder, self.timeout, self.process = Path(folder), timeout, None
        self.bases = {base: str(path) for base, path in bases.items()}
        self.restarts, self.starting, self.retried = 0, False, False

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc) -> None:
        self._stop()

    def __hash__(self) -> int:
        return id(self)

    def start(self) -> Judge:
        """Start the worker (it imports and warms up while others start)."""
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(HERE.parent), os.environ.get("PYTHONPATH", "")]
            ),
        }
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=self.folder,  # where a loaded pipeline's memory="x" would write
        )
        self.process.stdin.write((json.dumps({"warm": self.bases}) + "\n").encode())
        self.process.stdin.flush()
        self.starting = True
        return self

    def _stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process.stdin.close()
            self.process.stdout.close()
            self.process = None

    def _read(self, timeout: float) -> dict | None:
        out = self.process.stdout
        ready, _, _ = select.select([out], [], [], timeout)
        line = out.readline() if ready else b""
        return json.loads(line) if line else None

    def send(self, request: dict) -> None:
        if self.process is None or self.process.poll() is not None:
            if self.process is not None:
                self.restarts += 1
            self.start()
        self.request = {"timeout": self.timeout, **request}
        self.process.stdin.write((json.dumps(self.request) + "\n").encode())
        self.process.stdin.flush()

    def receive(self) -> dict:
        while True:  # after a start: first the lines "ready" and "warm"
            result = self._read(self.request["timeout"] + 60 + 120 * self.starting)
            if result is None or "outcome" in result:
                break
            self.starting = not result.get("warm")
        if result is None and self.starting and not self.retried:
            # It died or stalled before it was warm (a loaded machine can take
            # minutes to import and warm up): not the file's doing. Once more.
            self._stop()
            self.retried = True
            self.send(self.request)
            return self.receive()
        self.retried = False
        if result is None:  # the worker itself died (or hung): judged a crash
            code = self.process.poll()
            self._stop()
            self.restarts += 1
            return _failed("?", f"crash: the worker died (status {code})")
        return result

    def ask(self, request: dict) -> dict:
        """Judge one request (a file, or a probe of the judge itself)."""
        self.send(request)
        return self.receive()

    def fileno(self) -> int:
        return self.process.stdout.fileno()


def judge_all(
    mutations: list[Mutation],
    folder: Path,
    bases: dict[str, Path],
    *,
    jobs: int = 1,
    timeout: float = TIMEOUT_S,
    progress=None,
    judges: list[Judge] | None = None,
) -> list[dict]:
    """The outcome of every mutation, judged by ``jobs`` workers; in order.

    Each outcome holds the mutation's ``name``, ``kind`` and ``where``,
    ``outcome``, ``detail``, ``seconds``, and for a failure the ``step``.
    ``judges``, if given, are used (and left running) instead of ``jobs`` new ones.
    """
    folder = Path(folder)
    results: list[dict | None] = [None] * len(mutations)
    own = judges is None
    if own:
        judges = [Judge(folder, bases, timeout).start() for _ in range(max(1, jobs))]
    busy: dict[Judge, tuple[int, Path]] = {}
    todo = iter(enumerate(mutations))
    try:
        while True:
            for judge in judges:
                if judge in busy:
                    continue
                item = next(todo, None)
                if item is None:
                    break
                index, mutation = item
                path = folder / f"fuzzed-{index}.skmnist"
                path.write_bytes(mutation.make())
                judge.send(
                    {
                        "path": str(path),
                        "base": mutation.name.split(":", 1)[0],
                        "must_refuse": mutation.must_refuse,
                    }
                )
                busy[judge] = (index, path)
            if not busy:
                break
            ready, _, _ = select.select(list(busy), [], [], timeout + 60)
            for judge in ready or list(busy):
                index, path = busy.pop(judge)
                result = judge.receive()
                for leftover in [path, *folder.glob(f"{path.name}.*.saved.skmnist")]:
                    leftover.unlink(missing_ok=True)
                mutation = mutations[index]
                results[index] = {
                    "name": mutation.name,
                    "kind": mutation.kind,
                    "where": mutation.where,
                    **result,
                }
                if progress is not None:
                    progress(results[index])
    finally:
        for judge in judges if own else ():
            judge._stop()
    return results


# --------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------
def summary_line(results: list[dict]) -> str:
    counts = {o: sum(r["outcome"] == o for r in results) for o in OUTCOMES}
    clear = sum(bool(r.get("clear_error")) for r in results)
    return (
        f"model-file fuzzing: {len(results)} mutations, {counts['refused']} refused, "
        f"{counts['safe']} loaded and safe ({clear} of them with a clear error "
        f"from a training method), {counts['FAILED']} FAILED"
    )


OUTCOMES = ("refused", "safe", "FAILED")


def failures(results: list[dict], limit: int = 3) -> str:
    """The failures, grouped by class: a count and ``limit`` examples each."""
    by_kind: dict[str, list[dict]] = {}
    for result in results:
        if result["outcome"] == "FAILED":
            by_kind.setdefault(result["kind"], []).append(result)
    lines = []
    for kind, group in sorted(by_kind.items()):
        lines.append(f"{kind}: {len(group)} FAILED")
        lines += [
            f"    {r['name']}: {r.get('step')}: {r['detail'][:300]}"
            for r in group[:limit]
        ]
    return "\n".join(lines)


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    worker()
