"""Each task's one text-to-ids step, as a Keras layer.

KerasHub's way: the preprocessor is a layer that holds the tokenizer and the
vocabulary, so training pipelines, evaluation, the exported SavedModel and the
`.keras` file all turn text into ids with the same code. `TextToIds` is that
layer for the garden's word and character tokenizers:

    preprocessor = TextToIds(WordTokenizer("review"), vocabulary, max_length=500)
    preprocessor(tf.constant(["A wonderful film."]))   # ragged int32 ids
    preprocessor.encode(["A wonderful film."])         # [np.array([...])]

Its ids are `vocabulary.encode(tokenizer.tokenize(text))` exactly (the
tokenizers give the same tokens in Python and in-graph), cut to `max_length`,
with `<eos>` after them if `append_eos`. It saves with its tokenizer and its
vocabulary in its config, so a model that starts with it takes raw strings
after `keras.saving.load_model` too.

The layer runs TensorFlow string ops (TensorFlow backend, or inside
`tf.data` under any backend), which is why it lives in `garden.data` and not
among the `keras.ops`-only layers of `garden.layers`.
"""

import functools
import json

import keras
import numpy as np
import tensorflow as tf

from garden.checks import check_positive_integer
from garden.data.tokenizers import CharacterTokenizer, WordTokenizer
from garden.data.vocabulary import EOS, Vocabulary

TOKENIZERS = {"WordTokenizer": WordTokenizer, "CharacterTokenizer": CharacterTokenizer}
# `encode` runs the layer on this many texts at a time.
ENCODE_BLOCK = 512


def tokenizer_from_config(config):
    """The tokenizer a `get_config()` describes (`{"class", "standardize"}`)."""
    if not isinstance(config, dict) or config.get("class") not in TOKENIZERS:
        raise ValueError(
            "Received an invalid value for argument `tokenizer`, expected a "
            f"tokenizer's config with a class in {sorted(TOKENIZERS)}, got "
            f"{config!r}."
        )
    return TOKENIZERS[config["class"]](config["standardize"])


