"""What every recurrent cell and sequence layer of the garden shares.

A cell is one time step written from its equations (`simple_rnn.py`, `gru.py`,
`lstm.py`); the time loop is Keras's own `keras.layers.RNN`. Reusing that loop
keeps masking, `go_backwards`, `stateful`, `return_state`, `initial_state`,
`Bidirectional` and `StackedRNNCells` behaving exactly as Keras users expect,
and it compiles to the same while-loop graph as the built-in layers, so the
garden layers are as fast as Keras's on a CPU. On a GPU the LSTM and GRU hand
the whole loop to the backend's fused kernel (cuDNN) when `keras.layers.LSTM`
and `GRU` would (`FusedRecurrentLayer`); the cell stays the reference.
"""

import contextlib

import keras
from keras import activations, constraints, initializers, ops, regularizers

# The backend module is kept, not its functions: `lstm` and `gru` (the fused
# kernels) are looked up at call time, as keras.layers.LSTM and GRU do, so the
# garden layers and Keras's always reach the same function.
from keras.src import backend as keras_backend

# The time loop keras.layers.RNN runs (a while-loop on TensorFlow, scan on JAX);
# randomized truncation runs it with a step of its own.
from keras.src.backend import rnn as backend_rnn

# The Keras RNN loop draws one dropout mask per sequence, outside the time loop,
# only for cells that mix this class in (that is how keras.layers.LSTMCell gets
# "one mask for all steps"). It is not exported under `keras.layers`, so it is
# imported from where Keras keeps it; pyproject.toml pins Keras to 3.15.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

# Arguments of a cell that its sequence layer accepts and passes through.
CELL_ARGUMENTS = (
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "unit_forget_bias",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "weight_dropout",
    "reset_after",
    "seed",
)


def check_units(units):
    """Returns `units` if it is a positive integer, else raises ValueError."""
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise ValueError(
            "Received an invalid value for argument `units`, "
            f"expected a positive integer, got {units!r}."
        )
    return units


