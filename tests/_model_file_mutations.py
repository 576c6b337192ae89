"""Mutations of skmnist model files: the fuzz test's files.

:func:`base_models` fits six small models (a classifier, the pipeline that
``skmnist train`` saves, one with ``keep_optimizer_state=True`` after a
``partial_fit``, a multilabel one, one with string labels, one with early
stopping). :func:`mutations` takes their files apart and gives every named
:class:`~_schema_mutations.Mutation`, deterministically: every node of each
``schema.json`` times every operator that applies to it
(:mod:`_schema_mutations`), and every structural element of the zip archive
(:mod:`_zip_writer`: duplicate, dropped, compressed, extra or overlapping
members, truncation, flipped bytes, wrong CRC-32s, comments, bad local
headers). :func:`sample` takes a deterministic sample that holds every class.

:mod:`_model_file_judge` judges them; ``python benchmarks/fuzz_model_files.py``
prints the outcomes by mutation class.
"""

from __future__ import annotations

import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _schema_mutations import File, Mutation, member_labels, schema_mutations
from _zip_writer import zip_mutations

SEED = 23
#: The address-space limit of a child that loads a file: torch's libraries
#: take about 1.5 GiB of address space; a model of these sizes needs little more.
MEMORY_LIMIT = 4 * 2**30
#: How long a child may take for one file, loading and every method.
TIMEOUT_S = 20.0
#: Per base model: how many rows it was fitted on, and are refitted on.
N_ROWS = 200
BASES = (
    "classifier",
    "pipeline",
    "optimizer",
    "multilabel",
    "strings",
    "early_stopping",
)


# --------------------------------------------------------------------------
# The base models
# --------------------------------------------------------------------------
def base_data(base: str) -> tuple[np.ndarray, np.ndarray]:
    """The data a base model was fitted on (and its methods are run on)."""
    if base == "pipeline":  # as `skmnist train`: uint8 MNIST pixels
        from skmnist.datasets import load_mnist

        X, y = load_mnist(source="sample", return_X_y=True)
        return np.asarray(X)[:N_ROWS], np.asarray(y)[:N_ROWS]
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:N_ROWS].astype(np.float32), y[:N_ROWS]
    if base == "multilabel":
        return X, np.stack([y % 2, y > 4, y == 3], axis=1).astype(np.int64)
    if base == "strings":
        names = np.array(["zero", "one", "two", "3", "4", "5", "6", "7", "8", "=9"])
        return X, names[y]
    return X, y


def base_models() -> dict[str, object]:
    """The six fitted models that are saved and mutated."""
    import warnings

    from sklearn.pipeline import make_pipeline

    from skmnist import MLPDigitClassifier, PixelScaler

    def tiny(**params):
        defaults = dict(
            hidden_layer_sizes=(8,), max_iter=2, random_state=0, device="cpu"
        )
        return MLPDigitClassifier(**{**defaults, **params})

    models = {
        "classifier": tiny(),
        "pipeline": make_pipeline(PixelScaler(), tiny()),
        "optimizer": tiny(keep_optimizer_state=True),
        "multilabel": tiny(hidden_layer_sizes=(8, 4)),
        "strings": tiny(),
        "early_stopping": tiny(early_stopping=True, max_iter=3),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: 2 epochs
        for base, model in models.items():
            model.fit(*base_data(base))
        models["optimizer"].partial_fit(*base_data("optimizer"))
    return models


def save_bases(folder: Path) -> dict[str, bytes]:
    """Save the base models in ``folder``; their files' bytes by base name."""
    from skmnist.persistence import save_model

    files = {}
    for base, model in base_models().items():
        path = folder / f"{base}.skmnist"
        save_model(model, path)
        files[base] = path.read_bytes()
    return files


def _zip_mutations(file: File, data: bytes, base: str) -> Iterator[Mutation]:
    labels = member_labels(file)
    rng = random.Random(f"{SEED}:{base}")
    for kind, where, must_refuse, make in zip_mutations(data, rng, labels):
        yield Mutation(
            f"{base}:{where}:{kind}", kind, f"{base}:{where}", make, must_refuse
        )


def mutations(files: dict[str, bytes]) -> list[Mutation]:
    """Every mutation of every base file, in a fixed order (names are unique)."""
    found = []
    for base, data in files.items():
        file = File.parse(data)
        found.append(
            Mutation(
                f"{base}:<file>:none-rezipped",
                "none:rezipped",
                f"{base}:<file>",
                lambda file=file: file.pack(file.schema_text),
            )
        )
        found.extend(schema_mutations(file, base))
        found.extend(_zip_mutations(file, data, base))
    names = Counter(m.name for m in found)
    duplicates = [name for name, n in names.items() if n > 1]
    assert not duplicates, duplicates[:5]
    return found


def sample(found: list[Mutation], n: int | None, seed: int = SEED) -> list[Mutation]:
    """A deterministic sample of ``n``: every kind of mutation, round robin.

    The kinds are visited in turn, each giving its next mutation in a seeded
    shuffle of its own, until ``n`` are taken: with ``n`` at least the number
    of kinds, every kind is in the sample.
    """
    if n is None or n >= len(found):
        return list(found)
    rng = random.Random(seed)
    by_kind = defaultdict(list)
    for mutation in found:
        by_kind[mutation.kind].append(mutation)
    queues = []
    for kind in sorted(by_kind):
        group = by_kind[kind]
        rng.shuffle(group)
        queues.append(iter(group))
    taken = []
    while len(taken) < n and queues:
        for queue in list(queues):
            mutation = next(queue, None)
            if mutation is None:
                queues.remove(queue)
            elif len(taken) < n:
                taken.append(mutation)
    return taken
