"""The GPUs the Keras backend sees, on every backend.

Keras only, no TensorFlow: scripts that run where only JAX or PyTorch is
installed (`benchmarks/gpu_speed.py`) import it beside `garden.layers`.
"""

import keras


def visible_gpus():
    """The names of the GPUs the Keras backend sees (an empty list: none)."""
    if keras.backend.backend() == "torch":  # Keras has no device list for it
        import torch

        return [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    try:
        return keras.distribution.list_devices("gpu")
    except RuntimeError:  # JAX's answer when it has no GPU platform
        return []
