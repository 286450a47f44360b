"""Dropout of every cell in training mode, against NumPy with the same masks.

DropConnect on W_hh (`weight_dropout`) is checked the same way: the cell's
draw of W_hh * M / (1 - p) for the coming sequence is taken before the call,
and the NumPy equations run every step on it.

The Keras loop draws a cell's two masks once per call (`get_dropout_mask` on
X_1, `get_recurrent_dropout_mask` on H_0) and keeps them cached for every
step. Asking the cell for them before the call draws them, hands them to the
test and makes the call use exactly those masks, so the NumPy equations can
run with the same ones: X_t * m_x enters the gates, H_{t-1} * m_h enters the
recurrent products, and the GRU's update mixes the undropped H_{t-1}.
"""

import numpy as np
import pytest
from keras import ops

from garden.layers import GRU, LSTM, SimpleRNN
from tests.backends import value_and_gradients
from tests.layers.checks import random_weights
from tests.layers.numpy_reference import (
    gru_step,
    lstm_step,
    run_sequence,
    simple_rnn_step,
)

UNITS, FEATURES = 5, 4  # different, so an input mask cannot pass for a state mask


def reference_step(family, weights, input_mask, recurrent_mask):
    """`step(x_t, *states)` of `family` with the two masks (None: no dropout)."""
    m_x = 1.0 if input_mask is None else input_mask
    m_h = 1.0 if recurrent_mask is None else recurrent_mask
    if family == "simple_rnn":
        return lambda x, h: simple_rnn_step(x * m_x, h * m_h, *weights)
    if family == "lstm":
        return lambda x, h, c: lstm_step(x * m_x, h * m_h, c, *weights)
    reset_after = family == "gru"
    return lambda x, h: gru_step(
        x * m_x, h, *weights, reset_after=reset_after, h_dropped=h * m_h
    )


FAMILIES = {
    "simple_rnn": (SimpleRNN, {}),
    "gru": (GRU, {"reset_after": True}),
    "gru_reset_before": (GRU, {"reset_after": False}),
    "lstm": (LSTM, {}),
}
RATES = [(0.3, 0.0), (0.0, 0.4), (0.3, 0.4)]


def layer_and_data(family, dropout, recurrent_dropout, weight_dropout=0.0):
    layer_class, extra = FAMILIES[family]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, FEATURES))
    layer = layer_class(
        UNITS,
        return_sequences=True,
        return_state=True,
        dtype="float64",
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        weight_dropout=weight_dropout,
        seed=11,
        **extra,
    )
    layer(x)
    weights = random_weights(layer, seed=1)
    states = [rng.normal(size=(4, UNITS)) for _ in layer.state_size]
    return layer, weights, x, states


def draw_masks(cell, x, states):
    """Draws (and caches for the next call) the cell's two dropout masks."""
    input_mask = cell.get_dropout_mask(ops.convert_to_tensor(x[:, 0]))
    recurrent_mask = cell.get_recurrent_dropout_mask(ops.convert_to_tensor(states[0]))
    return (None if m is None else np.asarray(m) for m in (input_mask, recurrent_mask))


def assert_matches(got, want):
    outputs, *finals = got
    expected, expected_finals = want
    np.testing.assert_allclose(np.asarray(outputs), expected, atol=1e-10, rtol=0)
    for final, state in zip(finals, expected_finals):
        np.testing.assert_allclose(np.asarray(final), state, atol=1e-10, rtol=0)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("dropout, recurrent_dropout", RATES)
