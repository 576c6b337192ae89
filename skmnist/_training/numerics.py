"""How training keeps the CPU fast: subnormal numbers."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable

import torch
from torch import nn

__all__ = [
    "FLUSH_EVERY",
    "float_state",
    "flush_denormals",
    "flush_subnormals",
]


@contextlib.contextmanager
def flush_denormals():
    """Treat subnormal floats as zero on the CPU while training.

    Late in training, near-certain softmax outputs make the gradients
    subnormal, and x86 CPUs compute on subnormals up to ten times slower
    (measured: an MNIST epoch went from 2 s to 18 s by epoch 6). Flushing them
    changes nothing visible in the results. torch sets the calling thread's
    flag (threads started meanwhile, such as torch's OpenMP workers on their
    first use, inherit it) and offers no way to read it, so it is probed
    first: a thread that flushes already keeps flushing, the others are
    switched back afterwards.
    """
    already = _flushing_denormals()
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported and not already:
            torch.set_flush_denormal(False)


#: Steps between two :func:`flush_subnormals` calls during training.
FLUSH_EVERY = 16


def flush_subnormals(tensors: Iterable[torch.Tensor]) -> None:
    """Set the entries of ``tensors`` closer to zero than √tiny to zero, in place.

    ``tensors`` are a network's parameters and its optimizer's moments (those
    of a torch optimizer: :func:`float_state`; the stacked one's:
    :meth:`skmnist._training.stacked_optimizer.StackedOptimizer.tensors`).

    A weight that gets no gradient from the data (one of an always-blank
    border pixel, one out of a unit that never fires) shrinks geometrically
    under the L2 penalty, and so do its Adam moments; in float32 they reach
    the subnormal range within a few epochs and stay there, tens of thousands
    of them on MNIST. Every later step then computes on subnormals, which
    x86 CPUs do many times slower unless the thread that runs the kernel
    flushes them, and torch's worker threads flush only if they were started
    while the calling thread did (see :func:`flush_denormals`). Zero is a
    fixed point of that decay (zero weight, zero moments: zero update), so
    values are sent there long before they become subnormal: below
    ``sqrt(tiny)`` (1.1e-19 in float32), a value whose square (Adam squares
    the gradient) is subnormal already and whose contribution no float32 sum
    next to the network's other terms can show. Called every
    :data:`FLUSH_EVERY` steps, which no moment decays fast enough to cross
    from the threshold into the subnormal range in between.

    Each tensor is flushed by one in-place kernel, ``hardshrink`` (zero where
    ``|x| <= limit``) written into the tensor itself: no temporary (a mask
    and an absolute value of every tensor cost ten times as long, most of it
    allocating and faulting in fresh pages).
    """
    with torch.no_grad():
        for tensor in tensors:
            limit = math.sqrt(torch.finfo(tensor.dtype).tiny)
            if HARDSHRINK_OUT:
                torch.ops.aten.hardshrink.out(tensor, limit, out=tensor)
            else:
                tensor.masked_fill_(tensor.abs() <= limit, 0.0)


#: ``aten.hardshrink.out``, which :func:`flush_subnormals` runs in place.
HARDSHRINK_OUT = hasattr(torch.ops.aten.hardshrink, "out")


def float_state(module: nn.Module, optimizer: torch.optim.Optimizer):
    """The parameters, then the optimizer's floating tensors other than scalars."""
    yield from (p.detach() for p in module.parameters())
    for entries in optimizer.state.values():
        for value in entries.values():
            if torch.is_tensor(value) and value.is_floating_point() and value.ndim:
                yield value


def _flushing_denormals() -> bool:
    """Whether the CPU flushes subnormal results to zero (1e-40 in float32 is one)."""
    tiny = torch.tensor(1e-30, dtype=torch.float32, device="cpu")
    return bool(tiny * 1e-10 == 0)
