"""Fit planning: from an estimator's parameters and data to a training job.

:func:`plan_fit` validates the data of a ``fit`` or ``partial_fit`` of an
:class:`~skmnist.MLPDigitClassifier` (labels, sample and class weights, the
early-stopping split) and settles everything its training needs: device,
precision, seed, batch size, epochs and the optimizer's settings, as a
:class:`FitPlan` around the engine's :class:`~skmnist._training.fit.Job`.
The classifier's ``fit`` and :func:`skmnist.model_selection.fit_many` both
plan through it, so a model fitted in a batch is planned exactly as alone.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    column_or_1d,
    validate_data,
)

from ._inputs import FLOAT_DTYPES, host_array
from ._training.augment import Distortion, image_side
from ._training.device import check_device_name, resolve_device
from ._training.fit import Job
from ._training.history import StoppingConfig, TrainingState
from ._training.loop import Run
from ._training.loss import l2_penalty
from ._training.optimizers import OptimizerConfig
from ._training.threads import ThreadPolicy
from ._user_warning import warn_user

__all__ = [
    "MAX_COUNT",
    "FitPlan",
    "check_other_params",
    "check_partial_fit",
    "final_loss",
    "hidden_layer_sizes",
    "interruption",
    "plan_fit",
    "warn_if_not_converged",
]

#: The largest layer width and number of epochs (int32's): larger values
#: overflow the engine's int64 step counts and tensor sizes.
MAX_COUNT = 2**31 - 1

#: ``max_iter="auto"``: at least this many epochs, and on small data as many
#: more as it takes to make AUTO_STEPS optimizer steps (minibatches), up to
#: AUTO_MAX_EPOCHS (``benchmarks/small_data.py`` measured the choice: fewer
#: epochs cost accuracy on small data, more cost time and gained nothing).
AUTO_MIN_EPOCHS = 20
AUTO_STEPS = 500
AUTO_MAX_EPOCHS = 50
#: ``max_iter="auto"`` with ``solver="lbfgs"``: MLPClassifier's 200 iterations.
AUTO_LBFGS_ITERATIONS = 200


@dataclass
class FitPlan:
    """A validated fit, ready to train: the engine's job and the labels.

    A warm start or partial_fit continues the fitted network
    (``job.architecture`` is then the fitted one); ``n_iter_start`` is its
    number of epochs before this call.
    """

    job: Job
    classes: np.ndarray
    n_iter_start: int = 0


def check_other_params(est) -> None:
    """The checks of parameter values that the constraints cannot express.

    Cheap, so also run by the calls of ``partial_fit`` on a fitted model, for
    which scikit-learn skips its own validation.
    """
    hidden_layer_sizes(est)
    _check_class_weight(est.class_weight)
    not_callable = [c for c in est.callbacks or () if not callable(c)]
    if not_callable:
        raise InvalidParameterError(
            f"callbacks must be callables, got {not_callable[0]!r}."
        )
    try:
        check_device_name(est.device)
    except ValueError as exc:
        raise InvalidParameterError(str(exc)) from None


def check_partial_fit(est, fitted: bool, classes) -> None:
    """What ``partial_fit`` refuses before it validates any data."""
    if est.early_stopping:  # as MLPClassifier: one epoch has nothing to stop
        raise ValueError(
            "partial_fit does not support early_stopping=True: it trains one "
            "epoch per call. Set early_stopping=False, or use fit."
        )
    if est.class_weight == "balanced":
        raise ValueError(
            "class_weight='balanced' is not supported by partial_fit: one batch "
            "does not show the class frequencies. Pass a dict of class weights "
            "computed on the whole data (sklearn.utils.class_weight."
            "compute_class_weight) instead."
        )
    if not fitted and classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    if fitted:
        est._validate_other_params()


def plan_fit(est, X, y, sample_weight, classes, incremental, one_epoch):
    """Validate the input and settle everything a fit needs but the training.

    Draws from ``est._rng`` in a fixed order (the torch seed, then the
    validation split), so batched fits reproduce single fits exactly.
    """
    # Tensors as the arrays of their values, for validate_data to check.
    X, y = host_array(X, "X"), host_array(y, "y")
    sample_weight = host_array(sample_weight, "sample_weight")
    classes = host_array(classes, "classes")
    X, y = validate_data(
        est,
        X,
        y,
        accept_sparse="csr",
        dtype=FLOAT_DTYPES,
        reset=not incremental,
        order="C",
        multi_output=True,
    )
    y_encoded, classes_ = _encode_targets(est, y, classes, incremental, one_epoch)
    weight = _sample_weight(est, X, y_encoded, classes_, sample_weight, one_epoch)
    if incremental:
        _check_architecture_unchanged(est, one_epoch)
    # A warm fit stays on the fitted network's device (which may differ
    # from the one named, e.g. after loading on a machine without it)
    # unless the device parameter was changed since the fit.
    if incremental and est.device in ("auto", est._device_param):
        device = next(est.module_.parameters()).device
    else:
        device = resolve_device(est.device)
    dtype64 = (
        next(est.module_.parameters()).dtype == torch.float64
        if incremental
        else X.dtype == np.float64
    )
    if device.type == "mps" and dtype64:
        raise ValueError(
            "MPS devices have no float64: "
            + (
                "this network was fitted in float64; keep it on its device, "
                "or fit a new network on float32 input."
                if incremental
                else "pass float32 input (PixelScaler outputs float32) or use "
                "device='cpu'."
            )
        )
    if not incremental:
        est._rng = check_random_state(est.random_state)
    seed = int(est._rng.randint(np.iinfo(np.int32).max))
    X_train, y_train, w_train, validation = _split(est, X, y_encoded, weight, one_epoch)
    batch_size = _batch_size(est, X_train.shape[0])
    if incremental:
        architecture = est._architecture
        module, state = est.module_, est._training_state()
        optimizer = getattr(est, "_optimizer", None)  # not kept in every pickle
    else:
        architecture = {
            "n_features": X.shape[1],
            "hidden_layer_sizes": hidden_layer_sizes(est),
            "n_outputs": len(classes_),
            "activation": est.activation,
            "dropout": float(est.dropout),
        }
        module = optimizer = None
        state = TrainingState()
    run = Run(
        config=_optimizer_config(est, one_epoch),
        stopping=StoppingConfig(est.tol, est.n_iter_no_change, validation is not None),
        state=state,
        validation=validation,
        augment=_distortion(est, X.shape[1]),
        callbacks=list(est.callbacks or ()),
        check_stopping=not one_epoch,
        verbose=est.verbose,
    )
    job = Job(
        X=X_train,
        y=y_train,
        weight=w_train,
        device=device,
        dtype=torch.float64 if dtype64 else torch.float32,
        seed=seed,
        architecture=architecture,
        run=run,
        batch_size=batch_size,
        max_iter=_max_iter(est, X_train.shape[0], batch_size, one_epoch),
        module=module,
        optimizer=optimizer if est.solver != "lbfgs" else None,
        shuffle=est.shuffle,
        label_smoothing=float(est.label_smoothing),
        max_fun=est.max_fun,
        precision=est.precision,
        threads=ThreadPolicy.from_n_jobs(est.n_jobs) if device.type == "cpu" else None,
    )
    if not incremental:
        _check_network_fits(job)
    return FitPlan(
        job=job,
        classes=classes_,
        n_iter_start=len(est.loss_curve_) if incremental else 0,
    )


def _max_iter(est, n_samples, batch_size, one_epoch):
    """The number of epochs (L-BFGS: iterations) that this fit may run."""
    if one_epoch:
        return 1
    if est.max_iter != "auto":
        return int(est.max_iter)
    if est.solver == "lbfgs":
        return AUTO_LBFGS_ITERATIONS
    steps_per_epoch = -(-n_samples // batch_size)
    epochs = -(-AUTO_STEPS // steps_per_epoch)
    return min(AUTO_MAX_EPOCHS, max(AUTO_MIN_EPOCHS, epochs))


def _check_architecture_unchanged(est, one_epoch):
    """A warm fit trains the fitted network: its layers cannot change."""
    fitted = est._architecture
    current = {
        "hidden_layer_sizes": hidden_layer_sizes(est),
        "activation": est.activation,
        "dropout": float(est.dropout),
    }
    changed = [
        f"{name}={getattr(est, name)!r} (the fitted network has "
        f"{_display(name, fitted[name])})"
        for name, value in current.items()
        if value != fitted[name]
    ]
    if changed:
        call, fresh = (
            ("partial_fit", "call partial_fit on a clone")
            if one_epoch
            else ("fit with warm_start=True", "set warm_start=False")
        )
        raise ValueError(
            f"{call} continues training the fitted network, whose layers "
            f"cannot change, but the estimator now has {'; '.join(changed)}. "
            f"Set them back, or {fresh} to train a new network."
        )


def _distortion(est, n_features):
    if not est.augment:
        return None
    side = image_side(n_features)
    if side is None:
        raise ValueError(
            f"augment=True distorts square images, but X has {n_features} "
            "features, which is not the pixel count of a square image "
            "(e.g. 784 = 28 x 28). Use augment=False for other data."
        )
    return Distortion(side)


def _encode_targets(est, y, classes, incremental, one_epoch):
    """Class indices of 1-D labels, or a float indicator matrix (multilabel)."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    multilabel = y.ndim == 2
    if incremental and multilabel != (est.out_activation_ == "logistic"):
        raise ValueError(
            "y is "
            + ("a multilabel indicator matrix" if multilabel else "1-D labels")
            + " but the fitted model was trained on "
            + ("1-D labels." if multilabel else "a multilabel indicator matrix.")
        )
    if not multilabel:
        if incremental and not one_epoch:
            present = np.unique(y)
            if not np.array_equal(present, est.classes_):
                raise ValueError(  # MLPClassifier's message
                    "warm_start can only be used where `y` has the same "
                    "classes as in the previous call to fit. Previously got "
                    f"{est.classes_}, `y` has {present}"
                )
        return _encode_labels(est, y, classes, incremental)
    kind = type_of_target(y)
    if kind != "multilabel-indicator":
        raise ValueError(
            f"y has shape {y.shape} and is {kind!r}; {type(est).__name__} "
            "takes 1-D class labels or a multilabel indicator matrix of 0 and "
            "1 (one column per label)."
        )
    if est.class_weight is not None:
        raise ValueError(
            "class_weight is for 1-D class labels; y is a multilabel "
            "indicator matrix. Pass sample_weight instead."
        )
    if classes is not None:
        classes = np.asarray(classes)
        if classes.ndim != 1 or len(classes) != y.shape[1]:
            raise ValueError(
                f"classes must name the {y.shape[1]} columns of the multilabel "
                f"indicator y, got {classes.tolist()}."
            )
    if incremental:
        if y.shape[1] != len(est.classes_):
            raise ValueError(
                f"y has {y.shape[1]} label columns, but the model was fitted "
                f"on {len(est.classes_)}."
            )
        classes = est.classes_
    elif classes is None:
        classes = np.arange(y.shape[1])  # as MLPClassifier's LabelBinarizer
    return np.asarray(y, dtype=np.float64), classes


