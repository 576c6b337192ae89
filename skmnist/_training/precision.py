"""Which precision a fit's matrix products run in: float32 or bfloat16.

The estimator's ``precision`` parameter is ``"auto"``, ``"float32"`` or
``"bfloat16"``. It concerns float32 fits only: float64 input trains in
float64 whatever it says, and predictions always run in the model's own
precision (float32 or float64).

* ``"float32"``: every product in float32.
* ``"bfloat16"``: the hand-derived step (:mod:`.hand_step`) runs the hidden
  layers' products in bfloat16 with float32 master weights, optimizer and
  loss; networks it does not cover (dropout, GELU, SiLU) train under
  :func:`torch.autocast` on the CPU and on CUDA.
* ``"auto"``: bfloat16 on the hand-derived step where the device has
  bfloat16 matrix units (:func:`bf16_matrix_units`), float32 elsewhere, with
  one exception kept from before the parameter existed: on CUDA GPUs with
  native bfloat16 the autograd path trains under bfloat16 autocast. On the
  CPU autocast stays off under ``"auto"``: around autograd its casts cost
  more than the products gain (measured on a Xeon with AMX, a plain torch
  loop took 12.1 s under autocast against 4.3 s in float32 at batch 128).

Whether a CPU's bfloat16 products pay was measured, not assumed:
``benchmarks/bf16_matmul.py`` on an AMD EPYC (Zen 5) with avx512_bf16 and no
AMX found the products of a 784 -> 256 layer 3.0 to 4.5 times faster in
bfloat16 than in float32 on two threads (3.7 to 4.8 on one), and a default
MNIST epoch took 0.43 s against 0.91 s, so avx512_bf16 counts as matrix
units alongside AMX.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from pathlib import Path

import torch

__all__ = [
    "PRECISIONS",
    "autograd_autocast",
    "bf16_matrix_units",
    "cpu_bf16_flags",
    "dtype_name",
    "hand_step_dtype",
    "products_precision",
]

#: The values of the estimator's ``precision`` parameter.
PRECISIONS = ("auto", "float32", "bfloat16")

#: /proc/cpuinfo flags of CPU instructions that multiply bfloat16 matrices
#: (AMX tiles; AVX-512 bfloat16 dot products).
CPU_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


@functools.cache
def cpu_bf16_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The flags of :data:`CPU_BF16_FLAGS` this CPU reports (empty if unknown).

    Read from the first processor's ``flags`` line of ``/proc/cpuinfo``;
    systems without that file (macOS, Windows) report none, so ``"auto"``
    stays in float32 there.
    """
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return CPU_BF16_FLAGS & frozenset(value.split())
    return frozenset()


def _native_bf16(device: torch.device) -> bool:
    """Whether the CUDA GPU ``device`` (not the current one) has native bfloat16.

    Native bfloat16 arithmetic starts with compute capability 8 (Ampere); ROCm
    GPUs have it too.
    """
    if torch.version.hip:
        return True
    return torch.cuda.get_device_properties(device).major >= 8


def bf16_matrix_units(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices faster than float32 ones.

    CUDA GPUs of compute capability 8 or more (and ROCm GPUs); CPUs with AMX
    or avx512_bf16 (:func:`cpu_bf16_flags`). Not MPS: unmeasured there.
    """
    if device.type == "cuda":
        return _native_bf16(device)
    if device.type == "cpu":
        return bool(cpu_bf16_flags())
    return False


def hand_step_dtype(
    precision: str, device: torch.device, dtype: torch.dtype
) -> torch.dtype | None:
    """The dtype of the hand-derived step's products: bfloat16, or None (``dtype``).

    Parameters
    ----------
    precision : {"auto", "float32", "bfloat16"}
        The estimator's parameter.
    device : torch.device
        Where the fit trains.
    dtype : torch.dtype
        The fit's dtype (its data's and its master weights').

    Returns
    -------
    torch.dtype or None
        ``torch.bfloat16``, or None for products in ``dtype``.

    Examples
    --------
    >>> import torch
    >>> from skmnist._training.precision import hand_step_dtype
    >>> hand_step_dtype("bfloat16", torch.device("cpu"), torch.float32)
    torch.bfloat16
    >>> print(hand_step_dtype("bfloat16", torch.device("cpu"), torch.float64))
    None
    """
    if dtype != torch.float32 or precision == "float32":
        return None
    if precision == "bfloat16" or bf16_matrix_units(device):
        return torch.bfloat16
    return None


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def products_precision(
    autocast: Callable[[], contextlib.AbstractContextManager], dtype: torch.dtype
) -> str:
    """What an autograd step's products run in under ``autocast``: its name."""
    return dtype_name(dtype) if autocast is contextlib.nullcontext else "bfloat16"


def _autocast_factory(
    device: torch.device, dtype: torch.dtype
) -> Callable[[], contextlib.AbstractContextManager]:
    """What each autograd step enters under ``"auto"``: bf16 autocast, or nothing.

    bfloat16 autocast is for float32 training on GPUs with native bfloat16;
    older GPUs only emulate it, which is slower than float32, so they train in
    float32. Predictions always run in the model's own precision. Decided once
    per epoch, not per step.
    """
    if device.type == "cuda" and dtype == torch.float32 and _native_bf16(device):
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def autograd_autocast(
    device: torch.device, dtype: torch.dtype, precision: str
) -> Callable[[], contextlib.AbstractContextManager]:
    """What each step of the autograd path enters, for ``precision``.

    ``"float32"`` and float64 fits: nothing; ``"bfloat16"``: bfloat16
    autocast on the CPU and on CUDA; ``"auto"``: :func:`_autocast_factory`.
    """
    if precision == "float32" or dtype != torch.float32:
        return contextlib.nullcontext
    if precision == "bfloat16" and device.type in ("cpu", "cuda"):
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return _autocast_factory(device, dtype)
