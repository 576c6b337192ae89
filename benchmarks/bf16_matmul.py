"""Whether bfloat16 matrix products beat float32 on this CPU, for one MLP layer.

Times the three products of a 784 -> 256 layer's training step at batch
128, 512 and 2048, in float32 and in bfloat16 (operands and result in
bfloat16, as the hand-derived bf16 step computes them):

* forward: ``addmm(bias, X, W.t())``, (batch x 784) @ (784 x 256),
* weight gradient: ``G.t() @ X``, (256 x batch) @ (batch x 784),
* input gradient: ``G @ W``, (batch x 256) @ (256 x 784).

The two precisions are timed in interleaved rounds (float32, then bfloat16,
then again), each round long enough for thousands of calls, and the median
round is quoted, so a busy machine slows both alike. Run on torch's default
threads and on one thread (the engine trains small steps on one).

Run: ``python benchmarks/bf16_matmul.py [--rounds 5] [--tag _name]``. Writes
benchmarks/results/bf16_matmul<tag>.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import machine, write_results

N_IN, N_OUT = 784, 256
BATCHES = (128, 512, 2048)
PRODUCTS = ("forward", "weight gradient", "input gradient")


def operands(batch: int, dtype: torch.dtype) -> dict:
    """The product's inputs for one layer's step, in ``dtype``."""
    generator = torch.Generator().manual_seed(batch)

    def draw(*shape):
        return torch.randn(*shape, generator=generator).to(dtype)

    X, W, b, G = draw(batch, N_IN), draw(N_OUT, N_IN), draw(N_OUT), draw(batch, N_OUT)
    Wt, Gt = W.t(), G.t()
    return {
        "forward": lambda: torch.addmm(b, X, Wt),
        "weight gradient": lambda: torch.mm(Gt, X),
        "input gradient": lambda: torch.mm(G, W),
    }


def time_call(call, seconds: float) -> float:
    """Microseconds per call, over about ``seconds`` of back-to-back calls."""
    for _ in range(20):
        call()
    calls, started = 0, time.perf_counter()
    while True:
        for _ in range(10):
            call()
        calls += 10
        elapsed = time.perf_counter() - started
        if elapsed > seconds:
            return elapsed / calls * 1e6


def measure(batch: int, rounds: int, seconds: float) -> dict:
    """Median microseconds of each product in each precision, interleaved."""
    calls = {dtype: operands(batch, dtype) for dtype in (torch.float32, torch.bfloat16)}
    times: dict = {(dtype, p): [] for dtype in calls for p in PRODUCTS}
    for _ in range(rounds):
        for product in PRODUCTS:
            for dtype, table in calls.items():
                times[dtype, product].append(time_call(table[product], seconds))
    row = {}
    for product in PRODUCTS:
        flops = 2 * batch * N_IN * N_OUT
        fp32 = statistics.median(times[torch.float32, product])
        bf16 = statistics.median(times[torch.bfloat16, product])
        row[product] = {
            "float32_us": fp32,
            "bfloat16_us": bf16,
            "float32_gflops": flops / fp32 / 1e3,
            "bfloat16_gflops": flops / bf16 / 1e3,
            "speedup": fp32 / bf16,
        }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.2, help="per timing")
    parser.add_argument("--tag", default="", help="suffix of the results files")
    args = parser.parse_args()

    default_threads = torch.get_num_threads()
    results = {}
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        results[threads] = {
            batch: measure(batch, args.rounds, args.seconds) for batch in BATCHES
        }
    torch.set_num_threads(default_threads)

    info = machine()
    lines = [
        "# bfloat16 against float32 matrix products, one 784 -> 256 layer",
        "",
        f"CPU: {info['cpu']} ({info['cpu_flags']}); torch {info['torch']}, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}.",
        f"Median of {args.rounds} interleaved rounds of {args.seconds} s each; "
        "speedup = float32 time / bfloat16 time (above 1: bfloat16 is faster).",
        "",
    ]
    for threads, by_batch in results.items():
        lines += [
            f"## {threads} thread{'s' if threads > 1 else ''}",
            "",
            "| batch | product | float32 | bfloat16 | speedup |",
            "|---|---|---|---|---|",
        ]
        for batch, row in by_batch.items():
            for product, cell in row.items():
                lines.append(
                    f"| {batch} | {product} | {cell['float32_us']:.0f} us "
                    f"({cell['float32_gflops']:.0f} GFLOP/s) | "
                    f"{cell['bfloat16_us']:.0f} us "
                    f"({cell['bfloat16_gflops']:.0f} GFLOP/s) | "
                    f"{cell['speedup']:.2f}x |"
                )
        lines.append("")
    payload = {
        "machine": info,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "rounds": args.rounds,
        "seconds_per_timing": args.seconds,
        "results": {
            str(threads): {str(batch): row for batch, row in by_batch.items()}
            for threads, by_batch in results.items()
        },
    }
    print("\n".join(lines))
    write_results(f"bf16_matmul{args.tag}", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
