"""Embedding tables the models look words up in, beyond `keras.layers.Embedding`.

`TokenEmbedding` is the biLM's tied input embedding and softmax that carries
its vocabulary; `SubwordEmbedding` is skip-gram's (and fastText's) table of
center vectors.
"""

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="garden")
class TokenEmbedding(keras.layers.ReversibleEmbedding):
    """A tied input embedding and output softmax that also knows its tokens.

        embed(w) = E[w]          logits(h) = h E^T      (`reverse=True`)

    `keras.layers.ReversibleEmbedding` with the vocabulary in its config:
    `tokens[i]` is the token of id i, so a saved model maps words to ids
    the way it was trained.

    Args:
        tokens: The vocabulary's tokens in id order (`Vocabulary.tokens`).
        output_dim: Embedding width.
        **kwargs: `ReversibleEmbedding`'s other arguments.

    Example:

    >>> import numpy as np
    >>> embedding = TokenEmbedding(["<pad>", "<unk>", "good"], 4)
    >>> tuple(embedding(np.array([[2, 1]])).shape), embedding.input_dim
    ((1, 2, 4), 3)
    """

    def __init__(self, tokens, output_dim, **kwargs):
        kwargs.pop("input_dim", None)
        kwargs["tie_weights"] = True
        super().__init__(len(tokens), output_dim, **kwargs)
        self.tokens = [str(token) for token in tokens]

    def get_config(self):
        return {**super().get_config(), "tokens": self.tokens}


@keras.saving.register_keras_serializable(package="garden")
class SubwordEmbedding(keras.layers.Layer):
    """Center vectors: a word's row, or the mean of its word and n-gram rows.

        v_c = (1 / |G_c|) sum_{g in G_c} z_g

    where G_c is row c of `subword_table` (the word itself and its hashed
    n-grams, -1 padded), kept as a non-trainable int32 weight so a saved
    model carries it. Without a table it is a plain embedding lookup,
    v_c = z_c: skip-gram.

    Args:
        input_dim: Rows of the table: the vocabulary size, plus the number
            of hash buckets with subwords.
        output_dim: The vector size d.
        subword_table: int32 `(vocab_size, width)` from
            `garden.data.skipgram.subword_table`, or `None`.
        embeddings_initializer: Initializer of the table; default uniform
            in (-0.5 / d, 0.5 / d) as word2vec.
        subword_table_shape: The table's shape when it is not given (a
            loaded layer); set from `subword_table` otherwise.

    Call arguments:
        ids: int `(batch,)` word ids.

    Returns:
        `(batch, output_dim)` vectors.
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        subword_table=None,
        embeddings_initializer=None,
        subword_table_shape=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.subword_table = (
            None if subword_table is None else np.asarray(subword_table, "int32")
        )
        if self.subword_table is not None:
            subword_table_shape = self.subword_table.shape
        self.subword_table_shape = (
            None if subword_table_shape is None else tuple(subword_table_shape)
        )
        if embeddings_initializer is None:
            limit = 0.5 / self.output_dim
            embeddings_initializer = keras.initializers.RandomUniform(-limit, limit)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            name="embeddings",
        )
        if self.subword_table_shape is not None:
            # A loaded layer starts from zeros; its saved weights replace them.
            initial = (
                "zeros"
                if self.subword_table is None
                else keras.initializers.Constant(self.subword_table)
            )
            self.table = self.add_weight(
                shape=self.subword_table_shape,
                initializer=initial,
                dtype="int32",
                trainable=False,
                name="subword_table",
            )

    def call(self, ids):
        ids = ops.cast(ids, "int32")
        if self.subword_table_shape is None:
            return ops.take(self.embeddings, ids, axis=0)
        shape = ops.shape(ids)
        rows = ops.take(self.table, ops.reshape(ids, (-1,)), axis=0)
        # Only the real entries: a word has 14 rows on average in running
        # text but the table is as wide as the longest word's (71 on PTB),
        # and gathering the -1 padding as well made the gradient scatter five
        # times the rows it needs (80% of a step). `nonzero` gives them in
        # row-major order, so each center's entries are one sorted segment
        # (never empty: column 0 is the word's own row).
        # The flat list has a dynamic length: no XLA
        # (`garden.models.word2vec.compile_skipgram`).
        center, slot = ops.nonzero(rows >= 0)
        entries = ops.take(ops.reshape(rows, (-1,)), center * ops.shape(rows)[1] + slot)
        vectors = ops.take(self.embeddings, entries, axis=0)
        total = ops.segment_sum(vectors, center, sorted=True)
        count = ops.sum(ops.cast(rows >= 0, self.compute_dtype), axis=1)
        mean = total / count[:, None]
        # The value is the mean, but each row is updated with the whole
        # gradient of v_c (the gradient of the sum), as fastText and gensim
        # update the word and every n-gram: the mean's own gradient would
        # give each of the ~25 rows only 1/25 of the step.
        return ops.reshape(
            total + ops.stop_gradient(mean - total), (*shape, self.output_dim)
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            # The table is a weight; the config keeps only its shape.
            "subword_table_shape": self.subword_table_shape,
            "embeddings_initializer": keras.initializers.serialize(
                self.embeddings_initializer
            ),
        }
