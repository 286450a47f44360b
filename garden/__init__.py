"""The recurrent garden: recurrent text models from their equations, for Keras 3."""

__version__ = "0.1.0"

# Importing the modules that define Keras objects registers them with Keras, so
# `keras.saving.load_model` opens any garden `.keras` file after `import garden`.
from garden import layers, models  # noqa: E402, F401
from garden.training import (  # noqa: E402, F401
    metrics,
    sampled_softmax,
    sentiment_metrics,
    tagging_metrics,
)


def load(path):
    """Opens any garden export for calls on raw strings (`garden.export.load`).

    >>> model = garden.load("saved_models/sentiment")  # doctest: +SKIP
    >>> model(["A wonderful film."])["label"]  # doctest: +SKIP
    """
    from garden.export.load import load as load_export

    return load_export(path)
