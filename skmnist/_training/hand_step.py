"""The engine's fast training step for the plain MLPs that ``build_mlp`` makes.

A minibatch step of a small MLP is short (about a millisecond on a CPU), and
the generic path spends a third of it outside the matrix products: recording
the autograd graph and walking it back, allocating fresh gradient tensors,
and :meth:`torch.optim.Optimizer.step`'s Python bookkeeping. For a network
of ``Linear`` layers and elementwise activations the backward pass is a few
lines of matrix algebra, so this module writes it out:

* the forward pass keeps each layer's activation output,
* the gradient of the (weighted, label-smoothed) cross-entropy with respect
  to the logits is ``(softmax - target) * weight / n``,
* each layer's weight and bias gradients are written into gradient buffers
  allocated once per epoch, and the gradient flowing down is multiplied by
  the activation's derivative, expressed through its output,
* Adam and AdamW update through torch's fused kernels on the optimizer's own
  state (so warm starts, pickles and the generic path see the same state);
  other optimizers call their ``step``.

Networks with dropout or with activations whose derivative needs the input
(GELU, SiLU), and steps under autocast, stay on the generic autograd path.
The gradients agree with autograd's to float rounding (tested).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from .plain_optim import plain_step
from .precision import dtype_name

__all__ = ["BFloat16Step", "FastStep"]


def _schema_has(op_name: str, arguments: set[str]) -> bool:
    """Whether ``torch.ops.aten.<op_name>`` exists and takes ``arguments``.

    The private kernels below are called directly, as torch's own optimizers
    and autograd formulas call them; they are not public API, so each is
    used only where this torch has it with the signature the calls need
    (checked on torch 2.13, the floor), and public code takes over otherwise.
    """
    try:
        schema = getattr(torch.ops.aten, op_name).default._schema
    except (AttributeError, RuntimeError):
        return False
    return arguments <= {argument.name for argument in schema.arguments}


#: ``torch._fused_adam_`` / ``torch._fused_adamw_`` with the arguments of
#: :func:`_call`; without them Adam and AdamW update through their own ``step``
#: (with ``fused=True``, the same kernel through the public API).
FUSED_ADAM_KERNELS = all(
    hasattr(torch, f"_{name}_")
    and _schema_has(
        f"_{name}_",
        {"lr", "beta1", "beta2", "weight_decay", "eps", "amsgrad", "maximize"},
    )
    for name in ("fused_adam", "fused_adamw")
)

#: ``aten.threshold_backward(grad_output, self, threshold)``, ReLU's derivative
#: in one kernel; :func:`torch.where` computes the same values otherwise.
THRESHOLD_BACKWARD = _schema_has(
    "threshold_backward", {"grad_output", "self", "threshold"}
)


#: ``aten._addmm_activation(bias, x, weight_t)``: a layer's product, bias and
#: ReLU in one call (on CUDA one cuBLASLt kernel); without it, ``addmm`` and
#: an in-place ``relu_``, which compute the same values.
ADDMM_ACTIVATION = _schema_has(
    "_addmm_activation", {"self", "mat1", "mat2", "beta", "alpha", "use_gelu"}
)


def _relu_layer(bias, x, weight_t) -> torch.Tensor:
    if ADDMM_ACTIVATION:
        return torch.ops.aten._addmm_activation(bias, x, weight_t)
    return torch.addmm(bias, x, weight_t).relu_()


def _relu_backward(grad, output, out) -> torch.Tensor:
    if THRESHOLD_BACKWARD:
        return torch.ops.aten.threshold_backward.grad_input(
            grad, output, 0, grad_input=out
        )
    return torch.where(output > 0, grad, grad.new_zeros(()), out=out)


def _tanh_backward(grad, output, out) -> torch.Tensor:
    return torch.mul(grad, 1 - output * output, out=out)


def _sigmoid_backward(grad, output, out) -> torch.Tensor:
    return torch.mul(grad, output * (1 - output), out=out)


def _identity_backward(grad, output, out) -> torch.Tensor:
    return out.copy_(grad)


#: Activation -> (the layer's forward from ``(bias, input, weight_t)``, and the
#: derivative through the activation's output: ``(grad, output, out)``, written
#: into ``out``).
_ACTIVATIONS: dict[type, tuple[Callable, Callable]] = {
    nn.ReLU: (_relu_layer, _relu_backward),
    nn.Tanh: (lambda b, x, w: torch.addmm(b, x, w).tanh_(), _tanh_backward),
    nn.Sigmoid: (lambda b, x, w: torch.addmm(b, x, w).sigmoid_(), _sigmoid_backward),
    nn.Identity: (torch.addmm, _identity_backward),
}


def _layers(module: nn.Module) -> list[tuple[nn.Linear, tuple | None]] | None:
    """``[(linear, activation functions or None), ...]``, or None if unsupported."""
    if not isinstance(module, nn.Sequential):
        return None
    layers: list[tuple[nn.Linear, tuple | None]] = []
    for child in module:
        if isinstance(child, nn.Linear) and child.bias is not None:
            layers.append((child, None))
        elif type(child) in _ACTIVATIONS and layers and layers[-1][1] is None:
            layers[-1] = (layers[-1][0], _ACTIVATIONS[type(child)])
        else:
            return None
    if not layers or layers[-1][1] is not None:
        return None  # the output layer must give the logits
    return layers


def _constants(group: dict) -> tuple:
    """The hyper-parameters other than the learning rate that a kernel call takes."""
    return (group["weight_decay"], tuple(group["betas"]), group["eps"])


def _call(kernel, group, lr, params, grads, exp_avgs, exp_avg_sqs, steps) -> None:
    """One fused Adam/AdamW kernel call with ``group``'s hyper-parameters.

    ``lr`` None takes the group's learning rate; a tensor is read by the
    kernel when it runs (so that a replayed CUDA graph follows a schedule).
    """
    beta1, beta2 = group["betas"]
    kernel(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        [],
        steps,
        lr=group["lr"] if lr is None else lr,
        beta1=beta1,
        beta2=beta2,
        weight_decay=group["weight_decay"],
        eps=group["eps"],
        amsgrad=False,
        maximize=False,
    )


def _fused_update(optimizer: torch.optim.Optimizer) -> Callable[..., None] | None:
    """Adam's or AdamW's fused update on the optimizer's state, without ``step``.

    Returns None when the optimizer is not a plain fused Adam/AdamW, which then
    updates through its own ``step``. The state is created as torch creates it
    for fused Adam, so the optimizer can carry on (or be saved) afterwards.
    The update takes an optional learning rate as a tensor (one for every
    group), which replaces the groups' own.
    """
    if not FUSED_ADAM_KERNELS or type(optimizer) not in (
        torch.optim.Adam,
        torch.optim.AdamW,
    ):
        return None
    kernel = (
        torch._fused_adamw_
        if type(optimizer) is torch.optim.AdamW
        else torch._fused_adam_
    )
    groups = []
    for group in optimizer.param_groups:
        if not group.get("fused") or any(
            group.get(flag)
            for flag in ("amsgrad", "maximize", "capturable", "differentiable")
        ):
            return None
        params = [p for p in group["params"] if p.grad is not None]
        states = [optimizer.state[p] for p in params]
        for p, state in zip(params, states, strict=True):
            if not state:
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
        groups.append((group, params, states))
    states = [state for _, _, group_states in groups for state in group_states]
    if not states:
        return lambda lr=None: None
    # Every parameter's step count, as torch keeps it for fused Adam (a float32
    # scalar on the parameter's device), becomes a view of one counter, so one
    # addition advances them all.
    device = states[0]["exp_avg"].device
    counter = torch.tensor(
        [float(s["step"]) if "step" in s else 0.0 for s in states],
        dtype=torch.float32,
        device=device,
    )
    for index, state in enumerate(states):
        state["step"] = counter[index]
    per_group = [
        (
            group,
            # Detached aliases: the update needs no autograd bookkeeping.
            [p.detach() for p in params],
            [p.grad for p in params],
            [s["exp_avg"] for s in group_states],
            [s["exp_avg_sq"] for s in group_states],
            [s["step"] for s in group_states],
        )
        for group, params, group_states in groups
        if params
    ]
    all_groups = [arguments[0] for arguments in per_group]
    merged = None
    if len({_constants(group) for group in all_groups}) == 1:
        # One kernel call for all groups (weights and biases) whenever their
        # learning rates agree, as the engine sets them.
        merged = [
            [t for arguments in per_group for t in arguments[k]] for k in range(1, 6)
        ]

    def update(lr: torch.Tensor | None = None) -> None:
        counter.add_(1)
        if merged is not None and (
            lr is not None or len({g["lr"] for g in all_groups}) == 1
        ):
            _call(kernel, all_groups[0], lr, *merged)
            return
        for group, *tensors in per_group:
            _call(kernel, group, lr, *tensors)

    return update


def _log_likelihood_and_logit_gradient(
    logits_t: torch.Tensor,
    y: torch.Tensor,
    weight: torch.Tensor | None,
    label_smoothing: float,
    log_likelihood: torch.Tensor,
    hit: torch.Tensor,
    mean_over: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Write each sample's log-likelihood; return the mean loss's logit gradient.

    The logits come transposed, one column per sample: torch's CPU
    ``log_softmax`` over a short last dimension (ten classes) takes several
    times longer than over the first dimension of the transposed matrix.
    The loss is the engine's: the label-smoothed cross-entropy, averaged over
    the ``n`` samples (each multiplied by its weight, if any). Minus each
    sample's (weighted) loss is written into ``log_likelihood``, so that the
    epoch's mean loss is one sum at its end rather than a reduction per step.
    The gradient, transposed like the logits, is
    ``(softmax(logits) - target) * weight / n`` with ``target`` the one-hot
    label mixed with the uniform distribution by ``label_smoothing``; ``hit``
    is a row of at least ``n`` values ``label_smoothing - 1``, the one-hot
    part's contribution. ``mean_over`` (a 0-dim tensor, with ``weight``)
    replaces ``n`` for a minibatch padded with rows of weight 0. The gradient
    is written into ``out`` if given.
    """
    n_classes, n = logits_t.shape
    target = y.unsqueeze(0)
    log_proba = logits_t.log_softmax(0)
    row = log_likelihood.unsqueeze(0)
    torch.gather(log_proba, 0, target, out=row)
    if label_smoothing:
        row.mul_(1.0 - label_smoothing).add_(
            log_proba.sum(dim=0, keepdim=True), alpha=label_smoothing / n_classes
        )
    grad = log_proba.exp_()
    grad.scatter_add_(0, target, hit[:, :n])
    if label_smoothing:
        grad.sub_(label_smoothing / n_classes)
    if weight is None:
        scale = 1.0 / n
    else:
        log_likelihood.mul_(weight)
        scale = weight.unsqueeze(0) / (n if mean_over is None else mean_over)
    return torch.mul(grad, scale, out=grad if out is None else out)


