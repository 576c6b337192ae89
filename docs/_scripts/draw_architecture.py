"""Draw the two pictures of the architecture page (docs/architecture.rst).

The SVG files are committed, so the documentation builds without running
this script; run it again after changing the architecture::

    python docs/_scripts/draw_architecture.py [--png DIR]

It writes ``docs/_static/architecture_dataflow.svg`` and
``docs/_static/architecture_engine.svg``; ``--png DIR`` also writes PNG copies
into DIR, for looking at them. The text is drawn as paths in matplotlib's own
font (DejaVu Sans) and the SVG carries no date, so that a rerun on another
machine gives the same files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

STATIC = Path(__file__).resolve().parents[1] / "_static"

matplotlib.rcParams.update(
    {
        "font.family": "DejaVu Sans",
        "svg.fonttype": "path",
        "svg.hashsalt": "skmnist-architecture",
    }
)

# One colour per layer, the same in both pictures.
TOP = "#ece4f5"  # built on top: CLI, search, persistence, ONNX, plotting, dask
FILES = "#f4f4f4"  # outside the package
PUBLIC = "#dcebf7"  # public modules of the data flow
PLAN = "#fde9d3"  # fit planning, between scikit-learn and the engine
ENGINE = "#dff0dc"  # the private engine, skmnist/_training
STEP = "#fff6c8"  # the step plug-ins
TORCH = "#e6e6e6"  # PyTorch
EDGE = "#4a4a4a"
FLOW = "#1f4e79"
IMPORT = "#7a6a90"


def _canvas(width: float, height: float) -> tuple[Figure, object]:
    """A figure of ``width`` x ``height`` inches whose data units are 1/10 inch."""
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width * 10)
    ax.set_ylim(0, height * 10)
    ax.set_axis_off()
    return fig, ax


def _box(ax, x, y, w, h, title, lines=(), color=PUBLIC, size=10.5, edge=EDGE):
    """A rounded box, lower-left corner at (x, y), a bold title and lines under it."""
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=1.2",
            facecolor=color,
            edgecolor=edge,
            linewidth=1.1,
        )
    )
    text = [title, *lines]
    top = y + h / 2 + (len(text) - 1) * 1.45
    for index, line in enumerate(text):
        ax.text(
            x + w / 2,
            top - index * 2.9,
            line,
            ha="center",
            va="center",
            fontsize=size if index == 0 else size - 1.5,
            fontweight="bold" if index == 0 else "normal",
            family="DejaVu Sans Mono" if index and line.startswith("`") else None,
        )
    return (x, y, w, h)


def _band(ax, x, y, w, h, label, color):
    """A pale background area with its label in the upper left corner."""
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=2",
            facecolor=color,
            edgecolor="none",
            alpha=0.45,
            zorder=-2,
        )
    )
    ax.text(
        x + 1.5,
        y + h - 1.8,
        label,
        ha="left",
        va="center",
        fontsize=9,
        style="italic",
        color="#333333",
    )


def _arrow(ax, start, end, color=FLOW, dashed=False, width=1.6, label=None, **kw):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=14,
            linewidth=width,
            color=color,
            linestyle=(0, (4, 3)) if dashed else "-",
            shrinkA=0,
            shrinkB=0,
            **kw,
        )
    )
    if label:
        ax.text(
            (start[0] + end[0]) / 2 + 0.8,
            (start[1] + end[1]) / 2,
            label,
            ha="left",
            va="center",
            fontsize=8,
            color=color,
        )


def _bottom(box, dx=0.0):
    x, y, w, _ = box
    return (x + w / 2 + dx, y)


def _top(box, dx=0.0):
    x, y, w, h = box
    return (x + w / 2 + dx, y + h)


def _left(box, dy=0.0):
    x, y, _, h = box
    return (x, y + h / 2 + dy)


def _right(box, dy=0.0):
    x, y, w, h = box
    return (x + w, y + h / 2 + dy)


def draw_dataflow() -> Figure:
    """Files to the torch network, with the modules built on top above."""
    fig, ax = _canvas(13.0, 9.4)

    # Built on top: import downward only.
    _band(ax, 1, 66, 128, 27, "built on top: each imports only what lies below it", TOP)
    cli = _box(
        ax,
        40,
        81,
        50,
        8,
        "skmnist.cli",
        ["the skmnist command: train · evaluate · predict"],
        TOP,
    )
    apps_y, apps_h = 68.5, 9.5
    plotting = _box(
        ax, 3, apps_y, 20, apps_h, "plotting", ["confusion matrix", "(matplotlib)"], TOP
    )
    dask = _box(
        ax,
        27,
        apps_y,
        23,
        apps_h,
        "parallel",
        ["dask: read_idx_dask,", "dask_predict"],
        TOP,
    )
    onnx = _box(ax, 54, apps_y, 20, apps_h, "onnx", ["skl2onnx", "converters"], TOP)
    persistence = _box(
        ax,
        77,
        apps_y,
        22,
        apps_h,
        "persistence",
        ["secure files (skops)", "+ _skops_format"],
        TOP,
    )
    search = _box(
        ax,
        102,
        apps_y,
        25,
        apps_h,
        "model_selection",
        ["BatchedGridSearchCV,", "fit_many (+ _fit_many)"],
        TOP,
    )
    for target in (plotting, dask, onnx, persistence, search):
        x, y, w, h = target
        cx, cy, cw, _ = cli
        start = (min(max(x + w / 2, cx + 2), cx + cw - 2), cy)
        _arrow(ax, start, (x + w / 2, y + h), IMPORT, dashed=True, width=1.0)

    # The data flow, left to right.
    _band(ax, 26, 42, 103, 22, "public modules: the data flow of a fit", PUBLIC)
    row_y, row_h = 45, 12
    files = _box(
        ax,
        3,
        row_y,
        19,
        row_h,
        "files",
        ["IDX (.gz), .npy,", "PNG / JPEG,", "OpenML"],
        FILES,
    )
    datasets = _box(
        ax,
        29,
        row_y,
        25,
        row_h,
        "skmnist.datasets",
        ["load_mnist, read_idx,", "read_samples", "(+ images.py)"],
    )
    scaler = _box(
        ax,
        59,
        row_y,
        22,
        row_h,
        "PixelScaler",
        ["preprocessing.py", "pixels to [0, 1]", "float32"],
    )
    clf = _box(
        ax,
        99,
        row_y,
        28,
        row_h,
        "MLPDigitClassifier",
        ["classifier.py", "the scikit-learn contract:", "fit, predict, state"],
    )
    _arrow(ax, _right(files), _left(datasets))
    _arrow(ax, _right(datasets), _left(scaler))
    _arrow(ax, _right(scaler), _left(clf))
    ax.text(25.5, row_y + 7.6, "bytes", ha="center", fontsize=8, color=FLOW)
    ax.text(56.5, row_y + 7.6, "X, y", ha="center", fontsize=8, color=FLOW)
    ax.text(86, row_y + 7.6, "X in [0, 1]", ha="center", fontsize=8, color=FLOW)
    # The imports of the modules on top land on the public row.
    _arrow(ax, _bottom(dask), _top(datasets, 2), IMPORT, True, 1.0)
    _arrow(ax, _bottom(onnx), _top(clf, -9), IMPORT, True, 1.0)
    _arrow(ax, _bottom(persistence), _top(clf, -4), IMPORT, True, 1.0)
    _arrow(ax, _bottom(search, 4), _top(clf, 4), IMPORT, True, 1.0)

    # Fit planning.
    _band(ax, 1, 26, 128, 14, "private, still scikit-learn aware", PLAN)
    plan = _box(
        ax,
        99,
        28,
        28,
        9.5,
        "_fit_plan.py",
        ["validate, split, settle", "device, seed -> a Job"],
        PLAN,
    )
    ax.text(
        47,
        32.5,
        "fit, partial_fit and fit_many plan through the same plan_fit,\n"
        "so a model fitted in a batch is planned exactly as alone",
        ha="center",
        va="center",
        fontsize=8.5,
        color="#333333",
        linespacing=1.5,
    )
    _arrow(ax, _bottom(clf), _top(plan), label="fit")
    # model_selection (_fit_many) plans and trains its groups: one dashed
    # line down the gap left of the classifier, to the plan and the engine.
    gap = 94
    ax.plot(
        [103.5, gap, gap],
        [apps_y, apps_y - 3, 20.5],
        color=IMPORT,
        linewidth=1.0,
        linestyle=(0, (4, 3)),
    )
    _arrow(ax, (gap, 20.5), (gap, 19), IMPORT, width=1.0)
    _arrow(ax, (gap, 32.75), _left(plan), IMPORT, True, 1.0)

    # The engine.
    _band(
        ax,
        1,
        1,
        128,
        23,
        "the engine: skmnist/_training (knows nothing of scikit-learn)",
        ENGINE,
    )
    fit = _box(
        ax,
        89,
        9,
        38,
        10,
        "_training.fit: train(jobs)",
        ["one job alone, or k stacked;", "out of memory -> MemoryError"],
        ENGINE,
    )
    loop = _box(
        ax,
        52,
        9,
        30,
        10,
        "loop: train_epochs",
        ["the one epoch loop", "for k >= 1 networks"],
        ENGINE,
    )
    step = _box(ax, 27, 9, 19, 10, "step", ["one minibatch", "(steps.Step)"], STEP)
    network = _box(
        ax, 3, 9, 18, 10, "torch network", ["network.py", "nn.Sequential"], TORCH
    )
    _arrow(ax, _bottom(plan), _top(fit, 5), label="Job")
    _arrow(ax, _left(fit), _right(loop))
    _arrow(ax, _left(loop), _right(step))
    _arrow(ax, _left(step), _right(network))
    ax.text(
        65,
        4.2,
        "predict: MLPDigitClassifier -> prediction.predict_batches -> network",
        ha="center",
        fontsize=8.5,
        color="#333333",
    )
    return fig


def draw_engine() -> Figure:
    """The epoch loop, what it owns, and the step plug-ins it calls."""
    fig, ax = _canvas(13.0, 8.6)

    # The entry point.
    fit = _box(
        ax,
        2,
        62,
        38,
        21,
        "fit.py: train(jobs)",
        [
            "1 job: single_step picks its kernel",
            "k jobs of one stack_key: StackedStep",
            "solver='lbfgs': lbfgs.py, no loop",
            "seeds each network, builds DeviceData",
            "device out of memory -> MemoryError",
        ],
        ENGINE,
    )

    # The loop.
    _band(
        ax,
        44,
        33,
        84,
        52,
        "loop.py: train_epochs(runs, step, data, streams): "
        "owns everything but the step",
        ENGINE,
    )
    rows = [
        ("each epoch, for the networks still training", None),
        ("shuffle each network's rows", "randomness.Streams: one stream per network"),
        ("learning rate of every step", "optimizers.scheduled_rate"),
        ("gather the minibatches", "data: on the device, uint8 codes, sparse rows"),
        ("distort them (augment)", "augment.Distortion, on the device"),
        ("step(index, X, y, weight, out)", "the plug-in: forward, backward, update"),
        ("after the epoch, per network", None),
        ("record the loss; stop or go on", "history: tol, n_iter_no_change"),
        ("early stopping, best weights", "prediction.validation_accuracy, Checkpoint"),
        ("divergence: last finite epoch", "Ctrl-C: last complete epoch"),
        ("callbacks(info): True stops it", "subnormal flush: numerics"),
    ]
    y = 77.5
    step_row = None
    for what, where in rows:
        if where is None:
            ax.text(47, y, what, fontsize=9.5, fontweight="bold", va="center")
            y -= 3.6
            continue
        is_step = what.startswith("step(")
        step_row = y if is_step else step_row
        ax.add_patch(
            FancyBboxPatch(
                (47, y - 1.6),
                76,
                3.2,
                boxstyle="round,pad=0,rounding_size=0.8",
                facecolor=STEP if is_step else "white",
                edgecolor="#b59b2a" if is_step else "#9bbf95",
                linewidth=0.8,
            )
        )
        ax.text(48.5, y, what, fontsize=8.8, va="center")
        ax.text(121.5, y, where, fontsize=8, va="center", ha="right", color="#333333")
        y -= 4.0
    _arrow(ax, _right(fit, 1.5), (44, _right(fit, 1.5)[1]))
    ax.text(42, 75.6, "Runs", fontsize=8, color=FLOW, ha="center")
    # The epochs repeat: an arrow back up along the right edge of the band.
    _arrow(ax, (125.5, 37), (125.5, 77.5), width=1.2)
    ax.text(
        126.8,
        57,
        "next epoch",
        rotation=90,
        fontsize=8,
        color=FLOW,
        ha="center",
        va="center",
    )

    # The Step interface.
    interface = _box(
        ax,
        2,
        33,
        38,
        26,
        "steps.Step (the interface)",
        [
            "begin_epoch(rates, counts)",
            "__call__(index, X, y, weight, out)",
            "parameters(m), network(m)",
            "reset_optimizer(m)",
            "float_state(), finish()",
            "X is (k, rows, features)",
        ],
        STEP,
    )
    _arrow(ax, (47, step_row), (40, step_row))

    # The three steps.
    _band(ax, 2, 1, 126, 29, "the three steps: the loop cannot tell them apart", STEP)
    ax.text(
        126,
        28.2,
        "the loss: loss.sample_losses (FastStep: the same, in closed form)",
        ha="right",
        va="center",
        fontsize=8,
        color="#333333",
    )
    w, h, y = 39.5, 19.5, 3
    autograd = _box(
        ax,
        4,
        y,
        w,
        h,
        "SingleStep + AutogradKernel",
        [
            "steps.py · k = 1",
            "any network: dropout, GELU, SiLU,",
            "bf16 autocast, multilabel",
            "autograd backward, torch optimizer",
        ],
        "white",
        edge="#b59b2a",
    )
    fast = _box(
        ax,
        46.5,
        y,
        w,
        h,
        "SingleStep + FastStep",
        [
            "hand_step.py · k = 1",
            "plain MLPs (relu, tanh, logistic,",
            "identity), no dropout, no autocast",
            "backward written out, fused Adam(W)",
            "on CUDA replayed: cuda_graph.py",
        ],
        "white",
        edge="#b59b2a",
    )
    stacked = _box(
        ax,
        89,
        y,
        w - 2,
        h,
        "StackedStep",
        [
            "stacked.py · k > 1",
            "same-shaped networks as one stack:",
            "batched matmuls (baddbmm),",
            "stacked_optimizer: Adam, AdamW, SGD",
        ],
        "white",
        edge="#b59b2a",
    )
    for box, dx in ((autograd, -8), (fast, 0), (stacked, 8)):
        _arrow(ax, _top(box), _bottom(interface, dx), IMPORT, True, 1.0)
    ax.text(6, 31.3, "implement", fontsize=8, color=IMPORT, ha="left")
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", type=Path, help="also write PNG copies here")
    args = parser.parse_args()
    for name, draw in (("dataflow", draw_dataflow), ("engine", draw_engine)):
        fig = draw()
        path = STATIC / f"architecture_{name}.svg"
        fig.savefig(path, format="svg", metadata={"Date": None})
        print(f"wrote {path}")
        if args.png is not None:
            args.png.mkdir(parents=True, exist_ok=True)
            png = args.png / f"architecture_{name}.png"
            fig.savefig(png, format="png", dpi=100)
            print(f"wrote {png}")


if __name__ == "__main__":
    main()
