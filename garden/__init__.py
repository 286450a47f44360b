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
