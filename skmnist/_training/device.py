"""Resolution of the ``device`` parameter to a concrete :class:`torch.device`."""

from __future__ import annotations

import atexit
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from .device_names import check_device_name

try:  # POSIX advisory locks; elsewhere processes fall back to pid % devices
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["check_device_name", "claim_device", "resolve_device"]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


#: Lock files held open for the life of the process (one per claim).
_held_claims: list = []
#: The CUDA index claimed by this process for device="auto", once claimed.
_claimed_index: int | None = None


@atexit.register
def _release_claims() -> None:
    """Close the held lock files at exit (the system would, but less quietly)."""
    for handle in _held_claims:
        handle.close()
    _held_claims.clear()


def _forget_claims() -> None:
    """A forked child claims a device of its own; it must not inherit the parent's."""
    global _claimed_index
    _held_claims.clear()  # the parent's descriptors stay open in the parent
    _claimed_index = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_claims)


def _claims_dir() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"skmnist-device-claims-{uid}"


def claim_device(device_ids: Sequence[str], lock_dir: str | os.PathLike) -> int:
    """Claim one of several devices for this process, spreading processes evenly.

    Each device has numbered slots, lock files under ``lock_dir`` named after
    the device's id. The process takes the first free slot of level 0 (one
    process per device), then of level 1, and so on, and holds the lock until
    it exits, so the first ``len(device_ids)`` processes of a host get
    different devices and later ones share them round-robin. The operating
    system releases the locks of processes that end, however they end. If
    the lock folder cannot be used, the process takes ``pid % len(device_ids)``.

    Parameters
    ----------
    device_ids : sequence of str
        Stable identifiers of the visible devices (CUDA UUIDs), in index order.
    lock_dir : str or path-like
        Folder of the lock files, shared by the processes that coordinate.

    Returns
    -------
    int
        The index in ``device_ids`` of the claimed device.

    Examples
    --------
    >>> import tempfile
    >>> from skmnist._training.device import claim_device
    >>> folder = tempfile.mkdtemp()
    >>> claim_device(["GPU-a", "GPU-b"], folder)
    0
    """
    if fcntl is None:  # pragma: no cover - Windows
        return os.getpid() % len(device_ids)
    folder = Path(lock_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # no usable lock folder: spread by process id instead
        return os.getpid() % len(device_ids)
    level = 0
    while True:
        for index, ident in enumerate(device_ids):
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(ident))
            try:
                handle = open(folder / f"{name}.slot{level}.lock", "a")
            except OSError:
                return os.getpid() % len(device_ids)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            _held_claims.append(handle)
            return index
        level += 1


def _cuda_device_ids() -> list[str]:
    ids = []
    for index in range(torch.cuda.device_count()):
        properties = torch.cuda.get_device_properties(index)
        uuid = getattr(properties, "uuid", None)
        ids.append(str(uuid) if uuid is not None else f"cuda{index}")
    return ids


def _auto_cuda_index() -> int:
    """This process's GPU: the only one, or the one it claimed among several."""
    global _claimed_index
    if torch.cuda.device_count() == 1:
        return 0
    if _claimed_index is None:
        _claimed_index = claim_device(_cuda_device_ids(), _claims_dir())
    return _claimed_index


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn the estimator's ``device`` parameter into a usable torch device.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA when available, then Apple MPS, then the CPU.
        With several visible GPUs each process claims its own (see
        :func:`claim_device`): the first processes of a host (dask or joblib
        workers) get different GPUs, and a process keeps its GPU for all its
        fits. ``CUDA_VISIBLE_DEVICES`` decides which GPUs are visible.
        Anything else names a device explicitly (``"cpu"``, ``"cuda"``,
        ``"cuda:1"``, ``"mps"``).

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
    >>> from skmnist._training.device import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", _auto_cuda_index())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    check_device_name(device)
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
