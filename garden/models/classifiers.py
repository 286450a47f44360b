"""Text classifiers over token ids: BiRNN, TextCNN, ULMFiT and bag-of-words baselines.

Every builder returns a functional `keras.Model` from right-padded int32 ids
`(batch, steps)` (0 = `<pad>`) to the float32 probability of the positive
class `(batch, 1)`; `compile_classifier` adds the binary cross-entropy and
the accuracy. `build_classifier(kind, **config)` picks a builder by name, so
a recipe keeps one config dict and can rebuild the same model (for example
as the float32 twin that export serves, `float32_classifier`).
"""

import keras
import numpy as np

from garden.layers import (
    BagOfWords,
    FirstAndLastSteps,
    NaiveBayesLogit,
    NGramIds,
    TextCNN,
)
from garden.layers.deep_rnn import recurrent_layer_class
from garden.models.batched import pad_ids, predict_by_length
from garden.models.bilm import with_elmo
from garden.models.ulmfit import build_ulmfit_classifier
from garden.training.precision import float32_copy

CLASSIFIERS = ("bow", "nbsvm", "birnn", "textcnn", "ulmfit")


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
    "ulmfit": build_ulmfit_classifier,
}


def build_classifier(kind, **config):
    """The classifier named by `kind` (one of `CLASSIFIERS`) from its config."""
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
    return float32_copy(build_classifier, {"kind": kind, **config}, weights)


def predict_probabilities(model, token_ids, batch_size=64, max_length=None, verbose=0):
    """P(positive) of every id sequence, in order, batched by similar length.

    Sequences are sorted by length and each batch is padded to its longest
    (rounded up to a multiple of 50, so few shapes are traced); an empty
    sequence is one `<pad>` and gets the model's prediction for no words.

    Args:
        model: A classifier from this module.
        token_ids: A list of 1-D id sequences.
        batch_size: Sequences per batch.
        max_length: Truncate every sequence to this many ids first.
        verbose: 0 silent, 1 a progress bar over the sequences, 2 one line.

    Returns:
        float32 array `(len(token_ids),)`.
    """
    sequences = [np.asarray(ids, "int32")[:max_length] for ids in token_ids]

    def predict(batch):
        output = model.predict_on_batch(pad_ids(batch, multiple=50))
        return np.asarray(output, "float32").reshape(-1)

    results = predict_by_length(
        predict, sequences, batch_size, verbose=verbose, unit_name="review"
    )
    return np.asarray(results, "float32")
