"""Additive (Bahdanau) attention, written from its equations."""

import keras
from keras import ops

from garden.layers.recurrent import check_units


@keras.saving.register_keras_serializable(package="garden")
class AdditiveAttention(keras.layers.Layer):
    """Bahdanau et al.'s (2015) additive attention.

        e_ts = v^T tanh(W_q q_t + W_k k_s)            score of key s for query t
        a_ts = exp(e_ts) / sum_{s' valid} exp(e_ts')  softmax over valid keys
        c_t  = sum_s a_ts v_s                         the context vector

    The softmax runs in float32 whatever the layer's dtype: masked keys get
    the lowest float32 score and then an exact zero weight, so no large
    constant is ever cast to float16 (where -1e9 overflows to -inf and a row
    of them gives NaN). A query with no valid key gets a zero context.

    Args:
        units: Width of the hidden layer of the score, `W_q` and `W_k`'s output.
        return_attention_scores: Also return the weights `a`, `(batch, T, S)`.

    Call arguments:
        query: `(batch, T, query_dim)`.
        value: `(batch, S, value_dim)`, the keys and the values (as in the
            lectures, the encoder outputs are both).
        mask: `(batch, S)` booleans, True for valid keys; None for all valid.
        value_mask: The same, filled in by Keras from the value's Keras mask
            (e.g. `Embedding(mask_zero=True)`); `mask`, when given, wins.

    Example:

    >>> import numpy as np
    >>> attention = AdditiveAttention(4)
    >>> query = np.ones((2, 3, 5), "float32")
    >>> value = np.ones((2, 6, 7), "float32")
    >>> tuple(attention(query, value).shape)
    (2, 3, 7)
    """

    def __init__(self, units, return_attention_scores=False, **kwargs):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.return_attention_scores = bool(return_attention_scores)
        self.supports_masking = True

    def build(self, query_shape, value_shape=None):
        if value_shape is None:
            value_shape = query_shape
        self.query_kernel = self.add_weight(
            shape=(query_shape[-1], self.units),
            initializer="glorot_uniform",
            name="query_kernel",
        )
        self.key_kernel = self.add_weight(
            shape=(value_shape[-1], self.units),
            initializer="glorot_uniform",
            name="key_kernel",
        )
        self.score_vector = self.add_weight(
            shape=(self.units,), initializer="glorot_uniform", name="score_vector"
        )

    def call(self, query, value, mask=None, value_mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[1]
        if mask is None:
            mask = value_mask
        queries = ops.matmul(query, self.query_kernel)  # (batch, T, units)
        keys = ops.matmul(value, self.key_kernel)  # (batch, S, units)
        hidden = ops.tanh(ops.expand_dims(queries, 2) + ops.expand_dims(keys, 1))
        scores = ops.cast(
            ops.einsum("btsu,u->bts", hidden, self.score_vector), "float32"
        )
        if mask is not None:
            valid = ops.expand_dims(ops.cast(mask, "bool"), 1)  # (batch, 1, S)
            scores = ops.where(valid, scores, -3.0e38)
        weights = ops.softmax(scores, axis=-1)
        if mask is not None:
            weights = ops.where(valid, weights, 0.0)
        weights = ops.cast(weights, self.compute_dtype)
        context = ops.matmul(weights, value)
        if self.return_attention_scores:
            return context, weights
        return context

    def compute_mask(self, query, value=None, mask=None, value_mask=None):
        return None

    def compute_output_shape(self, query_shape, value_shape=None):
        if value_shape is None:
            value_shape = query_shape
        context = (*query_shape[:2], value_shape[-1])
        if self.return_attention_scores:
            return context, (*query_shape[:2], value_shape[1])
        return context

    def get_config(self):
        config = {
            "units": self.units,
            "return_attention_scores": self.return_attention_scores,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="garden")
class LateFusion(keras.layers.Layer):
    """Tilk and Alumäe's (2016) late fusion of an attention context into a state.

        c'_t = c_t W_c                          the context, in the state's width
        g_t  = sigmoid(c'_t W_g + s_t W_s + b)  one gate per unit
        f_t  = c'_t * g_t + s_t                 the fused state

    The state passes through unchanged and the gates decide how much of the
    context joins it, unit by unit (punctuator2's `hf_t = lfc * fw + h_t`):
    the context can only add to what the state already says.

    Call arguments:
        inputs: `[state, context]`, `(batch, T, state_dim)` and `(batch, T,
            context_dim)`.

    Example:

    >>> import numpy as np
    >>> state, context = np.ones((2, 3, 4), "float32"), np.ones((2, 3, 6), "float32")
    >>> tuple(LateFusion()([state, context]).shape)
    (2, 3, 4)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        state_shape, context_shape = input_shape
        width = state_shape[-1]
        self.context_kernel = self.add_weight(
            shape=(context_shape[-1], width),
            initializer="glorot_uniform",
            name="context_kernel",
        )
        self.gate_kernel = self.add_weight(
            shape=(width, width), initializer="glorot_uniform", name="gate_kernel"
        )
        self.state_kernel = self.add_weight(
            shape=(width, width), initializer="glorot_uniform", name="state_kernel"
        )
        self.bias = self.add_weight(shape=(width,), initializer="zeros", name="bias")

    def call(self, inputs):
        state, context = inputs
        context = ops.matmul(context, self.context_kernel)
        gates = ops.sigmoid(
            ops.matmul(context, self.gate_kernel)
            + ops.matmul(state, self.state_kernel)
            + self.bias
        )
        return context * gates + state

    def compute_mask(self, inputs, mask=None):
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def compute_output_shape(self, input_shape):
        return input_shape[0]
