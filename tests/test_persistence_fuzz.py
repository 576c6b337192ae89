"""Mutation fuzzing of secure model files: each damaged file is refused or safe.

Six small fitted models (a classifier, the pipeline ``skmnist train`` saves,
one with optimizer state, a multilabel one, one with string labels, one with
early stopping) are saved, and ``_model_file_mutations`` derives every
mutation of their ``schema.json`` nodes, arrays and zip structure from them
(about 26,000, deterministic). Each mutated file is judged in a child process
(``_model_file_judge``): :func:`~skmnist.persistence.load_model` must refuse
it with a ValueError naming the file, or the loaded model must be safe for
every public method (no crash, hang, memory blow-up, torch traceback or
non-finite probability).

By default a deterministic sample of ``SKMNIST_FUZZ_SAMPLE`` (600) mutations
that holds every class of mutation runs; ``SKMNIST_FUZZ_ALL=1`` runs all of
them (``python benchmarks/fuzz_model_files.py --all`` prints them by class).
"""

import os

import pytest
from _model_file_judge import Judge, failures, judge_all, summary_line
from _model_file_mutations import mutations, sample, save_bases

pytestmark = pytest.mark.slow  # the fixtures train models and start judging processes

SAMPLE = int(os.environ.get("SKMNIST_FUZZ_SAMPLE", "600"))
EVERY = os.environ.get("SKMNIST_FUZZ_ALL", "") not in ("", "0")
FLOOR = 500  # mutations that must run (the sample holds every class)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    saved = save_bases(folder)
    return folder, saved, {base: folder / f"{base}.skmnist" for base in saved}


@pytest.fixture(scope="module")
def judges(files):
    folder, _, paths = files
    started = [Judge(folder, paths, timeout=20).start() for _ in range(2)]
    yield started
    for judge in started:
        judge.__exit__()


def test_the_judge_reports_a_crash_a_hang_and_a_memory_blow_up(files, judges):
    judge, paths = judges[0], files[2]
    crash = judge.ask({"probe": "segfault"})
    hang = judge.ask({"probe": "hang", "timeout": 2})
    memory = judge.ask({"probe": "allocate"})
    unchanged = judge.ask(
        {"path": str(paths["pipeline"]), "base": "pipeline", "must_refuse": False}
    )
    must_refuse = judge.ask(
        {"path": str(paths["classifier"]), "base": "classifier", "must_refuse": True}
    )
    assert crash["outcome"] == "FAILED" and "killed by SIGSEGV" in crash["detail"]
    assert hang["outcome"] == "FAILED" and "hang" in hang["detail"]
    assert memory["outcome"] == "FAILED" and "MemoryError" in memory["detail"]
    assert unchanged["outcome"] == "safe", unchanged
    assert unchanged["detail"] == "every method ran"
    assert must_refuse["outcome"] == "FAILED", must_refuse


def test_every_mutated_model_file_is_refused_or_safe(files, judges, record_property):
    folder, saved, paths = files
    found = mutations(saved)
    chosen = found if EVERY else sample(found, SAMPLE)
    assert {m.kind for m in chosen} == {m.kind for m in found}  # every class
    results = judge_all(chosen, folder, paths, judges=judges)
    line = summary_line(results)
    print(f"\n{line} (of {len(found)})")
    record_property("mutations", len(results))
    assert len(results) >= FLOOR
    outcomes = {r["outcome"] for r in results}
    assert {"refused", "safe"} <= outcomes  # the judge tells them apart
    failed = failures(results)
    assert not failed, f"{line}:\n{failed}"
