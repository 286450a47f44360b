"""Deep (stacked) recurrent networks, with dropout and residual connections."""

import keras
from keras import ops

from garden.layers.gru import GRU
from garden.layers.lstm import LSTM
from garden.layers.recurrent import check_rate, check_units
from garden.layers.simple_rnn import SimpleRNN

RECURRENT_LAYERS = {"rnn": SimpleRNN, "gru": GRU, "lstm": LSTM}


def recurrent_layer_class(cell):
    """Returns the garden sequence layer named by `cell` ("rnn", "gru", "lstm")."""
    if cell not in RECURRENT_LAYERS:
        raise ValueError(
            "Received an invalid value for argument `cell`, expected one of "
            f"{sorted(RECURRENT_LAYERS)}, got {cell!r}."
        )
    return RECURRENT_LAYERS[cell]


def last_valid_step(sequences, mask):
    """Picks, for each row, the step of the last True entry of `mask`."""
    if mask is None:
        return sequences[:, -1]
    steps = ops.shape(mask)[1]
    reversed_mask = ops.cast(ops.flip(mask, axis=1), "int32")
    index = steps - 1 - ops.argmax(reversed_mask, axis=1)
    index = ops.reshape(ops.cast(index, "int32"), (-1, 1, 1))
    return ops.take_along_axis(sequences, index, axis=1)[:, 0]


def _layer_sizes(units, num_layers):
    """The checked width of every layer of a `DeepRNN`, bottom first.

    Args:
        units: A positive integer (the same for every layer) or a non-empty
            list of them, one per layer.
        num_layers: Number of layers when `units` is an integer.

    Returns:
        A list of positive integers.
    """
    if isinstance(units, (list, tuple)):
        if not units:
            raise ValueError(
                "Received an invalid value for argument `units`, expected a "
                "positive integer or a non-empty list of them, got []."
            )
        return [check_units(size) for size in units]
    if (
        isinstance(num_layers, bool)
        or not isinstance(num_layers, int)
        or num_layers <= 0
    ):
        raise ValueError(
            "Received an invalid value for argument `num_layers`, "
            f"expected a positive integer, got {num_layers!r}."
        )
    return [check_units(units)] * num_layers


