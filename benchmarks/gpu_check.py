"""The GPU proof in one run: each stage timed, recorded, and unable to stop the rest.

Stages, in order (``--stages`` picks some), each in a process of its own with
a time limit, so that a failure or a hang is recorded and the next stage
still runs:

``env``
    torch, CUDA and the GPU; whether the dependencies skmnist declares in
    pyproject.toml are met; host-to-device and device-to-host GB/s.
``default``
    ``make_pipeline(PixelScaler(), MLPDigitClassifier(device=...))``: fit
    time after a warm-up fit (CUDA start-up excluded) and test accuracy.
``graphs``
    The default model at batch 128 for 5 epochs with its steps replayed from CUDA graphs
    and with eager steps (``skmnist._training.cuda_graph.ENABLED``), two
    interleaved fits each: fit times, accuracies, and whether a graph was
    recorded without falling back.
``recipe``
    The large-batch configurations of the GPU guide (``large_batch.py``'s):
    fit time and accuracy; the fastest one at >= 98 % (goal: <= 1 s).
``skorch``
    skorch's NeuralNetClassifier with the default model's network and
    training on the same device, against skmnist side by side (goal: skorch
    takes >= 30x as long); skipped when skorch cannot be imported.
``predict``
    ``predict_proba`` from host NumPy arrays, images/s (goal: >= 5 million).
``augment``
    ``MLPDigitClassifier((1024, 512), augment=True, max_iter=50)`` of the
    accuracy ladder: fit time and accuracy (goal: >= 99.3 %).
``cpu_load``
    A pipeline trained on the device, pickled and saved with ``save_model``,
    loaded in a subprocess that sees no GPU: the same predictions.
``cuda_tests``
    The tests in ``tests/`` that are skipped without CUDA, run on the device.

Results: ``gpu_check.json`` (rewritten as each stage starts and ends: its
status, seconds, figures and error text), ``gpu_check.md`` (a summary) and
``gpu_check.log`` (everything the stages printed) in ``--out``.

Run on a CUDA machine (Linux; this checkout's skmnist, installed or not):
``python benchmarks/gpu_check.py --out DIR``, with ``--data`` for the folder
of the MNIST ``.gz`` files (default ``$SKMNIST_DATA/mnist`` or
../shared/data/mnist) and ``--wheels`` for a folder of wheels (skorch's) to
install for the run where nothing can be downloaded. The stages' limits add
up to ``--budget`` seconds at most (default 330). A CPU dry run:
``python benchmarks/gpu_check.py --device cpu --limit 2000 --epochs 1
--predict-rows 20000 --out /tmp/gpu_check``.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent
sys.path[:0] = [str(REPO), str(BENCHMARKS)]  # this checkout's skmnist first

import numpy as np  # noqa: E402
from _common import machine, mnist_dir, synchronize  # noqa: E402
from _cuda_tests import run_cuda_only_tests  # noqa: E402
from _stages import Stage, StageSkipped, log, run_stage, write_json  # noqa: E402
from gpu import (  # noqa: E402
    LARGE_BATCH,
    LARGE_LR,
    predict_throughput,
    skmnist_model,
    skorch_model,
    tiled_rows,
    timed_fit,
    warm_up,
)
from large_batch import CONFIGS  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skmnist import MLPDigitClassifier, PixelScaler  # noqa: E402
from skmnist.datasets import load_mnist  # noqa: E402

#: The default model's training, which skorch repeats (as in gpu.py).
DEFAULTS = MLPDigitClassifier().get_params()


@dataclass
class Context:
    """What a stage gets: the options, the data, and ``report`` for figures."""

    args: argparse.Namespace
    loaded: tuple | None
    data_error: str | None
    report: Callable[..., None]

    @property
    def data(self) -> tuple:
        """X_train, y_train, X_test, y_test (uint8 images, int64 labels)."""
        if self.loaded is None:
            raise RuntimeError(f"the MNIST files could not be read: {self.data_error}")
        return self.loaded

    def model_args(self, **changes) -> argparse.Namespace:
        """gpu.py's model options: the default model, this run's device/epochs."""
        values = {
            "hidden": tuple(DEFAULTS["hidden_layer_sizes"]),
            "batch_size": 128,  # "auto" on full MNIST
            "lr": DEFAULTS["learning_rate_init"],
            "epochs": self.args.epochs or DEFAULTS["max_iter"],
            "device": self.args.device,
        }
        return argparse.Namespace(**{**values, **changes})


# ---------------------------------------------------------------- the stages


def _copy_rate(src, dst, repeats: int = 5) -> float:
    """Median GB/s of ``dst.copy_(src)``."""
    device = dst.device if dst.device.type != "cpu" else src.device
    rates = []
    for _ in range(repeats):
        synchronize(str(device))
        started = time.perf_counter()
        dst.copy_(src)
        synchronize(str(device))
        rates.append(
            src.numel() * src.element_size() / 1e9 / (time.perf_counter() - started)
        )
    return statistics.median(rates)


def _declared_requirements() -> dict:
    """pyproject.toml's dependencies and whether the installed versions meet them."""
    import tomllib
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    met = {}
    for line in declared["dependencies"]:
        requirement = Requirement(line)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            installed = None
        met[line] = {
            "installed": installed,
            "met": installed is not None
            and requirement.specifier.contains(installed, prereleases=True),
        }
    return met