@pytest.mark.parametrize("family", FAMILIES)
def test_training_dropout_matches_numpy_with_the_same_masks(
    family, dropout, recurrent_dropout, masked
):
    layer, weights, x, states = layer_and_data(family, dropout, recurrent_dropout)
    mask = np.arange(6)[None, :] < np.array([6, 3, 1, 5])[:, None] if masked else None
    input_mask, recurrent_mask = draw_masks(layer.cell, x, states)
    for rate, drawn, width in [
        (dropout, input_mask, FEATURES),
        (recurrent_dropout, recurrent_mask, UNITS),
    ]:
        if rate == 0.0:
            assert drawn is None
            continue
        # Inverted dropout: a unit is dropped (0) or kept and scaled by 1/(1-p).
        assert drawn.shape == (4, width)
        assert set(np.unique(drawn).round(12)) == {0.0, round(1.0 / (1.0 - rate), 12)}
    got = layer(x, initial_state=states, mask=mask, training=True)

    step = reference_step(family, weights, input_mask, recurrent_mask)
    want = run_sequence(step, x, tuple(states), mask)
    assert_matches(got, want)
    # The masks matter: without them the numbers differ.
    plain = run_sequence(reference_step(family, weights, None, None), x, states, mask)
    assert not np.allclose(np.asarray(got[0]), plain[0], atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_no_dropout_outside_training(family):
    layer, weights, x, states = layer_and_data(family, 0.3, 0.4)
    want = run_sequence(reference_step(family, weights, None, None), x, states)
    for training in (False, None):
        assert_matches(layer(x, initial_state=states, training=training), want)


@pytest.mark.parametrize("family", ["simple_rnn", "gru", "lstm"])
def test_each_mask_drops_its_own_rate(family):
    """m_x drops `dropout` of X, m_h drops `recurrent_dropout` of H, at each call."""
    layer_class, extra = FAMILIES[family]
    layer = layer_class(UNITS, dropout=0.1, recurrent_dropout=0.6, seed=5, **extra)
    x = np.ones((4000, 3, FEATURES), "float32")
    layer(x)
    states = [np.ones((4000, UNITS), "float32") for _ in layer.state_size]
    input_mask, recurrent_mask = draw_masks(layer.cell, x, states)
    assert abs((input_mask == 0).mean() - 0.1) < 0.02
    assert abs((recurrent_mask == 0).mean() - 0.6) < 0.02
    np.testing.assert_allclose(input_mask.max(), 1 / 0.9, rtol=1e-6)
    np.testing.assert_allclose(recurrent_mask.max(), 1 / 0.4, rtol=1e-6)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_weight_dropout_runs_every_step_on_one_dropped_recurrent_kernel(family, masked):
    layer, weights, x, states = layer_and_data(family, 0.0, 0.0, weight_dropout=0.4)
    mask = np.arange(6)[None, :] < np.array([6, 3, 1, 5])[:, None] if masked else None
    dropped = np.asarray(layer.cell.recurrent_weights(training=True))
    kept = dropped != 0.0
    # DropConnect: each weight is dropped or kept and scaled by 1 / (1 - p).
    np.testing.assert_allclose(dropped[kept], weights[1][kept] / 0.6, rtol=1e-12)
    assert 0.2 < 1.0 - kept.mean() < 0.6
    got = layer(x, initial_state=states, mask=mask, training=True)
    # One W_hh for all six steps: a mask drawn per step would not match.
    masked_weights = [weights[0], dropped, weights[2]]
    step = reference_step(family, masked_weights, None, None)
    assert_matches(got, run_sequence(step, x, tuple(states), mask))
    # The next call draws a new mask.
    again = layer(x, initial_state=states, mask=mask, training=True)
    assert not np.allclose(np.asarray(again[0]), np.asarray(got[0]), atol=1e-6)


@pytest.mark.parametrize("family", ["gru", "lstm"])
def test_weight_dropout_composes_with_both_dropout_masks(family):
    layer, weights, x, states = layer_and_data(family, 0.3, 0.4, weight_dropout=0.5)
    input_mask, recurrent_mask = draw_masks(layer.cell, x, states)
    dropped = np.asarray(layer.cell.recurrent_weights(training=True))
    got = layer(x, initial_state=states, training=True)
    step = reference_step(
        family, [weights[0], dropped, weights[2]], input_mask, recurrent_mask
    )
    assert_matches(got, run_sequence(step, x, tuple(states)))


@pytest.mark.parametrize("family", FAMILIES)
def test_weight_dropout_is_off_in_inference_and_nothing_at_rate_zero(family):
    layer, weights, x, states = layer_and_data(family, 0.0, 0.0, weight_dropout=0.5)
    want = run_sequence(reference_step(family, weights, None, None), x, states)
    for training in (False, None):
        assert_matches(layer(x, initial_state=states, training=training), want)
    # Rate 0: the plain equations in training too, and no random draw at all.
    layer, weights, x, states = layer_and_data(family, 0.0, 0.0, weight_dropout=0.0)
    seed_state = np.asarray(layer.cell.seed_generator.state)
    want = run_sequence(reference_step(family, weights, None, None), x, states)
    assert_matches(layer(x, initial_state=states, training=True), want)
    np.testing.assert_array_equal(
        np.asarray(layer.cell.seed_generator.state), seed_state
    )


def zero_gradients_of_recurrent_kernel(weight_dropout):
    """Which entries of d loss / d W_hh are exactly zero after one training call.

    The draw happens inside the differentiated call, as in training, so the
    tape sees W_hh -> W_hh * M / (1 - p).
    """
    layer, _, x, states = layer_and_data("lstm", 0.0, 0.0, weight_dropout)

    def loss():
        return ops.sum(layer(x, initial_state=states, training=True)[0] ** 2)

    _, (gradient,) = value_and_gradients(loss, [layer.cell.recurrent_kernel])
    return np.asarray(gradient) == 0.0


def test_weight_dropout_gradient_reaches_only_the_kept_weights():
    # About half the weights dropped for the whole sequence get no gradient;
    # a mask drawn anew at each step would leave almost none at zero.
    assert 0.35 < zero_gradients_of_recurrent_kernel(0.5).mean() < 0.65
    assert not zero_gradients_of_recurrent_kernel(0.0).any()
