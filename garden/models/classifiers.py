"""Text classifiers over token ids: BiRNN, TextCNN and bag-of-words baselines.

Every builder returns a functional `keras.Model` from right-padded int32 ids
`(batch, steps)` (0 = `<pad>`) to the float32 probability of the positive
class `(batch, 1)`; `compile_classifier` adds the binary cross-entropy and
the accuracy. `build_classifier(kind, **config)` picks a builder by name, so
a recipe keeps one config dict and can rebuild the same model (for example
as the float32 twin that export serves, `float32_classifier`).
"""

import keras
import numpy as np
from keras import ops

from garden.layers import FirstAndLastSteps, TextCNN
from garden.layers.deep_rnn import recurrent_layer_class
from garden.models.bilm import with_elmo

CLASSIFIERS = ("bow", "nbsvm", "birnn", "textcnn")
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
            `inverse_document_frequency`; None leaves them at 1.

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


def inverse_document_frequency(token_ids, vocab_size):
    """scikit-learn's smooth idf of every id over a list of id sequences.

    Example:

    >>> [round(float(v), 3) for v in inverse_document_frequency([[4, 4, 2], [4]], 5)]
    [2.099, 2.099, 1.405, 2.099, 1.0]
    """
    document_frequency = np.zeros(vocab_size, "float64")
    for ids in token_ids:
        document_frequency[np.unique(np.asarray(ids, "int64"))] += 1
    documents = len(token_ids)
    return (np.log((1 + documents) / (1 + document_frequency)) + 1).astype("float32")


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
            `frequent_bigrams`); None when the layer is restored from a file.
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
    (`naive_bayes_ratios`), a frozen weight; `w` and `b` are learned. This is
    their NBSVM with the logistic loss in place of the hinge. Each feature
    counts once per text however often it occurs, and 0 never counts.
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


def _bigram_keys(ids, vocab_size):
    ids = np.asarray(ids, "int64")
    both = (ids[:-1] > 0) & (ids[1:] > 0)
    return (ids[:-1] * vocab_size + ids[1:])[both]


def frequent_bigrams(token_ids, vocab_size, min_count=2):
    """The keys `a * vocab_size + b` of bigrams seen at least `min_count` times.

    Example:

    >>> frequent_bigrams([[4, 2, 4, 2], [3, 4, 2]], 10, min_count=2).tolist()
    [42]
    """
    keys = [_bigram_keys(ids, vocab_size) for ids in token_ids]
    keys = np.concatenate(keys) if keys else np.zeros(0, "int64")
    unique, counts = np.unique(keys, return_counts=True)
    return unique[counts >= min_count]


def ngram_feature_ids(ids, vocab_size, bigrams):
    """`NGramIds` in NumPy for one text: its distinct feature ids (sorted)."""
    ids = np.asarray(ids, "int64")
    keys = _bigram_keys(ids, vocab_size)
    position = np.searchsorted(bigrams, keys)
    position = np.minimum(position, max(len(bigrams) - 1, 0))
    found = bigrams[position] == keys if len(bigrams) else np.zeros(len(keys), bool)
    features = np.concatenate([ids[ids > 0], vocab_size + position[found]])
    return np.unique(features)


def naive_bayes_ratios(feature_ids, labels, num_features, alpha=1.0):
    """Wang and Manning's (2012) log-count ratio of every feature.

        p = alpha + sum of binarized feature vectors of positive texts
        q = alpha + the same over negative texts
        r = log((p / ||p||_1) / (q / ||q||_1))

    Args:
        feature_ids: One array of feature ids per text (repeats count once).
        labels: 0 or 1 per text.
        num_features: Number of feature ids.
        alpha: Smoothing count.

    Returns:
        float32 `(num_features,)`; id 0 gets 0.

    Example:

    >>> r = naive_bayes_ratios([[1, 2], [1, 3]], [1, 0], 4)
    >>> [round(float(v), 3) for v in r]
    [0.0, 0.0, 0.693, -0.693]
    """
    counts = np.full((2, num_features), alpha, "float64")
    for ids, label in zip(feature_ids, labels):
        counts[int(label), np.unique(np.asarray(ids, "int64"))] += 1
    counts /= counts.sum(axis=1, keepdims=True)
    ratios = np.log(counts[1] / counts[0])
    ratios[0] = 0.0
    return ratios.astype("float32")


def _token_input():
    return keras.Input((None,), dtype="int32", name="token_ids")


def _embedding(vocab_size, embedding_dim, trainable, name="embedding"):
    return keras.layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, trainable=trainable, name=name
    )


def _probability(x):
    # The one float32 island: the sigmoid output and so the loss.
    return keras.layers.Dense(
        1, activation="sigmoid", dtype="float32", name="probability"
    )(x)