def stage_env(ctx: Context) -> None:
    import sklearn
    import torch

    import skmnist

    info = {"machine": machine(), "skmnist": skmnist.__version__}
    info["sklearn"] = sklearn.__version__
    info["torch_cuda"] = torch.version.cuda
    try:
        import skorch

        info["skorch"] = f"{skorch.__version__} from {Path(skorch.__file__).parent}"
    except ImportError as error:
        info["skorch"] = f"not importable: {error}"
    try:
        info["requirements"] = _declared_requirements()
    except Exception as error:  # tomllib needs Python 3.11, packaging may be absent
        info["requirements"] = f"not checked: {error!r}"
    ctx.report(**info)
    device = torch.device(ctx.args.device)
    if device.type == "cuda":
        index = device.index if device.index is not None else 0
        props = torch.cuda.get_device_properties(index)
        ctx.report(
            capability=list(torch.cuda.get_device_capability(index)),
            memory_gib=round(props.total_memory / 2**30, 1),
            multiprocessors=props.multi_processor_count,
            bf16_supported=torch.cuda.is_bf16_supported(),
        )
    nbytes = 2**30 if device.type == "cuda" else 2**26
    host = torch.ones(nbytes, dtype=torch.uint8)
    on_device = torch.empty(nbytes, dtype=torch.uint8, device=device)
    rates = {"pageable_host_to_device_gb_s": _copy_rate(host, on_device)}
    if device.type == "cuda":
        pinned = host.pin_memory()
        rates["pinned_host_to_device_gb_s"] = _copy_rate(pinned, on_device)
        rates["device_to_pinned_host_gb_s"] = _copy_rate(on_device, pinned)
    rates = {k: round(v, 2) for k, v in rates.items()}
    ctx.report(
        copy_bytes=nbytes,
        **rates,
        summary=f"{info['machine']['gpu'] or info['machine']['cpu']}, torch "
        f"{torch.__version__}: host to device "
        + ", ".join(f"{k.split('_host')[0]} {v} GB/s" for k, v in rates.items()),
    )


def _fits(ctx: Context, label: str, make: Callable[[int], object]) -> dict:
    """``--repeats`` seeds of one model: fit times and accuracies, as they come."""
    X_train, y_train, X_test, y_test = ctx.data
    fits, accuracies = [], []
    for seed in range(ctx.args.repeats):
        model = make(seed)
        fits.append(round(timed_fit(model, X_train, y_train, ctx.args.device), 3))
        accuracies.append(model.score(X_test, y_test))
        result = {
            "fit_times_s": fits,
            "accuracies": accuracies,
            "median_fit_s": statistics.median(fits),
            "min_accuracy": min(accuracies),
            "device_": str(model[-1].device_),
        }
        ctx.report(**{label: result})
    return result


def stage_default(ctx: Context) -> None:
    X_train, y_train, *_ = ctx.data
    args = ctx.model_args()
    ctx.report(warm_up_s=round(warm_up(args, X_train, y_train), 2))

    def make(seed):
        params = {"random_state": seed, "device": args.device}
        if ctx.args.epochs:
            params["max_iter"] = ctx.args.epochs
        return make_pipeline(PixelScaler(), MLPDigitClassifier(**params))

    result = _fits(ctx, "default", make)
    ctx.report(
        summary=f"{result['median_fit_s']:.2f} s, {100 * result['min_accuracy']:.2f} %"
    )