@keras.saving.register_keras_serializable(package="garden")
class TextToIds(keras.layers.Layer):
    """Raw strings to token ids: a garden tokenizer and `Vocabulary` in one layer.

    Args:
        tokenizer: a `WordTokenizer` or `CharacterTokenizer`, or its config.
        vocabulary: a `Vocabulary`, or its list of tokens (id order).
        max_length: keep each text's first `max_length` tokens (`None`: all).
        append_eos: put the vocabulary's `<eos>` after each text's tokens.
        pad: return a dense `(batch, longest)` tensor right-padded with
            `<pad>` (0) and at least one column, instead of a ragged one.

    Call arguments:
        texts: a string tensor of shape `(batch,)`.

    Returns:
        int32 ids, `tf.RaggedTensor` `(batch, None)`, or dense if `pad`.
    """

    def __init__(
        self,
        tokenizer,
        vocabulary,
        max_length=None,
        append_eos=False,
        pad=False,
        **kwargs,
    ):
        super().__init__(trainable=False, **kwargs)
        if isinstance(tokenizer, dict):
            tokenizer = tokenizer_from_config(tokenizer)
        if not isinstance(vocabulary, Vocabulary):
            vocabulary = Vocabulary.from_tokens(vocabulary)
        check_positive_integer("max_length", max_length, allow_none=True)
        if append_eos and EOS not in vocabulary:
            raise ValueError(
                "Received an invalid value for argument `append_eos`: the "
                "vocabulary has no `<eos>` token."
            )
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary
        self.max_length = max_length
        self.append_eos = bool(append_eos)
        self.pad = bool(pad)
        self.lookup = vocabulary.to_string_lookup()
        self._encode_graph = None
        # String inputs: Keras must not convert them to floats.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    def tokenize(self, texts):
        """The tokens the ids stand for: ragged strings `(batch, None)`.

        Cut to `max_length`, without the appended `<eos>`.
        """
        texts = tf.convert_to_tensor(texts, tf.string)
        tokens = self.tokenizer.tokenize_graph(tf.reshape(texts, [-1]))
        if self.max_length is not None:
            tokens = tokens[:, : self.max_length]
        return tokens

    def call(self, texts):
        return self.ids_of(self.tokenize(texts))

    def ids_of(self, tokens):
        """The ids of tokens from `tokenize`: looked up, `<eos>` and padding
        added as the layer's options say (for a caller that needs both)."""
        ids = tf.ragged.map_flat_values(
            lambda t: tf.cast(self.lookup(t), tf.int32), tokens
        )
        if self.append_eos:
            eos = tf.fill([ids.nrows(), 1], tf.constant(self.vocabulary.eos_id))
            ids = tf.concat([ids, tf.RaggedTensor.from_tensor(eos)], axis=1)
        if not self.pad:
            return ids
        ids = ids.to_tensor(0)
        # At least one column, so a batch of empty texts still runs a model.
        return tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])

    def encode(self, texts):
        """The ids of each text as NumPy (eagerly, a block of texts at a time).

        Args:
            texts: a list of strings.

        Returns:
            A list of 1-D `np.int32` arrays, one per text (unpadded).
        """
        result = []
        for values, splits in self._blocks(texts):
            result.extend(np.split(values, splits[1:-1]))
        return result

    def stream(self, texts):
        """The ids of all the texts one after the other, as one `np.int32` array.

        Args:
            texts: a list of strings (with `append_eos`, each one's ids end
                with `<eos>`: the stream of a language model).
        """
        parts = [values for values, _ in self._blocks(texts)]
        return np.concatenate(parts) if parts else np.zeros([0], "int32")

    def _blocks(self, texts):
        """`(flat ids, row splits)` of each block of `ENCODE_BLOCK` texts, eagerly."""
        if self.pad:
            raise ValueError(
                "`encode` and `stream` give unpadded ids: call them on pad=False."
            )
        # One traced graph for every block: eager string ops cost more per
        # call than the work on a block.
        encode = self.graph_function()
        for start in range(0, len(texts), ENCODE_BLOCK):
            block = tf.constant(texts[start : start + ENCODE_BLOCK], tf.string)
            ids = encode(block)
            yield ids.flat_values.numpy(), ids.row_splits.numpy()

    def graph_function(self):
        """The layer's call on a `(batch,)` string tensor as one `tf.function`,
        traced once: a `tf.data` map or a graph that calls it calls the traced
        graph instead of tracing the tokenizer again."""
        if self._encode_graph is None:
            self._encode_graph = tf.function(
                self.call, input_signature=[tf.TensorSpec([None], tf.string)]
            )
            self._encode_graph.get_concrete_function()
        return self._encode_graph

    def compute_output_spec(self, texts):
        shape = (texts.shape[0], None)
        return keras.KerasTensor(shape, dtype="int32", ragged=not self.pad)

    def get_config(self):
        config = super().get_config()
        config.pop("trainable", None)
        config.update(
            tokenizer=self.tokenizer.get_config(),
            vocabulary=list(self.vocabulary.tokens),
            max_length=self.max_length,
            append_eos=self.append_eos,
            pad=self.pad,
        )
        return config


def shared_encoder(tokenizer, vocabulary, append_eos=False):
    """The `TextToIds` of a tokenizer and vocabulary, made once per process.

    A run encodes its train, validation and test splits with the same
    vocabulary, and a search's trials the same splits again: through this
    they share one lookup table and one traced graph (`graph_function`),
    where each split built a table and traced the tokenizer's string ops
    anew (a tenth to half a second each, more than encoding a small split).

    Args:
        tokenizer: a `WordTokenizer` or `CharacterTokenizer`.
        vocabulary: a `Vocabulary`.
        append_eos: as in `TextToIds`.

    Returns:
        A `TextToIds` layer, not padded and not cut: the same layer for equal
        tokenizer configs, vocabularies and `append_eos`.
    """
    return _shared_encoder(
        json.dumps(tokenizer.get_config(), sort_keys=True),
        tuple(vocabulary.tokens),
        bool(append_eos),
    )


@functools.lru_cache(maxsize=8)
def _shared_encoder(tokenizer_config, tokens, append_eos):
    # A tokenizer is its config, as when the layer is saved and loaded.
    return TextToIds(json.loads(tokenizer_config), list(tokens), append_eos=append_eos)


def encode_texts(texts, tokenizer, vocabulary):
    """Tokenize and encode texts with the task's `TextToIds`, as NumPy.

    Args:
        texts: a list of strings.
        tokenizer: a `WordTokenizer` or `CharacterTokenizer`.
        vocabulary: a `Vocabulary`.

    Returns:
        A list of `np.int32` arrays, one per text.
    """
    return shared_encoder(tokenizer, vocabulary).encode(list(texts))
