"""Bag-of-words features of token ids, and the NBSVM's naive-Bayes logit.

The baselines' layers: the text's ids become a vector of word (and bigram)
features with no order, which a saved or exported model computes from the
same ids the recurrent classifiers take.
"""

import keras
import numpy as np
from keras import ops

BAG_OF_WORDS_MODES = ("multi_hot", "tf_idf")


@keras.saving.register_keras_serializable(package="garden")
class BagOfWords(keras.layers.Layer):
    """Token ids to one vector per text: multi-hot or TF-IDF.

        multi_hot:  x_w = 1 if word w occurs in the text, else 0
        tf_idf:     x_w = count_w * idf_w, then x / ||x||_2
                    idf_w = log((1 + N) / (1 + df_w)) + 1      (scikit-learn's)

    Id 0 (`<pad>`) never counts. `idf_weights` is a frozen weight, so a saved
    or exported model keeps the training corpus's document frequencies.

    Args:
        vocab_size: Number of token ids.
        output_mode: "multi_hot" (default) or "tf_idf".
        idf_weights: `(vocab_size,)` floats for "tf_idf", e.g. from
            `garden.models.classifiers.inverse_document_frequency`; None
            leaves them at 1.

    Example:

    >>> import numpy as np
    >>> bag = BagOfWords(5)
    >>> bag(np.array([[4, 2, 4, 0]])).numpy().tolist()
    [[0.0, 0.0, 1.0, 0.0, 1.0]]
    """

    def __init__(self, vocab_size, output_mode="multi_hot", idf_weights=None, **kwargs):
        super().__init__(**kwargs)
        if output_mode not in BAG_OF_WORDS_MODES:
            raise ValueError(
                "Received an invalid value for argument `output_mode`, expected one "
                f"of {list(BAG_OF_WORDS_MODES)}, got {output_mode!r}."
            )
        self.vocab_size = vocab_size
        self.output_mode = output_mode
        self._initial_idf = idf_weights
        self.counts = keras.layers.CategoryEncoding(vocab_size, output_mode="count")

    def build(self, input_shape):
        idf = self._initial_idf
        self.idf = self.add_weight(
            shape=(self.vocab_size,),
            initializer="ones"
            if idf is None
            else keras.initializers.Constant(np.asarray(idf, "float32")),
            trainable=False,
            name="idf",
        )

    def call(self, inputs):
        counts = ops.cast(self.counts(inputs), self.compute_dtype)
        not_pad = ops.cast(ops.arange(self.vocab_size) > 0, self.compute_dtype)
        counts = counts * not_pad
        if self.output_mode == "multi_hot":
            return ops.minimum(counts, 1.0)
        weighted = counts * ops.cast(self.idf, self.compute_dtype)
        norm = ops.sqrt(ops.sum(weighted * weighted, axis=-1, keepdims=True))
        return weighted / ops.maximum(norm, 1e-6)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.vocab_size)

    def get_config(self):
        config = {"vocab_size": self.vocab_size, "output_mode": self.output_mode}
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="garden")
class NGramIds(keras.layers.Layer):
    """Token ids to the ids of their unigram and bigram features.

        unigram w               -> w                    (0, `<pad>`, stays 0)
        bigram (a, b), a, b > 0 -> vocab_size + j       if a * vocab_size + b is
                                                        `bigrams[j]`, else 0

    The kept bigrams are looked up with a `keras.layers.IntegerLookup`, so a
    saved or exported model carries them (as the lookup's vocabulary asset).
    The output has `2 * steps - 1` ids per text; there are
    `vocab_size + len(bigrams)` features in all.

    Args:
        vocab_size: Number of token ids.
        bigrams: The kept bigram keys `a * vocab_size + b` (e.g. from
            `garden.models.classifiers.frequent_bigrams`); None when the
            layer is restored from a file.
        num_bigrams: Their number (given instead of `bigrams` on restore).

    Example:

    >>> import numpy as np
    >>> layer = NGramIds(10, bigrams=[4 * 10 + 2])
    >>> layer(np.array([[4, 2, 4, 0]])).numpy().tolist()
    [[4, 2, 4, 0, 10, 0, 0]]
    """

    def __init__(self, vocab_size, bigrams=None, num_bigrams=None, **kwargs):
        super().__init__(**kwargs)
        if bigrams is not None:
            bigrams = np.asarray(bigrams, "int64").reshape(-1)
            num_bigrams = len(bigrams)
        if num_bigrams is None:
            raise ValueError("Pass the argument `bigrams` (the kept bigram keys).")
        self.vocab_size = vocab_size
        self.num_bigrams = int(num_bigrams)
        # Index 0 is "not a kept bigram"; kept bigram j gets j + 1.
        self.lookup = keras.layers.IntegerLookup(
            num_oov_indices=1, mask_token=None, dtype="int64"
        )
        if bigrams is not None:
            # Set after construction, so that saving writes it as an asset
            # rather than into the config.
            self.lookup.set_vocabulary(bigrams)
        self.built = True

    def call(self, inputs):
        ids = ops.cast(inputs, "int64")
        keys = ids[:, :-1] * self.vocab_size + ids[:, 1:]
        both = ops.logical_and(ids[:, :-1] > 0, ids[:, 1:] > 0)
        index = ops.cast(self.lookup(keys), "int64")
        bigram_ids = ops.where(
            ops.logical_and(both, index > 0), index - 1 + self.vocab_size, 0
        )
        return ops.cast(ops.concatenate([ids, bigram_ids], axis=-1), "int32")

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else 2 * steps - 1)

    def get_config(self):
        config = {"vocab_size": self.vocab_size, "num_bigrams": self.num_bigrams}
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="garden")
class NaiveBayesLogit(keras.layers.Layer):
    """Logistic regression on binarized features scaled by naive-Bayes ratios.

        logit = b + sum over distinct ids f > 0 in the text of  w_f * r_f

    where `r` is the log-count ratio of Wang and Manning (2012)
    (`garden.models.classifiers.naive_bayes_ratios`), a frozen weight; `w`
    and `b` are learned. This is their NBSVM with the logistic loss in place
    of the hinge. Each feature counts once per text however often it occurs,
    and 0 never counts.
    `dropout` drops a random share of a text's features in training.

    Args:
        num_features: Number of feature ids.
        ratios: `(num_features,)` floats; None leaves them at 1.
        dropout: Rate of features dropped per text in training.

    Example:

    >>> import numpy as np
    >>> layer = NaiveBayesLogit(4, ratios=[0.0, 1.0, -2.0, 3.0])
    >>> layer.build((None, 3))
    >>> _ = layer.kernel.assign(np.ones(4, "float32"))
    >>> layer(np.array([[1, 3, 3], [2, 0, 0]])).numpy().tolist()
    [[4.0], [-2.0]]
    """

    def __init__(self, num_features, ratios=None, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_features = num_features
        self.dropout = dropout
        self._initial_ratios = ratios
        self.seed_generator = keras.random.SeedGenerator(0)

    def build(self, input_shape):
        ratios = self._initial_ratios
        self.ratios = self.add_weight(
            shape=(self.num_features,),
            initializer="ones"
            if ratios is None
            else keras.initializers.Constant(np.asarray(ratios, "float32")),
            trainable=False,
            name="ratios",
        )
        self.kernel = self.add_weight(
            shape=(self.num_features,), initializer="zeros", name="kernel"
        )
        self.bias = self.add_weight(shape=(1,), initializer="zeros", name="bias")

    def call(self, inputs, training=False):
        ids = ops.sort(ops.cast(inputs, "int32"), axis=-1)
        # After sorting, a feature's first occurrence is where the id changes.
        changed = ops.not_equal(ids[:, 1:], ids[:, :-1])
        first = ops.concatenate([ops.ones_like(ids[:, :1], "bool"), changed], axis=-1)
        keep = ops.logical_and(first, ids > 0)
        values = ops.take(self.kernel * self.ratios, ids)
        if training and self.dropout > 0:
            kept = (
                keras.random.uniform(ops.shape(ids), seed=self.seed_generator)
                >= self.dropout
            )
            keep = ops.logical_and(keep, kept)
            values = values / (1.0 - self.dropout)
        logit = ops.sum(ops.where(keep, values, 0.0), axis=-1, keepdims=True)
        return ops.cast(logit + self.bias, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = {"num_features": self.num_features, "dropout": self.dropout}
        return {**super().get_config(), **config}