def stage_graphs(ctx: Context) -> None:
    from skmnist._training import cuda_graph

    X_train, y_train, X_test, y_test = ctx.data
    args = ctx.model_args(epochs=ctx.args.epochs or 5)
    warm_up(args, X_train, y_train)
    recorded = []
    record = cuda_graph.CudaGraphRecorder.record

    def counting_record(self, call):
        recorded.append(1)
        return record(self, call)

    cuda_graph.CudaGraphRecorder.record = counting_record
    times: dict = {"graphs": [], "eager": []}
    accuracy, fallbacks = {}, []
    for _ in range(2):
        for label, enabled in (("graphs", True), ("eager", False)):
            cuda_graph.ENABLED = enabled
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = skmnist_model(args, 0, args.batch_size, args.lr)
                times[label].append(
                    round(timed_fit(model, X_train, y_train, args.device), 3)
                )
            fallbacks += [
                str(w.message) for w in caught if "CUDA graph" in str(w.message)
            ]
            accuracy[label] = model.score(X_test, y_test)
            ctx.report(
                fit_times_s=times, accuracies=accuracy, graphs_recorded=len(recorded)
            )
    cuda_graph.ENABLED = True
    graphs = statistics.median(times["graphs"])
    eager = statistics.median(times["eager"])
    ctx.report(
        fallback_warnings=fallbacks,
        eager_vs_graphs=round(eager / graphs, 2),
        summary=f"graphs {graphs:.2f} s ({100 * accuracy['graphs']:.2f} %), eager "
        f"{eager:.2f} s ({100 * accuracy['eager']:.2f} %), {len(recorded)} recorded"
        + (f", {len(fallbacks)} fallbacks" if fallbacks else ""),
    )


def stage_recipe(ctx: Context) -> None:
    X_train, y_train, *_ = ctx.data
    args = ctx.model_args()
    ctx.report(warm_up_s=round(warm_up(args, X_train, y_train), 2))
    configs = [c for c in CONFIGS if c[0] > 128]
    assert (LARGE_BATCH, LARGE_LR) in configs
    results = {}
    for batch_size, lr in configs:
        label = f"batch_size={batch_size}, learning_rate_init={lr:g}"
        results[label] = _fits(
            ctx, label, lambda seed, b=batch_size, r=lr: skmnist_model(args, seed, b, r)
        )
    reaching = {k: v for k, v in results.items() if v["min_accuracy"] >= 0.98}
    if not reaching:
        ctx.report(fastest_at_98=None, goal_met=False, summary="none reached 98 %")
        return
    label = min(reaching, key=lambda k: reaching[k]["median_fit_s"])
    best = reaching[label]
    ctx.report(
        fastest_at_98=label,
        goal="fit <= 1 s at >= 98 %",
        goal_met=best["median_fit_s"] <= 1.0,
        summary=f"{label}: {best['median_fit_s']:.2f} s, "
        f"{100 * best['min_accuracy']:.2f} %",
    )


def stage_skorch(ctx: Context) -> None:
    try:
        import skorch
    except ImportError as error:
        raise StageSkipped(f"skorch is not importable: {error}") from None
    X_train, y_train, X_test, y_test = ctx.data
    args = ctx.model_args()
    device = args.device
    ctx.report(skorch=skorch.__version__, epochs=args.epochs)
    warm_up(args, X_train, y_train)
    ours = skmnist_model(args, 0, args.batch_size, args.lr)
    ours_s = timed_fit(ours, X_train, y_train, device)
    ctx.report(skmnist_fit_s=round(ours_s, 3))
    warm = skorch_model(args, epochs=1)  # as in gpu.py: skorch's own first steps
    timed_fit(warm, X_train[:1024], y_train[:1024], device)
    one_epoch_s = timed_fit(skorch_model(args, epochs=1), X_train, y_train, device)
    ctx.report(
        skorch_one_epoch_s=round(one_epoch_s, 3),
        estimated_ratio=round(args.epochs * one_epoch_s / ours_s, 1),
    )
    net = skorch_model(args, args.epochs)
    skorch_s = timed_fit(net, X_train, y_train, device)
    ratio = skorch_s / ours_s
    ctx.report(
        skorch_fit_s=round(skorch_s, 3),
        skorch_accuracy=float((net.predict(X_test) == y_test).mean()),
        skmnist_accuracy=ours.score(X_test, y_test),
        skorch_vs_skmnist=round(ratio, 1),
        goal="skorch takes >= 30x as long",
        goal_met=ratio >= 30,
        summary=f"skorch {skorch_s:.2f} s, skmnist {ours_s:.2f} s: {ratio:.1f}x",
    )


