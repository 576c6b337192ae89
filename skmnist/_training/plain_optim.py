"""torch optimizers used without the wrappers that import ``torch._dynamo``.

torch wraps :meth:`~torch.optim.Optimizer.add_param_group`, ``step``,
``zero_grad``, ``state_dict`` and ``load_state_dict`` so that torch.compile
does not trace them; each wrapper imports ``torch._dynamo`` on its first
call, which took 2.5 s of the first fit in a fresh process (and of the first
fit in every joblib worker). The engine never runs under torch.compile, so it
calls the plain methods; the optimizers stay ordinary torch optimizers that
users, pickles and warm starts see as usual.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable

import torch

__all__ = ["construct", "plain_method", "plain_step"]


def construct(optimizer_class: type, groups: list, **options) -> torch.optim.Optimizer:
    """``optimizer_class(groups, **options)``, without importing ``torch._dynamo``.

    The plain ``add_param_group`` is bound to the instance for the
    construction only; the optimizer is a normal one of ``optimizer_class``
    afterwards.
    """
    optimizer = optimizer_class.__new__(optimizer_class)
    optimizer.add_param_group = plain_method(optimizer, "add_param_group")
    try:
        optimizer.__init__(groups, **options)
    finally:
        del optimizer.add_param_group
    return optimizer


def plain_method(optimizer: torch.optim.Optimizer, name: str) -> Callable:
    """``optimizer.<name>`` without torch's wrappers (see :func:`construct`).

    Those wrappers keep torch.compile out of the method, switch gradients off
    (``step``) and run the hooks registered on the optimizer, which the
    engine's optimizers never have; ``step`` is called under
    :func:`torch.no_grad` by :func:`plain_step`.
    """
    return types.MethodType(inspect.unwrap(getattr(type(optimizer), name)), optimizer)


def plain_step(
    optimizer: torch.optim.Optimizer, closure: Callable | None = None
) -> torch.Tensor | None:
    """``optimizer.step(closure)`` without importing ``torch._dynamo``.

    The closure, if any (L-BFGS's), is called with gradients enabled, as
    torch's own ``step`` does; returns what ``step`` returns.
    """
    with torch.no_grad():
        if closure is None:
            return plain_method(optimizer, "step")()
        return plain_method(optimizer, "step")(closure)