def _encode_labels(est, y, classes, incremental):
    check_classification_targets(y)  # y is 1-D here: binary or multiclass
    if classes is not None:
        classes = np.asarray(classes)
        if classes.ndim != 1:
            raise ValueError(
                "classes must be a 1-D array of labels, got an array of shape "
                f"{classes.shape}."
            )
        classes = np.unique(classes)
        if incremental and not np.array_equal(classes, est.classes_):
            raise ValueError(
                f"classes={classes.tolist()} is not the same as the classes "
                f"of the first partial_fit call: {est.classes_.tolist()}."
            )
    elif incremental:
        classes = est.classes_
    else:
        classes = np.unique(y)
    unknown = np.setdiff1d(np.unique(y), classes)
    if unknown.size:
        raise ValueError(
            f"y contains labels that are not among the classes "
            f"{classes.tolist()}: {unknown.tolist()}."
        )
    return np.searchsorted(classes, y), classes


def _sample_weight(est, X, y_encoded, classes, sample_weight, one_epoch):
    if sample_weight is None and est.class_weight is None:
        return None
    weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if est.class_weight is not None:
        class_weight = est.class_weight
        if isinstance(class_weight, dict):
            missing = set(class_weight) - set(classes.tolist())
            if missing:
                raise ValueError(
                    "class_weight names labels that are not classes: "
                    f"{sorted(missing, key=str)}."
                )
        weight = weight * compute_sample_weight(class_weight, classes[y_encoded])
    if not weight.sum() > 0:
        raise ValueError("sample_weight must have a positive sum.")
    if (
        not one_epoch
        and y_encoded.ndim == 1
        and len(classes) > 1
        and np.unique(y_encoded[weight > 0]).size < 2
    ):
        raise ValueError(
            "sample_weight leaves samples of only one class with a positive "
            "weight; at least 2 classes are needed."
        )
    return weight