def stage_predict(ctx: Context) -> None:
    import sklearn

    X_train, y_train, X_test, _ = ctx.data
    device = ctx.args.device
    args = ctx.model_args(epochs=1)
    model = skmnist_model(args, 0, LARGE_BATCH, LARGE_LR).fit(X_train, y_train)
    rows = tiled_rows(X_train, X_test, ctx.args.predict_rows)
    classifier = model[-1]
    classifier.predict_proba(rows[:10_000])  # warm-up
    rates = {
        "images_per_s": predict_throughput(classifier, rows, device, True),
        "images_per_s_assume_finite": predict_throughput(
            classifier, rows, device, False
        ),
    }
    ctx.report(rows=len(rows), **{k: round(v) for k, v in rates.items()})
    raw = np.tile(X_test, (int(np.ceil(len(rows) / len(X_test))), 1))[: len(rows)]
    synchronize(device)
    started = time.perf_counter()
    with sklearn.config_context(assume_finite=False):
        model.predict_proba(raw)
    pipeline_rate = len(raw) / (time.perf_counter() - started)
    ctx.report(
        pipeline_uint8_images_per_s=round(pipeline_rate),
        goal="predict_proba >= 5,000,000 images/s",
        goal_met=rates["images_per_s"] >= 5e6,
        summary=f"{rates['images_per_s']:,.0f} images/s ("
        f"{rates['images_per_s_assume_finite']:,.0f} with assume_finite; "
        f"pipeline from uint8 {pipeline_rate:,.0f})",
    )


def stage_augment(ctx: Context) -> None:
    X_train, y_train, X_test, y_test = ctx.data
    epochs = ctx.args.epochs or 50
    progress = []

    def record(info):
        progress.append(round(info["duration"], 3))
        ctx.report(epochs_done=len(progress), epoch_durations_s=progress)

    def model(max_iter, callbacks=None):
        return make_pipeline(
            PixelScaler(),
            MLPDigitClassifier(
                (1024, 512),
                augment=True,
                max_iter=max_iter,
                random_state=0,
                device=ctx.args.device,
                callbacks=callbacks,
            ),
        )

    warm = model(1)
    ctx.report(
        warm_up_s=round(
            timed_fit(warm, X_train[:1024], y_train[:1024], ctx.args.device), 2
        )
    )
    clf = model(epochs, [record])
    fit_s = timed_fit(clf, X_train, y_train, ctx.args.device)
    accuracy = clf.score(X_test, y_test)
    ctx.report(
        epochs=epochs,
        fit_s=round(fit_s, 2),
        accuracy=accuracy,
        goal="accuracy >= 99.3 %",
        goal_met=accuracy >= 0.993,
        summary=f"{fit_s:.1f} s, {100 * accuracy:.2f} %",
    )