class FastStep:
    """Forward, hand-derived backward and optimizer update of one minibatch.

    Build it with :meth:`create`, which returns None when ``module`` or the
    step's setting is not supported; then call it once per minibatch. The
    step works on detached aliases of the parameters (their updates are in
    place), so it records no autograd graph.

    Each layer's gradient with respect to its pre-activation (its output's,
    for the logits) is written into columns of one buffer, one row per
    sample, so that every bias gradient (the columns' sums) comes from one
    reduction into one buffer of which the biases' gradients are slices.

    Parameters
    ----------
    layers : list
        What :func:`_layers` returns for the module.
    optimizer : torch.optim.Optimizer
        The optimizer over the module's parameters.
    label_smoothing : float
        The loss's label smoothing.
    """

    #: Whether the output layer's gradient shares the hidden layers' buffer
    #: (not when they differ in dtype).
    output_in_buffer = True
    #: The dtype the step casts each minibatch to, if any: training data kept
    #: in it spares the cast (:meth:`~.data.DeviceData.rows_in`).
    row_dtype: torch.dtype | None = None

    def __init__(
        self, layers: list, optimizer: torch.optim.Optimizer, label_smoothing: float
    ) -> None:
        *hidden, (output, _) = layers
        linears = [output] + [linear for linear, _ in hidden]
        self.bias_grads = output.weight.new_zeros(
            sum(linear.out_features for linear in linears)
        )
        # Columns of the gradient buffer (and of ``bias_grads``): the output
        # layer's, then each hidden layer's from the bottom.
        columns, start = [], 0
        for linear in linears:
            columns.append(slice(start, start + linear.out_features))
            linear.weight.grad = torch.zeros_like(linear.weight)
            linear.bias.grad = self.bias_grads[columns[-1]]
            start += linear.out_features
        n_out = output.out_features
        if not self.output_in_buffer:  # the hidden layers' columns only
            columns = [slice(c.start - n_out, c.stop - n_out) for c in columns]
        # Per hidden layer: weight, its transpose, bias, weight gradient, its
        # columns, the activation's layer forward and derivative (all tensors
        # plain aliases).
        self.hidden = [
            (
                linear.weight.detach(),
                linear.weight.detach().t(),
                linear.bias.detach(),
                linear.weight.grad,
                layer_columns,
                *activation,
            )
            for (linear, activation), layer_columns in zip(
                hidden, columns[1:], strict=True
            )
        ]
        # The output layer computes the logits transposed (classes x samples).
        self.output = (
            output.weight.detach(),
            output.bias.detach().unsqueeze(1),
            output.weight.grad,
            output.bias.grad,
            columns[0],
        )
        self.n_columns = columns[-1].stop
        self.gradients = output.weight.new_empty((0, self.n_columns))
        self.update = _fused_update(optimizer) or functools.partial(
            plain_step, optimizer
        )
        self.label_smoothing = label_smoothing
        self.hit = output.weight.new_full((1, 0), label_smoothing - 1.0)
        #: Set by :class:`~skmnist._training.cuda_graph.GraphedKernel`: the
        #: learning rate as a tensor the update reads (None: the optimizer's),
        #: and the number of rows that count in a padded minibatch.
        self.learning_rate: torch.Tensor | None = None
        self.mean_over: torch.Tensor | None = None

    @property
    def precision(self) -> str:
        """What the hidden layers' products run in: ``"bfloat16"`` or the dtype."""
        return dtype_name(self.row_dtype or self.output[0].dtype)

    @property
    def fused(self) -> bool:
        """Whether the update is the direct fused kernel (it takes a tensor rate)."""
        return not isinstance(self.update, functools.partial)

    @classmethod
    def create(
        cls,
        module: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        autocast: bool,
        label_smoothing: float = 0.0,
        matmul_dtype: torch.dtype | None = None,
    ) -> FastStep | None:
        """A fast step for ``module``, or None to use the autograd path.

        With ``matmul_dtype=torch.bfloat16`` (see
        :func:`~skmnist._training.precision.hand_step_dtype`) it is a
        :class:`BFloat16Step` of a float32 ``module`` with hidden layers (a
        linear model's one layer, the output layer, stays float32).
        """
        layers = None if autocast else _layers(module)
        if layers is None:
            return None
        if not all(p.requires_grad for p in module.parameters()):
            return None
        dtype = next(module.parameters()).dtype
        if matmul_dtype is not None and matmul_dtype != dtype:
            if (matmul_dtype, dtype) != (torch.bfloat16, torch.float32):
                raise ValueError(
                    f"The fast step runs {dtype} networks in {dtype} or, for "
                    f"float32 ones, in bfloat16; not in {matmul_dtype}."
                )
            if len(layers) > 1:  # the output layer stays float32
                return BFloat16Step(layers, optimizer, label_smoothing)
        return cls(layers, optimizer, label_smoothing)

    def __call__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        weight: torch.Tensor | None,
        log_likelihood: torch.Tensor,
    ) -> None:
        """Train on one minibatch, minimising its mean (weighted) loss.

        Minus each sample's (weighted) loss is written into ``log_likelihood``.
        """
        n = y.shape[0]
        if self.gradients.shape[0] < n:
            self.gradients = self.gradients.new_empty((n, self.n_columns))
            self.hit = self.hit.new_full((1, n), self.label_smoothing - 1.0)
        gradients = self.gradients[:n]
        X_in, layers = self._prepare(X)
        outputs = self._forward(X_in, layers)
        top = outputs.pop()
        grad_t = self._output_layer(
            top.to(self.output[0].dtype), y, weight, log_likelihood, gradients
        )
        if layers:
            grad = (grad_t.t() @ self.output[0]).to(top.dtype)
            self._backward(grad, top, outputs, layers, gradients)
            self._gradients_done()
        self._bias_gradients(gradients)
        if self.learning_rate is None:
            self.update()
        else:
            self.update(self.learning_rate)

    def _prepare(self, X: torch.Tensor) -> tuple[torch.Tensor, list]:
        """The minibatch and the hidden layers, as the products take them."""
        return X, self.hidden

    def _gradients_done(self) -> None:
        """Called once the hidden layers' weight gradients are computed."""

    def _bias_gradients(self, gradients: torch.Tensor) -> None:
        """Every bias gradient at once: the sums of the gradient buffer's columns."""
        torch.sum(gradients, dim=0, out=self.bias_grads)

    @staticmethod
    def _forward(X: torch.Tensor, layers: list) -> list[torch.Tensor]:
        """The input and each hidden layer's activation output."""
        outputs = [X]
        for _, weight_t, bias, _, _, forward, _ in layers:
            outputs.append(forward(bias, outputs[-1], weight_t))
        return outputs

    def _output_layer(self, below, y, weight, log_likelihood, gradients):
        """Logits, loss and the output layer's weight gradient; the logit gradient.

        The gradient is returned transposed, one column per sample (written
        into ``gradients``' columns if the output layer's are there).
        """
        out_weight, out_bias, out_weight_grad, out_bias_grad, columns = self.output
        grad_t = _log_likelihood_and_logit_gradient(
            torch.addmm(out_bias, out_weight, below.t()),
            y,
            weight,
            self.label_smoothing,
            log_likelihood,
            self.hit,
            self.mean_over,
            out=gradients[:, columns].t() if self.output_in_buffer else None,
        )
        torch.mm(grad_t, below, out=out_weight_grad)
        if not self.output_in_buffer:
            torch.sum(grad_t, dim=1, out=out_bias_grad)
        return grad_t

    @staticmethod
    def _backward(grad, below, outputs: list, layers: list, gradients) -> None:
        """The hidden layers' gradients, from ``grad`` flowing into the top one.

        ``below`` is the top hidden layer's output; ``outputs`` those under it
        (and the input), consumed. Each layer's gradient with respect to its
        pre-activation goes into its columns of ``gradients``.
        """
        for layer_weight, _, _, weight_grad, columns, _, backward in reversed(layers):
            grad = backward(grad, below, gradients[:, columns])
            below = outputs.pop()
            torch.mm(grad.t(), below, out=weight_grad)
            if outputs:
                grad = grad @ layer_weight


