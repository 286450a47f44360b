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