def _load_on_cpu(folder: str) -> None:
    """In a process that sees no GPU: load both files, predict, save what came out."""
    import pickle
    import warnings

    import torch

    from skmnist.persistence import load_model

    folder = Path(folder)
    X = np.load(folder / "X.npy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open(folder / "model.pkl", "rb") as file:
            unpickled = pickle.load(file)
        loaded = load_model(folder / "model.skmnist")
    np.save(folder / "pickle_proba.npy", unpickled.predict_proba(X))
    np.save(folder / "secure_proba.npy", loaded.predict_proba(X))
    info = {
        "cuda_available": torch.cuda.is_available(),
        "devices": [str(unpickled[-1].device_), str(loaded[-1].device_)],
        "warnings": sorted({str(w.message) for w in caught}),
    }
    (folder / "cpu.json").write_text(json.dumps(info))


def stage_cpu_load(ctx: Context) -> None:
    import pickle

    from skmnist.persistence import save_model

    X_train, y_train, X_test, _ = ctx.data
    args = ctx.model_args(epochs=min(2, ctx.args.epochs or 2))
    model = skmnist_model(args, 0, LARGE_BATCH, LARGE_LR).fit(X_train, y_train)
    expected = model.predict_proba(X_test)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        np.save(folder / "X.npy", X_test)
        with open(folder / "model.pkl", "wb") as file:
            pickle.dump(model, file)
        save_model(model, folder / "model.skmnist")
        code = (
            f"import sys; sys.path[:0] = [{str(REPO)!r}, {str(BENCHMARKS)!r}]; "
            f"import gpu_check; gpu_check._load_on_cpu({str(folder)!r})"
        )
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
        subprocess.run(
            [sys.executable, "-c", code], env=env, check=True, timeout=ctx.args.child_s
        )
        info = json.loads((folder / "cpu.json").read_text())
        probas = {
            name: np.load(folder / f"{name}_proba.npy") for name in ("pickle", "secure")
        }
    labels = expected.argmax(axis=1)
    checks = {
        name: {
            "different_labels": int((proba.argmax(axis=1) != labels).sum()),
            "max_abs_proba_difference": float(np.abs(proba - expected).max()),
        }
        for name, proba in probas.items()
    }
    equal = all(c["different_labels"] == 0 for c in checks.values())
    ctx.report(
        trained_on=str(model[-1].device_),
        subprocess=info,
        checks=checks,
        goal="the same predicted labels on the CPU, pickled and saved",
        goal_met=equal and not info["cuda_available"],
        summary=f"trained on {model[-1].device_}, loaded on {info['devices']}: "
        + ", ".join(
            f"{n} {c['different_labels']} labels differ, probabilities within "
            f"{c['max_abs_proba_difference']:.1e}"
            for n, c in checks.items()
        ),
    )


def stage_cuda_tests(ctx: Context) -> None:
    run_cuda_only_tests(REPO, ctx.report)


STAGES = [
    Stage("env", stage_env, 20),
    Stage("default", stage_default, 40),
    Stage("graphs", stage_graphs, 30),
    Stage("recipe", stage_recipe, 40),
    Stage("skorch", stage_skorch, 55),
    Stage("predict", stage_predict, 35),
    Stage("augment", stage_augment, 70),
    Stage("cpu_load", stage_cpu_load, 30),
    Stage("cuda_tests", stage_cuda_tests, 30),
]


def _load(folder: Path, limit: int | None) -> tuple:
    X_train, y_train = load_mnist(folder, subset="train", source="idx", return_X_y=True)
    X_test, y_test = load_mnist(folder, subset="test", source="idx", return_X_y=True)
    if limit:
        X_train, y_train = X_train[:limit], y_train[:limit]
        X_test, y_test = X_test[: max(limit // 5, 100)], y_test[: max(limit // 5, 100)]
    return X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64)


def _install_wheels(folder: Path, limit_s: float) -> dict:
    """pip-install the wheels in ``folder`` into a temporary folder put on the path."""
    wheels = sorted(str(p) for p in folder.glob("*.whl"))
    if not wheels:
        return {"status": "failed", "error": f"no .whl file in {folder}"}
    target = tempfile.mkdtemp(prefix="gpu_check_site_")
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index"]
    command += ["--no-deps", "--no-compile", "--target", target, *wheels]
    done = subprocess.run(command, capture_output=True, text=True, timeout=limit_s)
    if done.returncode:
        return {"status": "failed", "error": done.stderr[-2000:]}
    atexit.register(shutil.rmtree, target, True)
    sys.path.insert(0, target)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [target, os.environ.get("PYTHONPATH")])
    )
    return {"status": "ok", "wheels": [Path(w).name for w in wheels], "target": target}


