"""The fitted state of :class:`~skmnist.MLPDigitClassifier`, described once.

:data:`FITTED` lists every attribute that a fit sets, once: what sets it,
whether it is public (documented in the class's Attributes section) or
private, how a file holds it, and the value it takes in a file written
before it existed. Everything that handles the fitted state reads it:

- :func:`store` (the trained network and its history) and :func:`assign`
  (the rest of a fit's results) set the attributes after a fit, and refuse
  any other set of names than the one described for them: an attribute
  cannot be set by a fit without being described here, nor be described
  without being set;
- :func:`training_state` reads the history back for a warm start or
  :meth:`~skmnist.MLPDigitClassifier.partial_fit`;
- :func:`to_file` and :func:`from_file` are the classifier's
  ``__getstate__`` and ``__setstate__``: pickles, joblib files and dask
  transfers, and the secure files, which skops builds through
  ``__setstate__`` too. :func:`from_file` gives a file of an older version
  the described defaults, and refuses a fitted state that lacks a described
  attribute without one;
- :func:`storable` and :func:`check_loaded` are the secure format's: the
  plain values a skops file must hold, and the validation of a loaded
  classifier: no attribute that is neither a parameter nor described, every
  described one present unless optional, and each value passing its
  attribute's ``check`` (from :mod:`skmnist._classifier_checks`).

Examples
--------
>>> from skmnist._fitted_state import FITTED
>>> [a.name for a in FITTED if a.older is not None]  # not in older files
['_device_param', 'loss_', 'precision_']
>>> [a.name for a in FITTED if a.public and a.set_by == "finish"]
['n_iter_', 'out_activation_', 'loss_', 'precision_']
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from . import _classifier_checks as checks
from ._loaded_checks import check_fields, feature_names, integer
from ._training.device import resolve_device
from ._training.history import TrainingState
from ._training.network import from_portable, to_portable
from ._training.optimizers import optimizer_from_numpy, optimizer_to_numpy
from ._user_warning import warn_user

__all__ = [
    "DEVICE_WARNING",
    "FITTED",
    "OMIT",
    "PARAMETERS_ADDED",
    "Attribute",
    "Storage",
    "assign",
    "check_loaded",
    "from_file",
    "restore_attributes",
    "saved_attributes",
    "storable",
    "store",
    "to_file",
    "training_state",
]

#: What :meth:`Storage.save` returns for a value that the file leaves out.
OMIT = object()
#: The start of the warning of a model loaded on the CPU instead of its device.
DEVICE_WARNING = "This model was trained on "


@dataclass(frozen=True)
class Storage:
    """How a file holds an attribute that it does not hold as it is.

    Parameters
    ----------
    description : str
        What the file holds.
    save : callable
        ``save(value, state)``: the stored value, or :data:`OMIT`; ``state``
        is the whole state being saved.
    load : callable
        ``load(stored, state, device)``: the attribute's value; ``state`` is
        the state being loaded (the attributes before this one in
        :data:`FITTED` already loaded), ``device`` the one the network goes to.
    """

    description: str
    save: Callable[[Any, dict], Any]
    load: Callable[[Any, dict, torch.device], Any]


@dataclass(frozen=True)
class Attribute:
    """One fitted attribute of the classifier.

    Parameters
    ----------
    name : str
        The attribute.
    public : bool
        Whether it is documented API (else private, its name starts with ``_``).
    set_by : {"validate_data", "plan", "store", "finish"}
        What sets it in a fit: scikit-learn's ``validate_data``, the fit's
        planning, :func:`store` (the trained network and its history) or
        :func:`assign` with ``"finish"`` (what else the call established).
    history : str or None
        The :class:`~skmnist._training.engine.TrainingState` field that it
        holds, which :func:`store` copies and :func:`training_state` reads back.
    early : bool or None
        For a ``history`` attribute: held only with early stopping (True),
        only without it (False), or always (None); else None.
    convert : callable or None
        Applied to the ``history`` field's value when it is stored.
    storage : Storage or None
        How a file holds it; None: as it is.
    secure : callable or None
        Turns the value into one a secure (skops) file can hold, when it may
        be of another type.
    older : callable or None
        ``older(state)``: its value in a file of a version from before it
        existed, from that file's state; None: every fitted file holds it.
    optional : bool
        Whether a fitted model may lack it.
    check : callable or None
        ``check(value, estimator)``: None if the value of a loaded classifier
        is right, else what is wrong with it; it may read the attributes
        before this one in :data:`FITTED`, which are checked already.
    """

    name: str
    public: bool
    set_by: str
    history: str | None = None
    early: bool | None = None
    convert: Callable[[Any], Any] | None = None
    storage: Storage | None = None
    secure: Callable[[Any], Any] | None = None
    older: Callable[[dict], Any] | None = None
    optional: bool = False
    check: Callable[[Any, Any], str | None] | None = None

    @property
    def required(self) -> bool:
        """Whether a fitted state must hold it (it has no default, is not optional)."""
        return not self.optional and self.older is None


def _load_device(saved: str, device_parameter: Any) -> torch.device:
    """Where a loaded network goes: its saved device if this machine has it."""
    if device_parameter == "auto" and saved.startswith("cuda"):
        # This process's own GPU (dask/joblib workers spread out).
        saved = "auto" if torch.cuda.is_available() else saved
    try:
        return resolve_device(saved)
    except ValueError:
        warn_user(
            f"{DEVICE_WARNING}{saved!r}, which is not available here; "
            "it was loaded on the CPU.",
            UserWarning,
        )
        return torch.device("cpu")


def _save_optimizer(optimizer: Any, state: dict) -> Any:
    if state.get("keep_optimizer_state", False) and optimizer is not None:
        return optimizer_to_numpy(optimizer)
    return OMIT


def _load_optimizer(saved: Any, state: dict, device: torch.device) -> Any:
    if isinstance(saved, dict):
        return optimizer_from_numpy(state["module_"], saved)
    if saved is not None:
        raise ValueError(f"The stored optimizer state is a {type(saved).__name__}.")
    return None


def _older_precision(state: dict) -> str | None:
    """``precision_`` of a file from before it existed: known for float64 only."""
    network = state.get("module_")
    dtype = network.get("dtype") if isinstance(network, dict) else None
    return "float64" if dtype == "float64" else None


def _device_parameter(state: dict) -> Any:
    return state.get("device", "auto")  # a file without it is refused later


NETWORK = Storage(
    "its architecture and NumPy weights (to_portable); rebuilt on the device",
    save=lambda module, state: to_portable(module, state["_architecture"]),
    load=lambda portable, state, device: from_portable(portable, device),
)
OPTIMIZER = Storage(
    "NumPy moments and step counts with keep_optimizer_state=True, else nothing",
    save=_save_optimizer,
    load=_load_optimizer,
)
LOADED_DEVICE = Storage(
    "the device name; loaded, the device the network was placed on",
    save=lambda name, state: name,
    load=lambda name, state, device: str(device),
)

#: Every fitted attribute, once: name, public, set by, the TrainingState field
#: it holds, then the rest by keyword. Files load them in this order.
FITTED = (
    Attribute("n_features_in_", True, "validate_data", check=integer(1)),
    Attribute(
        "feature_names_in_", True, "validate_data", optional=True, check=feature_names
    ),
    Attribute("_rng", False, "plan", check=checks.random_state),
    Attribute("module_", True, "store", storage=NETWORK, check=checks.network),
    Attribute(
        "_optimizer",
        False,
        "store",
        storage=OPTIMIZER,
        optional=True,
        check=checks.optimizer,
    ),
    Attribute("classes_", True, "store", check=checks.classes),
    Attribute("device_", True, "store", storage=LOADED_DEVICE, check=checks.device),
    Attribute("n_outputs_", True, "store", check=checks.n_outputs_check),
    Attribute("n_layers_", True, "store", check=checks.n_layers_check),
    Attribute("t_", True, "store", "t", check=integer(0)),
    Attribute("loss_curve_", True, "store", "loss_curve", check=checks.loss_curve),
    Attribute(
        "best_loss_",
        True,
        "store",
        "best_loss",
        early=False,
        convert=float,
        check=checks.best_loss,
    ),
    Attribute(
        "validation_scores_",
        True,
        "store",
        "validation_scores",
        early=True,
        check=checks.validation_scores,
    ),
    Attribute(
        "best_validation_score_",
        True,
        "store",
        "best_validation_score",
        early=True,
        convert=float,
        check=checks.best_validation_score,
    ),
    Attribute(
        "_no_improvement_count",
        False,
        "store",
        "no_improvement_count",
        check=integer(0),
    ),
    Attribute(
        "_learning_rate", False, "store", "learning_rate", check=checks.learning_rate
    ),
    Attribute("_architecture", False, "finish", check=checks.architecture),
    # The device parameter of the fit; older files: the one they hold.
    Attribute(
        "_device_param",
        False,
        "finish",
        secure=str,
        older=_device_parameter,
        check=checks.device_parameter,
    ),
    # Epochs, or L-BFGS iterations (which loss_curve_ does not record).
    Attribute("n_iter_", True, "finish", check=integer(0)),
    Attribute("out_activation_", True, "finish", check=checks.out_activation),
    # Older files did not keep it, and their weights do not give it back.
    Attribute("loss_", True, "finish", older=lambda state: None, check=checks.loss),
    # Older files: float64 for float64 networks; else unknown (float32 or
    # bfloat16 products, their float32 weights do not tell).
    Attribute(
        "precision_", True, "finish", older=_older_precision, check=checks.precision
    ),
)

#: Parameters added after the first files were written: they take the
#: default of ``__init__`` when a file lacks them.
PARAMETERS_ADDED = ("augment", "keep_optimizer_state", "max_fun", "precision")

_BY_NAME = {attribute.name: attribute for attribute in FITTED}
_HISTORY = tuple(attribute for attribute in FITTED if attribute.history)


def assign(estimator: Any, set_by: str, values: dict) -> None:
    """Set the attributes that ``set_by`` sets in a fit: exactly those described."""
    described = {a.name for a in FITTED if a.set_by == set_by}
    if values.keys() != described:
        raise RuntimeError(  # a programming error: FITTED and the fit disagree
            f"A fit's {set_by!r} step sets {sorted(values)}, but the fitted "
            f"state describes {sorted(described)}."
        )
    for name, value in values.items():
        setattr(estimator, name, value)


def store(
    estimator: Any,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    state: TrainingState,
    classes: Any,
    device: torch.device,
    early: bool,
) -> None:
    """Set the trained network and its history as fitted attributes."""
    history = {a.name: _stored_history(a, state, early) for a in _HISTORY}
    assign(
        estimator,
        "store",
        {
            "module_": module,
            "_optimizer": optimizer,
            "classes_": classes,
            "device_": str(device),
            "n_outputs_": len(classes),
            "n_layers_": sum(isinstance(m, torch.nn.Linear) for m in module) + 1,
            **history,
        },
    )


def _stored_history(attribute: Attribute, state: TrainingState, early: bool) -> Any:
    if attribute.early is not None and attribute.early != early:
        return None  # not kept by a fit with (or without) early stopping
    value = getattr(state, attribute.history)
    return value if attribute.convert is None else attribute.convert(value)


def training_state(estimator: Any) -> TrainingState:
    """The history that :func:`store` stored, for training to continue from.

    An attribute held as None (the early-stopping ones, by whether the fit
    stopped early) gives its field's fresh value.
    """
    fresh = TrainingState()
    fields = {}
    for attribute in _HISTORY:
        value = getattr(estimator, attribute.name)
        if value is None:
            value = getattr(fresh, attribute.history)
        fields[attribute.history] = list(value) if isinstance(value, list) else value
    # Epochs since the network was made (n_iter_ counts the last call's).
    return TrainingState(**fields, n_iter=len(estimator.loss_curve_))


def to_file(state: dict) -> dict:
    """``__getstate__``: the estimator's ``state`` as a file holds it."""
    saved = dict(state)
    for attribute in FITTED:
        if attribute.storage is not None and attribute.name in state:
            value = attribute.storage.save(state[attribute.name], state)
            if value is OMIT:
                del saved[attribute.name]
            else:
                saved[attribute.name] = value
    return saved


