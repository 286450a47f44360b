"""A frozen biLM as a layer, and a downstream vocabulary's ids as the biLM's.

`BiLMFeatures` gives the states ELMo mixes (`garden.layers.ScalarMix`); the
biLM and the id map travel inside the layer, so a downstream model saves and
exports whole. `VocabularyMap` is the id map alone, in front of a biLM that
a downstream model fine-tunes (`garden.models.ulmfit`).
"""

import keras
import numpy as np
from keras import ops


def _id_map_weight(layer):
    """The layer's frozen int32 id map: its `id_map` argument, or zeros that
    a loaded model's saved weights replace."""
    id_map = layer._initial_id_map
    return layer.add_weight(
        shape=(layer.input_vocab_size,),
        dtype="int32",
        initializer="zeros" if id_map is None else keras.initializers.Constant(id_map),
        trainable=False,
        name="id_map",
    )


@keras.saving.register_keras_serializable(package="garden")
class BiLMFeatures(keras.layers.Layer):
    """A frozen biLM's layer states for the words of a downstream vocabulary.

        h_{t,j} = bilm_features(id_map[w_t])_j          j = 0 .. L

    `id_map[i]` is the biLM id of the downstream word with id i
    (`garden.models.bilm.map_vocabulary`), a frozen weight, so a saved or
    exported downstream model takes its own ids. The biLM runs without
    dropout and is never trained; the padding mask (`ids != 0`) is passed on.

    Args:
        features: The model from `garden.models.bilm.bilm_feature_model`
            (or its serialized config, when restored).
        id_map: `(input_vocab_size,)` ints; None when restored.
        input_vocab_size: The downstream vocabulary size (given instead of
            `id_map` on restore).

    Call arguments:
        inputs: Downstream ids `(batch, steps)`, right-padded with 0.

    Returns:
        A list of L + 1 tensors `(batch, steps, features)`.
    """

    def __init__(self, features, id_map=None, input_vocab_size=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(features, dict):
            features = keras.saving.deserialize_keras_object(features)
        if id_map is not None:
            id_map = np.asarray(id_map, "int32").reshape(-1)
            input_vocab_size = len(id_map)
        if input_vocab_size is None:
            raise ValueError("Pass the argument `id_map` (see `map_vocabulary`).")
        self.features = features
        self.features.trainable = False
        self.input_vocab_size = int(input_vocab_size)
        self._initial_id_map = id_map
        self.trainable = False
        self.supports_masking = True

    @property
    def num_layers(self):
        return len(self.features.outputs)

    def build(self, input_shape):
        self.id_map = _id_map_weight(self)

    def call(self, inputs):
        ids = ops.take(self.id_map, ops.cast(inputs, "int32"))
        return list(self.features(ids, training=False))

    def compute_mask(self, inputs, mask=None):
        return [ops.not_equal(inputs, 0)] * self.num_layers

    def compute_output_shape(self, input_shape):
        return [
            tuple(input_shape[:2]) + (output.shape[-1],)
            for output in self.features.outputs
        ]

    def get_config(self):
        config = {
            "features": keras.saving.serialize_keras_object(self.features),
            "input_vocab_size": self.input_vocab_size,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="garden")
class VocabularyMap(keras.layers.Layer):
    """A downstream vocabulary's ids as another vocabulary's (a biLM's).

        y_t = id_map[x_t]

    `id_map` (`garden.models.bilm.map_vocabulary`) is a frozen int32 weight,
    so a saved model takes its own ids; padding (0) stays 0.

    Args:
        id_map: `(input_vocab_size,)` ints; None when restored.
        input_vocab_size: The downstream vocabulary size (given instead of
            `id_map` on restore).

    Example:

    >>> import numpy as np
    >>> layer = VocabularyMap(np.array([0, 1, 3, 1]))
    >>> layer(np.array([[2, 3, 0]])).numpy().tolist()
    [[3, 1, 0]]
    """

    def __init__(self, id_map=None, input_vocab_size=None, **kwargs):
        super().__init__(**kwargs)
        if id_map is not None:
            id_map = np.asarray(id_map, "int32").reshape(-1)
            input_vocab_size = len(id_map)
        if input_vocab_size is None:
            raise ValueError("Pass the argument `id_map` (see `map_vocabulary`).")
        self.input_vocab_size = int(input_vocab_size)
        self._initial_id_map = id_map
        self.trainable = False

    def build(self, input_shape):
        self.id_map = _id_map_weight(self)

    def call(self, inputs):
        return ops.take(self.id_map, ops.cast(inputs, "int32"))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype="int32")

    def get_config(self):
        return {**super().get_config(), "input_vocab_size": self.input_vocab_size}
