"""Resolution of the ``device`` parameter to a concrete :class:`torch.device`."""

from __future__ import annotations

import re

import torch

__all__ = ["resolve_device"]

_EXPLICIT = re.compile(r"^(cpu|mps|cuda)(:\d+)?$")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn the estimator's ``device`` parameter into a usable torch device.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA when available (the process's current CUDA
        device), then Apple MPS, then the CPU. Anything else names a device
        explicitly (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).

    Returns
    -------
    torch.device
        A device with an explicit index for CUDA.

    Raises
    ------
    ValueError
        If the name is not a device, or names a device this machine lacks.

    Examples
    --------
    >>> from skmnist._device import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(device, str) or not _EXPLICIT.match(device):
        raise ValueError(
            f"device={device!r} is not a device: use 'auto', 'cpu', 'cuda', "
            "'cuda:<index>' or 'mps'."
        )
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on "
                "this machine (torch.cuda.is_available() is False). Use "
                "device='auto' or 'cpu', or install a CUDA build of PyTorch."
            )
        count = torch.cuda.device_count()
        index = (
            torch.cuda.current_device() if resolved.index is None else resolved.index
        )
        if index >= count:
            raise ValueError(
                f"device={device!r} was requested but only {count} CUDA "
                f"device(s) are visible (indices 0..{count - 1})."
            )
        return torch.device("cuda", index)
    if resolved.type == "mps" and not _mps_available():
        raise ValueError(f"device={device!r} was requested but MPS is not available.")
    return resolved
