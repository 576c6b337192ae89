"""The precision of training: when matrix products run in bfloat16."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch

__all__ = ["autocast_factory", "native_bf16"]


def autocast_factory(
    device: torch.device, dtype: torch.dtype
) -> Callable[[], contextlib.AbstractContextManager]:
    """What each training step enters: bf16 autocast, or nothing.

    bfloat16 autocast is for float32 training on GPUs with native bfloat16;
    older GPUs only emulate it, which is slower than float32, so they train in
    float32. Predictions always run in the model's own precision. Decided once
    per epoch, not per step.
    """
    if device.type == "cuda" and dtype == torch.float32 and native_bf16(device):
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def native_bf16(device: torch.device) -> bool:
    """Whether the CUDA GPU ``device`` (not the current one) has native bfloat16.

    Native bfloat16 arithmetic starts with compute capability 8 (Ampere); ROCm
    GPUs have it too.
    """
    if torch.version.hip:
        return True
    return torch.cuda.get_device_properties(device).major >= 8
