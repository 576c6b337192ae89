"""The thread policy: available CPUs, n_jobs, the tuner, torch's setting restored."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skmnist import MLPDigitClassifier
from skmnist._training import threads
from skmnist._training.threads import (
    ThreadPolicy,
    ThreadTuner,
    available_cpus,
    cgroup_cpu_limit,
)

# Fits of 2 epochs do not converge, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# ----------------------------------------------------------- cgroup quotas


def _cgroup(tmp_path, proc: str, files: dict[str, str]):
    (tmp_path / "proc").write_text(proc)
    root = tmp_path / "cg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "proc", root


@pytest.mark.parametrize(
    ("proc", "files", "expected"),
    [
        ("0::/job\n", {"job/cpu.max": "150000 100000\n"}, 1.5),
        ("0::/job\n", {"job/cpu.max": "max 100000\n"}, None),
        # A parent's quota binds its child.
        (
            "0::/a/b\n",
            {"a/cpu.max": "100000 100000", "a/b/cpu.max": "400000 100000"},
            1.0,
        ),
        # A container's own namespace: the path is not under the root.
        ("0::/elsewhere\n", {"cpu.max": "200000 100000"}, 2.0),
        # cgroup v1.
        (
            "4:cpu,cpuacct:/job\n",
            {
                "cpu,cpuacct/job/cpu.cfs_quota_us": "50000",
                "cpu,cpuacct/job/cpu.cfs_period_us": "100000",
            },
            0.5,
        ),
        (
            "4:cpu:/job\n",
            {"cpu/job/cpu.cfs_quota_us": "-1", "cpu/job/cpu.cfs_period_us": "100000"},
            None,
        ),
        ("0::/job\n", {"job/cpu.max": "garbage"}, None),
        ("0::/\n", {"cpu.max": "9" * 400 + " 100000"}, None),
        ("not a cgroup line\n", {}, None),
    ],
)
def test_cgroup_cpu_limit(tmp_path, proc, files, expected):
    assert cgroup_cpu_limit(*_cgroup(tmp_path, proc, files)) == expected


def test_cgroup_cpu_limit_of_undecodable_files(tmp_path):
    """Bytes that are not UTF-8 read as no limit, not a UnicodeDecodeError."""
    (tmp_path / "proc").write_bytes(b"0::/\xff\n")
    assert cgroup_cpu_limit(tmp_path / "proc", tmp_path) is None
    (tmp_path / "proc").write_text("4:cpu:/\n")
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_bytes(b"\xff")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert cgroup_cpu_limit(tmp_path / "proc", tmp_path) is None


def test_cgroup_cpu_limit_without_cgroups(tmp_path):
    assert cgroup_cpu_limit(tmp_path / "absent", tmp_path) is None


@pytest.mark.parametrize(
    ("affinity", "quota", "expected"),
    [(4, None, 4), (4, 1.5, 2), (4, 0.2, 1), (2, 8.0, 2), (1, None, 1)],
)
def test_available_cpus(monkeypatch, affinity, quota, expected):
    monkeypatch.setattr(
        threads.os, "sched_getaffinity", lambda pid: set(range(affinity))
    )
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: quota)
    assert available_cpus() == expected


# ------------------------------------------------------------------ n_jobs


@pytest.fixture
def four_cpus(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 4)
    for name in threads.LIMIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("n_jobs", "candidates"),
    [
        (None, (1, 2, 4)),
        (1, (1,)),
        (3, (3,)),
        (8, (8,)),
        (10**9, (8,)),
        (-1, (4,)),
        (-2, (3,)),
        (-9, (1,)),
    ],
)
def test_policy_of_n_jobs(four_cpus, monkeypatch, n_jobs, candidates):
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 8)
    assert ThreadPolicy.from_n_jobs(n_jobs).candidates == candidates


def test_policy_respects_the_users_limits(four_cpus, monkeypatch):
    torch.set_num_threads(2)  # torch.set_num_threads, or threadpoolctl
    assert ThreadPolicy.from_n_jobs(None).candidates == (2,)
    torch.set_num_threads(4)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert ThreadPolicy.from_n_jobs(None).candidates == (4,)
    assert ThreadPolicy.from_n_jobs(1).candidates == (1,)  # n_jobs wins


def test_small_steps_take_one_thread_only_when_the_policy_chooses():
    small, large = torch.nn.Linear(10, 2), torch.nn.Linear(784, 512)
    auto = ThreadPolicy((1, 2))
    assert auto.for_step(small, 128).candidates == (1,)
    assert auto.for_step(large, 128) is auto
    assert ThreadPolicy((2,)).for_step(small, 128).candidates == (2,)


# ------------------------------------------------------------------- tuner


def _simulate(candidates, step_seconds, n_steps, **tuning):
    """Run ``n_steps`` steps whose time is ``step_seconds(step, threads)``."""
    now = [0.0]
    counts = []
    tuner = ThreadTuner(candidates, clock=lambda: now[0], **tuning)
    for step in range(n_steps):
        with tuner:
            count = torch.get_num_threads()
            counts.append(count)
            now[0] += step_seconds(step, count)
    return now[0], counts, tuner


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


QUIET = {1: 0.030, 2: 0.020}  # two threads 1.5x faster
LOADED = {1: 0.024, 2: 0.530}  # beside busy processes: 22x slower (measured)
SLIGHT = {1: 0.020, 2: 0.0195}  # within the margin: the fewer threads


@pytest.mark.parametrize(
    ("times", "best"), [(QUIET, 2), (LOADED, 1), (SLIGHT, 1)], ids=str
)
def test_tuner_keeps_the_fastest_count_at_little_cost(restore_threads, times, best):
    total, counts, tuner = _simulate((1, 2), lambda s, c: times[c], 1000)
    assert tuner.chosen == best
    assert counts[-100:] == [best] * 100
    assert total <= 1.1 * 1000 * min(times.values())


@pytest.mark.parametrize(
    ("before", "after"), [(QUIET, LOADED), (LOADED, QUIET)], ids=["load", "unload"]
)
def test_tuner_follows_the_load(restore_threads, before, after):
    def seconds(step, count):
        return (before if step < 500 else after)[count]

    total, counts, tuner = _simulate((1, 2), seconds, 3000)
    best_after = min(after, key=after.get)
    assert tuner.chosen == best_after
    assert counts[-200:] == [best_after] * 200
    ideal = 500 * min(before.values()) + 2500 * min(after.values())
    assert total <= 1.2 * ideal


def test_tuner_is_not_fooled_by_lucky_steps(restore_threads):
    # Beside busy processes, two threads sometimes run a step fast (both
    # happened to get a core) and mostly wait: their mean is what counts.
    rng = np.random.default_rng(0)

    def seconds(step, count):
        if count == 1:
            return 0.024 * rng.uniform(0.6, 1.6)
        return 0.012 if rng.random() < 0.4 else 0.3

    total, counts, _ = _simulate((1, 2), seconds, 2000)
    assert counts.count(2) < 0.03 * len(counts)
    assert total <= 1.15 * 2000 * 0.024 * 1.1


def test_tuner_bounds_its_probes_when_the_load_comes_in_bursts(restore_threads):
    # One thread slows 3x in bursts (other work); two threads are mostly
    # hopeless with lucky steps. The tuner's probes once followed every
    # burst (2.6x the time of one thread); the budget bounds them.
    rng = np.random.default_rng(0)

    def seconds(step, count):
        if count == 2:
            return 0.012 if rng.random() < 0.3 else 0.5
        return (0.08 if step % 60 < 12 else 0.024) * rng.uniform(0.8, 1.2)

    total, counts, _ = _simulate((1, 2), seconds, 2000)
    one_thread = 2000 * (12 * 0.08 + 48 * 0.024) / 60
    assert total <= 1.2 * one_thread
    assert counts.count(2) < 0.02 * len(counts)


def test_tuner_drops_a_hopeless_count_after_one_step(restore_threads):
    _, counts, tuner = _simulate((1, 2), lambda s, c: LOADED[c], 20)
    assert counts[:2] == [1, 1]  # warm-up on the fewest threads
    assert counts.count(2) == 1
    assert tuner.probes[0] == {1: pytest.approx(LOADED[1])}


def test_tuner_with_one_count_only_holds_it(restore_threads):
    _, counts, tuner = _simulate((1,), lambda s, c: 0.01, 50)
    assert counts == [1] * 50 and not tuner.probes


def test_policy_restores_torch_threads(restore_threads):
    torch.set_num_threads(2)
    with ThreadPolicy((1,)).applied() as tuner, tuner:
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


# ------------------------------------------------------------- estimator


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def _threads_in_fit(n_jobs, X, y):
    seen = []
    clf = MLPDigitClassifier(
        (64,),
        max_iter=2,
        n_jobs=n_jobs,
        device="cpu",
        random_state=0,
        callbacks=[lambda info: seen.append(torch.get_num_threads())],
    )
    clf.fit(X, y)
    return clf, seen


def test_n_jobs_sets_the_fits_threads_and_restores_them(digits, restore_threads):
    X, y = digits
    torch.set_num_threads(2)
    clf, seen = _threads_in_fit(1, X, y)
    assert seen == [1, 1]
    assert torch.get_num_threads() == 2
    clf.set_params(n_jobs=3).fit(X, y)
    assert torch.get_num_threads() == 2
    clf.predict(X)
    assert torch.get_num_threads() == 2


def test_n_jobs_none_respects_threadpool_limits(digits, restore_threads, monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 4)
    X, y = digits
    with threadpool_limits(1):
        _, seen = _threads_in_fit(None, X, y)
    assert seen == [1, 1]


@pytest.mark.parametrize("n_jobs", [0, 1.5, "2"])
def test_bad_n_jobs_is_refused(digits, n_jobs):
    X, y = digits
    with pytest.raises(InvalidParameterError, match="n_jobs"):
        MLPDigitClassifier(n_jobs=n_jobs).fit(X[:50], y[:50])
