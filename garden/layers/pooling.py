"""Pooling a sequence layer's outputs into one vector per sequence."""

import keras
from keras import ops

from garden.layers.deep_rnn import last_valid_step


@keras.saving.register_keras_serializable(package="garden")
class FirstAndLastSteps(keras.layers.Layer):
    """The outputs at the first and the last valid time step, concatenated.

        y = [H_1; H_T]        T = the last step the mask keeps (right padding)

    d2l's BiRNN classifier reads `outputs[0]` and `outputs[-1]`; with padded
    batches the last row of `outputs` is padding, so the last *valid* step
    is taken instead (`garden.layers.deep_rnn.last_valid_step`).

    Example:

    >>> import numpy as np
    >>> x = np.arange(12, dtype="float32").reshape(1, 3, 4)
    >>> layer = FirstAndLastSteps()
    >>> layer(x, mask=np.array([[True, True, False]])).numpy().tolist()
    [[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return ops.concatenate([inputs[:, 0], last_valid_step(inputs, mask)], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[-1])


@keras.saving.register_keras_serializable(package="garden")
class ConcatPooling(keras.layers.Layer):
    """ULMFiT's concat pooling: the last valid step, the max and the mean.

        y = [H_T; max_t H_t; mean_t H_t]      t over the steps the mask keeps

    Howard and Ruder (2018) pool the language model's top outputs this way
    before the classifier head, so that a long review's signal is not only
    in its last state. Padded steps count in neither the max nor the mean; a
    sequence with no valid step gives zeros.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0, -2.0], [3.0, 0.0], [9.0, 9.0]]], "float32")
    >>> layer = ConcatPooling()
    >>> layer(x, mask=np.array([[True, True, False]])).numpy().tolist()
    [[3.0, 0.0, 3.0, 0.0, 2.0, -1.0]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], "bool")
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        count = ops.sum(ops.cast(keep, inputs.dtype), axis=1)
        mean = ops.sum(ops.where(keep, inputs, 0), axis=1) / ops.maximum(count, 1)
        largest = ops.max(ops.where(keep, inputs, float("-inf")), axis=1)
        pooled = ops.concatenate([last_valid_step(inputs, mask), largest, mean], -1)
        # A sequence with no valid step: zeros, not its padding or -inf.
        return ops.where(count[:, :1] > 0, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 3 * input_shape[-1])
