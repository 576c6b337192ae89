"""How many CPU threads a fit and a predict use (the ``n_jobs`` parameter).

torch starts one OpenMP thread per visible core, whatever CPU time the
process may really use, and its threads spin while they wait for each other.
Where they share the cores with other work, or run under a CPU quota below
the visible cores (a container), every parallel region waits for its slowest
thread, and a fit with two threads took 2 to 10 times as long as with one
(measured on 2 cores, ``benchmarks/threads.py``). So:

- :func:`available_cpus` is what the process may use: its CPU affinity and
  its cgroup CPU quota (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``),
  whichever is lower.
- :class:`ThreadPolicy` turns ``n_jobs`` into either a fixed count or the
  counts to choose from: ``n_jobs=None`` respects a limit the user set
  (``OMP_NUM_THREADS``, ``torch.set_num_threads``,
  ``threadpoolctl.threadpool_limits``) and otherwise lets
  :class:`ThreadTuner` choose among 1, 2, 4, ... up to the available CPUs.
- :class:`ThreadTuner` times the training steps (or prediction blocks) at
  each candidate count, interleaved, keeps the fastest (the fewest threads
  within 10 % of it), and probes again when the step time drifts from what
  it measured, or after a while (2 s, doubling up to 32 s while the choice
  holds), since the machine's load comes and goes.

torch's thread setting is the calling thread's (OpenMP's); whatever it was
is restored when the fit or the predict ends.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "ONE_THREAD_MACS",
    "ThreadPolicy",
    "ThreadTuner",
    "available_cpus",
    "cgroup_cpu_limit",
]

#: Environment variables through which users limit torch's threads.
LIMIT_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

#: A CPU step of fewer multiply-adds than this (batch size x weights) trains on
#: one thread when the policy may choose: splitting a fraction of a
#: millisecond of work between threads saves nothing, while every parallel
#: region waits for all of torch's threads, which on a busy machine costs
#: milliseconds per operation (measured: an epoch of a 2-unit network went
#: from 0.7 ms to 30 ms), and timing such steps tells little. Measured on 2
#: cores (AMD EPYC Zen 5), one MNIST epoch at batch 128: two threads against
#: one took 0.94 to 1.04 times as long up to 1.6 million multiply-adds a step
#: (784-16-10), 0.72 to 0.90 at 3.3 and 6.5 million (784-32/64-10), 0.60 to
#: 0.70 at 26 million (784-256-10).
ONE_THREAD_MACS = 2**21


#: How long this process's cgroup CPU limit is reused before it is read
#: again: a predict of one row should not read a dozen files (0.1 ms).
LIMIT_CACHE_SECONDS = 1.0
_cached_limit: tuple[float, float | None] | None = None  # (when read, limit)


def cgroup_cpu_limit(
    proc_cgroup: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
) -> float | None:
    """The CPUs the process's cgroups allow (quota / period), None if unlimited.

    Reads cgroup v2's ``cpu.max`` and cgroup v1's ``cpu.cfs_quota_us`` and
    ``cpu.cfs_period_us`` in the process's cgroup (``proc_cgroup``, by
    default ``/proc/self/cgroup``) and each of its parents (a parent's quota
    binds its children), under ``root`` (by default ``/sys/fs/cgroup``);
    where the process's path is not under ``root`` (a container's own cgroup
    namespace), the files at ``root`` itself. The lowest limit found wins.
    Without arguments, a limit read less than :data:`LIMIT_CACHE_SECONDS`
    ago is reused.
    """
    global _cached_limit
    if proc_cgroup is None and root is None:
        now = time.monotonic()
        if _cached_limit is None or now - _cached_limit[0] > LIMIT_CACHE_SECONDS:
            _cached_limit = (
                now,
                _read_cpu_limit("/proc/self/cgroup", "/sys/fs/cgroup"),
            )
        return _cached_limit[1]
    return _read_cpu_limit(
        "/proc/self/cgroup" if proc_cgroup is None else proc_cgroup,
        "/sys/fs/cgroup" if root is None else root,
    )


def _read_cpu_limit(proc_cgroup: str | os.PathLike, root: str | os.PathLike):
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    root = Path(root)
    limits = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # cgroup v2
            base = root
        elif "cpu" in controllers.split(","):
            base = next(
                (
                    root / name
                    for name in (controllers, "cpu,cpuacct", "cpu")
                    if (root / name).is_dir()
                ),
                None,
            )
            if base is None:
                continue
        else:
            continue
        for folder in _folders(base, path):
            limit = _limit_in(folder)
            if limit is not None:
                limits.append(limit)
    return min(limits) if limits else None


def _folders(base: Path, path: str) -> Iterator[Path]:
    """``base/path`` and each of its parents up to ``base``."""
    relative = Path(path.strip("/"))
    if not (base / relative).is_dir():
        relative = Path()
    while True:
        yield base / relative
        if relative == Path():
            return
        relative = relative.parent


def _limit_in(folder: Path) -> float | None:
    """The CPU limit one cgroup folder sets (v2 or v1), None if none."""
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = (folder / "cpu.cfs_quota_us").read_text().strip()
            period = (folder / "cpu.cfs_period_us").read_text().strip()
        except (OSError, UnicodeDecodeError):
            return None
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:  # "max": no quota
        return None
    if quota_us <= 0 or period_us <= 0:  # v1's -1: no quota
        return None
    try:
        return quota_us / period_us
    except OverflowError:  # beyond any machine: no quota
        return None


def available_cpus() -> int:
    """The CPUs this process may use: its affinity, capped by its CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        count = min(count, max(1, math.ceil(limit)))
    return max(1, count)


