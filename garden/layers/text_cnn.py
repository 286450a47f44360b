"""TextCNN: convolutions of several widths over words, max over time."""

import keras
import ml_dtypes
from keras import ops

from garden.layers.recurrent import check_rate, check_units, get_activation


@keras.saving.register_keras_serializable(package="garden")
class TextCNN(keras.layers.Layer):
    """The convolutional sentence encoder of Kim (2014).

        c^(w)_j = f(W^(w) [x_j; x_{j+1}; ...; x_{j+w-1}] + b^(w))   each width w
        c^(w) = max_j c^(w)_j          over windows j that start at a real token
        y = dropout([c^(w_1); c^(w_2); ...])

    A window starts at every real token; steps past a sequence's end read as
    zeros (Kim's zero padding), so a text shorter than the widest filter still
    has a window of every width. With a mask (from `Embedding(mask_zero=True)`)
    padded steps are zeroed and windows that start at one are never picked by
    the max, so a padded batch gives each text the features it has alone.

    Args:
        filters: Positive integer, feature maps per width. Default 100.
        kernel_sizes: Window widths. Default (3, 4, 5).
        activation: f. Default "relu".
        dropout: Fraction of the pooled features dropped. Default 0.5.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: Passed to every
            `keras.layers.Conv1D`.

    Call arguments:
        inputs: `(batch, timesteps, features)`, e.g. word embeddings.
        mask: `(batch, timesteps)` booleans, True at real tokens.
        training: Whether dropout is applied.

    Returns:
        `(batch, filters * len(kernel_sizes))`.

    Example:

    >>> import numpy as np
    >>> cnn = TextCNN(filters=10, kernel_sizes=(2, 3))
    >>> tuple(cnn(np.ones((4, 7, 16), "float32")).shape)
    (4, 20)
    """

    def __init__(
        self,
        filters=100,
        kernel_sizes=(3, 4, 5),
        activation="relu",
        dropout=0.5,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(
                "Received an invalid value for argument `filters`, "
                f"expected a positive integer, got {filters!r}."
            )
        if not isinstance(kernel_sizes, (list, tuple)) or not kernel_sizes:
            raise ValueError(
                "Received an invalid value for argument `kernel_sizes`, expected "
                f"a non-empty list of positive integers, got {kernel_sizes!r}."
            )
        try:
            self.kernel_sizes = [check_units(width) for width in kernel_sizes]
        except ValueError as error:
            raise ValueError(
                "Received an invalid value for argument `kernel_sizes`, expected "
                f"a non-empty list of positive integers, got {kernel_sizes!r}."
            ) from error
        self.filters = filters
        self.activation = get_activation("activation", activation)
        self.dropout = check_rate("dropout", dropout)
        self.conv_kwargs = dict(
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        self.convolutions = [
            keras.layers.Conv1D(
                filters,
                width,
                activation=self.activation,
                dtype=self.dtype_policy,
                name=f"conv_{width}",
                **self.conv_kwargs,
            )
            for width in self.kernel_sizes
        ]
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"Layer `{self.name}` expects inputs of rank 3, "
                f"(batch, timesteps, features), got shape {tuple(input_shape)}."
            )
        padded = (input_shape[0], None, input_shape[2])
        for conv in self.convolutions:
            conv.build(padded)

    def call(self, inputs, mask=None, training=None):
        steps = ops.shape(inputs)[1]
        widest = max(self.kernel_sizes)
        if mask is not None:
            inputs = inputs * ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        # widest - 1 zero steps at the end give every start position a window.
        padded = ops.pad(inputs, [[0, 0], [0, widest - 1], [0, 0]])
        # ml_dtypes.finfo knows bfloat16 as well as NumPy's float types.
        lowest = float(ml_dtypes.finfo(self.compute_dtype).min)
        pooled = []
        for conv in self.convolutions:
            features = conv(padded)[:, :steps]
            if mask is None:
                pooled.append(ops.max(features, axis=1))
                continue
            valid = ops.expand_dims(mask, -1)
            features = ops.where(valid, features, ops.full_like(features, lowest))
            has_token = ops.any(mask, axis=1, keepdims=True)
            best = ops.max(features, axis=1)
            pooled.append(ops.where(has_token, best, ops.zeros_like(best)))
        return self.dropout_layer(ops.concatenate(pooled, axis=-1), training=training)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.filters * len(self.kernel_sizes))

    def get_config(self):
        config = {
            "filters": self.filters,
            "kernel_sizes": self.kernel_sizes,
            "activation": keras.activations.serialize(self.activation),
            "dropout": self.dropout,
            **{
                key: keras.saving.serialize_keras_object(value)
                for key, value in self.conv_kwargs.items()
            },
        }
        return {**super().get_config(), **config}
