import numpy as np
import pytest

from garden.layers import GRU, GRUCell
from tests.backends import FLOAT64
from tests.layers.checks import check_against_numpy, check_gradients
from tests.layers.numpy_reference import gru_step


@pytest.mark.parametrize("dtype", [FLOAT64, "float32"])
@pytest.mark.parametrize("reset_after", [True, False])
def test_matches_numpy_equations(dtype, reset_after):
    def step(x, h, kernel, recurrent_kernel, bias):
        return gru_step(x, h, kernel, recurrent_kernel, bias, reset_after)

    check_against_numpy(GRU, step, dtype, reset_after=reset_after)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gradients_match_finite_differences(reset_after):
    check_gradients(GRUCell, reset_after=reset_after)


def test_bias_layout_follows_reset_after():
    x = np.ones((1, 2, 3), "float32")
    after, before = GRU(4, reset_after=True), GRU(4, reset_after=False)
    after(x)
    before(x)
    assert after.cell.bias.shape == (2, 12)
    assert before.cell.bias.shape == (12,)


def test_update_gate_closed_copies_the_state():
    """Z_t = 1 keeps H_{t-1} whatever the input: the GRU's long memory."""
    layer = GRU(3, return_sequences=True)
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
    layer(x)
    kernel, recurrent, bias = layer.get_weights()
    kernel[:, :3] = 0.0
    recurrent[:, :3] = 0.0
    bias[0, :3] = 50.0  # z block: sigmoid(50) == 1 in float32
    layer.set_weights([kernel, recurrent, bias])
    h0 = np.array([[0.5, -0.25, 1.0], [1.0, 2.0, -3.0]], "float32")
    outputs = np.asarray(layer(x, initial_state=[h0]))
    for t in range(5):
        np.testing.assert_allclose(outputs[:, t], h0, atol=1e-6)
