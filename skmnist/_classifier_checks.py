"""The checks of a loaded classifier's fitted attributes, one per attribute.

:data:`skmnist._fitted_state.FITTED` gives each attribute its check from
here (its ``check`` field); :func:`skmnist._loaded_checks.check_fields` runs
them in that order, so a check may read the attributes before its own. The
network (``module_``) was rebuilt from weights whose shapes were compared
with its stored architecture before anything was allocated
(:func:`skmnist._training.network.from_portable`), and the optimizer state
against the network (:func:`skmnist._training.optimizers.optimizer_from_numpy`);
the checks here relate the rest to them.

Examples
--------
>>> import numpy as np
>>> from skmnist._classifier_checks import classes
>>> classes(np.array([2, 1]), None)
'is not sorted, or holds a class twice'
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ._fit_plan import hidden_layer_sizes
from ._loaded_checks import (
    all_of,
    check_parameters,
    integer,
    is_real,
    list_of,
    one_of,
    optional,
    real,
)
from ._training.device import check_device_name
from ._training.network import ACTIVATIONS

__all__ = ["ARCHITECTURE_KEYS", "check_parameters_agree"]

#: The keys of ``_architecture``: the keyword arguments of ``build_mlp``.
ARCHITECTURE_KEYS = (
    "n_features",
    "hidden_layer_sizes",
    "n_outputs",
    "activation",
    "dropout",
)
_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}


#: The largest weight or bias a loaded network may hold. Training keeps them
#: far inside (below 100 in every model of the test suite and benchmarks);
#: larger ones only serve to overflow float32 in a forward pass.
MAX_WEIGHT = 1e6


def _layers(clf: Any) -> list[nn.Linear]:
    return [m for m in clf.module_ if isinstance(m, nn.Linear)]


def network(module: Any, clf: Any) -> str | None:
    """A network of finite float32 or float64 weights taking ``n_features_in_``."""
    if type(module) is not nn.Sequential or not _layers(clf):
        return "is not a network of linear layers"
    dtypes = {p.dtype for p in module.parameters()}
    if dtypes not in ({torch.float32}, {torch.float64}):
        return f"has weights of dtypes {sorted(map(str, dtypes))}"
    if not all(bool(torch.isfinite(p).all()) for p in module.parameters()):
        return "holds NaN or infinite weights"
    if any(bool((p.abs() > MAX_WEIGHT).any()) for p in module.parameters()):
        return f"holds weights beyond +-{MAX_WEIGHT:g}, which overflow predictions"
    if _layers(clf)[0].in_features != clf.n_features_in_:
        return f"does not take n_features_in_={clf.n_features_in_} features"
    return None


def optimizer(value: Any, clf: Any) -> str | None:
    """None, or the state of the optimizer of ``solver``, which the file keeps."""
    if value is None:
        return None
    if clf.keep_optimizer_state is not True:
        return "is kept although keep_optimizer_state is not True"
    if type(value) is not _OPTIMIZERS.get(clf.solver):
        return f"is the state of another solver than solver={clf.solver!r}"
    return None


def classes(value: Any, clf: Any) -> str | None:
    """A 1-D array of sorted, distinct labels: numbers, booleans or strings."""
    if not (isinstance(value, np.ndarray) and value.ndim == 1 and len(value)):
        return "is not a 1-D array of at least one class"
    kind = value.dtype.kind
    strings = kind == "O" and all(isinstance(label, str) for label in value)
    if kind not in "biufU" and not strings:
        return f"is an array of {value.dtype}, not of labels"
    if kind == "f" and not np.isfinite(value).all():
        return "holds NaN or infinity"
    if not np.array_equal(np.unique(value), value):
        return "is not sorted, or holds a class twice"
    return None


def n_outputs(value: Any, clf: Any) -> str | None:
    """As many outputs as classes, and as the network's last layer."""
    if value != len(clf.classes_) or value != _layers(clf)[-1].out_features:
        return (
            f"contradicts the {len(clf.classes_)} classes_ or the network's "
            f"{_layers(clf)[-1].out_features} outputs"
        )
    return None


def n_layers(value: Any, clf: Any) -> str | None:
    """The network's linear layers, plus the input layer."""
    if value != len(_layers(clf)) + 1:
        return f"contradicts the network's {len(_layers(clf))} layers"
    return None


def best_loss(value: Any, clf: Any) -> str | None:
    """Kept without early stopping, None with it; infinite before any epoch."""
    return optional(real(infinity=math.inf))(value, clf)


def validation_scores(value: Any, clf: Any) -> str | None:
    """Accuracies with early stopping (best_loss_ None), else None."""
    if (value is None) == (clf.best_loss_ is None):
        return "and best_loss_ are both kept, or both missing"
    if value is None:
        return None
    problem = list_of(real(0, 1))(value, clf)
    if problem is None and len(value) > len(clf.loss_curve_):
        return "is longer than loss_curve_"
    return problem


