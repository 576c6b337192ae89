"""What a model file may hold, value by value: the checks of a loaded model.

A secure file (:mod:`skmnist.persistence`) is built by skops, which sets
whatever attributes the file names. Before anything uses the model, every
object in it is checked here against one description of its state: the
classifier against :data:`skmnist._fitted_state.FITTED` (each attribute's
``check``), the scaler against :data:`SCALER_FITTED`, the pipeline against
:data:`PIPELINE_FITTED`, and the parameters of all three by
:func:`check_parameters`. Each description lists every attribute an object
may hold besides its parameters: an attribute it does not list is refused
(it could shadow a method), one it lists as required must be present, and
each value must pass its check (type, dtype, shape, range, finiteness, and
its relations to the rest of the model). What passes is safe for every
public method: prediction, scoring, ``fit``, ``partial_fit``, warm starts
and saving again.

A check is ``check(value, owner)``: None if the value is right, else what is
wrong with it (the caller names the attribute). Checks of an attribute may
read the attributes listed before it, which are checked already.

Examples
--------
>>> from skmnist._loaded_checks import integer, real
>>> integer(1)(0, None)
'is not an integer of at least 1'
>>> real(0, open_low=True)(float("nan"), None) is not None
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from .preprocessing import MNIST_MEAN, MNIST_STD

__all__ = [
    "PIPELINE_FITTED",
    "SCALER_FITTED",
    "Field",
    "all_of",
    "check_fields",
    "check_parameters",
    "check_pipeline",
    "check_scaler",
    "integer",
    "is_real",
    "real",
]

Check = Callable[[Any, Any], "str | None"]
#: The largest integer a parameter or attribute may hold (int64's).
LARGEST = 2**63 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)


@dataclass(frozen=True)
class Field:
    """One attribute an object may hold besides its parameters.

    Parameters
    ----------
    name : str
        The attribute.
    check : callable
        ``check(value, owner)``: None, or what is wrong with the value.
    optional : bool
        Whether the object may lack it.
    """

    name: str
    check: Check
    optional: bool = False


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def integer(low: int = 0, high: int = LARGEST) -> Check:
    """An integer (not a bool) from ``low`` to ``high``."""

    def check(value: Any, owner: Any) -> str | None:
        if _is_int(value) and low <= value <= high:
            return None
        if high == LARGEST:
            return f"is not an integer of at least {low}"
        return f"is not an integer from {low} to {high}"

    return check


def real(
    low: float = -math.inf,
    high: float = math.inf,
    *,
    open_low: bool = False,
    float32: bool = False,
    infinity: float | None = None,
) -> Check:
    """A finite real number in ``[low, high]`` (``(low, high]`` if ``open_low``).

    ``float32``: also finite (and, if positive, normal) as a float32.
    ``infinity``: also that infinity (``math.inf`` or ``-math.inf``).
    """

    def check(value: Any, owner: Any) -> str | None:
        if is_real(value) and infinity is not None and value == infinity:
            return None
        if not is_real(value) or not math.isfinite(value):
            return "is not a finite number"
        if value < low or value > high or (open_low and value == low):
            above = "above" if open_low else "at least"
            return f"is not a number {above} {low:g} and at most {high:g}"
        if float32 and (abs(value) > _FLOAT32_MAX or 0 < abs(value) < _FLOAT32_TINY):
            return "cannot be computed with in float32"
        return None

    return check


def optional(check: Check) -> Check:
    """None, or a value that passes ``check``."""
    return lambda value, owner: None if value is None else check(value, owner)


def one_of(*options: Any) -> Check:
    """One of ``options`` (strings, None, ...)."""

    def check(value: Any, owner: Any) -> str | None:
        if any(type(value) is type(o) and value == o for o in options):
            return None
        return f"is not one of {list(options)}"

    return check


def list_of(check: Check, *, least: int = 0) -> Check:
    """A list of at least ``least`` values that each pass ``check``."""

    def check_list(value: Any, owner: Any) -> str | None:
        if not isinstance(value, list) or len(value) < least:
            return (
                f"is not a list of at least {least} values"
                if least
                else "is not a list"
            )
        for index, item in enumerate(value):
            problem = check(item, owner)
            if problem:
                return f"[{index}] {problem}"
        return None

    return check_list


def feature_names(value: Any, owner: Any) -> str | None:
    """A 1-D object array of ``n_features_in_`` distinct strings."""
    if not (
        isinstance(value, np.ndarray)
        and value.dtype == object
        and value.shape == (owner.n_features_in_,)
        and all(isinstance(name, str) for name in value)
    ):
        return f"is not an object array of {owner.n_features_in_} strings"
    if len(set(value)) != len(value):
        return "holds a name twice"
    return None


def _short(value: Any) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def check_fields(
    owner: Any,
    what: str,
    fields: Iterable[Any],
    parameters: Iterable[str],
    check_parameters: Callable[[], None],
) -> None:
    """Refuse an object with an attribute not described, or lacking one.

    ``fields`` are the described attributes (objects with ``name``,
    ``optional`` and ``check``, such as :class:`Field`); ``what`` names
    ``owner`` in the errors. Once the names are right, ``check_parameters()``
    checks the parameters; then each present attribute's value is checked,
    in the order of ``fields``.

    Raises
    ------
    ValueError
        Naming the attribute and what is wrong with it.
    """
    fields = list(fields)
    held, parameters = vars(owner), set(parameters)
    unknown = sorted(set(held) - parameters - {f.name for f in fields})
    if unknown:
        raise ValueError(
            f"{what} holds the attributes {unknown}, which are neither "
            f"parameters nor fitted attributes of {type(owner).__name__}"
        )
    missing = sorted(parameters - set(held))
    if missing:
        raise ValueError(f"{what} lacks the parameters {missing}")
    missing = [f.name for f in fields if not f.optional and f.name not in held]
    if missing:
        raise ValueError(f"{what} lacks the fitted attributes {missing}")
    check_parameters()
    for field in fields:
        if field.name in held and field.check is not None:
            problem = field.check(held[field.name], owner)
            if problem:
                raise ValueError(
                    f"{what}'s {field.name} = {_short(held[field.name])} {problem}"
                )


def _plain(value: Any, allow_inf: bool) -> str | None:
    """What makes a parameter's value other than plain, bounded data."""
    if value is None or isinstance(value, bool | str | np.random.RandomState):
        return None
    if _is_int(value):
        return None if abs(value) <= LARGEST else "is an integer beyond int64"
    if is_real(value):
        if math.isfinite(value) or (allow_inf and value == math.inf):
            return None
        return "is not a finite number"
    items = (
        [*value.keys(), *value.values()]
        if isinstance(value, dict)
        else value
        if isinstance(value, list | tuple)
        else None
    )
    if items is None:
        return f"is a {type(value).__name__}, which no parameter takes in a file"
    return next((p for p in (_plain(item, False) for item in items) if p), None)


