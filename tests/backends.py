"""What differs between Keras backends in the tests: gradients and float64.

Gradients: TensorFlow records a tape; JAX differentiates a pure function, so
the loss runs in a `keras.StatelessScope` that reads the variables from its
argument; PyTorch asks autograd.
"""

import keras
import pytest

BACKEND = keras.backend.backend()

# Off TensorFlow, Keras promotes 64-bit dtypes to 32-bit
# (`keras.backend.result_type("float64", float)` is "float32" on JAX), so
# `ops.tanh` of a float64 tensor is float32 and 1e-10 checks cannot hold.
FLOAT64 = pytest.param(
    "float64",
    marks=pytest.mark.tensorflow_only(
        reason="Keras computes float64 in float32 off TensorFlow"
    ),
)
# Finite-difference checks need float64 where Keras has it.
GRADIENT_DTYPE = "float64" if BACKEND == "tensorflow" else "float32"


def value_and_gradients(loss, variables):
    """`(loss(), [d loss / d v for v in variables])` for a scalar `loss()`."""
    backend = BACKEND
    values = [v.value for v in variables]
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(values)  # also the non-trainable ones (inputs, states)
            value = loss()
        return value, tape.gradient(value, values)
    if backend == "jax":
        import jax

        def pure(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return loss()

        return jax.value_and_grad(pure)(values)
    if backend == "torch":
        import torch

        for tensor in values:  # also the non-trainable ones (inputs, states)
            tensor.requires_grad_(True)
        with torch.enable_grad():  # the tests run without it (conftest.py)
            value = loss()
            return value, list(torch.autograd.grad(value, values))
    raise NotImplementedError(f"No gradients on the {backend!r} backend.")
