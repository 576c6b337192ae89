"""MLPDigitClassifier: the scikit-learn contract around the torch training engine."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._inputs import host_array
from ._progress import EpochReporter
from ._training import engine as _engine
from ._training.augment import Distortion, image_side
from ._training.device import check_device_name, resolve_device
from ._training.network import (
    ACTIVATIONS,
    build_mlp,
    from_portable,
    state_to_numpy,
    to_portable,
)
from ._training.precision import PRECISIONS
from ._user_warning import warn_user

__all__ = ["MLPDigitClassifier"]

_FLOAT_DTYPES = (np.float32, np.float64)

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
class _FitPlan:
    """A validated fit, ready to train: data, device, seed and settings."""

    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None
    validation: tuple | None
    classes: np.ndarray
    device: torch.device
    dtype: torch.dtype
    seed: int
    architecture: dict | None
    optimizer_config: _engine.OptimizerConfig
    stopping: _engine.StoppingConfig
    batch_size: int
    augment: Distortion | None
    precision: str = "auto"
    max_iter: int = 1
    n_iter_start: int = 0

    def build_module(self) -> torch.nn.Sequential:
        """A freshly initialised network (draws from torch's seeded generator)."""
        return build_mlp(**self.architecture).to(device=self.device, dtype=self.dtype)

    def out_of_memory(self) -> MemoryError:
        n, d = self.X.shape
        size_mb = n * d * (8 if self.dtype == torch.float64 else 4) / 2**20
        return MemoryError(
            f"The {self.device} device ran out of memory in fit: the training "
            f"set ({n} x {d}, {size_mb:.0f} MB) is kept on the device and trained "
            f"in minibatches of batch_size={self.batch_size}. Lower batch_size, "
            "fit on fewer samples per call (partial_fit), or use device='cpu'."
        )


class MLPDigitClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier trained with PyTorch, on the GPU if any.

    The model minimises the (optionally weighted, label-smoothed) cross-entropy
    with minibatch Adam, AdamW or SGD. The training set is moved to the device
    once and minibatches are drawn there by shuffled index, so a fit on a GPU
    never waits for the host. Parameter and attribute names follow
    :class:`sklearn.neural_network.MLPClassifier` where the meaning is the same.

    The network computes in float64 when ``X`` is float64 and in float32
    otherwise; where the hardware multiplies bfloat16 matrices fast, float32
    training runs its matrix products in bfloat16 (see ``precision``).
    Pass float32 input, e.g. through :class:`~skmnist.PixelScaler`, for speed.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int or int, default=(512, 256)
        Width of each hidden layer. An empty tuple gives a linear softmax model.
    activation : {"relu", "gelu", "silu", "tanh", "logistic", "identity"}, \
            default="relu"
        Activation of the hidden layers.
    solver : {"adam", "adamw", "sgd", "lbfgs"}, default="adam"
        Optimizer. ``"adamw"`` decouples the ``alpha`` weight decay from the
        gradient; ``"sgd"`` uses ``momentum`` and ``nesterovs_momentum``;
        ``"lbfgs"`` minimises the full-batch loss plus ``alpha / 2 * ||W||^2``
        with :class:`torch.optim.LBFGS` (strong-Wolfe line search), which
        suits small data. ``"lbfgs"`` has no :meth:`partial_fit`, no early
        stopping and calls no callbacks.
    alpha : float, default=1e-4
        Strength of the L2 penalty on the weights (not the biases), applied as
        the optimizer's weight decay (the gradient gains ``alpha * W``). Note
        that MLPClassifier divides its ``alpha`` by the minibatch size, so the
        same value is a much stronger penalty here.
    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` is ``min(128, n_samples)``. Values larger
        than the number of samples are clipped with a warning.
    learning_rate : {"cosine", "constant", "invscaling", "adaptive"}, \
            default="cosine"
        Learning-rate schedule. ``"cosine"`` anneals from
        ``learning_rate_init`` to zero over the ``max_iter`` epochs of a
        ``fit`` call (its mean rate is half of ``learning_rate_init``, which
        shows in quick trials of a few epochs: compare schedules at the
        budget you will use); ``"invscaling"`` uses ``learning_rate_init / (t + 1) **
        power_t`` with ``t`` the number of samples seen; ``"adaptive"`` divides
        the rate by 5 each time the stopping criterion is met instead of
        stopping, until it drops below 1e-6. :meth:`partial_fit` keeps the
        current rate (``learning_rate_init``, or as reduced by ``"adaptive"``)
        unless the schedule is ``"invscaling"``.
    learning_rate_init : float, default=1e-3
        Initial (peak) learning rate.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int or "auto", default="auto"
        Maximum number of epochs (passes over the training data); with
        ``"lbfgs"``, of iterations. ``"auto"`` is 20 epochs, or on small data
        as many more as make 500 minibatch steps, up to 50 epochs
        (``"lbfgs"``: 200 iterations).
    shuffle : bool, default=True
        Whether to shuffle the samples at every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split. An int makes fits reproducible on a given device; torch's
        global random state is left untouched either way.
    tol : float, default=1e-4
        Minimum improvement of the training loss (or of the validation score
        with ``early_stopping``) that counts as progress.
    verbose : int, default=0
        ``1`` shows a progress bar over epochs (loss, validation score,
        samples/s; needs tqdm, else it prints lines), ``2`` prints one line per
        epoch. Quiet by default.
    warm_start : bool, default=False
        Continue from the previous solution (weights, optimizer state and
        history) in the next call to :meth:`fit`. The network's layers
        (``hidden_layer_sizes``, ``activation``, ``dropout``) are those of the
        fitted network: a warm fit (or :meth:`partial_fit`) after changing
        them raises a ValueError. The optimizer's parameters may change.
    momentum : float, default=0.9
        Momentum of the ``"sgd"`` solver.
    nesterovs_momentum : bool, default=True
        Use Nesterov momentum with the ``"sgd"`` solver.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the training data,
        stop when its accuracy has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and keep the weights of the best epoch.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    beta_1 : float, default=0.9
        Decay rate of the first-moment estimates of Adam and AdamW.
    beta_2 : float, default=0.999
        Decay rate of the second-moment estimates of Adam and AdamW.
    epsilon : float, default=1e-8
        Numerical-stability term of Adam and AdamW.
    n_iter_no_change : int or inf, default=10
        Number of epochs without improvement by ``tol`` before stopping.
    dropout : float, default=0.0
        Dropout probability after each hidden layer during training.
    label_smoothing : float, default=0.0
        Label smoothing of the cross-entropy targets.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight``.
    augment : bool, default=False
        Distort every training minibatch afresh, on the training device: a
        random affine map (rotation up to 12 degrees, scaling and shear up
        to 12 and 15 %, shift up to 2 pixels) and a smooth elastic
        deformation (up to 1.5 pixels). The rows of ``X`` must be square
        images (784 = 28 x 28 pixels). Needs more epochs than plain
        training, and generalises better. Predictions are never distorted.
    device : str or torch.device, default="auto"
        Where to train and predict: ``"auto"`` (CUDA if available, then MPS,
        then the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``. With
        several GPUs, ``"auto"`` gives each process its own GPU (joblib and
        dask workers spread over the GPUs instead of all using ``cuda:0``).
        A warm fit or :meth:`partial_fit` continues on the device the network
        is on (a model loaded on the CPU stays there), unless ``device`` was
        changed since the fit: the network then moves to the device it names.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Precision of the matrix products of float32 training. ``"bfloat16"``
        multiplies the hidden layers in bfloat16 while the master weights,
        the optimizer, the loss and the output layer stay in float32 (for
        networks without dropout whose activation is ReLU, tanh, logistic or
        identity; others train under bfloat16 autocast). ``"auto"`` does so
        only where the device has bfloat16 matrix units: CPUs with AMX or
        avx512_bf16, CUDA GPUs of compute capability 8 or more (which also
        keep bfloat16 autocast for the other networks); elsewhere it is
        ``"float32"``. float64 input always trains in float64, and
        predictions run in the model's own precision.
    keep_optimizer_state : bool, default=False
        Whether pickles of a fitted model (joblib files, and every transfer
        between processes: joblib workers, dask) also hold the optimizer's
        state (Adam moments, SGD momentum). By default they hold the weights
        only, about a third of the size with Adam, and a warm fit or
        :meth:`partial_fit` after unpickling starts the optimizer afresh.
        Set it to True when training continues in another process, e.g.
        under dask-ml's ``Incremental``, so that it goes on exactly as in
        one process. The fitted model itself always keeps its optimizer
        state; ``copy.deepcopy`` copies follow the pickle rule.
    max_fun : int, default=15000
        ``"lbfgs"`` only: the most loss evaluations of a fit.
    callbacks : list of callable or None, default=None
        Called after every epoch with a dict of ``epoch``, ``loss``,
        ``validation_score`` (None without early stopping), ``learning_rate``,
        ``duration`` (seconds) and ``n_samples`` (training samples). A
        callback that returns True stops the training, for custom logging or
        stopping rules.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, in the type they were given.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit, when ``X`` had string column names.
    module_ : torch.nn.Sequential
        The fitted network, on ``device_``.
    device_ : str
        The device the model was trained on and predicts on.
    n_iter_ : int
        Number of epochs (``"lbfgs"``: iterations) of the last call to
        ``fit``, or 1 after :meth:`partial_fit`, as in MLPClassifier.
    loss_ : float
        The last epoch's training loss plus ``alpha / 2 * ||W||^2`` at the
        weights that end it (``"lbfgs"``: the final objective).
    t_ : int
        Number of training samples seen by the optimizer.
    loss_curve_ : list of float
        Mean training loss of each epoch (without the L2 term).
    best_loss_ : float or None
        Lowest training loss reached; None with ``early_stopping``.
    validation_scores_ : list of float or None
        Validation accuracy after each epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
        Best validation accuracy with ``early_stopping``, else None.
    n_layers_ : int
        Number of layers, input and output layers included.
    n_outputs_ : int
        Number of outputs (classes).
    out_activation_ : str
        Name of the output activation, ``"softmax"``, or ``"logistic"`` for a
        multilabel indicator ``y`` (one output per label).
    coefs_ : list of ndarray
        Weight matrices as ``(n_in, n_out)`` numpy arrays (a copy), as in
        MLPClassifier.
    intercepts_ : list of ndarray
        Bias vectors as numpy arrays (a copy).

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The NumPy multi-layer perceptron.
    skmnist.PixelScaler : Scales pixel intensities for this model.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from skmnist import MLPDigitClassifier, PixelScaler
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = make_pipeline(
    ...     PixelScaler(max_value=16),
    ...     MLPDigitClassifier(batch_size=32, random_state=0),
    ... )
    >>> clf.fit(X[:1500], y[:1500]).score(X[1500:], y[1500:]) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"adam", "adamw", "sgd", "lbfgs"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"cosine", "constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "augment": ["boolean"],
        "device": [str, torch.device],
        "keep_optimizer_state": ["boolean"],
        "precision": [StrOptions(set(PRECISIONS))],
        "callbacks": [list, None],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(512, 256),
        activation="relu",
        *,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="cosine",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter="auto",
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=0,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        dropout=0.0,
        label_smoothing=0.0,
        class_weight=None,
        augment=False,
        device="auto",
        keep_optimizer_state=False,
        callbacks=None,
        max_fun=15000,
        precision="auto",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight
        self.augment = augment
        self.device = device
        self.keep_optimizer_state = keep_optimizer_state
        self.callbacks = callbacks
        self.max_fun = max_fun
        self.precision = precision

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X`` and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (float32 input trains in float32, float64 in float64).
        y : array-like of shape (n_samples,)
            Class labels of any type (ints, strings, ...).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights; an integer weight is equivalent to repeating
            the sample (exactly so when a minibatch holds the whole data).

        Returns
        -------
        self : MLPDigitClassifier
            The fitted estimator.
        """
        incremental = self.warm_start and self._is_fitted()
        return self._transaction(
            self._fit, X, y, sample_weight, None, incremental, False
        )

    @available_if(lambda est: est.solver != "lbfgs")
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on ``X`` and ``y``, keeping the optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training data.
        y : array-like of shape (n_samples,)
            Its labels, all of which must be in ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every label that will ever be seen. Required on the first call,
            optional (but must match) afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights.

        Returns
        -------
        self : MLPDigitClassifier
            The updated estimator.
        """
        fitted = self._is_fitted()
        if self.early_stopping:  # as MLPClassifier: one epoch has nothing to stop
            raise ValueError(
                "partial_fit does not support early_stopping=True: it trains one "
                "epoch per call. Set early_stopping=False, or use fit."
            )
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: one batch "
                "does not show the class frequencies. Pass a dict of class weights "
                "computed on the whole data (sklearn.utils.class_weight."
                "compute_class_weight) instead."
            )
        if not fitted and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if fitted:
            self._validate_other_params()
        return self._transaction(self._fit, X, y, sample_weight, classes, fitted, True)

    def _is_fitted(self) -> bool:
        return hasattr(self, "module_")

    def _transaction(self, method, *args):
        """Run ``method``; on any error restore every attribute as it was."""
        saved = dict(self.__dict__)
        if "_rng" in saved:  # advanced in place by a call
            saved["_rng"] = copy.deepcopy(saved["_rng"])
        try:
            return method(*args)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit(self, X, y, sample_weight, classes, incremental, one_epoch):
        plan = self._plan_fit(X, y, sample_weight, classes, incremental, one_epoch)
        with _engine.seeded(plan.device, plan.seed), _engine.flush_denormals():
            if incremental:
                module = _engine.clone_module(self.module_).to(plan.device)
                state = self._training_state()
            else:
                module = plan.build_module()
                state = _engine.TrainingState()
            lbfgs = self.solver == "lbfgs"
            optimizer = (
                None  # L-BFGS starts afresh at every fit, as in MLPClassifier
                if lbfgs
                else _engine.make_optimizer(module, plan.optimizer_config)
            )
            if incremental and not lbfgs:
                _engine.resume_optimizer(optimizer, getattr(self, "_optimizer", None))
            max_iter = plan.max_iter
            reporter = EpochReporter(0 if lbfgs else self.verbose, max_iter)
            batch = plan.X.shape[0] if lbfgs else plan.batch_size
            try:
                data = _engine.DeviceData.from_numpy(
                    plan.X, plan.y, plan.weight, plan.device, plan.dtype
                )
                if plan.y.ndim == 2:  # multilabel indicator targets
                    data.y = data.y.to(plan.dtype)
                with _engine.step_threads(module, batch):
                    if lbfgs:
                        state = _engine.train_lbfgs(
                            module,
                            data,
                            state,
                            alpha=self.alpha,
                            max_iter=max_iter,
                            max_fun=self.max_fun,
                            tol=self.tol,
                            label_smoothing=self.label_smoothing,
                        )
                    else:
                        state = _engine.train_epochs(
                            module,
                            optimizer,
                            data,
                            state,
                            optimizer_config=plan.optimizer_config,
                            stopping=plan.stopping,
                            max_iter=max_iter,
                            batch_size=plan.batch_size,
                            shuffle=self.shuffle,
                            label_smoothing=self.label_smoothing,
                            augment=plan.augment,
                            validation=plan.validation,
                            check_stopping=not one_epoch,
                            verbose=self.verbose,
                            callbacks=[reporter, *(self.callbacks or ())],
                            precision=plan.precision,
                        )
            except torch.OutOfMemoryError:
                data = None
                raise plan.out_of_memory() from None
            finally:
                reporter.close()
        self._finish_fit(plan, module, optimizer, state, one_epoch)
        return self

    def _plan_fit(self, X, y, sample_weight, classes, incremental, one_epoch):
        """Validate the input and settle everything a fit needs but the training.

        Draws from ``self._rng`` in a fixed order (the torch seed, then the
        validation split), so batched fits reproduce single fits exactly.
        """
        # Tensors as the arrays of their values, for validate_data to check.
        X, y = host_array(X, "X"), host_array(y, "y")
        sample_weight = host_array(sample_weight, "sample_weight")
        classes = host_array(classes, "classes")
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=_FLOAT_DTYPES,
            reset=not incremental,
            order="C",
            multi_output=True,
        )
        y_encoded, classes_ = self._encode_targets(y, classes, incremental, one_epoch)
        weight = self._sample_weight(X, y_encoded, classes_, sample_weight, one_epoch)
        if incremental:
            self._check_architecture_unchanged(one_epoch)
        # A warm fit stays on the fitted network's device (which may differ
        # from the one named, e.g. after loading on a machine without it)
        # unless the device parameter was changed since the fit.
        if incremental and self.device in ("auto", self._fitted_device_param()):
            device = self._device()
        else:
            device = resolve_device(self.device)
        dtype64 = (
            next(self.module_.parameters()).dtype == torch.float64
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
            self._rng = check_random_state(self.random_state)
        seed = int(self._rng.randint(np.iinfo(np.int32).max))
        X_train, y_train, w_train, validation = self._split(
            X, y_encoded, weight, one_epoch
        )
        batch_size = self._batch_size(X_train.shape[0])
        architecture = None
        if not incremental:
            architecture = {
                "n_features": X.shape[1],
                "hidden_layer_sizes": self._hidden_layer_sizes(),
                "n_outputs": len(classes_),
                "activation": self.activation,
                "dropout": float(self.dropout),
            }
        return _FitPlan(
            X=X_train,
            y=y_train,
            weight=w_train,
            validation=validation,
            classes=classes_,
            device=device,
            dtype=torch.float64 if dtype64 else torch.float32,
            seed=seed,
            architecture=architecture,
            optimizer_config=self._optimizer_config(one_epoch),
            stopping=_engine.StoppingConfig(
                self.tol, self.n_iter_no_change, validation is not None
            ),
            batch_size=batch_size,
            augment=self._distortion(X.shape[1]),
            precision=self.precision,
            max_iter=self._max_iter(X_train.shape[0], batch_size, one_epoch),
            n_iter_start=len(self.loss_curve_) if incremental else 0,
        )

    def _max_iter(self, n_samples, batch_size, one_epoch):
        """The number of epochs (L-BFGS: iterations) that this fit may run."""
        if one_epoch:
            return 1
        if self.max_iter != "auto":
            return int(self.max_iter)
        if self.solver == "lbfgs":
            return AUTO_LBFGS_ITERATIONS
        steps_per_epoch = -(-n_samples // batch_size)
        epochs = -(-AUTO_STEPS // steps_per_epoch)
        return min(AUTO_MAX_EPOCHS, max(AUTO_MIN_EPOCHS, epochs))

    def _check_architecture_unchanged(self, one_epoch):
        """A warm fit trains the fitted network: its layers cannot change."""
        fitted = self._architecture
        current = {
            "hidden_layer_sizes": self._hidden_layer_sizes(),
            "activation": self.activation,
            "dropout": float(self.dropout),
        }
        changed = [
            f"{name}={getattr(self, name)!r} (the fitted network has "
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

    def _distortion(self, n_features):
        if not self.augment:
            return None
        side = image_side(n_features)
        if side is None:
            raise ValueError(
                f"augment=True distorts square images, but X has {n_features} "
                "features, which is not the pixel count of a square image "
                "(e.g. 784 = 28 x 28). Use augment=False for other data."
            )
        return Distortion(side)

    def _finish_fit(self, plan, module, optimizer, state, one_epoch):
        """Store the trained network and its history as fitted attributes."""
        if plan.architecture is not None:
            self._architecture = plan.architecture
        self._device_param = self.device
        # partial_fit does not validate; it keeps an early-stopping history.
        early = plan.validation is not None or (
            one_epoch and getattr(self, "validation_scores_", None) is not None
        )
        self._store(module, optimizer, state, plan.classes, plan.device, early)
        self.n_iter_ = state.n_iter - plan.n_iter_start  # this call's, as MLPClassifier
        self.out_activation_ = "logistic" if plan.y.ndim == 2 else "softmax"
        self.loss_ = self._final_loss(module, state)
        self._warn_if_not_converged(state, one_epoch, plan.max_iter)

    def _final_loss(self, module, state):
        """MLPClassifier's ``loss_``: the last epoch's loss with the L2 term."""
        if self.solver == "lbfgs":
            return float("nan") if state.final_loss is None else state.final_loss
        if not state.loss_curve:
            return None
        with torch.no_grad():
            penalty = float(_engine.l2_penalty(module, self.alpha))
        return state.loss_curve[-1] + penalty

    def _warn_if_not_converged(self, state, one_epoch, max_iter):
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
        planned = self.max_iter == "auto" and self.learning_rate == "cosine"
        if one_epoch or stopped_early:
            return
        if self.solver == "lbfgs":
            warn_user(
                f"lbfgs failed to converge after {self.n_iter_} iteration(s): the "
                f"iteration limit (max_iter={max_iter}) or the evaluation limit "
                f"(max_fun={self.max_fun}) was reached. Increase them, or scale "
                "the data (e.g. with PixelScaler).",
                ConvergenceWarning,
            )
        elif not planned:
            warn_user(
                f"Stochastic optimizer: maximum iterations ({max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
            )

    # ---------------------------------------------------------- fit helpers

    def _encode_targets(self, y, classes, incremental, one_epoch):
        """Class indices of 1-D labels, or a float indicator matrix (multilabel)."""
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        multilabel = y.ndim == 2
        if incremental and multilabel != (self.out_activation_ == "logistic"):
            raise ValueError(
                "y is "
                + ("a multilabel indicator matrix" if multilabel else "1-D labels")
                + " but the fitted model was trained on "
                + ("1-D labels." if multilabel else "a multilabel indicator matrix.")
            )
        if not multilabel:
            if incremental and not one_epoch:
                present = np.unique(y)
                if not np.array_equal(present, self.classes_):
                    raise ValueError(  # MLPClassifier's message
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously got "
                        f"{self.classes_}, `y` has {present}"
                    )
            return self._encode_labels(y, classes, incremental)
        kind = type_of_target(y)
        if kind != "multilabel-indicator":
            raise ValueError(
                f"y has shape {y.shape} and is {kind!r}; {type(self).__name__} "
                "takes 1-D class labels or a multilabel indicator matrix of 0 and "
                "1 (one column per label)."
            )
        if self.class_weight is not None:
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
            if y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"y has {y.shape[1]} label columns, but the model was fitted "
                    f"on {len(self.classes_)}."
                )
            classes = self.classes_
        elif classes is None:
            classes = np.arange(y.shape[1])  # as MLPClassifier's LabelBinarizer
        return np.asarray(y, dtype=np.float64), classes

    def _encode_labels(self, y, classes, incremental):
        check_classification_targets(y)  # y is 1-D here: binary or multiclass
        if classes is not None:
            classes = np.asarray(classes)
            if classes.ndim != 1:
                raise ValueError(
                    "classes must be a 1-D array of labels, got an array of shape "
                    f"{classes.shape}."
                )
            classes = np.unique(classes)
            if incremental and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()} is not the same as the classes "
                    f"of the first partial_fit call: {self.classes_.tolist()}."
                )
        elif incremental:
            classes = self.classes_
        else:
            classes = np.unique(y)
        unknown = np.setdiff1d(np.unique(y), classes)
        if unknown.size:
            raise ValueError(
                f"y contains labels that are not among the classes "
                f"{classes.tolist()}: {unknown.tolist()}."
            )
        return np.searchsorted(classes, y), classes

    def _sample_weight(self, X, y_encoded, classes, sample_weight, one_epoch):
        if sample_weight is None and self.class_weight is None:
            return None
        weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if self.class_weight is not None:
            class_weight = self.class_weight
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

    def _validate_params(self):
        """scikit-learn's checks, then what its constraints cannot express."""
        super()._validate_params()
        self._validate_other_params()

    def _validate_other_params(self):
        """The checks of parameter values that the constraints cannot express.

        Cheap, so also run by the calls of :meth:`partial_fit` on a fitted
        model, for which scikit-learn skips its own validation.
        """
        self._hidden_layer_sizes()
        not_callable = [c for c in self.callbacks or () if not callable(c)]
        if not_callable:
            raise InvalidParameterError(
                f"callbacks must be callables, got {not_callable[0]!r}."
            )
        try:
            check_device_name(self.device)
        except ValueError as exc:
            raise InvalidParameterError(str(exc)) from None

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if not all(
            isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes
        ):
            raise InvalidParameterError(
                "hidden_layer_sizes must be positive integers, got "
                f"{self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(128, n_samples)
        if self.batch_size > n_samples:
            warn_user(
                f"Got batch_size={self.batch_size}, larger than the {n_samples} "
                "training samples; it is clipped to the number of samples.",
                UserWarning,
            )
        return min(self.batch_size, n_samples)

    def _optimizer_config(self, one_epoch):
        schedule = self.learning_rate
        if one_epoch and schedule == "cosine":
            schedule = "constant"
        return _engine.OptimizerConfig(
            solver=self.solver,
            learning_rate_init=self.learning_rate_init,
            learning_rate=schedule,
            power_t=self.power_t,
            alpha=self.alpha,
            momentum=self.momentum,
            nesterovs_momentum=self.nesterovs_momentum,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
        )

    def _split(self, X, y, weight, one_epoch):
        """Hold out a stratified validation set when early stopping."""
        if not self.early_stopping or one_epoch or self.solver == "lbfgs":
            return X, y, weight, None
        n_val = int(np.ceil(self.validation_fraction * X.shape[0]))
        if n_val < 1 or X.shape[0] - n_val < 1:
            raise ValueError(
                f"early_stopping with validation_fraction={self.validation_fraction} "
                f"cannot split {X.shape[0]} samples into a training and a "
                "validation set."
            )
        arrays = [X, y] if weight is None else [X, y, weight]
        seed = self._rng.randint(np.iinfo(np.int32).max)
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

    def _training_state(self):
        early = self.validation_scores_ is not None
        return _engine.TrainingState(
            loss_curve=list(self.loss_curve_),
            validation_scores=list(self.validation_scores_ or []),
            best_loss=self.best_loss_ if self.best_loss_ is not None else np.inf,
            best_validation_score=self.best_validation_score_ if early else -np.inf,
            no_improvement_count=self._no_improvement_count,
            n_iter=len(self.loss_curve_),  # epochs since the network was made
            t=self.t_,
            learning_rate=self._learning_rate,
        )

    def _store(self, module, optimizer, state, classes, device, early):
        self.module_ = module
        self._optimizer = optimizer
        self.classes_ = classes
        self.device_ = str(device)
        self.n_outputs_ = len(classes)
        self.n_layers_ = sum(isinstance(m, torch.nn.Linear) for m in module) + 1
        self.out_activation_ = "softmax"
        self.n_iter_ = state.n_iter
        self.t_ = state.t
        self.loss_curve_ = state.loss_curve
        self.best_loss_ = None if early else float(state.best_loss)
        self.validation_scores_ = state.validation_scores if early else None
        self.best_validation_score_ = (
            float(state.best_validation_score) if early else None
        )
        self._no_improvement_count = state.no_improvement_count
        self._learning_rate = state.learning_rate

    def _fitted_device_param(self):
        """The ``device`` parameter of the last fit (files of older versions: now)."""
        return getattr(self, "_device_param", self.device)

    def _device(self) -> torch.device:
        return next(self.module_.parameters()).device

    # -------------------------------------------------------------- predict

    def _predict(self, X, output):
        check_is_fitted(self)
        X = host_array(X, "X")
        X = validate_data(
            self, X, accept_sparse="csr", dtype=_FLOAT_DTYPES, reset=False
        )
        return _engine.predict_batches(self.module_, X, output=output)

    def _multilabel(self) -> bool:
        return getattr(self, "out_activation_", "softmax") == "logistic"

    def predict_proba(self, X):
        """Probability of each class for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities, columns ordered as ``classes_``. For a
            multilabel model, each label's own probability (rows need not
            sum to one).
        """
        if self._multilabel():
            return self._predict(X, torch.sigmoid)
        return self._predict(X, lambda logits: torch.softmax(logits, dim=1))

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns ordered as ``classes_``.
        """
        if self._multilabel():
            # log(sigmoid), as MLPClassifier's log of its probabilities
            return self._predict(X, lambda logits: torch.log(torch.sigmoid(logits)))
        return self._predict(X, lambda logits: torch.log_softmax(logits, dim=1))

    def predict(self, X):
        """Predict the class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Predicted labels, of the same type as ``classes_``; for a
            multilabel model, the indicator matrix of the labels predicted
            (probability above 0.5).
        """
        if self._multilabel():
            return self._predict(X, lambda logits: logits > 0).astype(int)
        indices = self._predict(X, lambda logits: logits.argmax(dim=1))
        return self.classes_[indices]

    # ------------------------------------------------------ weights as numpy

    def _weights(self, suffix):
        check_is_fitted(self)
        state = state_to_numpy(self.module_)
        return [
            v.T.copy() if v.ndim == 2 else v
            for k, v in state.items()
            if k.endswith(suffix)
        ]

    def _set_weights(self, suffix, name, values):
        """Write ``values`` (one array per layer) into the network, all or none."""
        check_is_fitted(self)
        parameters = [
            p for key, p in self.module_.named_parameters() if key.endswith(suffix)
        ]
        if isinstance(values, np.ndarray) or not isinstance(values, (list, tuple)):
            raise TypeError(
                f"{name} must be a list of {len(parameters)} arrays, one per "
                f"layer; got {type(values).__name__}."
            )
        if len(values) != len(parameters):
            raise ValueError(
                f"{name} must hold {len(parameters)} arrays, one per layer; got "
                f"{len(values)}."
            )
        arrays = []
        for index, (value, parameter) in enumerate(
            zip(values, parameters, strict=True)
        ):
            shape = tuple(parameter.shape[::-1])  # (n_in, n_out) for weights
            try:
                array = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{name}[{index}] is not a numeric array: {exc}"
                ) from None
            if array.shape != shape:
                raise ValueError(
                    f"{name}[{index}] has shape {array.shape}, but that layer's "
                    f"is {shape}."
                )
            if not np.isfinite(array).all():
                raise ValueError(f"{name}[{index}] contains NaN or infinity.")
            arrays.append(np.ascontiguousarray(array.T))
        with torch.no_grad():
            for array, parameter in zip(arrays, parameters, strict=True):
                parameter.copy_(torch.from_numpy(array))

    @property
    def coefs_(self):
        """Weight matrices of each layer, shape ``(n_in, n_out)``, as numpy copies.

        Assigning a list of arrays of those shapes sets the network's weights,
        as assigning MLPClassifier's ``coefs_`` does (changing a returned
        array in place changes nothing: it is a copy).
        """
        return self._weights("weight")

    @coefs_.setter
    def coefs_(self, values):
        self._set_weights("weight", "coefs_", values)

    @property
    def intercepts_(self):
        """Bias vectors of each layer, as numpy copies; assigning sets them."""
        return self._weights("bias")

    @intercepts_.setter
    def intercepts_(self, values):
        self._set_weights("bias", "intercepts_", values)

    # ---------------------------------------------------------- persistence

    def __getstate__(self):
        state = dict(super().__getstate__())
        if "module_" in state:
            state["module_"] = to_portable(self.module_, self._architecture)
        optimizer = state.pop("_optimizer", None)
        if getattr(self, "keep_optimizer_state", False) and optimizer is not None:
            state["_optimizer"] = _engine.optimizer_to_numpy(optimizer)
        return state

    def __setstate__(self, state):
        # Parameters added after a pickle was made get their defaults.
        state.setdefault("augment", False)
        state.setdefault("keep_optimizer_state", False)
        state.setdefault("precision", "auto")
        if "module_" in state:
            saved = state.get("device_", "cpu")
            if state.get("device") == "auto" and saved.startswith("cuda"):
                # This process's own GPU (dask/joblib workers spread out).
                saved = "auto" if torch.cuda.is_available() else saved
            device = _loadable_device(saved)
            state["module_"] = from_portable(state["module_"], device)
            state["device_"] = str(device)
            if isinstance(state.get("_optimizer"), dict):
                state["_optimizer"] = _engine.optimizer_from_numpy(
                    state["module_"], state["_optimizer"]
                )
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        tags.classifier_tags.multi_label = True
        return tags


def _display(name: str, value) -> str:
    """A fitted architecture value as the estimator parameter would show it."""
    return repr(tuple(value) if name == "hidden_layer_sizes" else value)


def _loadable_device(saved: str) -> torch.device:
    """The saved device if this machine has it, else the CPU (with a warning)."""
    try:
        return resolve_device(saved)
    except ValueError:
        warn_user(
            f"This model was trained on {saved!r}, which is not available here; "
            "it was loaded on the CPU.",
            UserWarning,
        )
        return torch.device("cpu")


def _binarized(y: np.ndarray) -> np.ndarray:
    """``LabelBinarizer().fit_transform(y)`` as booleans, computed densely.

    LabelBinarizer builds a sparse matrix and densifies it; this gives the
    same columns (one for two classes, one per class otherwise) directly.
    """
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) == 2:
        return (codes == 1)[:, None]
    return codes[:, None] == np.arange(len(classes))
