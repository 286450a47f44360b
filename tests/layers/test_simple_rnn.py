import keras
import numpy as np
import pytest

from garden.layers import SimpleRNN, SimpleRNNCell
from tests.backends import FLOAT64
from tests.layers.checks import check_against_numpy, check_gradients
from tests.layers.numpy_reference import simple_rnn_step

PHI = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0), "linear": lambda z: z}


@pytest.mark.parametrize("dtype", [FLOAT64, "float32"])
@pytest.mark.parametrize("activation", list(PHI))
def test_matches_numpy_equations(dtype, activation):
    def step(x, h, kernel, recurrent_kernel, bias):
        return simple_rnn_step(x, h, kernel, recurrent_kernel, bias, PHI[activation])

    check_against_numpy(SimpleRNN, step, dtype, activation=activation)


@pytest.mark.parametrize("activation", ["tanh", "relu", "linear"])
def test_gradients_match_finite_differences(activation):
    check_gradients(SimpleRNNCell, activation=activation)


def test_lecture_worked_example():
    """h_t = U h_{t-1} + W x_t, o_t = softmax(V h_t), worked out by hand.

    With column vectors: h1 = U h0 + W x1 = [2, -1] + [2, 1] = [4, 0];
    h2 = U h1 + W x2 = [8, 4] + [-1, 1] = [7, 5]. V h1 = [4, -4, 0] -> ADJ,
    V h2 = [7, -2, 15] -> NOUN. Keras multiplies rows (x @ kernel), so the
    kernels are the transposes of the lecture's matrices.
    """
    U = np.array([[2, 0], [1, 2]], "float32")
    W = np.array([[2, 0, -1], [1, -1, 1]], "float32")
    V = np.array([[1, 0], [-1, 1], [0, 3]], "float32")
    h0 = np.array([[1, -1]], "float32")
    x = np.array([[[1, 0, 0], [0, 0, 1]]], "float32")
    rnn = SimpleRNN(2, activation="linear", use_bias=False, return_sequences=True)
    rnn(x)
    rnn.set_weights([W.T, U.T])
    output = keras.layers.Dense(3, use_bias=False, activation="softmax")
    output.build((None, 2))
    output.set_weights([V.T])

    h = np.asarray(rnn(x, initial_state=[h0]))
    np.testing.assert_array_equal(h[0], [[4, 0], [7, 5]])
    labels = ["ADJ", "DET", "NOUN"]
    predicted = np.asarray(output(h)).argmax(-1)[0]
    assert [labels[i] for i in predicted] == ["ADJ", "NOUN"]
