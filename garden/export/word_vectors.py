"""Export of word vectors: words in, vectors out (fastText: unseen words too)."""

import keras
import numpy as np
import tensorflow as tf

from garden.data.skipgram import subword_buckets
from garden.data.tokenizers import lower_graph
from garden.export.serving import example_texts, limited_texts, write_version


def word_vectors_archive(vectors):
    """An `ExportArchive` whose `serving_default` looks words up.

    `serving_default(word)`:
        word: string `(batch,)`, lower-cased in the graph as in training.
        Returns `vector` float32 `(batch, d)` and `known` bool `(batch,)`.
        A word outside the vocabulary gets, for fastText vectors, the mean
        of its character n-gram vectors (hashed in the graph exactly as in
        training), else zeros (so does a word with no n-grams, "" among
        them); `known` is False for it. A request past
        `garden.export.limits` (`MAX_BATCH_SIZE` words, `MAX_TEXT_LENGTH`
        characters per word) fails with an `InvalidArgumentError` naming it.

    Args:
        vectors: A `garden.models.word2vec.WordVectors`.
    """
    lookup = keras.layers.StringLookup(
        vocabulary=list(vectors.words), num_oov_indices=1, mask_token=None
    )
    lookup.build(None)
    table = keras.layers.Embedding(len(vectors) + 1, vectors.dim, trainable=False)
    table.build((None,))
    table.set_weights([np.concatenate([np.zeros((1, vectors.dim)), vectors.vectors])])
    archive = keras.export.ExportArchive()
    archive.track(lookup)
    archive.track(table)
    ngrams = None
    if vectors.ngram_vectors is not None:
        ngrams = keras.layers.Embedding(*vectors.ngram_vectors.shape, trainable=False)
        ngrams.build((None,))
        ngrams.set_weights([vectors.ngram_vectors])
        archive.track(ngrams)
    buckets = 0 if ngrams is None else len(vectors.ngram_vectors)

    def serve(word):
        word = lower_graph(limited_texts(word, "word"))
        ids = tf.cast(lookup(word), tf.int32)
        known = ids > 0
        vector = table(ids)
        if ngrams is not None:
            grams = subword_buckets(word, buckets, vectors.min_n, vectors.max_n)
            pieces = tf.ragged.map_flat_values(ngrams, grams)
            count = tf.cast(grams.row_lengths(), vector.dtype)[:, None]
            mean = tf.reduce_sum(pieces, axis=1) / tf.maximum(count, 1.0)
            vector = tf.where(known[:, None], vector, mean)
        return {"vector": vector, "known": known}

    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec([None], tf.string, name="word")],
    )
    return archive


def export_word_vectors(vectors, root, model_name, *, examples):
    """Writes `root/model_name/<next version>/` with TF Serving warmup requests.

    Args:
        vectors: A `WordVectors`.
        root: The export root.
        model_name: The served model's name.
        examples: A few words, TF Serving's warmup request.

    Returns:
        The version directory.
    """
    warmup = [("serving_default", {"word": example_texts(examples)})]
    archive = word_vectors_archive(vectors)
    return write_version(root, model_name, archive.write_out, warmup)