def from_file(estimator: Any, state: dict) -> dict:
    """``__setstate__``: the state of a file as the estimator holds it.

    Gives a file of an older version the defaults of the parameters and
    attributes added since, and places the network on the device it was
    saved from, if this machine has it, else on the CPU (with a warning).

    Raises
    ------
    ValueError
        If the state is fitted (holds ``module_``) but lacks an attribute
        that every fitted file holds, or holds a network of another version.
    """
    state = dict(state)
    signature = inspect.signature(type(estimator).__init__).parameters
    for name in PARAMETERS_ADDED:
        state.setdefault(name, signature[name].default)
    if "module_" not in state:
        return state  # not fitted
    for attribute in FITTED:
        if attribute.older is not None and attribute.name not in state:
            state[attribute.name] = attribute.older(state)
    missing = [a.name for a in FITTED if a.required and a.name not in state]
    if missing:
        raise ValueError(
            f"This saved {type(estimator).__name__} is fitted but lacks the fitted "
            f"attributes {missing}: the file is damaged, or not from skmnist."
        )
    device = _load_device(str(state["device_"]), state.get("device"))
    for attribute in FITTED:
        if attribute.storage is not None and attribute.name in state:
            value = state[attribute.name]
            state[attribute.name] = attribute.storage.load(value, state, device)
    return state


