"""Recursive networks over binary trees: the plain TreeRNN and the Tree-LSTM.

Both read a batch of trees as post-order node arrays (`garden.data.trees`):
for every node its input vector (a word embedding at the leaves), the
positions of its left and right children (-1 for leaves and padding) and its
height (0 for leaves, -1 for padding). They compute every leaf at once, then
one height level at a time, bottom-up: at level k every node of height k, in
every tree of the batch, is composed from its two children, which are all of
lower height and so already computed. The loop over levels is a graph loop
(`keras.ops.fori_loop`) whose length is the batch's tallest tree, so there is
no Python loop per node and gradients flow through the whole tree.

Two schedules of a level:

    "compact"  gathers only the nodes of height k, composes them and scatters
               the results back: work proportional to the number of nodes,
               but data-dependent shapes, so no XLA (`supports_jit` is False).
    "dense"    composes every node at every level and keeps the results where
               the height is k: static shapes (XLA), but work proportional
               to nodes x height.

On the JAX backend both schedules run as "dense" over a loop of static
length, because JAX differentiates (reverse mode) only loops whose trip count
is known when tracing and traces only static shapes. A loop bounded by the
batch's tallest tree differentiates eagerly but fails under `jax.jit` (as in
`fit`) with "Reverse-mode differentiation does not work for lax.while_loop or
lax.fori_loop with dynamic start/stop values"; "compact"'s rows of one level,
`ops.where(heights == level)`, have a data-dependent shape that JAX cannot
trace even forward (JAX 0.10 reports it as "AttributeError: 'str' object has
no attribute '_error_repr'" while building its ConcretizationTypeError). So
the loop runs once per possible level (nodes - 1, the height of the tallest
tree `nodes` nodes can make) and `ops.cond` skips the levels above the
batch's tallest tree: the layer runs, differentiates and compiles under JAX.
"""

import keras
from keras import constraints, initializers, ops, regularizers

from garden.layers.recurrent import check_units, get_activation

SCHEDULES = ("compact", "dense")


def _static_levels():
    """Whether the level loop needs a static length (see the module docstring)."""
    return keras.backend.backend() == "jax"