def best_validation_score(value: Any, clf: Any) -> str | None:
    """Kept with validation_scores_, as an accuracy."""
    if (value is None) != (clf.validation_scores_ is None):
        return "contradicts validation_scores_"
    return optional(real(0, 1, infinity=-math.inf))(value, clf)


def _described(module: nn.Sequential) -> dict:
    """The ``build_mlp`` arguments that made ``module``, as fit stores them."""
    layers = [m for m in module if isinstance(m, nn.Linear)]
    activations = {
        name for name, kind in ACTIVATIONS.items() for m in module if type(m) is kind
    }
    dropouts = {float(m.p) for m in module if isinstance(m, nn.Dropout)}
    return {
        "n_features": layers[0].in_features,
        "hidden_layer_sizes": [layer.out_features for layer in layers[:-1]],
        "n_outputs": layers[-1].out_features,
        "activations": activations,
        "dropouts": dropouts,
    }


def architecture(value: Any, clf: Any) -> str | None:
    """The network's description, as ``build_mlp`` was given it."""
    if not isinstance(value, dict) or set(value) != set(ARCHITECTURE_KEYS):
        return "is not a description of a network"
    net = _described(clf.module_)
    sizes = value["hidden_layer_sizes"]
    dropout = value["dropout"]
    counts = [value["n_features"], value["n_outputs"]]
    if (
        not isinstance(sizes, list)
        or any(integer(1)(count, clf) for count in [*counts, *sizes])
        or value["n_features"] != net["n_features"]
        or value["n_outputs"] != net["n_outputs"]
        or sizes != net["hidden_layer_sizes"]
        or not (is_real(dropout) and 0 <= dropout < 1)
        or net["dropouts"] - {float(dropout)}
        or (dropout > 0 and sizes and not net["dropouts"])
        or not isinstance(value["activation"], str)
        or value["activation"] not in ACTIVATIONS
        or net["activations"] - {value["activation"]}
    ):
        return "contradicts the network"
    return None


def device_parameter(value: Any, clf: Any) -> str | None:
    """A device name, as the ``device`` parameter takes."""
    try:
        check_device_name(value)
    except ValueError:
        return "is not a device name"
    return None if isinstance(value, str) else "is not a device name"


def out_activation(value: Any, clf: Any) -> str | None:
    """softmax for classes, logistic for multilabel indicators 0 to n - 1."""
    problem = one_of("softmax", "logistic")(value, clf)
    if problem is None and value == "logistic":
        labels = clf.classes_
        if labels.dtype.kind not in "iu" or not np.array_equal(
            labels, np.arange(len(labels))
        ):
            return "contradicts classes_ (multilabel classes_ are 0 to n - 1)"
    return problem


def precision(value: Any, clf: Any) -> str | None:
    """What the matrix products ran in: float64 exactly for float64 networks."""
    problem = optional(one_of("float32", "float64", "bfloat16"))(value, clf)
    float64 = next(clf.module_.parameters()).dtype == torch.float64
    if problem is None and value is not None and (value == "float64") != float64:
        return "contradicts the dtype of the network's weights"
    return problem


def random_state(value: Any, clf: Any) -> str | None:
    """The classifier's random generator."""
    return None if isinstance(value, np.random.RandomState) else "is not a RandomState"


def device(value: Any, clf: Any) -> str | None:
    """The device the network was placed on, which loading sets."""
    return None if isinstance(value, str) else "is not a device"


n_outputs_check = all_of(integer(1), n_outputs)
n_layers_check = all_of(integer(2), n_layers)
loss_curve = list_of(real())  # empty if the first epoch diverged
learning_rate = optional(real(0, open_low=True))


def check_parameters_agree(clf: Any) -> None:
    """Refuse parameters that a loaded classifier cannot use as they are.

    Plain values (:func:`~skmnist._loaded_checks.check_parameters`), no
    callbacks, and the layers
    of the fitted network (``hidden_layer_sizes``, ``activation``,
    ``dropout``): a file whose parameters describe another network could make
    a refit allocate what the file does not hold.

    Raises
    ------
    ValueError
        Naming the parameter.
    """
    check_parameters(clf, "the classifier")
    fitted = clf._architecture
    for name, value in [
        ("hidden_layer_sizes", hidden_layer_sizes(clf)),
        ("activation", clf.activation),
        ("dropout", float(clf.dropout)),
    ]:
        if value != fitted[name]:
            raise ValueError(
                f"the classifier's parameter {name}={getattr(clf, name)!r} "
                f"contradicts its fitted network ({fitted[name]!r})"
            )


loss = optional(real(infinity=math.inf))  # infinite: a diverged fit's
