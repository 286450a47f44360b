"""The gated recurrent unit: cell and sequence layer."""

import keras
from keras import ops

# The fused kernel is looked up on this module at call time, as Keras does.
from keras.src import backend as keras_backend

from garden.layers.recurrent import FusedRecurrentLayer, RecurrentCell, get_activation


@keras.saving.register_keras_serializable(package="garden")
class GRUCell(RecurrentCell):
    """One step of the gated recurrent unit (Cho et al., 2014).

        R_t = sigmoid(X_t W_xr + H_{t-1} W_hr + b_r)          reset gate
        Z_t = sigmoid(X_t W_xz + H_{t-1} W_hz + b_z)          update gate
        H~_t = tanh(X_t W_xh + (R_t * H_{t-1}) W_hh + b_h)    candidate
        H_t = Z_t * H_{t-1} + (1 - Z_t) * H~_t

    With `reset_after=True` (the form cuDNN uses, and Keras's default) the
    reset gate is applied after the recurrent product, which then has a bias
    of its own:

        H~_t = tanh(X_t W_xh + b_xh + R_t * (H_{t-1} W_hh + b_hh))

    Weights use Keras's layout: `kernel` (input_dim, 3 * units) and
    `recurrent_kernel` (units, 3 * units) hold the gates in the order z, r, h;
    `bias` is (3 * units,), or (2, 3 * units) with `reset_after` (input bias
    row, then recurrent bias row).

    Args:
        units: Positive integer, the size of H_t.
        activation: Activation of the candidate. Default "tanh".
        recurrent_activation: Activation of the gates. Default "sigmoid".
        reset_after: Whether the reset gate is applied after the recurrent
            product. Default True, as in `keras.layers.GRU`.
        **kwargs: The other Keras cell arguments, see
            `garden.layers.recurrent.RecurrentCell`.

    Call arguments:
        inputs: X_t, `(batch, input_dim)`.
        states: `[H_{t-1}]`.
        training: Whether dropout is applied.

    Returns:
        `(H_t, [H_t])`.

    Example:

    >>> import numpy as np
    >>> cell = GRUCell(4)
    >>> h, [state] = cell(np.ones((2, 3), "float32"), [np.zeros((2, 4), "float32")])
    >>> tuple(h.shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        reset_after=True,
        **kwargs,
    ):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = get_activation(
            "recurrent_activation", recurrent_activation
        )
        self.reset_after = bool(reset_after)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        bias_shape = (2, 3 * self.units) if self.reset_after else None
        self.add_recurrent_weights(input_shape[-1], gates=3, bias_shape=bias_shape)

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        x, h_dropped = self.drop_inputs(inputs, h_prev, training)
        x_projection = ops.matmul(x, self.kernel)
        if self.use_bias:
            input_bias = self.bias[0] if self.reset_after else self.bias
            x_projection = x_projection + input_bias
        x_z, x_r, x_h = ops.split(x_projection, 3, axis=-1)

        recurrent_kernel = self.recurrent_weights(training)
        if self.reset_after:
            h_projection = ops.matmul(h_dropped, recurrent_kernel)
            if self.use_bias:
                h_projection = h_projection + self.bias[1]
            h_z, h_r, h_h = ops.split(h_projection, 3, axis=-1)
            z = self.recurrent_activation(x_z + h_z)
            r = self.recurrent_activation(x_r + h_r)
            h_candidate = self.activation(x_h + r * h_h)
        else:
            w_hzr, w_hh = ops.split(recurrent_kernel, [2 * self.units], axis=-1)
            h_z, h_r = ops.split(ops.matmul(h_dropped, w_hzr), 2, axis=-1)
            z = self.recurrent_activation(x_z + h_z)
            r = self.recurrent_activation(x_r + h_r)
            h_candidate = self.activation(x_h + ops.matmul(r * h_dropped, w_hh))

        h = z * h_prev + (1.0 - z) * h_candidate
        return h, [h] if isinstance(states, (list, tuple)) else h

    def get_config(self):
        config = {
            "recurrent_activation": keras.activations.serialize(
                self.recurrent_activation
            ),
            "reset_after": self.reset_after,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="garden")
class GRU(FusedRecurrentLayer):
    """The gated recurrent unit over a sequence: `GRUCell` run by Keras's loop.

    Takes the arguments of `keras.layers.GRU` and holds the same weights under
    the same names, so `set_weights` moves weights both ways. Where
    `keras.layers.GRU` would run the backend's fused (cuDNN) kernel, so does
    this layer, with the same arguments (see `FusedRecurrentLayer`); cuDNN
    computes only the `reset_after=True` form.

    Args:
        units: Positive integer, the size of the hidden state.
        activation: Activation of the candidate. Default "tanh".
        recurrent_activation: Activation of the gates. Default "sigmoid".
        reset_after: See `GRUCell`. Default True.
        use_cudnn: "auto" (default), True or False: whether to run the
            backend's fused kernel, see
            `garden.layers.recurrent.FusedRecurrentLayer`.
        **kwargs: The cell's arguments and those of
            `garden.layers.recurrent.RecurrentLayer`.

    Example:

    >>> import numpy as np
    >>> output, state = GRU(8, return_state=True)(np.ones((2, 5, 3), "float32"))
    >>> tuple(output.shape), tuple(state.shape)
    ((2, 8), (2, 8))
    """

    cell_class = GRUCell
    cell_name = "gru_cell"

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        reset_after=True,
        use_cudnn="auto",
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            reset_after=reset_after,
            use_cudnn=use_cudnn,
            **kwargs,
        )

    def fused_refusal(self):
        if not self.cell.reset_after:
            return "`reset_after` is False (cuDNN computes the reset_after form)"
        return super().fused_refusal()

    def fused_loop(self, sequences, initial_state, mask, training=False):
        return keras_backend.gru(
            sequences,
            initial_state[0],
            mask,
            **self.fused_arguments(training),
            reset_after=self.cell.reset_after,
        )