@dataclass(frozen=True)
class ThreadPolicy:
    """The CPU thread counts a fit or a predict may use.

    ``candidates`` holds one count (used throughout) or several, among
    which a :class:`ThreadTuner` chooses by timing.
    """

    candidates: tuple[int, ...]

    @classmethod
    def from_n_jobs(cls, n_jobs: int | None) -> ThreadPolicy:
        """The policy of an estimator's ``n_jobs`` (see MLPDigitClassifier)."""
        available = available_cpus()
        if n_jobs is not None:  # the user's count, as scikit-learn reads n_jobs
            # At most one per CPU of the machine: torch would start them all.
            count = min(n_jobs, os.cpu_count() or 1)
            return cls((count if n_jobs > 0 else max(1, available + 1 + n_jobs),))
        current = torch.get_num_threads()
        if any(os.environ.get(name) for name in LIMIT_VARIABLES) or (
            current < available
        ):
            return cls((current,))  # a limit the user set
        counts = [1]
        while counts[-1] * 2 < available:
            counts.append(counts[-1] * 2)
        if available > 1:
            counts.append(available)
        return cls(tuple(counts))

    @classmethod
    def current(cls) -> ThreadPolicy:
        """torch's thread count as it is (for work that is not on the CPU)."""
        return cls((torch.get_num_threads(),))

    def for_step(self, module: nn.Module, rows: int) -> ThreadPolicy:
        """The policy for steps of ``rows`` rows through ``module``.

        A network off the CPU leaves torch's setting alone; a step below
        :data:`ONE_THREAD_MACS` runs on one thread where the policy may choose.
        """
        parameter = next(module.parameters(), None)
        if parameter is None or parameter.device.type != "cpu":
            return ThreadPolicy.current()
        weights = sum(
            p.numel() for n, p in module.named_parameters() if n.endswith("weight")
        )
        if len(self.candidates) > 1 and rows * weights < ONE_THREAD_MACS:
            return ThreadPolicy((1,))
        return self

    @contextlib.contextmanager
    def applied(self, **tuning) -> Iterator[ThreadTuner]:
        """Set torch's thread count for a fit or a predict; restore it after.

        Yields the :class:`ThreadTuner` to time each step with (``with
        tuner:``); with one candidate it only holds that count.
        """
        before = torch.get_num_threads()
        tuner = ThreadTuner(self.candidates, **tuning)
        try:
            yield tuner
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)


