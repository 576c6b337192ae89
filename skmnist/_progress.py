"""Progress reporting for ``verbose``: a bar over epochs or one line per epoch."""

from __future__ import annotations

import sys

__all__ = ["EpochReporter", "epoch_message"]


def epoch_message(info: dict) -> str:
    """One log line for an epoch's metrics (the dict the engine's callbacks get).

    Examples
    --------
    >>> from skmnist._progress import epoch_message
    >>> epoch_message({"epoch": 3, "loss": 0.25, "validation_score": None,
    ...                "duration": 2.0, "n_samples": 1000})
    'Iteration 3, loss = 0.25000000, 2.00 s, 500 samples/s'
    """
    message = f"Iteration {info['epoch']}, loss = {info['loss']:.8f}"
    if info["validation_score"] is not None:
        message += f", validation score = {info['validation_score']:.6f}"
    speed = info["n_samples"] / max(info["duration"], 1e-9)
    return f"{message}, {info['duration']:.2f} s, {speed:,.0f} samples/s"


class EpochReporter:
    """Reports each epoch: a tqdm bar for ``verbose=1``, log lines for ``verbose>=2``.

    Without tqdm installed, ``verbose=1`` falls back to log lines.

    Parameters
    ----------
    verbose : int
        The estimator's ``verbose``; nothing is reported when it is 0.
    total : int
        Maximum number of epochs (the bar's length).
    desc : str, default="training"
        Label of the bar.

    Examples
    --------
    >>> from skmnist._progress import EpochReporter
    >>> report = EpochReporter(verbose=2, total=5)
    >>> report({"epoch": 1, "loss": 0.5, "validation_score": 0.9, "duration": 1.0,
    ...         "n_samples": 100})
    Iteration 1, loss = 0.50000000, validation score = 0.900000, 1.00 s, 100 samples/s
    >>> report.close()
    """

    def __init__(self, verbose: int, total: int, desc: str = "training") -> None:
        self.verbose = verbose
        self.bar = None
        if verbose == 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc=desc, unit="epoch", file=sys.stderr)

    def __call__(self, info: dict) -> None:
        if self.bar is not None:
            postfix = {"loss": f"{info['loss']:.4f}"}
            if info["validation_score"] is not None:
                postfix["val"] = f"{info['validation_score']:.4f}"
            postfix["samples/s"] = (
                f"{info['n_samples'] / max(info['duration'], 1e-9):,.0f}"
            )
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)
        elif self.verbose:
            print(epoch_message(info), flush=True)

    def close(self) -> None:
        """Close the bar, if any."""
        if self.bar is not None:
            self.bar.close()
