"""Mutation fuzzing of secure model files: outcomes by mutation class.

Saves six small fitted models (a classifier, the pipeline ``skmnist train``
saves, one with optimizer state, a multilabel one, one with string labels,
one with early stopping), derives every mutation of their ``schema.json``
nodes, arrays and zip structure (``tests/_model_file_mutations.py``), and
judges each file in a child process (``tests/_model_file_judge.py``):
refused by :func:`~skmnist.persistence.load_model` with a ValueError naming
the file, loaded and safe for every public method, or loaded and FAILED
(a crash, hang, memory blow-up, traceback from deep inside torch, non-finite
output, or a file that must be refused). ``tests/test_persistence_fuzz.py``
asserts that none fails.

Run: ``python benchmarks/fuzz_model_files.py [--all | --sample N] [--jobs 2]
[--failures] [--json outcomes.jsonl] [--save]``. Prints a Markdown table
(one failure of each class as an example); ``--failures`` lists up to five
failures of each class; ``--save`` writes
benchmarks/results/fuzz_model_files.{json,md}. On a shared 2-core
machine, two workers judged 3,000 mutations (the default, a deterministic
sample that holds every class) in 263 s and 12,000 in 659 s; ``--all``
(26,275) takes about half an hour or more.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import machine, write_results
from _model_file_judge import (
    OUTCOMES,
    TIMEOUT_S,
    failures,
    judge_all,
    summary_line,
)
from _model_file_mutations import mutations, sample, save_bases


def table(results: list[dict]) -> str:
    """Outcomes by mutation class (Markdown), with one failure of each class."""
    by_kind: dict[str, list[dict]] = {}
    for result in results:
        by_kind.setdefault(result["kind"], []).append(result)
    lines = [
        "| mutation class | n | refused | loaded, safe | loaded, FAILED | "
        "example failure |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for kind in sorted(by_kind):
        group = by_kind[kind]
        counts = [sum(r["outcome"] == o for r in group) for o in OUTCOMES]
        failed = [r for r in group if r["outcome"] == "FAILED"]
        example = ""
        if failed:
            r = failed[0]
            example = f"`{r['name']}`: {r.get('step')}: {r['detail'][:160]}"
            example = example.replace("|", "\\|")
        lines.append(
            f"| {kind} | {len(group)} | "
            + " | ".join(map(str, counts))
            + f" | {example} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--all", action="store_true", help="every mutation")
    parser.add_argument(
        "--sample",
        type=int,
        default=3000,
        help="how many mutations, of every class (default 3000)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT_S,
        help="seconds for one file, loading and every method",
    )
    parser.add_argument(
        "--json", help="write each outcome to this file as it comes (JSON lines)"
    )
    parser.add_argument(
        "--failures", action="store_true", help="list up to five failures of each class"
    )
    parser.add_argument(
        "--save",
        action="store_true",
        help="write benchmarks/results/fuzz_model_files.{json,md}",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        files = save_bases(folder)
        found = mutations(files)
        chosen = found if args.all else sample(found, args.sample)
        print(f"{len(chosen)} of {len(found)} mutations", file=sys.stderr)
        done = []
        out = open(args.json, "w") if args.json else None

        def progress(result):
            done.append(result)
            if out is not None:
                out.write(json.dumps(result) + "\n")
                out.flush()
            if len(done) % 250 == 0:
                print(f"  {summary_line(done)}", file=sys.stderr, flush=True)

        started = time.perf_counter()
        results = judge_all(
            chosen,
            folder,
            {base: folder / f"{base}.skmnist" for base in files},
            jobs=args.jobs,
            timeout=args.timeout,
            progress=progress,
        )
        seconds = time.perf_counter() - started
    summary = f"{summary_line(results)} (of {len(found)}), in {seconds:.0f} s"
    markdown = f"{table(results)}\n\n{summary}\n"
    print(markdown)
    if args.failures:
        print(failures(results, limit=5))
    if out is not None:
        out.close()
    if args.save:
        payload = {
            "machine": machine(),
            "jobs": args.jobs,
            "seconds": seconds,
            "summary": summary,
            "outcomes": results,
        }
        write_results("fuzz_model_files", payload, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
