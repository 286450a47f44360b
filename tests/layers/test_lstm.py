import numpy as np
import pytest

from garden.layers import LSTM, LSTMCell
from tests.backends import FLOAT64
from tests.layers.checks import check_against_numpy, check_gradients
from tests.layers.numpy_reference import lstm_step


@pytest.mark.parametrize("dtype", [FLOAT64, "float32"])
def test_matches_numpy_equations(dtype):
    check_against_numpy(LSTM, lstm_step, dtype)


def test_gradients_match_finite_differences():
    check_gradients(LSTMCell)


@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_forget_gate_bias_starts_at_one(unit_forget_bias):
    layer = LSTM(3)
    if not unit_forget_bias:
        layer = LSTM(3, unit_forget_bias=False)
    layer(np.ones((1, 2, 4), "float32"))
    bias = np.asarray(layer.cell.bias)
    expected_forget = 1.0 if unit_forget_bias else 0.0
    np.testing.assert_array_equal(bias[3:6], expected_forget)
    np.testing.assert_array_equal(np.delete(bias, np.s_[3:6]), 0.0)


def test_returns_hidden_and_memory_states():
    layer = LSTM(3, return_sequences=True, return_state=True)
    x = np.random.default_rng(0).normal(size=(2, 4, 5)).astype("float32")
    outputs, h, c = (np.asarray(t) for t in layer(x))
    np.testing.assert_array_equal(outputs[:, -1], h)
    # H_t = O_t * tanh(C_t), so |H_t| <= |tanh(C_t)| and the two differ.
    assert np.all(np.abs(h) <= np.abs(np.tanh(c)) + 1e-7)
    assert not np.allclose(h, c)
