"""Reading right-padded sequences backwards: each row's valid steps reversed.

The backward language model of the biLM and Sutskever et al.'s (2014) source
reversal both turn a batch around without moving its padding, so masks and
lengths stay as they were.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="garden")
class ReverseSequence(keras.layers.Layer):
    """Each row's valid steps in reverse order; right padding stays in place.

        y_{b,t} = x_{b, n_b - 1 - t}   for t < n_b,   x_{b,t} after that

    where n_b counts the non-zero `token_ids` of row b. Applied twice, it is
    the identity, so it both turns a batch around for the backward LM and
    brings the backward LM's states back into reading order.

    Call arguments:
        inputs: `(batch, steps)` or `(batch, steps, features)`.
        token_ids: `(batch, steps)`, right-padded with 0.

    Example:

    >>> import numpy as np
    >>> ids = np.array([[5, 6, 7, 0]])
    >>> ReverseSequence()(ids, ids).numpy().tolist()
    [[7, 6, 5, 0]]
    """

    def call(self, inputs, token_ids):
        lengths = ops.sum(ops.cast(ops.not_equal(token_ids, 0), "int32"), axis=1)
        steps = ops.arange(ops.shape(token_ids)[1], dtype="int32")[None, :]
        lengths = lengths[:, None]
        index = ops.where(steps < lengths, lengths - 1 - steps, steps)
        if len(inputs.shape) == 3:
            index = index[:, :, None]
        return ops.take_along_axis(inputs, index, axis=1)

    def compute_output_shape(self, inputs_shape, token_ids_shape):
        return tuple(inputs_shape)


def reversal_index(ids):
    """For each position, where the valid-prefix reversal of `ids` takes it from.

    Reversing twice is the identity, so the same index also undoes it.
    """
    valid = ops.cast(ops.not_equal(ids, 0), "int32")
    lengths = ops.sum(valid, axis=1, keepdims=True)
    # 0, 1, 2, ... without the static length, which a functional graph lacks.
    positions = ops.cumsum(ops.ones_like(valid), axis=1) - 1
    return ops.where(positions < lengths, lengths - 1 - positions, positions)


@keras.saving.register_keras_serializable(package="garden")
class ReverseValidSteps(keras.layers.Layer):
    """Reverses the valid (non-zero) prefix of each right-padded id sequence.

    Sutskever et al.'s (2014) source reversal, with padding left at the end.

    Example:

    >>> import numpy as np
    >>> ReverseValidSteps()(np.array([[5, 6, 7, 0], [8, 9, 0, 0]])).numpy().tolist()
    [[7, 6, 5, 0], [9, 8, 0, 0]]
    """

    def call(self, ids):
        return ops.take_along_axis(ids, reversal_index(ids), axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape
