"""Long short-term memory: cell and sequence layer."""

import keras
from keras import initializers, ops

# The fused kernel is looked up on this module at call time, as Keras does.
from keras.src import backend as keras_backend

from garden.layers.recurrent import FusedRecurrentLayer, RecurrentCell, get_activation


@keras.saving.register_keras_serializable(package="garden")
class LSTMCell(RecurrentCell):
    """One step of long short-term memory (Hochreiter and Schmidhuber, 1997).

        I_t = sigmoid(X_t W_xi + H_{t-1} W_hi + b_i)      input gate
        F_t = sigmoid(X_t W_xf + H_{t-1} W_hf + b_f)      forget gate
        O_t = sigmoid(X_t W_xo + H_{t-1} W_ho + b_o)      output gate
        C~_t = tanh(X_t W_xc + H_{t-1} W_hc + b_c)        candidate memory
        C_t = F_t * C_{t-1} + I_t * C~_t                  memory cell
        H_t = O_t * tanh(C_t)                             hidden state

    Weights use Keras's layout: `kernel` (input_dim, 4 * units),
    `recurrent_kernel` (units, 4 * units) and `bias` (4 * units,) hold the
    blocks in the order i, f, c, o. With `unit_forget_bias` (the default) b_f
    starts at 1, so the cell remembers by default (Jozefowicz et al., 2015).

    Args:
        units: Positive integer, the size of H_t and C_t.
        activation: Activation of the candidate and of C_t. Default "tanh".
        recurrent_activation: Activation of the gates. Default "sigmoid".
        unit_forget_bias: Whether b_f is initialised to 1. Default True.
        **kwargs: The other Keras cell arguments, see
            `garden.layers.recurrent.RecurrentCell`.

    Call arguments:
        inputs: X_t, `(batch, input_dim)`.
        states: `[H_{t-1}, C_{t-1}]`.
        training: Whether dropout is applied.

    Returns:
        `(H_t, [H_t, C_t])`.

    Example:

    >>> import numpy as np
    >>> cell = LSTMCell(4)
    >>> zeros = np.zeros((2, 4), "float32")
    >>> h, [h_state, c_state] = cell(np.ones((2, 3), "float32"), [zeros, zeros])
    >>> tuple(c_state.shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = get_activation(
            "recurrent_activation", recurrent_activation
        )
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        bias_initializer = None
        if self.unit_forget_bias:

            def bias_initializer(shape, dtype=None):
                block = (self.units,)
                return ops.concatenate(
                    [
                        self.bias_initializer(block, dtype=dtype),
                        initializers.Ones()(block, dtype=dtype),
                        self.bias_initializer((2 * self.units,), dtype=dtype),
                    ]
                )

        self.add_recurrent_weights(
            input_shape[-1], gates=4, bias_initializer=bias_initializer
        )

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        x, h_dropped = self.drop_inputs(inputs, h_prev, training)
        recurrent_kernel = self.recurrent_weights(training)
        z = ops.matmul(x, self.kernel) + ops.matmul(h_dropped, recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c_candidate = self.activation(z_c)
        o = self.recurrent_activation(z_o)
        c = f * c_prev + i * c_candidate
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = {
            "recurrent_activation": keras.activations.serialize(
                self.recurrent_activation
            ),
            "unit_forget_bias": self.unit_forget_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="garden")
class LSTM(FusedRecurrentLayer):
    """Long short-term memory over a sequence: `LSTMCell` run by Keras's loop.

    Takes the arguments of `keras.layers.LSTM` and holds the same weights
    under the same names, so `set_weights` moves weights both ways. With
    `return_state=True` it returns `output, H_T, C_T`, as Keras does. Where
    `keras.layers.LSTM` would run the backend's fused (cuDNN) kernel, so does
    this layer, with the same arguments (see `FusedRecurrentLayer`).

    Args:
        units: Positive integer, the size of the hidden state.
        activation: Activation of the candidate and of C_t. Default "tanh".
        recurrent_activation: Activation of the gates. Default "sigmoid".
        unit_forget_bias: Whether b_f is initialised to 1. Default True.
        use_cudnn: "auto" (default), True or False: whether to run the
            backend's fused kernel, see
            `garden.layers.recurrent.FusedRecurrentLayer`.
        **kwargs: The cell's arguments and those of
            `garden.layers.recurrent.RecurrentLayer`.

    Example:

    >>> import numpy as np
    >>> output, h, c = LSTM(8, return_state=True)(np.ones((2, 5, 3), "float32"))
    >>> tuple(output.shape), tuple(c.shape)
    ((2, 8), (2, 8))
    """

    cell_class = LSTMCell
    cell_name = "lstm_cell"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        unit_forget_bias=True,
        use_cudnn="auto",
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            unit_forget_bias=unit_forget_bias,
            use_cudnn=use_cudnn,
            **kwargs,
        )

    def fused_loop(self, sequences, initial_state, mask, training=False):
        return keras_backend.lstm(
            sequences,
            initial_state[0],
            initial_state[1],
            mask,
            **self.fused_arguments(training),
        )
