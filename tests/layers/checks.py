"""Checks the family test files run on their own cell: equations, gradients."""

import keras
import numpy as np

from tests.backends import GRADIENT_DTYPE, value_and_gradients
from tests.layers.numpy_reference import run_sequence

TOLERANCES = {"float64": 1e-10, "float32": 2e-5}


def random_weights(layer, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(scale=scale, size=w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


def check_against_numpy(layer_class, numpy_step, dtype, units=5, **kwargs):
    """The layer's outputs and states equal the NumPy equations, masked too."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 4)).astype(dtype)
    mask = np.arange(6)[None, :] < np.array([6, 3, 1])[:, None]
    layer = layer_class(
        units, return_sequences=True, return_state=True, dtype=dtype, **kwargs
    )
    layer(x)
    weights = random_weights(layer, seed=1)
    states = [rng.normal(size=(3, units)).astype(dtype) for _ in layer.state_size]
    outputs, *finals = layer(x, initial_state=states, mask=mask)
    assert keras.backend.standardize_dtype(outputs.dtype) == dtype

    def step(x_t, *state):
        return numpy_step(x_t.astype("float64"), *state, *weights)

    expected, expected_finals = run_sequence(
        step, x, tuple(s.astype("float64") for s in states), mask
    )
    atol = TOLERANCES[dtype]
    np.testing.assert_allclose(np.asarray(outputs), expected, atol=atol, rtol=0)
    for final, want in zip(finals, expected_finals):
        np.testing.assert_allclose(np.asarray(final), want, atol=atol, rtol=0)


def check_gradients(cell_class, units=3, **kwargs):
    """Autodiff gradients of a cell equal central finite differences.

    In float64 to 1e-6; in float32 (off TensorFlow, see `tests.backends`) with
    a wider step and to 1e-2, which still catches a wrong or missing term.
    """
    dtype = GRADIENT_DTYPE
    cell = cell_class(units, dtype=dtype, **kwargs)
    layer = keras.layers.RNN(cell, return_sequences=True, dtype=dtype)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 3)).astype(dtype)
    layer(x)
    random_weights(layer, seed=2)
    projection = rng.normal(size=(2, 4, units)).astype(dtype)

    def loss():
        return keras.ops.sum(layer(x) * keras.ops.convert_to_tensor(projection))

    _, gradients = value_and_gradients(loss, layer.trainable_weights)
    epsilon, tolerance = (1e-6, 1e-6) if dtype == "float64" else (1e-3, 1e-2)
    for variable, gradient in zip(layer.trainable_weights, gradients):
        flat = np.asarray(variable).ravel()
        for index in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            original = flat.copy()
            shifted = original.copy()
            shifted[index] += epsilon
            variable.assign(shifted.reshape(variable.shape))
            up = float(loss())
            shifted[index] -= 2 * epsilon
            variable.assign(shifted.reshape(variable.shape))
            down = float(loss())
            variable.assign(original.reshape(variable.shape))
            numeric = (up - down) / (2 * epsilon)
            analytic = float(np.asarray(gradient).ravel()[index])
            assert abs(numeric - analytic) <= tolerance * max(1.0, abs(numeric)), (
                variable.path,
                index,
                numeric,
                analytic,
            )
