"""The torch network: a plain multi-layer perceptron and its portable state."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "build_mlp",
    "from_portable",
    "layer_arrays",
    "load_numpy_state",
    "set_layer_arrays",
    "state_to_numpy",
    "to_portable",
]

#: Version of the plain-data form of a fitted network kept in pickles.
PORTABLE_FORMAT = 1

ACTIVATIONS = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def build_mlp(
    n_features: int,
    hidden_layer_sizes: Sequence[int],
    n_outputs: int,
    *,
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Sequential:
    """Build ``Linear -> activation -> dropout`` blocks and a linear output layer.

    The output layer returns logits; the softmax is applied by the loss and
    by the prediction code.

    Parameters
    ----------
    n_features : int
        Width of the input.
    hidden_layer_sizes : sequence of int
        Width of each hidden layer; empty for a linear (softmax regression) model.
    n_outputs : int
        Number of logits (classes).
    activation : str, default="relu"
        A key of :data:`ACTIVATIONS`.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.

    Returns
    -------
    torch.nn.Sequential
        The network, on the CPU, in float32.

    Examples
    --------
    >>> from skmnist._training.network import build_mlp
    >>> build_mlp(784, (32,), 10)
    Sequential(
      (0): Linear(in_features=784, out_features=32, bias=True)
      (1): ReLU()
      (2): Linear(in_features=32, out_features=10, bias=True)
    )
    """
    layers: list[nn.Module] = []
    width = n_features
    for size in hidden_layer_sizes:
        layers.append(nn.Linear(width, size))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def state_to_numpy(module: nn.Module) -> dict[str, np.ndarray]:
    """Copy a module's parameters and buffers to device-independent numpy arrays.

    Parameters
    ----------
    module : torch.nn.Module
        The network, on any device.

    Returns
    -------
    dict of str to ndarray
        The state dict, on the host.

    Examples
    --------
    >>> from skmnist._training.network import build_mlp, state_to_numpy
    >>> sorted(state_to_numpy(build_mlp(4, (), 2)))
    ['0.bias', '0.weight']
    """
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_numpy_state(module: nn.Module, state: dict[str, np.ndarray]) -> nn.Module:
    """Load arrays made by :func:`state_to_numpy` into ``module`` in place.

    Parameters
    ----------
    module : torch.nn.Module
        A network of the same architecture, on its target device and dtype.
    state : dict of str to ndarray
        The arrays to load.

    Returns
    -------
    torch.nn.Module
        ``module`` itself.

    Examples
    --------
    >>> from skmnist._training.network import (
    ...     build_mlp, load_numpy_state, state_to_numpy
    ... )
    >>> a, b = build_mlp(4, (3,), 2), build_mlp(4, (3,), 2)
    >>> _ = load_numpy_state(b, state_to_numpy(a))
    >>> bool((a[0].weight == b[0].weight).all())
    True
    """
    module.load_state_dict(
        {k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}
    )
    return module


def to_portable(module: nn.Module, architecture: dict) -> dict:
    """Describe a fitted network by plain data: its architecture and host weights.

    This is what a pickled estimator holds, so that a model trained on a GPU
    loads on a machine without one.

    Parameters
    ----------
    module : torch.nn.Module
        A network made by :func:`build_mlp` with ``architecture``.
    architecture : dict
        The keyword arguments given to :func:`build_mlp`.

    Returns
    -------
    dict
        ``{"format": ..., "architecture": ..., "dtype": ..., "state": ...}``.

    Examples
    --------
    >>> from skmnist._training.network import build_mlp, to_portable
    >>> arch = {"n_features": 4, "hidden_layer_sizes": [3], "n_outputs": 2}
    >>> to_portable(build_mlp(**arch), arch)["dtype"]
    'float32'
    """
    dtype = next(module.parameters()).dtype
    return {
        "format": PORTABLE_FORMAT,
        "architecture": dict(architecture),
        "dtype": str(dtype).removeprefix("torch."),
        "state": state_to_numpy(module),
    }


def from_portable(portable: dict, device: torch.device | str) -> nn.Module:
    """Rebuild the network described by :func:`to_portable` on ``device``.

    Parameters
    ----------
    portable : dict
        The output of :func:`to_portable`.
    device : torch.device or str
        Where to place the network.

    Returns
    -------
    torch.nn.Sequential
        The network with its weights, in evaluation mode.

    Examples
    --------
    >>> from skmnist._training.network import build_mlp, from_portable, to_portable
    >>> arch = {"n_features": 4, "hidden_layer_sizes": [3], "n_outputs": 2}
    >>> from_portable(to_portable(build_mlp(**arch), arch), "cpu")[0]
    Linear(in_features=4, out_features=3, bias=True)
    """
    version = portable.get("format") if isinstance(portable, dict) else None
    if version != PORTABLE_FORMAT:
        raise ValueError(
            f"This model's network is stored in format {version!r}, but this version "
            f"of skmnist reads format {PORTABLE_FORMAT}: the model was saved by an "
            "incompatible skmnist version. Load it with the skmnist version that "
            "saved it, or retrain it."
        )
    if set(portable) != {"format", "architecture", "dtype", "state"}:
        raise ValueError(
            "The stored network's description is not one skmnist writes: its "
            f"keys are {sorted(map(str, portable))[:10]}."
        )
    _check_architecture(portable["architecture"], portable["dtype"])
    # The architecture comes from a file: the shapes it gives are computed
    # and compared with the stored weights before anything is built, so a
    # hostile file cannot make us allocate (or lay out, layer by layer) what
    # its weights do not hold.
    _check_stored_state(portable["architecture"], portable["state"], portable["dtype"])
    with torch.device("meta"):  # no memory, no draws from torch's generator
        module = build_mlp(**portable["architecture"])
    _allocate(module, getattr(torch, portable["dtype"]))
    load_numpy_state(module, portable["state"])
    return module.to(device).eval()


def _allocate(module: nn.Module, dtype: torch.dtype) -> None:
    """Give the meta parameters of ``module`` uninitialised CPU memory of ``dtype``.

    ``module.to(dtype).to_empty(device="cpu")``, without torch's meta kernels:
    their first use imports sympy, 0.3 to 0.9 s of a model's loading.
    """
    for layer in module.modules():
        for name, param in list(layer.named_parameters(recurse=False)):
            empty = torch.empty(param.shape, dtype=dtype)
            setattr(layer, name, nn.Parameter(empty, param.requires_grad))


#: The dtypes a stored network may have.
STORED_DTYPES = ("float32", "float64")


def _check_architecture(architecture: object, dtype: object) -> None:
    """Raise ValueError unless a file's architecture is one :func:`build_mlp` takes."""

    def count(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    problems = []
    if not isinstance(architecture, dict):
        problems.append(f"the architecture is a {type(architecture).__name__}")
    else:
        required = {"n_features", "hidden_layer_sizes", "n_outputs"}
        known = required | {"activation", "dropout"}
        if not required <= architecture.keys() <= known:
            problems.append(f"its keys are {sorted(map(str, architecture))}")
        else:
            sizes = architecture["hidden_layer_sizes"]
            if not count(architecture["n_features"]):
                problems.append(f"n_features is {architecture['n_features']!r}")
            if not count(architecture["n_outputs"]):
                problems.append(f"n_outputs is {architecture['n_outputs']!r}")
            if not isinstance(sizes, list | tuple) or not all(map(count, sizes)):
                problems.append(f"hidden_layer_sizes is {sizes!r}")
            activation = architecture.get("activation", "relu")
            if not isinstance(activation, str) or activation not in ACTIVATIONS:
                problems.append(f"activation is {activation!r}")
            dropout = architecture.get("dropout", 0.0)
            if not isinstance(dropout, float | int) or not 0 <= dropout < 1:
                problems.append(f"dropout is {dropout!r}")
    if dtype not in STORED_DTYPES:
        problems.append(f"the dtype is {dtype!r}, not one of {list(STORED_DTYPES)}")
    if problems:
        raise ValueError(
            "The stored network's description is not one skmnist writes: "
            + "; ".join(str(problem)[:200] for problem in problems)
            + "."
        )


def _shapes(architecture: dict) -> dict[str, tuple[int, ...]]:
    """The state-dict shapes of ``build_mlp(**architecture)``, computed."""
    widths = [
        architecture["n_features"],
        *architecture["hidden_layer_sizes"],
        architecture["n_outputs"],
    ]
    per_block = 3 if architecture.get("dropout", 0.0) > 0 else 2
    shapes = {}
    for layer, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        shapes[f"{layer * per_block}.weight"] = (n_out, n_in)
        shapes[f"{layer * per_block}.bias"] = (n_out,)
    return shapes


def _check_stored_state(architecture: dict, state: object, dtype: str) -> None:
    """Raise ValueError unless ``state`` holds exactly the architecture's arrays.

    Compared before anything is built: the number of layers first (so a
    description of a million layers costs nothing), then each array's shape
    and dtype.
    """
    if not isinstance(state, dict) or not all(
        isinstance(array, np.ndarray) for array in state.values()
    ):
        raise ValueError("The stored weights are not a dict of arrays.")
    if len(state) != 2 * (len(architecture["hidden_layer_sizes"]) + 1):
        raise ValueError(
            f"The stored weights ({len(state)} arrays) do not match the stored "
            f"architecture ({len(architecture['hidden_layer_sizes'])} hidden layers)."
        )
    expected = _shapes(architecture)
    stored = {name: array.shape for name, array in state.items()}
    if expected != stored:
        missing = sorted(set(expected) - set(stored))
        extra = sorted(map(str, set(stored) - set(expected)))
        wrong = sorted(
            f"{name} {stored[name]} (the architecture needs {expected[name]})"
            for name in set(expected) & set(stored)
            if expected[name] != stored[name]
        )
        details = "; ".join(
            text
            for text in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unexpected {', '.join(extra)}" if extra else "",
                f"wrong shapes: {', '.join(wrong)}" if wrong else "",
            )
            if text
        )
        raise ValueError(
            f"The stored weights do not match the stored architecture: {details}."
        )
    wrong = sorted(name for name, array in state.items() if array.dtype != dtype)
    if wrong:
        raise ValueError(
            f"The stored weights {wrong} are not of the network's dtype {dtype}."
        )