def hidden_layer_sizes(est):
    sizes = est.hidden_layer_sizes
    sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
    if not all(
        isinstance(s, Integral) and not isinstance(s, bool) and 0 < s <= MAX_COUNT
        for s in sizes
    ):
        raise InvalidParameterError(
            f"hidden_layer_sizes must be positive integers of at most {MAX_COUNT:,}, "
            f"got {_short_repr(est.hidden_layer_sizes)}."
        )
    return [int(s) for s in sizes]


def _short_repr(value) -> str:
    """``repr(value)`` cut to 60 characters (huge integers have no repr)."""
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's 4300 digits of str()
        return f"<{type(value).__name__} too large to print>"
    return text if len(text) <= 60 else f"{text[:30]}...{text[-25:]}"


def _check_class_weight(class_weight) -> None:
    """A dict of class weights holds finite, non-negative real numbers."""
    if not isinstance(class_weight, dict):
        return
    for label, value in class_weight.items():
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = None
        if isinstance(value, bool) or number is None or not 0 <= number < np.inf:
            raise InvalidParameterError(
                "class_weight must map classes to finite, non-negative numbers, "
                f"got {_short_repr(value)} for class {_short_repr(label)}."
            )


def _device_memory(device: torch.device) -> int | None:
    """The bytes of memory ``device`` has in all, None if unknown."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.get_device_properties(device).total_memory)
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError, RuntimeError):
        return None


def _check_network_fits(job: Job) -> None:
    """Refuse, before torch builds it, a network larger than the device's memory.

    Such sizes (``hidden_layer_sizes=[2**30, 2**30]``) would otherwise reach
    torch, whose errors for sizes past int64 are C++ stack traces.
    """
    widths = [
        job.architecture["n_features"],
        *job.architecture["hidden_layer_sizes"],
        job.architecture["n_outputs"],
    ]
    weights = sum(a * b + b for a, b in itertools.pairwise(widths))
    memory = _device_memory(job.device)
    if memory is not None and weights * job.dtype.itemsize > memory:
        raise job.out_of_memory(host=job.device.type != "cuda")


def _batch_size(est, n_samples):
    if est.batch_size == "auto":
        return min(128, n_samples)
    if est.batch_size > n_samples:
        warn_user(
            f"Got batch_size={est.batch_size}, larger than the {n_samples} "
            "training samples; it is clipped to the number of samples.",
            UserWarning,
        )
    return min(est.batch_size, n_samples)


def _optimizer_config(est, one_epoch):
    schedule = est.learning_rate
    if one_epoch and schedule == "cosine":
        schedule = "constant"
    return OptimizerConfig(
        solver=est.solver,
        learning_rate_init=est.learning_rate_init,
        learning_rate=schedule,
        power_t=est.power_t,
        alpha=est.alpha,
        momentum=est.momentum,
        nesterovs_momentum=est.nesterovs_momentum,
        beta_1=est.beta_1,
        beta_2=est.beta_2,
        epsilon=est.epsilon,
    )


def _split(est, X, y, weight, one_epoch):
    """Hold out a stratified validation set when early stopping."""
    if not est.early_stopping or one_epoch or est.solver == "lbfgs":
        return X, y, weight, None
    # Imported here: sklearn.model_selection (and sklearn.metrics, which it
    # imports) would add 0.1-0.2 s to every import of MLPDigitClassifier.
    from sklearn.model_selection import train_test_split

    n_val = int(np.ceil(est.validation_fraction * X.shape[0]))
    if n_val < 1 or X.shape[0] - n_val < 1:
        raise ValueError(
            f"early_stopping with validation_fraction={est.validation_fraction} "
            f"cannot split {X.shape[0]} samples into a training and a "
            "validation set."
        )
    arrays = [X, y] if weight is None else [X, y, weight]
    seed = est._rng.randint(np.iinfo(np.int32).max)
    # Stratified as MLPClassifier's split (on its binarized labels; none for
    # multilabel y), which raises for a class too small to stratify.
    parts = train_test_split(
        *arrays,
        test_size=n_val,
        random_state=seed,
        stratify=None if y.ndim == 2 else _binarized(y),
    )
    X_train, X_val, y_train, y_val = parts[:4]
    w_train, w_val = (parts[4], parts[5]) if weight is not None else (None, None)
    if weight is not None and not (w_train.sum() > 0 and w_val.sum() > 0):
        raise ValueError(
            "early_stopping's validation split left the training or the "
            "validation part with zero total sample_weight; use more samples "
            "with positive weight or a different validation_fraction."
        )
    return X_train, y_train, w_train, (X_val, y_val, w_val)


# ------------------------------------------------------- after the fit


def final_loss(est, module, state) -> float | None:
    """MLPClassifier's ``loss_``: the last epoch's loss with the L2 term."""
    if est.solver == "lbfgs":
        return float("nan") if state.final_loss is None else state.final_loss
    if not state.loss_curve:
        return None
    with torch.no_grad():
        penalty = float(l2_penalty(module, est.alpha))
    return state.loss_curve[-1] + penalty


def interruption(plan: FitPlan, outcome) -> tuple[bool, KeyboardInterrupt]:
    """Whether an interrupted fit keeps epochs, and the interrupt to raise.

    A fit interrupted after at least one complete epoch of its own keeps
    them (the engine restored the last one, or the best validation epoch);
    otherwise the estimator is left as it was before the call.
    """
    epochs = outcome.state.n_iter - plan.n_iter_start
    if not epochs:
        return False, KeyboardInterrupt(
            "fit was interrupted before it completed an epoch; the estimator "
            "is left as it was before the call."
        )
    weights = (
        "the best validation epoch's weights"
        if plan.job.run.validation is not None
        else "the last complete epoch's weights"
    )
    return True, KeyboardInterrupt(
        f"fit was interrupted after {epochs} complete "
        f"epoch{'s' if epochs > 1 else ''}; the estimator keeps {weights}."
    )


def warn_if_not_converged(est, state, one_epoch: bool, max_iter: int) -> None:
    """MLPClassifier's warning when a fit ends at ``max_iter`` (or ``max_fun``).

    Not for the default cosine schedule over ``max_iter="auto"``: that
    budget is the estimator's own plan, annealed to a zero rate.
    """
    stopped_early = (
        state.converged
        or state.diverged
        or state.interrupted
        or state.stopped_by_callback
    )
    planned = est.max_iter == "auto" and est.learning_rate == "cosine"
    if one_epoch or stopped_early:
        return
    if est.solver == "lbfgs":
        warn_user(
            f"lbfgs failed to converge after {est.n_iter_} iteration(s): the "
            f"iteration limit (max_iter={max_iter}) or the evaluation limit "
            f"(max_fun={est.max_fun}) was reached. Increase them, or scale "
            "the data (e.g. with PixelScaler).",
            ConvergenceWarning,
        )
    elif not planned:
        warn_user(
            f"Stochastic optimizer: maximum iterations ({max_iter}) reached "
            "and the optimization hasn't converged yet.",
            ConvergenceWarning,
        )


def _display(name: str, value) -> str:
    """A fitted architecture value as the estimator parameter would show it."""
    return repr(tuple(value) if name == "hidden_layer_sizes" else value)


def _binarized(y: np.ndarray) -> np.ndarray:
    """``LabelBinarizer().fit_transform(y)`` as booleans, computed densely.

    LabelBinarizer builds a sparse matrix and densifies it; this gives the
    same columns (one for two classes, one per class otherwise) directly.
    """
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) == 2:
        return (codes == 1)[:, None]
    return codes[:, None] == np.arange(len(classes))