def check_rate(name, rate):
    """Returns `rate` as a float if it lies in [0, 1), else raises ValueError."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise ValueError(
            f"Received an invalid value for argument `{name}`, "
            f"expected a float in [0, 1), got {rate!r}."
        )
    if not 0.0 <= rate < 1.0:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, "
            f"expected a float in [0, 1), got {rate!r}."
        )
    return float(rate)


def get_activation(name, identifier):
    """`keras.activations.get`, with an error that names the argument."""
    try:
        return activations.get(identifier)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected the "
            "name of a Keras activation (such as 'tanh', 'relu', 'sigmoid' or "
            f"'linear') or a callable, got {identifier!r}."
        ) from error


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base of the garden's cells: the Keras cell arguments, checked and stored.

    Subclasses set `state_size` and `output_size`, make their weights in
    `build` and write one time step in `call`.

    Args:
        units: Positive integer, the size of the hidden state.
        activation: Activation of the candidate state (and the output).
        use_bias: Whether the cell has a bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer:
            Initializers of `kernel`, `recurrent_kernel` and `bias`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Regularizers of the same three weights.
        kernel_constraint, recurrent_constraint, bias_constraint:
            Constraints of the same three weights.
        dropout: Fraction of the inputs dropped, one mask for all time steps.
        recurrent_dropout: Fraction of the previous hidden state dropped, one
            mask for all time steps (variational dropout, Gal and Ghahramani).
        weight_dropout: Fraction of the entries of `recurrent_kernel` dropped
            (DropConnect on the hidden-to-hidden weights, Wan et al., 2013;
            Merity et al.'s WeightDrop): in training, every sequence runs on
            W_hh * M / (1 - p), with one Bernoulli mask M drawn per call and
            kept for all its time steps; in inference W_hh itself.
        seed: Random seed of the dropout masks.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        weight_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.activation = get_activation("activation", activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.weight_dropout = check_rate("weight_dropout", weight_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self._dropped_recurrent_kernel = None

    def add_recurrent_weights(
        self, input_dim, gates, bias_shape=None, bias_initializer=None
    ):
        """Makes `kernel`, `recurrent_kernel` and `bias` in Keras's layout.

        Args:
            input_dim: Size of one input step.
            gates: How many blocks of `units` columns the kernels hold.
            bias_shape: Shape of the bias; `(gates * units,)` when None.
            bias_initializer: Overrides `self.bias_initializer`.
        """
        self.kernel = self.add_weight(
            shape=(input_dim, gates * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, gates * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=bias_shape or (gates * self.units,),
                name="bias",
                initializer=bias_initializer or self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def drop_inputs(self, inputs, h_prev, training):
        """Applies the cached dropout masks to x_t and h_{t-1}."""
        if training and self.dropout > 0.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            h_prev = h_prev * self.get_recurrent_dropout_mask(h_prev)
        return inputs, h_prev

    def recurrent_weights(self, training):
        """W_hh as this step uses it: its DropConnect draw in training."""
        if not (training and self.weight_dropout > 0.0):
            return self.recurrent_kernel
        if self._dropped_recurrent_kernel is None:
            # A cell called on its own, outside a sequence layer: one step.
            self._draw_dropped_recurrent_kernel()
        return self._dropped_recurrent_kernel

    def _draw_dropped_recurrent_kernel(self):
        self._dropped_recurrent_kernel = keras.random.dropout(
            self.recurrent_kernel, self.weight_dropout, seed=self.seed_generator
        )

    def get_recurrent_dropout_mask(self, step_input):
        # Keras's RNN draws a cell's per-sequence masks here, before its loop
        # (outside the loop, so JAX's scan stays stateless); the DropConnect
        # draw of W_hh is one more of them, kept until the reset below.
        if self.weight_dropout > 0.0 and self._dropped_recurrent_kernel is None:
            self._draw_dropped_recurrent_kernel()
        return super().get_recurrent_dropout_mask(step_input)

    def reset_recurrent_dropout_mask(self):
        super().reset_recurrent_dropout_mask()
        self._dropped_recurrent_kernel = None

    def get_initial_state(self, batch_size=None):
        sizes = (
            self.state_size if isinstance(self.state_size, list) else [self.state_size]
        )
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes
        ]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "weight_dropout": self.weight_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


class RecurrentLayer(keras.layers.RNN):
    """Base of the garden's sequence layers: a garden cell run by Keras's loop.

    Subclasses name their cell in `cell_class` and `cell_name` (the name Keras
    gives the same cell, so weight paths match the built-in layers).

    Args:
        units: Positive integer, the size of the hidden state.
        return_sequences: Whether to return the output at every step or the
            last one only.
        return_state: Whether to return the final states after the output.
        go_backwards: Whether to read the sequence from its end (the outputs
            then come in reverse order, as in Keras).
        stateful: Whether the final states of a batch are the initial states
            of the next one (row i continues row i); `reset_state()` zeroes
            them. Needs a fixed batch size.
        unroll: Whether to unroll the time loop (short sequences only).
        random_truncation: Probability p that, in training, the gradient stops
            flowing back through the state at a step (randomized truncated
            BPTT, Tallec and Ollivier, 2017). Gradients that pass are scaled
            by 1 / (1 - p), so their expectation is the full gradient:
            dH_t/dH_{t-1} is replaced by xi_t dH_t/dH_{t-1}, with
            P(xi_t = 0) = p and P(xi_t = 1 / (1 - p)) = 1 - p. The forward
            pass is unchanged. Default 0 (no random truncation).
        **kwargs: The cell's arguments (see the cell) and the base layer's
            (`name`, `dtype`, `activity_regularizer`, ...).

    Call arguments:
        sequences: A 3D tensor `(batch, timesteps, features)`.
        initial_state: A list of state tensors `(batch, units)`, one per state
            of the cell; zeros when None.
        mask: A boolean `(batch, timesteps)` tensor; a False step leaves the
            state and the output as they were after the last True step.
        training: Whether dropout is applied.
    """

    cell_class = None
    cell_name = None

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        random_truncation=0.0,
        **kwargs,
    ):
        self.random_truncation = check_rate("random_truncation", random_truncation)
        cell_kwargs = {key: kwargs.pop(key) for key in CELL_ARGUMENTS if key in kwargs}
        cell = self.cell_class(
            units,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=self.cell_name,
            **cell_kwargs,
        )
        kwargs.pop("cell", None)
        kwargs.pop("zero_output_for_mask", None)
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)

    @property
    def units(self):
        return self.cell.units

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) != 3:
            raise ValueError(
                f"Layer `{self.name}` expects inputs of rank 3, "
                "(batch, timesteps, features), got shape "
                f"{tuple(sequences_shape)}."
            )
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if initial_state is not None:
            self._check_initial_state(sequences, initial_state)
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not (training and self.random_truncation > 0.0):
            return super().inner_loop(sequences, initial_state, mask, training)
        # xi_t for every row and step is drawn before the loop (one draw per
        # sequence, as the dropout masks are) and rides along as an extra input.
        keep = 1.0 - self.random_truncation
        draws = keras.random.uniform(
            ops.shape(sequences)[:2] + (1,), seed=self.cell.seed_generator
        )
        xi = ops.cast(ops.where(draws < keep, 1.0 / keep, 0.0), sequences.dtype)
        cell = self.cell

        def step(inputs, states):
            x, xi_t = inputs[..., :-1], inputs[..., -1:]
            states = [
                ops.stop_gradient(state) + xi_t * (state - ops.stop_gradient(state))
                for state in states
            ]
            output, new_states = cell(x, states, training=training)
            return output, list(new_states)

        return backend_rnn(
            step,
            ops.concatenate([sequences, xi], axis=-1),
            list(initial_state),
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )

    def _check_initial_state(self, sequences, initial_state):
        states = (
            list(initial_state)
            if isinstance(initial_state, (list, tuple))
            else [initial_state]
        )
        expected = [(None, size) for size in self.state_size]
        shapes = [tuple(state.shape) for state in states]
        batch = sequences.shape[0]
        valid = len(states) == len(expected) and all(
            len(shape) == 2
            and shape[1] == size
            and (batch is None or shape[0] is None or shape[0] == batch)
            for shape, (_, size) in zip(shapes, expected)
        )
        if not valid:
            raise ValueError(
                "Received an invalid value for argument `initial_state` of "
                f"layer `{self.name}`, expected {len(expected)} tensor(s) of "
                f"shape {[(batch, size) for _, size in expected]}, got shapes "
                f"{shapes}."
            )

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        del config["zero_output_for_mask"]
        config["random_truncation"] = self.random_truncation
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# The activations the fused kernels compute; any other keeps the cell's loop.
FUSED_ACTIVATIONS = {
    "activation": (activations.tanh, ops.tanh),
    "recurrent_activation": (activations.sigmoid, ops.sigmoid),
}


class FusedRecurrentLayer(RecurrentLayer):
    """A sequence layer that hands its loop to the backend's fused kernel.

    On a GPU, `keras.layers.LSTM` and `GRU` run the whole sequence as one
    cuDNN call (`keras.src.backend.lstm` / `gru`); the backend refuses
    (raises NotImplementedError) where it has no such kernel, on a CPU for
    one, and the layer runs its loop instead. Subclasses make the same call
    with the same arguments in `fused_loop`, so a garden layer takes the
    fused path exactly when Keras's would, with the same weights.

    The fused path is tried only for the configuration the kernel computes:
    tanh and sigmoid, a bias, no recurrent dropout, no unrolling, no random
    truncation (and, for the GRU, `reset_after=True`). Anything else, every
    garden addition included, always runs the cell, which stays the
    reference. As in Keras, dropout on the inputs is applied to the whole
    sequence (one mask for all steps) before the fused call, and masks must
    be right-padded (the TensorFlow backend checks this). DropConnect on
    W_hh (`weight_dropout`) keeps the fused path: its mask is the same at
    every step, so the kernel runs the whole sequence on the dropped W_hh
    (why Merity et al. chose it over recurrent dropout).

    Args:
        use_cudnn: "auto" (default) takes the fused path where the backend
            has one; False never takes it; True requires it, and raises a
            ValueError when the configuration or the backend cannot use it.
        **kwargs: See `RecurrentLayer`.
    """

    def __init__(self, units, use_cudnn="auto", **kwargs):
        if not (use_cudnn is True or use_cudnn is False or use_cudnn == "auto"):
            raise ValueError(
                "Received an invalid value for argument `use_cudnn`, expected "
                f"'auto', True or False, got {use_cudnn!r}."
            )
        super().__init__(units, **kwargs)
        self.use_cudnn = use_cudnn
        refusal = self.fused_refusal()
        if use_cudnn is True and refusal is not None:
            raise ValueError(
                "Received an invalid value for argument `use_cudnn`: True "
                f"requires the fused kernel, which layer `{self.name}` cannot "
                f"use because {refusal}. Pass use_cudnn='auto' to fall back "
                "to the cell's loop."
            )
        cell = self.cell
        # cuDNN kernels do not compile with XLA, so a model that may dispatch
        # must not be jit-compiled (what keras.layers.LSTM does too).
        if (
            use_cudnn
            and refusal is None
            and keras.backend.backend() == "tensorflow"
            and keras_backend.cudnn_ok(
                cell.activation, cell.recurrent_activation, self.unroll, cell.use_bias
            )
        ):
            self.supports_jit = False

    def fused_refusal(self):
        """Why this configuration cannot run fused, or None when it can."""
        cell = self.cell
        for name, allowed in FUSED_ACTIVATIONS.items():
            if getattr(cell, name) not in allowed:
                expected = "tanh" if name == "activation" else "sigmoid"
                return f"`{name}` is not {expected}"
        if not cell.use_bias:
            return "`use_bias` is False"
        if cell.recurrent_dropout > 0.0:
            return "`recurrent_dropout` is not 0 (it drops inside the loop)"
        if self.random_truncation > 0.0:
            return "`random_truncation` is not 0 (it acts inside the loop)"
        if self.unroll:
            return "`unroll` is True"
        return None

    def fused_loop(self, sequences, initial_state, mask, training=False):
        """Calls the backend's fused kernel; returns what `backend.rnn` does."""
        raise NotImplementedError

    def fused_arguments(self, training=False):
        """The keyword arguments the backend's `lstm` and `gru` share."""
        cell = self.cell
        return {
            "kernel": cell.kernel,
            "recurrent_kernel": cell.recurrent_weights(training),
            "bias": cell.bias,
            "activation": cell.activation,
            "recurrent_activation": cell.recurrent_activation,
            "return_sequences": self.return_sequences,
            "go_backwards": self.go_backwards,
            "unroll": self.unroll,
        }

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if keras.tree.is_nested(mask):
            mask = mask[0]
        if self.use_cudnn and self.fused_refusal() is None:
            fused_sequences = sequences
            if training and self.cell.dropout > 0.0:
                # The mask the cell would apply at every step (the RNN call has
                # drawn and cached it), applied to all steps at once; the loop
                # below, if the backend refuses, drops the original inputs.
                step_mask = self.cell.get_dropout_mask(sequences[:, 0, :])
                fused_sequences = sequences * ops.expand_dims(step_mask, axis=1)
            try:
                result = self.fused_loop(
                    fused_sequences, list(initial_state), mask, training
                )
            except NotImplementedError:
                pass
            else:
                if keras.backend.backend() == "tensorflow":
                    self.supports_jit = False
                return result
        if self.use_cudnn is True:
            raise ValueError(
                "Received an invalid value for argument `use_cudnn`: True "
                f"requires the fused kernel, and the {keras.backend.backend()} "
                f"backend has none for layer `{self.name}` here (it needs a GPU, "
                "and may refuse masks). Pass use_cudnn='auto' to fall back to "
                "the cell's loop."
            )
        return super().inner_loop(sequences, initial_state, mask, training)

    def get_config(self):
        return {**super().get_config(), "use_cudnn": self.use_cudnn}


@contextlib.contextmanager
def cell_loops_only(model):
    """Runs every fused-capable layer in `model` on its cell's loop in the block.

    A graph traced while the fused path is taken holds the backend's cuDNN op,
    which has no CPU kernel: a SavedModel traced on a GPU would not serve on a
    CPU. Tracing an export inside this block keeps its graph portable.

    Example:

    >>> import numpy as np
    >>> from garden.layers import LSTM
    >>> inputs = keras.Input((3, 2))
    >>> model = keras.Model(inputs, keras.layers.Bidirectional(LSTM(4))(inputs))
    >>> with cell_loops_only(model):
    ...     output = model(np.ones((1, 3, 2), "float32"))
    >>> tuple(output.shape)
    (1, 8)
    """
    layers = [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, FusedRecurrentLayer)
    ]
    settings = [layer.use_cudnn for layer in layers]
    try:
        for layer in layers:
            layer.use_cudnn = False
        yield model
    finally:
        for layer, setting in zip(layers, settings):
            layer.use_cudnn = setting
