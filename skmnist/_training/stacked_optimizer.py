"""Adam, AdamW and SGD for stacked networks, each with its own settings.

The batched form of torch's optimizers: the parameters of ``n_models``
same-shaped networks are stacked along a first dimension, and every update
is that of torch's optimizer applied to each model with its own learning
rate, penalty, betas and momentum (tested against torch's, model by model).
"""

from __future__ import annotations

import torch

from .plain_optim import plain_method

__all__ = ["StackedOptimizer"]


class StackedOptimizer:
    """Adam, AdamW or SGD for stacked parameters, one set of settings per model.

    A model whose ``active`` flag is False in a step is left exactly as it was:
    parameters, moments and step count (it has no minibatch in that step).
    """

    def __init__(self, params, is_weight, configs, device, dtype):
        self.params, self.is_weight = params, is_weight
        self.solver = configs[0].solver
        self.nesterov = configs[0].nesterovs_momentum and configs[0].momentum > 0

        def column(name):
            values = [float(getattr(c, name)) for c in configs]
            return torch.tensor(values, device=device, dtype=dtype)

        self.alpha, self.momentum = column("alpha"), column("momentum")
        self.beta_1, self.beta_2 = column("beta_1"), column("beta_2")
        self.epsilon = column("epsilon")
        self.steps = torch.zeros(len(configs), device=device, dtype=dtype)
        self.first = [torch.zeros_like(p) for p in params]  # exp_avg / momentum
        self.second = [torch.zeros_like(p) for p in params]  # exp_avg_sq

    @torch.no_grad()
    def step(self, lr: torch.Tensor, active: torch.Tensor) -> None:
        """One update of every active model, in place.

        Inactive models get coefficients that leave them bit-for-bit
        unchanged (a zero learning rate and zero moment weights); their
        gradients are zero since their samples weigh nothing.
        """
        on = active.to(self.steps.dtype)
        self.steps += on
        rate = lr * on
        if self.solver == "sgd":
            keep = torch.where(active, self.momentum, torch.ones_like(self.momentum))
        else:
            weight_1 = (1 - self.beta_1) * on
            weight_2 = (1 - self.beta_2) * on
            steps = self.steps.clamp(min=1)
            step_size = rate / (1 - self.beta_1**steps)
            root_2 = (1 - self.beta_2**steps).sqrt()
        for i, p in enumerate(self.params):
            shape = (-1,) + (1,) * (p.dim() - 1)
            decay = self.alpha.view(shape) if self.is_weight[i] else None
            grad = p.grad
            if self.solver == "sgd":
                if decay is not None:
                    grad.addcmul_(p, decay)
                grad.mul_(on.view(shape))
                buf = self.first[i]
                buf.mul_(keep.view(shape)).add_(grad)
                if self.nesterov:
                    grad.addcmul_(buf, self.momentum.view(shape))
                else:
                    grad = torch.where(self.momentum.view(shape) > 0, buf, grad)
                p.addcmul_(grad, rate.view(shape), value=-1)
            else:
                if decay is not None and self.solver == "adamw":
                    p.mul_(1 - rate.view(shape) * decay)
                elif decay is not None:
                    grad.addcmul_(p, decay)
                m, v = self.first[i], self.second[i]
                m.lerp_(grad, weight_1.view(shape))
                v.lerp_(grad.mul_(grad), weight_2.view(shape))
                denom = v.sqrt().div_(root_2.view(shape)).add_(self.epsilon.view(shape))
                p.sub_(m.div(denom).mul_(step_size.view(shape)))
            p.grad = None

    def tensors(self) -> list[torch.Tensor]:
        """The parameters and moments, for :func:`.numerics.flush_subnormals`."""
        return [*self.params, *self.first, *self.second]

    def reset(self, index: int) -> None:
        """Forget model ``index``'s moments (after divergence)."""
        self.steps[index] = 0
        for tensors in (self.first, self.second):
            for t in tensors:
                t[index].zero_()

    def load_into(self, index: int, optimizer: torch.optim.Optimizer) -> None:
        """Give the torch optimizer of one model the state of model ``index``."""
        if self.steps[index] == 0 or (
            self.solver == "sgd" and self.momentum[index] == 0
        ):
            return  # torch keeps no state for these
        state = plain_method(optimizer, "state_dict")()
        per_param = {}
        for position in range(len(self.params)):
            if self.solver == "sgd":
                entry = {"momentum_buffer": self.first[position][index].clone()}
            else:
                entry = {
                    "step": self.steps[index].detach().clone().float().cpu(),
                    "exp_avg": self.first[position][index].clone(),
                    "exp_avg_sq": self.second[position][index].clone(),
                }
            per_param[position] = entry
        # Same order as torch's: the weights' group first, then the biases'.
        state["state"] = per_param
        plain_method(optimizer, "load_state_dict")(state)

    def load_from(self, index: int, optimizer: torch.optim.Optimizer | None) -> None:
        """Start model ``index`` from the state of a torch optimizer over its module.

        The inverse of :meth:`load_into`, for warm starts: moments and step
        count carry over (nothing does from an optimizer of another type or
        without state, as :func:`~skmnist._training.optimizers.resume_optimizer`).
        """
        torch_type = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}.get(
            self.solver, torch.optim.Adam
        )
        if optimizer is None or type(optimizer) is not torch_type:
            return
        state = plain_method(optimizer, "state_dict")()["state"]
        with torch.no_grad():
            for position in range(len(self.params)):
                entry = state.get(position)
                if not entry:
                    continue
                if self.solver == "sgd":
                    buffer = entry.get("momentum_buffer")
                    if buffer is not None:
                        self.first[position][index].copy_(buffer)
                else:
                    self.first[position][index].copy_(entry["exp_avg"])
                    self.second[position][index].copy_(entry["exp_avg_sq"])
                    self.steps[index] = float(entry["step"])
