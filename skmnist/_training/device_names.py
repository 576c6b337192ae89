"""The names the ``device`` parameter takes, checked without importing torch.

The command line checks ``--device`` with :func:`check_device_name` while it
parses its arguments, before anything imports torch.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["check_device_name"]

_EXPLICIT = re.compile(r"^(cpu|mps|cuda)(:\d+)?$")


def check_device_name(device: str | torch.device) -> None:
    """Raise ValueError unless ``device`` is ``"auto"`` or names a device.

    Only the name is checked, not whether this machine has the device.

    Parameters
    ----------
    device : str or torch.device
        The estimator's ``device`` parameter.

    Examples
    --------
    >>> from skmnist._training.device_names import check_device_name
    >>> check_device_name("cuda:1")
    >>> check_device_name("tpu")
    Traceback (most recent call last):
    ...
    ValueError: device='tpu' is not a device: ...
    """
    torch = sys.modules.get("torch")  # a torch.device exists only once it is
    if torch is not None and isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return
    if not isinstance(device, str) or not _EXPLICIT.match(device):
        raise ValueError(
            f"device={device!r} is not a device: use 'auto', 'cpu', 'cuda', "
            "'cuda:<index>' or 'mps'."
        )
