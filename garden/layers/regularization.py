"""AWD-LSTM's regularisers of a recurrent language model (Merity et al., 2017).

`EmbeddingDropout` drops whole words from the embedding matrix, and
`ActivationRegularization` penalises large (AR) and fast-changing (TAR)
outputs of the last recurrent layer. Locked (variational) dropout of the
inputs and outputs, the mask shared by every time step, is Keras's own
`keras.layers.SpatialDropout1D`.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="garden")
class EmbeddingDropout(keras.layers.ReversibleEmbedding):
    """An embedding that drops whole words while training (Gal and Ghahramani).

    Each training call draws one mask over the vocabulary: a dropped word's
    embedding is zero wherever it occurs in the batch, and the kept rows are
    scaled by 1 / (1 - rate), as Merity et al.'s `embedded_dropout` does. In
    inference it is the plain embedding. It is a `ReversibleEmbedding`, so a
    language model can tie its output layer to the matrix
    (`layer(hidden, reverse=True)`): the output reads the whole matrix, as in
    Merity et al., only the input side drops words.

    Args:
        input_dim, output_dim: As `keras.layers.Embedding`.
        rate: Float in [0, 1), the probability of dropping a word.
        seed: Optional integer seed of the masks.
        **kwargs: `keras.layers.ReversibleEmbedding`'s other arguments
            (`mask_zero`, initializers, ...).

    Example:

    >>> import numpy as np
    >>> layer = EmbeddingDropout(10, 4, rate=0.5, seed=1)
    >>> out = layer(np.array([[3, 3, 5]]), training=True).numpy()
    >>> bool((out[0, 0] == out[0, 1]).all())  # one word, one mask
    True
    """

    def __init__(self, input_dim, output_dim, rate=0.0, seed=None, **kwargs):
        super().__init__(input_dim, output_dim, **kwargs)
        if not 0 <= rate < 1:
            raise ValueError(
                "Received an invalid value for argument `rate`, expected a "
                f"number in [0, 1), got {rate!r}."
            )
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, reverse=False, training=False):
        if reverse or not training or self.rate == 0:
            return super().call(inputs, reverse=reverse)
        if inputs.dtype not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        weights = keras.random.dropout(
            self.embeddings,
            self.rate,
            noise_shape=(self.input_dim, 1),
            seed=self.seed_generator,
        )
        return ops.cast(ops.take(weights, inputs, axis=0), self.compute_dtype)

    def compute_output_spec(self, inputs, reverse=False, training=False):
        return super().compute_output_spec(inputs, reverse=reverse)

    def compute_mask(self, inputs, mask=None):
        # The padding mask of ids (set by Keras from here on the dropped path);
        # the reverse call's inputs are hidden states, which have none.
        if "int" not in str(inputs.dtype):
            return None
        return keras.layers.Embedding.compute_mask(self, inputs, mask)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="garden")
class ActivationRegularization(keras.layers.Layer):
    """AR and TAR of Merity et al. (2017), added to the model's loss.

        AR  = alpha * mean_{t, i} (d * h)_{t,i} ** 2
        TAR = beta  * mean_{t, i} (h_{t,i} - h_{t-1,i}) ** 2

    `h` are the last recurrent layer's outputs and `d * h` the same after
    dropout; means run over the batch, the time steps (for TAR, the pairs of
    consecutive steps) and the units, counting only unmasked steps. Only in
    training; the layer returns the dropped outputs unchanged.

    Args:
        alpha: Float >= 0, the weight of AR (Merity et al.: 2).
        beta: Float >= 0, the weight of TAR (Merity et al.: 1).

    Call arguments:
        inputs: `[outputs, dropped_outputs]`, each `(batch, timesteps, units)`.
        mask: Optional `(batch, timesteps)` masks (the first one is used).
        training: Whether to add the penalties.

    Returns:
        `dropped_outputs`.
    """

    def __init__(self, alpha=0.0, beta=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not value >= 0:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected "
                    f"a number >= 0, got {value!r}."
                )
        self.alpha = alpha
        self.beta = beta
        self.supports_masking = True

    def call(self, inputs, mask=None, training=False):
        outputs, dropped = inputs
        if not training or (self.alpha == 0 and self.beta == 0):
            return dropped
        h = ops.cast(outputs, "float32")
        d = ops.cast(dropped, "float32")
        steps = ops.ones(ops.shape(h)[:2], "float32")
        if mask is not None and mask[0] is not None:
            steps = ops.cast(mask[0], "float32")
        units = ops.cast(ops.shape(h)[-1], "float32")
        if self.alpha:
            squares = ops.sum(ops.square(d), axis=-1) * steps
            count = ops.maximum(ops.sum(steps) * units, 1.0)
            self.add_loss(self.alpha * ops.sum(squares) / count)
        if self.beta:
            pairs = steps[:, 1:] * steps[:, :-1]
            changes = ops.sum(ops.square(h[:, 1:] - h[:, :-1]), axis=-1) * pairs
            count = ops.maximum(ops.sum(pairs) * units, 1.0)
            self.add_loss(self.beta * ops.sum(changes) / count)
        return dropped

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[1]

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta}