def layer_arrays(module: nn.Module, suffix: str) -> list[np.ndarray]:
    """Each layer's weights (``suffix="weight"``) or biases as NumPy copies.

    Weight matrices are shaped ``(n_in, n_out)``, as MLPClassifier's
    ``coefs_``.

    Examples
    --------
    >>> from skmnist._training.network import build_mlp, layer_arrays
    >>> [w.shape for w in layer_arrays(build_mlp(4, (3,), 2), "weight")]
    [(4, 3), (3, 2)]
    """
    state = state_to_numpy(module)
    return [
        v.T.copy() if v.ndim == 2 else v for k, v in state.items() if k.endswith(suffix)
    ]


def set_layer_arrays(module: nn.Module, suffix: str, name: str, values) -> None:
    """Write ``values`` (one array per layer) into the network, all or none.

    ``name`` (``"coefs_"`` or ``"intercepts_"``) names them in the errors.

    Examples
    --------
    >>> import numpy as np
    >>> from skmnist._training.network import build_mlp, set_layer_arrays
    >>> net = build_mlp(4, (3,), 2)
    >>> set_layer_arrays(net, "bias", "intercepts_", [np.ones(3), np.zeros(2)])
    >>> net[0].bias.tolist()
    [1.0, 1.0, 1.0]
    """
    parameters = [p for key, p in module.named_parameters() if key.endswith(suffix)]
    expected = f"{name} must hold {len(parameters)} arrays, one per layer, in a list"
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{expected}; got {type(values).__name__}.")
    if len(values) != len(parameters):
        raise ValueError(f"{expected}; got {len(values)}.")
    arrays = []
    for index, (value, parameter) in enumerate(zip(values, parameters, strict=True)):
        shape = tuple(parameter.shape[::-1])  # (n_in, n_out) for weights
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}[{index}] is not a numeric array: {exc}") from None
        if array.shape != shape:
            raise ValueError(
                f"{name}[{index}] has shape {array.shape}, but that layer's is {shape}."
            )
        if not np.isfinite(array).all():
            raise ValueError(f"{name}[{index}] contains NaN or infinity.")
        arrays.append(np.ascontiguousarray(array.T))
    with torch.no_grad():
        for array, parameter in zip(arrays, parameters, strict=True):
            parameter.copy_(torch.from_numpy(array))