class _TreeLayer(keras.layers.Layer):
    """The level-by-level loop both tree layers share; subclasses give the cell."""

    def __init__(
        self,
        units,
        schedule="compact",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        if schedule not in SCHEDULES:
            raise ValueError(
                "Received an invalid value for argument `schedule`, expected one "
                f"of {list(SCHEDULES)}, got {schedule!r}."
            )
        self.schedule = schedule
        self.supports_jit = schedule == "dense" or _static_levels()
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def _weight(self, name, shape, initializer, kind="kernel"):
        return self.add_weight(
            shape=shape,
            name=name,
            initializer=initializer,
            regularizer=getattr(self, f"{kind}_regularizer"),
            constraint=getattr(self, f"{kind}_constraint"),
        )

    def _check_input(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"Layer `{self.name}` expects inputs of rank 3, (batch, nodes, "
                f"features), got shape {tuple(input_shape)}."
            )
        return input_shape[-1]

    def call(
        self,
        inputs,
        left_children,
        right_children,
        node_heights,
        node_mask=None,
        training=None,
    ):
        batch, nodes = ops.shape(inputs)[0], ops.shape(inputs)[1]
        heights = ops.cast(node_heights, "int32")
        is_leaf = ops.expand_dims(ops.cast(heights == 0, self.compute_dtype), -1)
        states = self.leaf(inputs) * is_leaf
        width = ops.shape(states)[-1]
        states = ops.reshape(states, (-1, width))
        # Children as rows of the flattened (batch * nodes) state; leaves point at 0.
        offsets = ops.expand_dims(ops.arange(batch, dtype="int32") * nodes, -1)
        left = ops.reshape(
            ops.maximum(ops.cast(left_children, "int32"), 0) + offsets, (-1,)
        )
        right = ops.reshape(
            ops.maximum(ops.cast(right_children, "int32"), 0) + offsets, (-1,)
        )
        flat_heights = ops.reshape(heights, (-1,))

        def level_step(level, states):
            if self.schedule == "dense" or _static_levels():
                composed = self.compose(
                    ops.take(states, left, axis=0), ops.take(states, right, axis=0)
                )
                here = ops.expand_dims(flat_heights == level, -1)
                return ops.where(here, composed, states)
            rows = ops.where(flat_heights == level)[0]
            composed = self.compose(
                ops.take(states, ops.take(left, rows), axis=0),
                ops.take(states, ops.take(right, rows), axis=0),
            )
            return ops.scatter_update(states, ops.expand_dims(rows, -1), composed)

        tallest = ops.max(ops.concatenate([flat_heights, ops.zeros((1,), "int32")]))
        if _static_levels():

            def static_step(level, states):
                return ops.cond(
                    level <= tallest,
                    lambda: level_step(level, states),
                    lambda: states,
                )

            states = ops.fori_loop(1, nodes, static_step, states)
        else:
            states = ops.fori_loop(1, tallest + 1, level_step, states)
        outputs = ops.reshape(self.output_of(states), (batch, nodes, self.units))
        if node_mask is None:
            node_mask = heights >= 0
        return outputs * ops.expand_dims(ops.cast(node_mask, outputs.dtype), -1)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return (input_shape[0], input_shape[1], self.units)

    def get_config(self):
        config = {
            "units": self.units,
            "schedule": self.schedule,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="garden")
class TreeRNN(_TreeLayer):
    """The recursive neural network of Socher et al. (2011, 2013).

        leaf i (word w):     p_i = x_i                         the word's vector
        internal node i:     p_i = f(W [p_left(i); p_right(i)] + b)

    One `kernel` W `(2 * units, units)` and `bias` b `(units,)` for every node
    of every tree. The leaves are the inputs themselves, so their width must
    equal `units` (project them first otherwise).

    Args:
        units: Positive integer, width of every node vector.
        activation: f. Default "tanh".
        use_bias: Whether the composition adds b. Default True.
        schedule: "compact" (default) or "dense", see the module docstring.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: For W and b.

    Call arguments:
        inputs: `(batch, nodes, units)` leaf vectors (ignored elsewhere).
        left_children, right_children: `(batch, nodes)` int, the position of
            each node's children in its tree's post-order, -1 for leaves.
        node_heights: `(batch, nodes)` int, 0 for leaves, -1 for padding.
        node_mask: `(batch, nodes)` bool, False at padding; default
            `node_heights >= 0`.

    Returns:
        `(batch, nodes, units)`, every node's vector, zeros at padding.

    Example:

    >>> import numpy as np
    >>> layer = TreeRNN(4)
    >>> x = np.ones((1, 3, 4), "float32")            # (2 (1 a) (3 b))
    >>> out = layer(x, left_children=np.array([[-1, -1, 0]]),
    ...             right_children=np.array([[-1, -1, 1]]),
    ...             node_heights=np.array([[0, 0, 1]]))
    >>> tuple(out.shape)
    (1, 3, 4)
    """

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.activation = get_activation("activation", activation)
        self.use_bias = bool(use_bias)

    def build(self, input_shape, *args, **kwargs):
        features = self._check_input(input_shape)
        if features is not None and features != self.units:
            raise ValueError(
                f"Layer `{self.name}` uses its inputs as the leaf vectors, so their "
                f"width must equal `units`={self.units}, got {features}."
            )
        self.kernel = self._weight(
            "kernel", (2 * self.units, self.units), self.kernel_initializer
        )
        self.bias = None
        if self.use_bias:
            self.bias = self._weight(
                "bias", (self.units,), self.bias_initializer, kind="bias"
            )

    def leaf(self, inputs):
        return inputs

    def compose(self, left, right):
        p = ops.matmul(ops.concatenate([left, right], axis=-1), self.kernel)
        if self.use_bias:
            p = p + self.bias
        return self.activation(p)

    def output_of(self, states):
        return states

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="garden")
class TreeLSTM(_TreeLayer):
    """The binary (constituency) Tree-LSTM of Tai, Socher and Manning (2015).

    An internal node reads its children's (h, c); a leaf reads its word x and,
    as in Tai et al., is a node whose children are zero, so only the input,
    output and update gates act there and they come from x:

        internal node, children (h_l, c_l) and (h_r, c_r):
            i   = sigmoid(U_i   [h_l; h_r] + b_i)
            f_l = sigmoid(U_fl  [h_l; h_r] + b_fl)      one forget gate
            f_r = sigmoid(U_fr  [h_l; h_r] + b_fr)      per child
            o   = sigmoid(U_o   [h_l; h_r] + b_o)
            u   = tanh(U_u [h_l; h_r] + b_u)
            c   = i * u + f_l * c_l + f_r * c_r
            h   = o * tanh(c)
        leaf, word vector x:
            i = sigmoid(W_i x + b_i),  o = sigmoid(W_o x + b_o),
            u = tanh(W_u x + b_u),     c = i * u,  h = o * tanh(c)

    Weights: `kernel` W `(input_dim, 3 * units)`, blocks i, o, u;
    `recurrent_kernel` U `(2 * units, 5 * units)`, rows [h_l; h_r], blocks
    i, f_l, f_r, o, u; `bias` `(5 * units,)`, same blocks, shared by leaves
    (i, o, u) and internal nodes. With `unit_forget_bias` b_fl and b_fr start
    at 1, as Keras's LSTM does.

    Args:
        units: Positive integer, width of h and c.
        unit_forget_bias: Whether the forget biases start at 1. Default True.
        schedule: "compact" (default) or "dense", see the module docstring.
        recurrent_initializer: For U. Default "orthogonal", as Keras's LSTM.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: For W, U and b.

    Call arguments:
        As `TreeRNN`, with `inputs` of any width.

    Returns:
        `(batch, nodes, units)`, every node's h, zeros at padding.

    Example:

    >>> import numpy as np
    >>> layer = TreeLSTM(4)
    >>> x = np.ones((1, 3, 6), "float32")
    >>> out = layer(x, left_children=np.array([[-1, -1, 0]]),
    ...             right_children=np.array([[-1, -1, 1]]),
    ...             node_heights=np.array([[0, 0, 1]]))
    >>> tuple(out.shape)
    (1, 3, 4)
    """

    def __init__(
        self,
        units,
        unit_forget_bias=True,
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.recurrent_initializer = initializers.get(recurrent_initializer)

    def build(self, input_shape, *args, **kwargs):
        features = self._check_input(input_shape)
        units = self.units
        self.kernel = self._weight(
            "kernel", (features, 3 * units), self.kernel_initializer
        )
        self.recurrent_kernel = self._weight(
            "recurrent_kernel", (2 * units, 5 * units), self.recurrent_initializer
        )
        bias_initializer = self.bias_initializer
        if self.unit_forget_bias:

            def bias_initializer(_, *args, **kwargs):
                return ops.concatenate(
                    [
                        self.bias_initializer((units,), *args, **kwargs),
                        initializers.get("ones")((2 * units,), *args, **kwargs),
                        self.bias_initializer((2 * units,), *args, **kwargs),
                    ]
                )

        self.bias = self._weight("bias", (5 * units,), bias_initializer, kind="bias")

    def leaf(self, inputs):
        b_i, _, _, b_o, b_u = ops.split(self.bias, 5)
        z = ops.matmul(inputs, self.kernel) + ops.concatenate([b_i, b_o, b_u])
        i, o, u = ops.split(z, 3, axis=-1)
        c = ops.sigmoid(i) * ops.tanh(u)
        h = ops.sigmoid(o) * ops.tanh(c)
        return ops.concatenate([h, c], axis=-1)

    def compose(self, left, right):
        h_l, c_l = ops.split(left, 2, axis=-1)
        h_r, c_r = ops.split(right, 2, axis=-1)
        z = ops.matmul(ops.concatenate([h_l, h_r], axis=-1), self.recurrent_kernel)
        i, f_l, f_r, o, u = ops.split(z + self.bias, 5, axis=-1)
        c = (
            ops.sigmoid(i) * ops.tanh(u)
            + ops.sigmoid(f_l) * c_l
            + ops.sigmoid(f_r) * c_r
        )
        h = ops.sigmoid(o) * ops.tanh(c)
        return ops.concatenate([h, c], axis=-1)

    def output_of(self, states):
        return states[:, : self.units]

    def get_config(self):
        config = {
            "unit_forget_bias": self.unit_forget_bias,
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
        }
        return {**super().get_config(), **config}