def build_birnn_classifier(
    vocab_size,
    cell="lstm",
    units=100,
    num_layers=2,
    embedding_dim=100,
    trainable_embeddings=True,
    dropout=0.0,
    recurrent_dropout=0.0,
    bilm=None,
    bilm_ids=None,
    name="birnn_classifier",
):
    """d2l's bidirectional RNN for sentiment analysis.

        E = embed(x)                           (mask_zero: padding is skipped)
        E = [E; ELMo(x)]                       with a `bilm` (Peters et al., 2018)
        H^(l) = [forward^(l)(H^(l-1)); backward^(l)(H^(l-1))]    l = 1 .. L
        p = sigmoid([H^(L)_1; H^(L)_T] w + b)  T = last valid step

    The recurrent layers are the garden's (`cell`), each inside
    `keras.layers.Bidirectional`; dropout is applied to the embeddings,
    between layers and before the output.

    Args:
        vocab_size: Number of token ids.
        cell: "lstm" (default), "gru" or "rnn".
        units: Hidden size of each direction.
        num_layers: Number of bidirectional layers (2 in d2l).
        embedding_dim: Embedding width (50 for GloVe 6B 50d).
        trainable_embeddings: False freezes the embedding (pretrained vectors).
        dropout: Dropout rate on embeddings, between layers, before the output.
        recurrent_dropout: Variational dropout on the recurrent state.
        bilm: Optional frozen biLM features (`garden.models.bilm.load_bilm`),
            mixed by a learned `ScalarMix` and concatenated to the embedding.
        bilm_ids: The biLM id of every id (`garden.models.bilm.map_vocabulary`).
        name: Model name.

    Returns:
        A `keras.Model` from ids `(batch, steps)` to float32 `(batch, 1)`.

    Example:

    >>> import numpy as np
    >>> model = build_birnn_classifier(30, units=4, embedding_dim=6)
    >>> tuple(model(np.array([[5, 6, 0]], "int32")).shape)
    (1, 1)
    """
    layer_class = recurrent_layer_class(cell)
    ids = _token_input()
    x = _embedding(vocab_size, embedding_dim, trainable_embeddings)(ids)
    x = with_elmo(x, ids, bilm, bilm_ids)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for index in range(num_layers):
        x = keras.layers.Bidirectional(
            layer_class(
                units, return_sequences=True, recurrent_dropout=recurrent_dropout
            ),
            name=f"bidirectional_{index}",
        )(x)
        x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    x = FirstAndLastSteps(name="first_and_last")(x)
    return keras.Model(ids, _probability(x), name=name)


def build_text_cnn_classifier(
    vocab_size,
    embedding_dim=100,
    trainable_embeddings=True,
    multichannel=False,
    filters=100,
    kernel_sizes=(3, 4, 5),
    dropout=0.5,
    name="text_cnn_classifier",
):
    """Kim's (2014) convolutional classifier.

        E = embed(x)              or [E_static; E_tuned] with `multichannel`
        c = TextCNN(E)            widths 3, 4, 5 x 100 filters, max over time
        p = sigmoid(dropout(c) w + b)

    With `multichannel` there are two embeddings of the same ids, one frozen
    (`static`) and one fine-tuned (`tuned`), both starting from the same
    vectors (`set_embeddings` fills both). They are concatenated along the
    embedding axis, so each filter sees both channels and sums its responses
    to them before the nonlinearity, as in Kim's model, with one filter
    weight per channel where Kim shares one across them.

    Args:
        vocab_size: Number of token ids.
        embedding_dim: Embedding width of each channel.
        trainable_embeddings: False freezes the (single) embedding.
        multichannel: Two channels, one frozen and one fine-tuned.
        filters: Feature maps per width.
        kernel_sizes: Window widths.
        dropout: Dropout rate on the pooled features (0.5 in Kim).
        name: Model name.

    Returns:
        A `keras.Model` from ids `(batch, steps)` to float32 `(batch, 1)`.

    Example:

    >>> import numpy as np
    >>> model = build_text_cnn_classifier(30, embedding_dim=6, filters=4,
    ...                                   multichannel=True)
    >>> tuple(model(np.array([[5, 6, 0]], "int32")).shape)
    (1, 1)
    """
    ids = _token_input()
    if multichannel:
        static = _embedding(vocab_size, embedding_dim, False, "embedding_static")
        tuned = _embedding(vocab_size, embedding_dim, True, "embedding")
        x = keras.layers.Concatenate(name="channels")([static(ids), tuned(ids)])
    else:
        x = _embedding(vocab_size, embedding_dim, trainable_embeddings)(ids)
    x = TextCNN(filters, kernel_sizes, dropout=dropout, name="text_cnn")(x)
    return keras.Model(ids, _probability(x), name=name)


def build_bag_of_words_classifier(
    vocab_size, output_mode="multi_hot", idf_weights=None, name="bag_of_words"
):
    """Logistic regression on a bag of words, the baseline to beat.

        p = sigmoid(bag(x) w + b)       bag: multi-hot or TF-IDF (`BagOfWords`)

    Args:
        vocab_size: Number of token ids.
        output_mode: "multi_hot" or "tf_idf".
        idf_weights: Document frequencies for "tf_idf"
            (`inverse_document_frequency` of the training ids).
        name: Model name.

    Returns:
        A `keras.Model` from ids `(batch, steps)` to float32 `(batch, 1)`.

    Example:

    >>> import numpy as np
    >>> model = build_bag_of_words_classifier(30)
    >>> tuple(model(np.array([[5, 6, 0]], "int32")).shape)
    (1, 1)
    """
    ids = _token_input()
    x = BagOfWords(vocab_size, output_mode, idf_weights, name="bag")(ids)
    return keras.Model(ids, _probability(x), name=name)