def _copy_all(targets: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
    """``target.copy_(source)`` for each pair, in one kernel call where torch can."""
    if FOREACH_COPY:
        torch._foreach_copy_(targets, sources)
    else:
        for target, source in zip(targets, sources, strict=True):
            target.copy_(source)


#: ``torch._foreach_copy_``, one call for a list of copies (private, as the
#: optimizers' foreach kernels); :func:`_copy_all` loops over ``copy_`` without.
FOREACH_COPY = hasattr(torch, "_foreach_copy_")


class BFloat16Step(FastStep):
    """:class:`FastStep` with the hidden layers' matrix products in bfloat16.

    The network's float32 parameters stay the master weights, updated by the
    optimizer in float32 from float32 gradients; the loss and the output
    layer (ten logits, a small share of the products, whose rounding the
    softmax would feel) are float32 too. Each step

    * refreshes bfloat16 copies of the hidden layers' weights and biases from
      the masters (one call), and casts the minibatch to bfloat16 once,
    * runs the hidden layers' forward products and both backward products
      (weight gradient, gradient flowing down) in bfloat16, which accumulate
      in float32 inside the kernels and round their result to bfloat16,
    * sums the hidden layers' bias gradients from their bfloat16 buffer in
      float32 (one call; the output layer's float32 gradient has its own),
      and copies the hidden weight gradients into the float32 gradient
      buffers (one call).

    Built by :meth:`FastStep.create` with ``matmul_dtype=torch.bfloat16``.
    """

    output_in_buffer = False
    row_dtype = torch.bfloat16

    def __init__(
        self, layers: list, optimizer: torch.optim.Optimizer, label_smoothing: float
    ) -> None:
        super().__init__(layers, optimizer, label_smoothing)
        low = torch.bfloat16
        self.gradients = self.gradients.new_empty((0, self.n_columns), dtype=low)
        self.hidden_bias_grads = self.bias_grads[len(self.output[3]) :]
        self.masters = [
            tensor for weight, _, bias, *_ in self.hidden for tensor in (weight, bias)
        ]
        self.copies = [tensor.to(low) for tensor in self.masters]
        # Per hidden layer: bf16 weight, its transpose, bf16 bias, the bf16
        # buffer of the weight gradient, its columns, and the activation's
        # functions.
        self.low = [
            (
                self.copies[2 * index],
                self.copies[2 * index].t(),
                self.copies[2 * index + 1],
                torch.empty_like(self.copies[2 * index]),
                columns,
                forward,
                backward,
            )
            for index, (_, _, _, _, columns, forward, backward) in enumerate(
                self.hidden
            )
        ]
        self.weight_grads = [weight_grad for _, _, _, weight_grad, *_ in self.hidden]
        self.weight_grads_low = [buffer for _, _, _, buffer, *_ in self.low]

    def _prepare(self, X: torch.Tensor) -> tuple[torch.Tensor, list]:
        """Fresh bfloat16 copies of the masters, and the minibatch in bfloat16."""
        _copy_all(self.copies, self.masters)
        return X.to(torch.bfloat16), self.low

    def _gradients_done(self) -> None:
        """The bfloat16 weight gradients into the float32 gradient buffers."""
        _copy_all(self.weight_grads, self.weight_grads_low)

    def _bias_gradients(self, gradients: torch.Tensor) -> None:
        """The hidden layers' bias gradients, summed in float32."""
        torch.sum(gradients, dim=0, dtype=torch.float32, out=self.hidden_bias_grads)