def storable(estimator: Any) -> None:
    """Turn the fitted attributes of (a copy of) ``estimator`` into plain values."""
    held = vars(estimator)
    for attribute in FITTED:
        if attribute.secure is not None and attribute.name in held:
            held[attribute.name] = attribute.secure(held[attribute.name])


def check_loaded(estimator: Any) -> None:
    """Refuse a classifier built from a secure file unless it is as described.

    Every attribute must be a parameter or in :data:`FITTED`, every
    parameter and required attribute present, each attribute's value must
    pass its ``check``, and the parameters must be valid, plain values that
    agree with the fitted network
    (:func:`~skmnist._classifier_checks.check_parameters_agree`).

    Raises
    ------
    ValueError
        Naming the attribute or parameter and what is wrong with it.
    """
    names = estimator._get_param_names()
    # InvalidParameterError: a ValueError
    check_fields(estimator, "the classifier", FITTED, names, estimator._validate_params)
    checks.check_parameters_agree(estimator)


def saved_attributes(estimator: Any) -> dict:
    """Every attribute of ``estimator``, for :func:`restore_attributes`.

    A fit replaces its attributes rather than change them in place, but
    for the random state, which is copied.
    """
    saved = dict(estimator.__dict__)
    if "_rng" in saved:  # advanced in place by a call
        saved["_rng"] = copy.deepcopy(saved["_rng"])
    return saved


def restore_attributes(estimator: Any, saved: dict) -> None:
    """Put back the attributes of :func:`saved_attributes`, removing any other."""
    estimator.__dict__.clear()
    estimator.__dict__.update(saved)
