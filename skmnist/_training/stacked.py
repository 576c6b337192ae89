"""Training many MLPs of one shape at once, as one stacked network.

Each model keeps its own training data (a cross-validation fold), initial
weights, shuffling, learning rate, penalty and stopping rules (the epoch
loop's job); the layers of all models are stacked into ``(n_models, out,
in)`` tensors, so one batched matrix product (``torch.baddbmm``) runs a
step of every model. On a GPU this turns a search of many small fits, each
too small to keep the device busy, into a few large ones.

Without dropout every model follows exactly the computation of its single
fit (same initial weights, same minibatches, same updates), up to rounding:
the optimizers (:mod:`.stacked_optimizer`) are the batched form of torch's
Adam, AdamW and SGD.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .loss import sample_losses
from .network import ACTIVATIONS
from .optimizers import OptimizerConfig
from .precision import autograd_autocast, products_precision
from .stacked_optimizer import StackedOptimizer

__all__ = ["StackedMLP", "StackedStep"]


class StackedMLP:
    """The stacked layers of same-shaped :func:`.network.build_mlp` networks."""

    def __init__(
        self,
        modules: Sequence[nn.Sequential],
        dropout: torch.Tensor,
        generator: torch.Generator,
    ):
        linears = [
            [m for m in module if isinstance(m, nn.Linear)] for module in modules
        ]
        self.weights = [
            torch.stack([layers[i].weight.detach() for layers in linears]).clone()
            for i in range(len(linears[0]))
        ]
        self.biases = [
            torch.stack([layers[i].bias.detach() for layers in linears]).clone()
            for i in range(len(linears[0]))
        ]
        for tensor in self.parameters():
            tensor.requires_grad_(True)
        activation = next(
            (m for m in modules[0] if isinstance(m, tuple(ACTIVATIONS.values()))),
            nn.Identity(),
        )
        self.activation = activation
        self.keep = (1.0 - dropout)[:, None, None]
        self.use_dropout = bool((dropout > 0).any())
        self.generator = generator  # the batch's own stream for dropout masks

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases]

    def is_weight(self) -> list[bool]:
        return [True] * len(self.weights) + [False] * len(self.biases)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
            if i < last:
                x = self.activation(x)
                if self.use_dropout:
                    # In the training dtype, also where autocast makes x
                    # bfloat16, whose 1/256 steps would bias the keep rate.
                    noise = torch.rand(
                        x.shape,
                        device=x.device,
                        dtype=self.keep.dtype,
                        generator=self.generator,
                    )
                    mask = noise < self.keep
                    x = x * mask / self.keep
        return x

    def copy_into(self, index: int, module: nn.Sequential) -> None:
        linears = [m for m in module if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for layer, weight, bias in zip(
                linears, self.weights, self.biases, strict=True
            ):
                layer.weight.copy_(weight[index])
                layer.bias.copy_(bias[index])


class StackedStep:
    """The step of ``k > 1`` same-shaped networks, trained as one stack.

    Parameters
    ----------
    modules : sequence of torch.nn.Sequential
        The networks (built by :func:`~skmnist._training.network.build_mlp`),
        which receive the trained weights at :meth:`finish`.
    configs : sequence of OptimizerConfig
        Each network's optimizer settings (one solver for all).
    label_smoothing, dropout : sequence of float
        Each network's.
    dropout_seed : int
        Seeds the dropout masks of the whole stack.
    previous : sequence of torch.optim.Optimizer or None
        Each network's optimizer of an earlier fit to continue from (warm
        starts), or None.
    precision : {"auto", "float32", "bfloat16"}
        The networks' ``precision``: the stack computes as a single fit's
        autograd path does (:func:`.precision.autograd_autocast`).
    """

    def __init__(
        self,
        modules: Sequence[nn.Sequential],
        configs: Sequence[OptimizerConfig],
        *,
        label_smoothing: Sequence[float],
        dropout: Sequence[float],
        dropout_seed: int = 0,
        previous: Sequence[torch.optim.Optimizer | None] = (),
        precision: str = "auto",
    ) -> None:
        parameter = next(modules[0].parameters())
        device, dtype = parameter.device, parameter.dtype
        self.n_networks = len(modules)
        self.modules = list(modules)
        # Dropout masks come from a generator seeded by the models' seeds: a
        # stack is reproducible and the caller's torch random state untouched.
        generator = torch.Generator(device=device)
        generator.manual_seed(dropout_seed)
        self.net = StackedMLP(
            modules, torch.tensor(dropout, device=device, dtype=dtype), generator
        )
        self.optimizer = StackedOptimizer(
            self.net.parameters(), self.net.is_weight(), configs, device, dtype
        )
        for index, optimizer in enumerate(previous):
            self.optimizer.load_from(index, optimizer)
        smoothing = sorted(set(label_smoothing))
        self.label_smoothing = (
            float(smoothing[0])
            if len(smoothing) == 1
            else torch.tensor(label_smoothing, device=device, dtype=dtype)[:, None]
        )
        self.autocast = autograd_autocast(device, dtype, precision)
        self.precision = products_precision(self.autocast, dtype)
        self.device, self.dtype = device, dtype
        self.rates = self.counts = None

    def begin_epoch(self, rates: np.ndarray, counts: np.ndarray) -> None:
        self.rates = torch.as_tensor(rates, device=self.device, dtype=self.dtype)
        self.counts = torch.as_tensor(counts, device=self.device, dtype=self.dtype)
        self.positions = torch.arange(counts.max(initial=1), device=self.device)

    def __call__(self, index, X, y, weight, log_likelihood) -> None:
        count = self.counts[index]
        # Rows past a model's count pad the stack: they weigh nothing.
        mask = (self.positions[: y.shape[1]] < count[:, None]).to(self.dtype)
        if weight is not None:
            mask = mask * weight
        with self.autocast():  # as a single fit's autograd path, for precision
            logits = self.net(X)
        losses = sample_losses(logits.to(self.dtype), y, mask, self.label_smoothing)
        (losses.sum(dim=1) / count.clamp(min=1)).sum().backward()
        self.optimizer.step(self.rates[index], count > 0)
        torch.neg(losses.detach(), out=log_likelihood)

    def parameters(self, network: int) -> list[torch.Tensor]:
        return [p[network] for p in self.net.parameters()]

    def network(self, network: int) -> nn.Module:
        self.net.copy_into(network, self.modules[network])
        return self.modules[network]

    def reset_optimizer(self, network: int) -> None:
        self.optimizer.reset(network)

    def float_state(self) -> list[torch.Tensor]:
        return self.optimizer.tensors()

    def finish(self) -> None:
        for index, module in enumerate(self.modules):
            self.net.copy_into(index, module)
            module.eval()

    def optimizer_of(self, network: int, optimizer: torch.optim.Optimizer) -> None:
        """Give ``optimizer`` (a torch one over the module) network's state."""
        self.optimizer.load_into(network, optimizer)
