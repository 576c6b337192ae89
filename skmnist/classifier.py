"""MLPDigitClassifier: the scikit-learn contract around the torch training engine."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _fitted_state
from ._fit_plan import (
    MAX_COUNT,
    check_other_params,
    check_partial_fit,
    final_loss,
    interruption,
    plan_fit,
    warn_if_not_converged,
)
from ._inputs import prediction_input
from ._progress import EpochReporter
from ._training.fit import train
from ._training.loop import TrainingInterrupted
from ._training.network import (
    ACTIVATIONS,
    layer_arrays,
    set_layer_arrays,
)
from ._training.precision import PRECISIONS
from ._training.prediction import finite, predict_batches
from ._training.threads import ThreadPolicy
from .preprocessing import ScaledPixels

__all__ = ["MLPDigitClassifier"]


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
        Width of each hidden layer (at most 2**31 - 1; a network whose
        weights alone exceed the device's memory is refused with a
        :class:`MemoryError` before it is built). An empty tuple gives a
        linear softmax model.
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
        Maximum number of epochs (passes over the training data, at most
        2**31 - 1); with ``"lbfgs"``, of iterations. ``"auto"`` is 20
        epochs, or on small data as many more as make 500 minibatch steps,
        up to 50 epochs (``"lbfgs"``: 200 iterations).
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
        Weights of the classes (finite, non-negative numbers), multiplied
        into ``sample_weight``.
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
    n_jobs : int or None, default=None
        CPU threads of a fit and of a predict on the CPU (torch's threads).
        ``None`` chooses: among 1, 2, 4, ... up to the CPUs the process may
        use (its CPU affinity and its cgroup CPU quota), it times training
        steps at each count and keeps the fastest, and looks again when the
        step time changes (on a machine busy with other work, fewer threads
        are often much faster); a limit already set (``OMP_NUM_THREADS``,
        :func:`torch.set_num_threads`, ``threadpoolctl.threadpool_limits``)
        is kept. An int fixes the count (at most the machine's CPUs); ``-1``
        is all the CPUs the process may use, ``-2`` all but one. torch's
        setting is restored after each call. See :ref:`threads`.
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
    precision_ : str
        What the last fit's matrix products ran in: ``"bfloat16"`` where
        ``precision`` chose bfloat16 (see there), else ``"float32"`` or
        ``"float64"``; None for a float32 model saved by a skmnist that did
        not record it. Predictions run in the network's own dtype.
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
        "max_iter": [
            StrOptions({"auto"}),
            Interval(Integral, 1, MAX_COUNT, closed="both"),
        ],
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
        "n_jobs": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Integral, None, -1, closed="right"),
            None,
        ],
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
        n_jobs=None,
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
        self.n_jobs = n_jobs

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
        check_partial_fit(self, fitted, classes)
        return self._transaction(self._fit, X, y, sample_weight, classes, fitted, True)

    def _is_fitted(self) -> bool:
        return hasattr(self, "module_")

    def _transaction(self, method, *args):
        """Run ``method``; on any error restore every attribute as it was.

        ``method`` returns the ``KeyboardInterrupt`` to raise when it was
        interrupted after it kept complete epochs (see :meth:`_fit`).
        """
        saved = _fitted_state.saved_attributes(self)
        try:
            interrupt = method(*args)
        except BaseException:
            _fitted_state.restore_attributes(self, saved)
            raise
        if interrupt is not None:
            raise interrupt
        return self

    def _fit(self, X, y, sample_weight, classes, incremental, one_epoch):
        plan = plan_fit(self, X, y, sample_weight, classes, incremental, one_epoch)
        job = plan.job
        reporter = EpochReporter(0 if job.lbfgs else self.verbose, job.max_iter)
        job.run.callbacks = [reporter, *job.run.callbacks]
        try:
            (outcome,) = train([job])
            interrupt = None
        except TrainingInterrupted as interrupted:  # Ctrl-C
            (outcome,) = interrupted.outcomes
            kept, interrupt = interruption(plan, outcome)
            if not kept:  # no complete epoch: _transaction restores everything
                raise interrupt from None
        finally:
            reporter.close()
        self._finish_fit(plan, outcome, one_epoch)
        return interrupt  # raised by _transaction once the epochs are kept

    def _finish_fit(self, plan, outcome, one_epoch):
        """Store the trained network and its history as fitted attributes."""
        job = plan.job
        module, optimizer, state = outcome.module, outcome.optimizer, outcome.state
        # partial_fit does not validate; it keeps an early-stopping history.
        early = job.run.validation is not None or (
            one_epoch and getattr(self, "validation_scores_", None) is not None
        )
        self._store(module, optimizer, state, plan.classes, job.device, early)
        _fitted_state.assign(
            self,
            "finish",
            {
                "_architecture": job.architecture,  # a warm fit's: the fitted one
                "_device_param": self.device,
                "n_iter_": state.n_iter - plan.n_iter_start,  # this call's
                "out_activation_": "logistic" if job.multilabel else "softmax",
                "loss_": final_loss(self, module, state),
                "precision_": outcome.precision,
            },
        )
        warn_if_not_converged(self, state, one_epoch, job.max_iter)

    # ---------------------------------------------------------- fit helpers

    def _validate_params(self):
        """scikit-learn's checks, then what its constraints cannot express."""
        super()._validate_params()
        self._validate_other_params()

    def _validate_other_params(self):
        """The checks of parameter values that the constraints cannot express."""
        check_other_params(self)

    def _training_state(self):
        return _fitted_state.training_state(self)

    def _store(self, module, optimizer, state, classes, device, early):
        _fitted_state.store(self, module, optimizer, state, classes, device, early)

    # -------------------------------------------------------------- predict

    def _predict(self, X, output):
        check_is_fitted(self)
        # Never a converted copy of all of X: a deferring PixelScaler hands
        # over the raw pixels, scaled on the device a block at a time, and
        # other dense arrays are converted a block at a time.
        if isinstance(X, ScaledPixels):
            prepare, host_dtype = X.scale_block, None
            X = validate_data(self, X.pixels, dtype=None, reset=False)
        else:
            prepare, (X, host_dtype) = None, prediction_input(self, X)
        return predict_batches(
            self.module_,
            X,
            output=finite(output),
            prepare=prepare,
            host_dtype=host_dtype,
            threads=ThreadPolicy.from_n_jobs(self.n_jobs),
        )

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
        return layer_arrays(self.module_, suffix)

    def _set_weights(self, suffix, name, values):
        check_is_fitted(self)
        set_layer_arrays(self.module_, suffix, name, values)

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
        return _fitted_state.to_file(super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(_fitted_state.from_file(self, state))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        tags.classifier_tags.multi_label = True
        return tags
