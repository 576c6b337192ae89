"""Keras 3 as a contender of ``compare.py``: its own scikit-learn wrapper.

``keras.wrappers.SKLearnClassifier`` (Keras 3.5 and later) expresses the
protocol as it is: a function building and compiling the network from
``X`` and ``y`` (784-256-10, ReLU, softmax, Adam at 1e-3 with the epsilon
of torch and scikit-learn, 1e-8), and ``fit_kwargs`` for the batch size,
the epochs and silence (``verbose=0``); Keras shuffles each epoch by
default. The wrapper one-hot encodes the labels, as a user's fit would.

Keras picks its backend once, from ``KERAS_BACKEND`` when it is first
imported, so each Keras contender runs in a process of its own with the
environment of :func:`environment`; :func:`maker` refuses a process whose
Keras already runs another backend.

The wrapper has no ``predict_proba``: its ``decision_function`` returns the
network's output (here softmax probabilities) through ``model_.predict(X)``,
which prints a progress bar. :class:`KerasClassifier` calls
``model_.predict(X, verbose=0)``, the same call without the bar, at Keras's
default batch of 32.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

#: contender name -> Keras backend.
BACKENDS = {"Keras 3 (JAX)": "jax", "Keras 3 (torch)": "torch"}
#: contender name -> the modules it needs beyond the bench extra's others.
REQUIRES = {"Keras 3 (JAX)": ("keras", "jax"), "Keras 3 (torch)": ("keras",)}


def environment(name: str, device: str) -> dict[str, str]:
    """The variables a Keras contender's process starts with (none for others).

    The backend, and the device: Keras' torch backend would take a GPU that
    torch sees even for a CPU comparison, and JAX a GPU plugin if one is
    installed.
    """
    if name not in BACKENDS:
        return {}
    on_cpu = not str(device).startswith("cuda")
    return {
        "KERAS_BACKEND": BACKENDS[name],
        "KERAS_TORCH_DEVICE": str(device),
        "JAX_PLATFORMS": "cpu" if on_cpu else "cuda",
    }


class KerasClassifier:
    """``SKLearnClassifier``, with probabilities from the fitted Keras model."""

    def __init__(self, estimator) -> None:
        self.estimator = estimator

    def fit(self, X: np.ndarray, y: np.ndarray) -> KerasClassifier:
        self.estimator.fit(X, y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.estimator.model_.predict(X, verbose=0))


def _network(X, y, hidden: int, learning_rate: float, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((X.shape[1],)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(y.shape[1], activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, epsilon=1e-8),
        loss="categorical_crossentropy",
    )
    return model


def maker(name: str, hidden: int, batch: int, learning_rate: float) -> Callable:
    """``make(device, seed, epochs)`` of the Keras contender ``name``."""
    backend = BACKENDS[name]

    def make(device: str, seed: int, epochs: int) -> KerasClassifier:
        for key, value in environment(name, device).items():
            os.environ.setdefault(key, value)
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(
                f"{name} needs a process of its own: Keras runs the "
                f"{keras.backend.backend()} backend here"
            )
        from keras.wrappers import SKLearnClassifier

        return KerasClassifier(
            SKLearnClassifier(
                model=_network,
                model_kwargs={
                    "hidden": hidden,
                    "learning_rate": learning_rate,
                    "seed": seed,
                },
                fit_kwargs={"batch_size": batch, "epochs": epochs, "verbose": 0},
            )
        )

    return make