@keras.saving.register_keras_serializable(package="garden")
class DeepRNN(keras.layers.Layer):
    """A stack of recurrent layers (the lectures' deep RNN).

        H^(0)_t = X_t
        H^(l)_t = f_l(H^(l-1)_t, H^(l)_{t-1})               l = 1 .. L
        H^(l)_t <- H^(l)_t + H^(l-1)_t                       with `residual`,
                                                             where widths agree

    Dropout is applied to the output of every layer but the last (Zaremba et
    al., 2014, between-layer dropout); the model decides about dropout on its
    own input and output. With `residual`, a layer whose input has its own
    width adds that input to its output (Wu et al., 2016); a first layer whose
    input width differs has no shortcut. With `locked_dropout` the mask
    between layers is drawn once per sequence and kept at every time step
    (variational dropout, Gal and Ghahramani, 2016; Merity et al.'s "locked"
    dropout), instead of anew at every step.

    Args:
        units: Positive integer (the same for every layer) or a list of them,
            one per layer.
        num_layers: Number of layers L when `units` is an integer. Default 2.
        cell: "lstm" (default), "gru" or "rnn" (Elman).
        dropout: Fraction dropped between layers. Default 0.
        locked_dropout: Whether that dropout draws one mask per sequence
            (row and unit) for all time steps. Default False.
        residual: Whether to add shortcut connections. Default False.
        return_sequences: Whether to return the top layer's output at every
            step (default) or at the last valid step only.
        return_state: Whether to return the final states of every layer, as a
            flat list after the output (`[h_1, c_1, h_2, c_2, ...]` for LSTMs).
        stateful: Whether every layer carries its states across batches
            (truncated BPTT); `reset_state()` zeroes them.
        layer_kwargs: Further arguments for every recurrent layer
            (`recurrent_dropout`, initializers, ...).

    Call arguments:
        inputs: `(batch, timesteps, features)`.
        initial_state: The flat list of states, in the order `return_state`
            gives them, or None for zeros.
        mask: `(batch, timesteps)` booleans, passed to every layer.
        training: Whether dropout is applied.

    Example:

    >>> import numpy as np
    >>> deep = DeepRNN(8, num_layers=3, cell="gru", residual=True)
    >>> tuple(deep(np.ones((2, 5, 8), "float32")).shape)
    (2, 5, 8)
    """

    def __init__(
        self,
        units,
        num_layers=2,
        cell="lstm",
        dropout=0.0,
        locked_dropout=False,
        residual=False,
        return_sequences=True,
        return_state=False,
        stateful=False,
        layer_kwargs=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _layer_sizes(units, num_layers)
        self.num_layers = len(self.units)
        self.cell = cell
        self.dropout = check_rate("dropout", dropout)
        self.locked_dropout = bool(locked_dropout)
        self.residual = bool(residual)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.stateful = bool(stateful)
        self.layer_kwargs = dict(layer_kwargs or {})
        layer_class = recurrent_layer_class(cell)
        self.recurrent_layers = [
            layer_class(
                size,
                return_sequences=True,
                return_state=True,
                stateful=self.stateful,
                dtype=self.dtype_policy,
                name=f"{cell}_{index}",
                **self.layer_kwargs,
            )
            for index, size in enumerate(self.units)
        ]
        # SpatialDropout1D's mask is (batch, 1, units): one for every step.
        dropout_class = (
            keras.layers.SpatialDropout1D
            if self.locked_dropout
            else keras.layers.Dropout
        )
        self.dropout_layers = [
            dropout_class(self.dropout, name=f"dropout_{index}")
            for index in range(self.num_layers - 1)
        ]
        self.supports_masking = True

    @property
    def states_per_layer(self):
        return len(self.recurrent_layers[0].state_size)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"Layer `{self.name}` expects inputs of rank 3, "
                f"(batch, timesteps, features), got shape {tuple(input_shape)}."
            )
        shape = tuple(input_shape)
        for layer, size in zip(self.recurrent_layers, self.units):
            layer.build(shape)
            shape = shape[:2] + (size,)

    def call(self, inputs, initial_state=None, mask=None, training=None):
        per_layer = self.states_per_layer
        if initial_state is not None:
            initial_state = list(initial_state)
            expected = per_layer * self.num_layers
            if len(initial_state) != expected:
                raise ValueError(
                    "Received an invalid value for argument `initial_state` of "
                    f"layer `{self.name}`, expected a list of {expected} tensors "
                    f"({per_layer} per layer), got {len(initial_state)}."
                )
        x = inputs
        final_states = []
        for index, layer in enumerate(self.recurrent_layers):
            states = None
            if initial_state is not None:
                states = initial_state[index * per_layer : (index + 1) * per_layer]
            output, *layer_states = layer(
                x, initial_state=states, mask=mask, training=training
            )
            final_states.extend(layer_states)
            if self.residual and output.shape[-1] == x.shape[-1]:
                output = output + x
            if index < self.num_layers - 1:
                output = self.dropout_layers[index](output, training=training)
            x = output
        if not self.return_sequences:
            x = last_valid_step(x, mask)
        if self.return_state:
            return [x, *final_states]
        return x

    def compute_mask(self, inputs, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * (self.states_per_layer * self.num_layers)
        return output_mask

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        top = self.units[-1]
        output = (batch, steps, top) if self.return_sequences else (batch, top)
        if not self.return_state:
            return output
        states = [
            (batch, size) for size in self.units for _ in range(self.states_per_layer)
        ]
        return [output, *states]

    def reset_state(self):
        """Zeroes the carried states of every layer (stateful use)."""
        for layer in self.recurrent_layers:
            layer.reset_state()

    def get_config(self):
        config = {
            "units": self.units,
            "cell": self.cell,
            "dropout": self.dropout,
            "locked_dropout": self.locked_dropout,
            "residual": self.residual,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "stateful": self.stateful,
            "layer_kwargs": self.layer_kwargs,
        }
        return {**super().get_config(), **config}
