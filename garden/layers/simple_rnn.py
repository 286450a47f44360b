"""The simple (Elman) recurrent network: cell and sequence layer."""

import keras
from keras import ops

from garden.layers.recurrent import RecurrentCell, RecurrentLayer


@keras.saving.register_keras_serializable(package="garden")
class SimpleRNNCell(RecurrentCell):
    """One step of the Elman network (Elman, 1990).

        H_t = phi(X_t W_xh + H_{t-1} W_hh + b_h)

    with phi = tanh by default (relu and linear are the other usual choices).
    Weights use Keras's layout: `kernel` is W_xh (input_dim, units),
    `recurrent_kernel` is W_hh (units, units), `bias` is b_h (units,).

    Args:
        units: Positive integer, the size of H_t.
        activation: phi. Default "tanh".
        **kwargs: The other Keras cell arguments (initializers, regularizers,
            constraints, `dropout`, `recurrent_dropout`, `seed`), see
            `garden.layers.recurrent.RecurrentCell`.

    Call arguments:
        inputs: X_t, `(batch, input_dim)`.
        states: `[H_{t-1}]`.
        training: Whether dropout is applied.

    Returns:
        `(H_t, [H_t])`.

    Example:

    >>> import numpy as np
    >>> cell = SimpleRNNCell(4)
    >>> h, [state] = cell(np.ones((2, 3), "float32"), [np.zeros((2, 4), "float32")])
    >>> tuple(h.shape)
    (2, 4)
    """

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        self.add_recurrent_weights(input_shape[-1], gates=1)

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        x, h_dropped = self.drop_inputs(inputs, h_prev, training)
        recurrent_kernel = self.recurrent_weights(training)
        z = ops.matmul(x, self.kernel) + ops.matmul(h_dropped, recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        h = self.activation(z)
        return h, [h] if isinstance(states, (list, tuple)) else h


@keras.saving.register_keras_serializable(package="garden")
class SimpleRNN(RecurrentLayer):
    """The Elman network over a sequence: `SimpleRNNCell` run by Keras's loop.

    Takes the arguments of `keras.layers.SimpleRNN` and holds the same weights
    under the same names, so `set_weights` moves weights both ways.

    Args:
        units: Positive integer, the size of the hidden state.
        activation: phi of `SimpleRNNCell`. Default "tanh".
        **kwargs: The cell's arguments and those of
            `garden.layers.recurrent.RecurrentLayer` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, ...).

    Example:

    >>> import numpy as np
    >>> layer = SimpleRNN(8, return_sequences=True)
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 5, 8)
    """

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, activation=activation, **kwargs)
