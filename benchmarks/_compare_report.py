"""The Markdown report of ``compare.py``'s results."""

from __future__ import annotations

import statistics

KERAS_NOTE = (
    "Keras 3: its own scikit-learn wrapper, `keras.wrappers.SKLearnClassifier`, "
    "around a compiled `Sequential` (the same layers; Adam's epsilon 1e-8, as "
    "torch's and scikit-learn's), `fit_kwargs` batch 128, the epochs, "
    "`verbose=0`. Keras chooses its backend when it is first imported "
    "(`KERAS_BACKEND`), so each Keras contender's warm fits run in a process "
    "of its own, warmed up there, interleaved with the others' repeats. The "
    "wrapper has no `predict_proba`: the probabilities come from the fitted "
    "model's `predict(X, verbose=0)` (what its `decision_function` calls, "
    "without the progress bar), at Keras' default batch of 32."
)


def _spread(ratios: list[float]) -> str:
    """``median; min-max`` of a contender's per-repeat fit-time ratios."""
    return f"{statistics.median(ratios):.2f}x; {min(ratios):.2f}-{max(ratios):.2f}x"


def _row(name: str, v: dict, on_gpu: bool) -> str:
    return (
        f"| {name} | {v['cold_fit_s']:.2f} | {v['cold_process_s']:.2f} | "
        f"{v['fit_time_s']:.2f} | {v['cold_minus_warm_s']:+.2f} | "
        f"{v['fit_time_vs_skmnist']:.2f}x | "
        f"{_spread(v['fit_time_vs_skmnist_per_repeat'])} | "
        f"{v['cold_fit_vs_skmnist']:.2f}x | "
        f"{v['predict_images_per_s']:,.0f} | {100 * v['accuracy']:.2f} % | "
        f"{v['peak_extra_rss_mb']:.0f} |"
        + (f" {v['peak_gpu_memory_mb']:.0f} |" * on_gpu)
    )


def report(payload: dict, note: str = "") -> str:
    """The Markdown report of ``compare.py``'s payload."""
    info, summary, config = payload["machine"], payload["summary"], payload["config"]
    on_gpu = config["device"].startswith("cuda")
    versions = "".join(
        f", {module} {version}" for module, version in payload["versions"].items()
    )
    lines = [
        f"# {' vs '.join(summary)} ({config['device']})",
        "",
        f"Machine: {info['cpu']}, {info['cpu_flags']} ({info['cpu_count']} cores, "
        f"{info['torch_threads']} torch threads), GPU: {info['gpu']}; torch "
        f"{info['torch']}, scikit-learn {info['sklearn']}{versions}, "
        f"{info['platform']}.",
        "",
        f"Same network for all: {config['network'].replace('relu', 'ReLU')}, "
        f"{config['optimizer'].replace('adam lr=', 'Adam lr ')}, batch "
        f"{config['batch_size']}, {config['epochs']} epochs, "
        f"{config['train_samples']:,} training images as float32 in [0, 1]; "
        f"medians of {config['repeats']} interleaved repeats. Cold: the first fit "
        "in a fresh process (what a user's script sees), each contender in its own "
        "process; the whole process (interpreter start, imports, reading the data, "
        "the fit) as a second figure. Warm: a repeated fit in one process, after a "
        "warm-up fit each.",
        "",
        "| contender | cold fit (s) | cold, whole process (s) | warm fit (s) "
        "| cold - warm (s) | warm fit / skmnist's | same, repeat by repeat "
        "(median; range) | cold fit / skmnist's | predict (images/s) "
        "| test accuracy | peak extra RSS during fit (MB) |"
        + (" peak GPU memory (MB) |" * on_gpu),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" * on_gpu),
        *(_row(name, values, on_gpu) for name, values in summary.items()),
        "",
        "skmnist's first fit against its second one in the same fresh process "
        "(same network and settings; medians, and each repeat's difference):",
        "",
        "| images x epochs | first fit (s) | second fit (s) | first - second, "
        "repeat by repeat (s) |",
        "|---|---:|---:|---|",
        *(
            f"| {key.replace('x', ' x ')} | {v['first_s']:.2f} | {v['second_s']:.2f} "
            "| "
            + ", ".join(f"{d:+.2f}" for d in v["first_minus_second_per_repeat_s"])
            + " |"
            for key, v in payload["skmnist_first_vs_second_fit"].items()
        ),
        "",
    ]
    loads = [
        value
        for results in (
            *payload["runs"].values(),
            *payload["skmnist_first_fit_runs"].values(),
        )
        for run in results
        for key, value in run.items()
        if key.endswith("load_average_1min")
    ]
    lines += [
        f"Load average (1 min) after each fit: {min(loads):.1f} to {max(loads):.1f} "
        f"on {info['cpu_count']} cores.",
        "",
    ]
    if any(name.startswith("Keras") for name in summary):
        lines += [KERAS_NOTE, ""]
    for why in payload["skipped"].values():
        lines += [f"{why}.", ""]
    if note:
        lines += [note, ""]
    if on_gpu:
        lines += [
            "scikit-learn's MLPClassifier has no GPU support: it trains on the CPU "
            "in every run.",
            "",
        ]
    return "\n".join(lines)
