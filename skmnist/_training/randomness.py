"""torch's random streams: seeded for a fit, one per network of a stack."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["Streams", "get_rng_states", "seeded", "set_rng_states"]


def get_rng_states(device: torch.device) -> tuple:
    """The states of torch's CPU generator and of ``device``'s (CUDA or MPS)."""
    if device.type == "cuda":
        return torch.get_rng_state(), torch.cuda.get_rng_state(device)
    if device.type == "mps":
        return torch.get_rng_state(), torch.mps.get_rng_state()
    return torch.get_rng_state(), None


def set_rng_states(device: torch.device, states: tuple) -> None:
    """Restore states made by :func:`get_rng_states` for the same device."""
    cpu, accelerator = states
    torch.set_rng_state(cpu)
    if device.type == "cuda":
        torch.cuda.set_rng_state(accelerator, device)
    elif device.type == "mps":
        torch.mps.set_rng_state(accelerator)


@contextlib.contextmanager
def seeded(device: torch.device, seed: int):
    """Seed torch's CPU generator (and ``device``'s) inside, restore them after.

    fit calls are meant to run one per process at a time: torch's generators
    are process-wide, so fits in parallel *threads* of one process would
    disturb each other's random streams.

    Training is reproducible for a given seed while the caller's global torch
    random state is left exactly as it was.
    """
    saved = get_rng_states(device)
    try:
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        elif device.type == "mps":
            torch.mps.manual_seed(seed)
        yield
    finally:
        set_rng_states(device, saved)


class Streams:
    """The random streams of the networks trained together, one each.

    A single fit (``states`` None) draws from torch's generators as they are
    (seeded by :func:`seeded`). Stacked networks each keep the generator
    states of their own single fit (``states[m]``), swapped in for every
    draw of network ``m``: its shuffles and distortions are those it would
    draw alone.
    """

    def __init__(self, device: torch.device, states: list | None = None) -> None:
        self.device = device
        self.states = states

    @contextlib.contextmanager
    def of(self, index: int):
        """Draw from network ``index``'s stream inside."""
        if self.states is None:
            yield
            return
        saved = get_rng_states(self.device)
        set_rng_states(self.device, self.states[index])
        try:
            yield
        finally:
            self.states[index] = get_rng_states(self.device)
            set_rng_states(self.device, saved)