def build_nbsvm_classifier(vocab_size, bigrams, ratios=None, dropout=0.0, name="nbsvm"):
    """Naive-Bayes weighted logistic regression on unigrams and bigrams.

        f = NGramIds(x)                     unigram and kept-bigram ids
        p = sigmoid(NaiveBayesLogit(f))     binarized, scaled by the NB ratios

    Wang and Manning's (2012) NBSVM with the logistic loss: the strongest of
    the linear baselines on IMDb (their 91.2% with bigrams).

    Args:
        vocab_size: Number of token ids.
        bigrams: Kept bigram keys (`frequent_bigrams` of the training ids).
        ratios: `(vocab_size + len(bigrams),)` log-count ratios
            (`naive_bayes_ratios`); None leaves them at 1.
        dropout: Rate of features dropped per text in training.
        name: Model name.

    Returns:
        A `keras.Model` from ids `(batch, steps)` to float32 `(batch, 1)`.

    Example:

    >>> import numpy as np
    >>> model = build_nbsvm_classifier(30, bigrams=[5 * 30 + 6])
    >>> tuple(model(np.array([[5, 6, 0]], "int32")).shape)
    (1, 1)
    """
    ids = _token_input()
    bigrams = np.asarray(bigrams, "int64")
    features = NGramIds(vocab_size, bigrams, name="ngrams")(ids)
    logit = NaiveBayesLogit(
        vocab_size + len(bigrams), ratios, dropout=dropout, name="naive_bayes_logit"
    )(features)
    probability = keras.layers.Activation(
        "sigmoid", dtype="float32", name="probability"
    )(logit)
    return keras.Model(ids, probability, name=name)


BUILDERS = {
    "bow": build_bag_of_words_classifier,
    "nbsvm": build_nbsvm_classifier,
    "birnn": build_birnn_classifier,
    "textcnn": build_text_cnn_classifier,
}


def build_classifier(kind, **config):
    """The classifier named by `kind` ("bow", "birnn", "textcnn") from its config."""
    if kind not in BUILDERS:
        raise ValueError(
            "Received an invalid value for argument `kind`, expected one of "
            f"{list(CLASSIFIERS)}, got {kind!r}."
        )
    return BUILDERS[kind](**config)


def set_embeddings(model, matrix):
    """Copies pretrained vectors (e.g. GloVe) into every embedding of `model`.

    Args:
        model: A model from this module.
        matrix: `(vocab_size, embedding_dim)` floats, row i for id i.
    """
    matrix = np.asarray(matrix, "float32")
    embeddings = [
        layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)
    ]
    if not embeddings:
        raise ValueError(f"The model `{model.name}` has no embedding to initialise.")
    for layer in embeddings:
        expected = tuple(layer.embeddings.shape)
        if matrix.shape != expected:
            raise ValueError(
                "Received an invalid value for argument `matrix`, expected shape "
                f"{expected}, got {matrix.shape}."
            )
        layer.embeddings.assign(matrix)


def compile_classifier(model, optimizer):
    """Compiles with the binary cross-entropy and the accuracy."""
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    return model


def float32_classifier(kind, config, weights):
    """The float32 twin of a trained classifier (what export serves).

    Args:
        kind: As for `build_classifier`.
        config: The builder's arguments of the trained model.
        weights: Its `get_weights()`.

    Returns:
        The same model under the float32 policy, with those weights.
    """
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        model = build_classifier(kind, **config)
    finally:
        keras.config.set_dtype_policy(policy)
    model.set_weights(weights)
    return model


def predict_probabilities(model, token_ids, batch_size=64, max_length=None):
    """P(positive) of every id sequence, in order, batched by similar length.

    Sequences are sorted by length and each batch is padded to its longest
    (rounded up to a multiple of 50, so few shapes are traced); an empty
    sequence is one `<pad>` and gets the model's prediction for no words.

    Args:
        model: A classifier from this module.
        token_ids: A list of 1-D id sequences.
        batch_size: Sequences per batch.
        max_length: Truncate every sequence to this many ids first.

    Returns:
        float32 array `(len(token_ids),)`.
    """
    sequences = [np.asarray(ids, "int32")[:max_length] for ids in token_ids]
    order = np.argsort([len(ids) for ids in sequences], kind="stable")
    probabilities = np.zeros(len(sequences), "float32")
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        longest = max(1, max(len(sequences[row]) for row in rows))
        width = -(-longest // 50) * 50
        batch = np.zeros((len(rows), width), "int32")
        for line, row in enumerate(rows):
            batch[line, : len(sequences[row])] = sequences[row]
        output = model.predict_on_batch(batch)
        probabilities[rows] = np.asarray(output, "float32").reshape(-1)
    return probabilities