def _markdown(doc: dict) -> str:
    info = doc["stages"].get("env", {}).get("figures", {}).get("machine") or {}
    data = doc["data"]
    lines = [
        f"# GPU check on {info.get('gpu') or 'no GPU'} (device {doc['device']})",
        "",
        f"Host CPU: {info.get('cpu', '?')} ({info.get('cpu_count', '?')} cores); "
        f"torch {info.get('torch', '?')}. Data: {data.get('status')}, "
        f"{data.get('n_train')} training and {data.get('n_test')} test images; "
        f"{doc['elapsed_s']} s in all. Details in gpu_check.json.",
        "",
        "| stage | status | seconds | result | goal met |",
        "|---|---|---:|---|---|",
    ]
    for name, record in doc["stages"].items():
        figures = record.get("figures", {})
        result = figures.get("summary") or (record.get("error") or "").strip()
        result = result.splitlines()[-1] if result else ""
        lines.append(
            f"| {name} | {record['status']} | {record.get('seconds', '')} | "
            f"{result.replace('|', '/')} | {figures.get('goal_met', '')} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--wheels", type=Path, default=None)
    parser.add_argument("--stages", default=None, help="comma-separated names")
    parser.add_argument("--budget", type=float, default=330)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None, help="for every fit")
    parser.add_argument("--limit", type=int, default=None, help="training images")
    parser.add_argument("--predict-rows", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    names = [s.name for s in STAGES]
    chosen = args.stages.split(",") if args.stages else names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; the stages are {names}")
    args.stages = chosen
    args.out = args.out.resolve()  # the cuda_tests stage changes directory
    args.data = (args.data or mnist_dir()).resolve()
    return args


def main(argv=None) -> int:
    started = time.monotonic()
    args = parse_args(argv)
    deadline = started + args.budget
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, log_path = args.out / "gpu_check.json", args.out / "gpu_check.log"
    log_path.write_text("")
    chosen = [s for s in STAGES if s.name in args.stages]
    doc = {
        "script": "benchmarks/gpu_check.py",
        "argv": sys.argv[1:] if argv is None else list(argv),
        "device": args.device,
        "budget_s": args.budget,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "elapsed_s": 0.0,
        "finished": False,
        "wheels": None,
        "data": {},
        "stages": {s.name: {"status": "pending", "figures": {}} for s in chosen},
    }

    def save():
        doc["elapsed_s"] = round(time.monotonic() - started, 1)
        write_json(json_path, doc)
        (args.out / "gpu_check.md").write_text(_markdown(doc))

    save()
    if args.wheels is not None:
        try:
            doc["wheels"] = _install_wheels(args.wheels, 60)
        except Exception as error:
            doc["wheels"] = {"status": "failed", "error": repr(error)}
        log(log_path, f"wheels: {doc['wheels']}")
    folder = args.data
    loaded = error = None
    try:
        loaded = _load(folder, args.limit)
        doc["data"] = {
            "status": "ok",
            "n_train": len(loaded[0]),
            "n_test": len(loaded[2]),
        }
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        doc["data"] = {"status": "failed", "error": error}
    doc["data"].update(folder=str(folder), seconds=round(time.monotonic() - started, 2))
    log(log_path, f"data from {folder}: {doc['data']['status']} {error or ''}")
    save()
    make_context = functools.partial(Context, args, loaded, error)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as work:
        for stage in chosen:
            limit_s = min(stage.limit_s, deadline - time.monotonic())
            if limit_s < min(stage.limit_s, 3):
                record = {"status": "skipped", "figures": {}, "seconds": 0}
                record["error"] = f"out of time: --budget {args.budget:g} s is spent"
            else:
                doc["stages"][stage.name]["status"] = "running"
                save()
                log(log_path, f"{stage.name}: started (limit {limit_s:.0f} s)")
                args.child_s = limit_s
                record = run_stage(stage, make_context, limit_s, Path(work), log_path)
            doc["stages"][stage.name] = record
            save()
            summary = record["figures"].get("summary") or (record.get("error") or "")
            summary = summary.strip().splitlines()[-1] if summary.strip() else ""
            log(log_path, f"{stage.name}: {record['status']} {summary}")
    doc["finished"] = True
    save()
    bad = [n for n, r in doc["stages"].items() if r["status"] not in ("ok", "skipped")]
    log(log_path, f"done in {doc['elapsed_s']} s; not ok: {bad or 'none'}")
    return 1 if bad or doc["data"]["status"] != "ok" else 0


if __name__ == "__main__":
    sys.exit(main())