class ThreadTuner:
    """Chooses torch's thread count by timing the steps run under it.

    Use it around each step (``with tuner: step()``). The first ``warmup``
    steps run on the fewest threads, untimed but for the last; then a probe
    runs ``rounds`` rounds, each giving every remaining candidate
    ``per_round`` steps (the first untimed: it pays for waking or parking
    threads), in alternating order. A candidate drops out of the probe at
    once when a step of it takes ``abort`` times the best figure so far (on
    a busy machine too many threads can take 20 times as long), and after a
    round when its mean is twice the best. The choice is the fewest threads
    whose mean step time is within ``margin`` of the fastest.

    A probe starts again ``recheck`` seconds after the last (doubling, up to
    ``max_recheck``, while the choice holds, and never so soon that probing
    costs more than ``budget`` of the time: a probe's cost is its steps'
    time beyond what the chosen count would have taken), or, within that
    budget, as soon as the step time drifts from the probe's figure: the
    median of the last 3 steps ``abort`` times above it, or the mean of the
    last ``window`` steps ``drift`` times above or below it. The first of
    these starts a probe at once, whatever the budget, when the chosen count
    is not the fewest: threads that wait for each other cost the most.
    """

    def __init__(
        self,
        candidates: tuple[int, ...],
        *,
        warmup: int = 2,
        rounds: int = 3,
        per_round: int = 3,
        margin: float = 0.1,
        abort: float = 3.0,
        drift: float = 1.5,
        window: int = 16,
        recheck: float = 2.0,
        max_recheck: float = 32.0,
        budget: float = 0.03,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.candidates = tuple(sorted(set(candidates)))
        self.chosen = self.candidates[0]
        self.warmup, self.rounds, self.per_round = warmup, rounds, per_round
        self.margin, self.abort = margin, abort
        self.drift, self.window = drift, window
        self.first_recheck, self.max_recheck = recheck, max_recheck
        self.recheck, self.budget = recheck, budget
        self.clock = clock
        #: Every count chosen, in order (the first is the fewest threads).
        self.choices = [self.chosen]
        #: The probes' means (seconds per step at each count they kept).
        self.probes: list[dict[int, float]] = []
        self._plan: deque = deque()  # (count, timed) of the coming probe steps
        self._alive: list[int] = []
        self._samples: dict[int, list[float]] = {}
        self._round = 0
        self._cost = 0.0  # seconds the current probe spent, and its steps
        self._probe_steps = 0
        self._recent: deque = deque(maxlen=window)
        self._reference = math.inf
        self._next_probe = self._earliest = math.inf
        self._skip = warmup
        self._count = self.chosen
        self._started = 0.0
        self._set(self.chosen)

    @property
    def tuning(self) -> bool:
        return len(self.candidates) > 1

    def _set(self, count: int) -> None:
        if torch.get_num_threads() != count:
            torch.set_num_threads(count)

    def __enter__(self) -> ThreadTuner:
        if self.tuning:
            self._count = self._plan[0][0] if self._plan else self.chosen
            self._set(self._count)
            self._started = self.clock()
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None and self.tuning:
            self._record(self.clock() - self._started)

    def _record(self, elapsed: float) -> None:
        if self._skip:
            self._skip -= 1
            if not self._skip:
                self._reference = elapsed
                self._begin_probe()
            return
        if self._plan:
            self._record_probe(elapsed)
            return
        self._recent.append(elapsed)
        recent = list(self._recent)
        slower = len(recent) >= 3 and (
            statistics.median(recent[-3:]) > self.abort * self._reference
        )
        drifted = len(recent) == self.window and not (
            self._reference / self.drift
            <= statistics.fmean(recent)
            <= self._reference * self.drift
        )
        now = self.clock()
        # More threads than the fewest turning slow is the costly case (they
        # spin, waiting for each other): probe at once. Otherwise a drift
        # waits until probing is within its budget.
        urgent = slower and self.chosen != self.candidates[0]
        if (
            urgent
            or now >= self._next_probe
            or ((slower or drifted) and now >= self._earliest)
        ):
            self._begin_probe()

    def _begin_probe(self) -> None:
        self._alive = list(self.candidates)
        self._samples = {count: [] for count in self._alive}
        self._round, self._cost, self._probe_steps = 0, 0.0, 0
        self._plan_round()

    def _plan_round(self) -> None:
        order = self._alive if self._round % 2 == 0 else self._alive[::-1]
        for count in order:
            self._plan.append((count, False))
            self._plan.extend((count, True) for _ in range(self.per_round - 1))

    def _record_probe(self, elapsed: float) -> None:
        count, timed = self._plan.popleft()
        self._cost += elapsed
        self._probe_steps += 1
        if timed:
            self._samples[count].append(elapsed)
        best = min(
            [self._reference]
            + [statistics.fmean(v) for v in self._samples.values() if v]
        )
        if elapsed > self.abort * best and len(self._alive) > 1:
            self._alive.remove(count)
            del self._samples[count]
            self._plan = deque(entry for entry in self._plan if entry[0] != count)
        if not self._plan:
            self._end_round()

    def _end_round(self) -> None:
        self._round += 1
        # Means, not medians: the rare long waits of threads that share their
        # cores with other work are what makes a count slow.
        means = {c: statistics.fmean(v) for c, v in self._samples.items() if v}
        if not means:  # every count measured dropped out: keep the choice
            means = {self.chosen: self._reference}
        best = min(means.values())
        self._alive = [c for c in means if means[c] <= 2 * best]
        if self._round < self.rounds and len(self._alive) > 1:
            self._plan_round()
            return
        chosen = min(c for c in self._alive if means[c] <= (1 + self.margin) * best)
        if chosen == self.chosen:
            self.recheck = min(2 * self.recheck, self.max_recheck)
        else:
            self.recheck = self.first_recheck
            self.chosen = chosen
            self.choices.append(chosen)
        self.probes.append(means)
        self._reference = means[chosen]
        excess = max(0.0, self._cost - self._probe_steps * self._reference)
        self._recent.clear()
        now = self.clock()
        self._earliest = now + excess / self.budget
        self._next_probe = now + max(self.recheck, excess / self.budget)
        self._set(chosen)