#: Parameters that name a folder, a cache or code: a file may not set them.
_UNSET_IN_FILES = {
    "Pipeline": {"memory": "names a cache folder, whose pickles fitting would load"},
    "MLPDigitClassifier": {"callbacks": "are code"},
}
#: Parameters that may be infinite.
_INFINITE = {"n_iter_no_change"}


def check_parameters(estimator: Any, what: str) -> None:
    """Refuse parameters that are not plain, bounded values, or name code or a path.

    Every object's parameters must be None, booleans (only where the
    parameter is a flag: scikit-learn's constraints take True for the number
    1), strings, finite numbers (``n_iter_no_change`` may be infinite)
    within int64 for integers, random states, and lists, tuples or dicts of
    those. Those of
    ``_UNSET_IN_FILES`` must be None: ``save_model`` never stores them.

    Raises
    ------
    ValueError
        Naming the parameter.
    """
    unset = _UNSET_IN_FILES.get(type(estimator).__name__, {})
    constraints = getattr(estimator, "_parameter_constraints", {})
    for name, value in estimator.get_params(deep=False).items():
        if name == "steps":
            continue
        problem = _plain(value, name in _INFINITE)
        named = [c for c in constraints.get(name, []) if isinstance(c, str)]
        if isinstance(value, bool | np.bool_) and not {"boolean", "verbose"} & {*named}:
            problem = "is a boolean, which this parameter does not take"
        if problem is None and name in unset and value is not None:
            problem = f"{unset[name]}: a model file must hold {name}=None"
        if problem:
            raise ValueError(f"{what}'s parameter {name}={_short(value)} {problem}")


