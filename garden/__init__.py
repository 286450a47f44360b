"""The recurrent garden: recurrent text models from their equations, for Keras 3."""

__version__ = "0.1.0"

import os  # noqa: E402

# Set by the `garden` command while it parses flags, so `--help` answers before
# Keras and TensorFlow load; the command registers the objects itself afterwards.
DEFER_KERAS_ENV = "GARDEN_DEFER_KERAS"


def register_keras_objects():
    """Imports the modules that define Keras objects, which registers them.

    So `keras.saving.load_model` opens any garden `.keras` file after
    `import garden`.
    """
    from garden import layers, models  # noqa: F401
    from garden.training import (  # noqa: F401
        losses,
        metrics,
        sampled_softmax,
        sentiment_metrics,
        tagging_metrics,
    )


if not os.environ.get(DEFER_KERAS_ENV):
    register_keras_objects()


def load(path):
    """Opens any garden export for calls on raw strings (`garden.export.load`).

    >>> model = garden.load("saved_models/sentiment")  # doctest: +SKIP
    >>> model(["A wonderful film."])["label"]  # doctest: +SKIP
    """
    from garden.export.load import load as load_export

    return load_export(path)
