"""Randomized truncated BPTT (`random_truncation` of the garden's recurrent layers).

Checked at p != 0.5, where using p for 1 - p (the probability that the gradient
passes) changes the numbers: at p = 0.5 both give the same truncations. One step,
so each row's gradient is either cut or passed exactly once.
"""

import numpy as np
import pytest
import tensorflow as tf

import garden.layers as layers

ROWS = 20_000


def initial_state_gradients(layer_class, p, training):
    """Per-row gradient of a one-step output w.r.t. the initial state, many rows."""
    layer = layer_class(3, random_truncation=p, seed=0)
    rng = np.random.default_rng(0)
    one = rng.normal(size=(1, 1, 2)).astype("float32")
    layer(one)
    layer.set_weights(
        [rng.normal(scale=0.8, size=w.shape) for w in layer.get_weights()]
    )
    x = tf.constant(np.repeat(one, ROWS, axis=0))
    initial = [tf.Variable(tf.fill((ROWS, 3), 0.3)) for _ in layer.state_size]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, initial_state=initial, training=training))
    # Rows are independent: row i's gradient is that of row i's own loss.
    return np.asarray(tape.gradient(loss, initial[0]))


@pytest.mark.parametrize("layer_class", [layers.SimpleRNN, layers.GRU, layers.LSTM])
def test_one_step_gradient_is_cut_with_probability_p_and_scaled_by_1_over_1_minus_p(
    layer_class,
):
    p = 0.2
    full = initial_state_gradients(layer_class, p, training=False)
    randomized = initial_state_gradients(layer_class, p, training=True)
    assert np.all(full != 0.0)
    cut = np.all(randomized == 0.0, axis=1)
    # xi = 0 with probability p = 0.2 (not 1 - p = 0.8); the standard error of
    # the fraction over 20,000 rows is 0.003.
    assert abs(cut.mean() - p) < 0.015
    # Where the gradient passes it is the full one times 1 / (1 - p) = 1.25.
    np.testing.assert_allclose(randomized[~cut], full[~cut] / (1 - p), rtol=1e-5)
    # So its mean over the rows is the full gradient (unbiased).
    np.testing.assert_allclose(randomized.mean(0), full.mean(0), rtol=0.03)