# --------------------------------------------------------------------------
# PixelScaler and Pipeline
# --------------------------------------------------------------------------
def _scaler_constant(fixed: Callable[[Any], float | None]) -> Check:
    """``fixed(scaler)``: the value its parameters give (None: learned)."""

    def check(value: Any, scaler: Any) -> str | None:
        expected = fixed(scaler)
        if expected is not None and value != expected:
            return f"contradicts the scaler's parameters (they give {expected:g})"
        return None

    return check


def all_of(*checks: Check) -> Check:
    """Each of ``checks`` in turn: the first problem."""

    def check(value: Any, owner: Any) -> str | None:
        return next((p for p in (c(value, owner) for c in checks) if p), None)

    return check


def _standardised(mnist: float, plain: float) -> Callable[[Any], float | None]:
    def fixed(scaler: Any) -> float | None:
        if scaler.standardize is False:
            return plain
        return mnist if scaler.standardize == "mnist" else None

    return fixed


def _output_config(value: Any, owner: Any) -> str | None:
    if isinstance(value, dict) and all(
        key == "transform" and one_of("default", "pandas", "polars")(v, owner) is None
        for key, v in value.items()
    ):
        return None
    return "is not a set_output configuration"


_OUTPUT_CONFIG = Field("_sklearn_output_config", _output_config, optional=True)

#: The fitted state of :class:`~skmnist.PixelScaler`: every attribute a
#: fitted scaler holds besides its parameters, with what its value may be.
SCALER_FITTED = (
    Field("n_features_in_", integer(1)),
    Field("feature_names_in_", feature_names, optional=True),
    Field(
        "data_max_",
        all_of(
            real(0, open_low=True, float32=True),
            _scaler_constant(
                lambda s: None if s.max_value == "auto" else float(s.max_value),
            ),
        ),
    ),
    Field(
        "mean_",
        all_of(real(float32=True), _scaler_constant(_standardised(MNIST_MEAN, 0))),
    ),
    Field(
        "scale_",
        all_of(
            # 1 / scale_ multiplies the pixels in float32: keep it finite.
            real(1 / _FLOAT32_MAX, open_low=True, float32=True),
            _scaler_constant(_standardised(MNIST_STD, 1)),
        ),
    ),
    # What fit found wrong with its data (transform warns about the rest).
    Field("_fit_problem", optional(one_of("negative", "high", "unit", "low")), True),
    _OUTPUT_CONFIG,
)

#: A pipeline holds its parameters, and the configuration of set_output.
PIPELINE_FITTED = (_OUTPUT_CONFIG,)


def check_scaler(scaler: Any) -> None:
    """Refuse a loaded :class:`~skmnist.PixelScaler` unless it is as described."""

    def parameters() -> None:
        scaler._validate_params()
        check_parameters(scaler, "the scaler")

    check_fields(
        scaler, "the scaler", SCALER_FITTED, scaler._get_param_names(), parameters
    )


def check_pipeline(pipeline: Any) -> None:
    """Refuse a loaded Pipeline's attributes and parameters unless as described.

    Its steps are checked by the caller; ``transform_input`` may only name
    parameters (strings).
    """

    def parameters() -> None:
        pipeline._validate_params()
        check_parameters(pipeline, "the pipeline")
        names = pipeline.transform_input
        if names is not None and not all(isinstance(name, str) for name in names):
            raise ValueError("the pipeline's transform_input is not a list of names")

    names = pipeline._get_param_names()
    check_fields(pipeline, "the pipeline", PIPELINE_FITTED, names, parameters)
