"""Text classification batches: ids truncated or right-padded, labels alongside.

IMDb defaults follow d2l: words seen at least 5 times, reviews cut to 500
tokens. Tokenization runs in-graph (the same ops an exported
`TextVectorization` runs), in parallel, and is cached after the first epoch.
"""

import numpy as np
import tensorflow as tf

from garden.checks import check_positive_integer
from garden.data import batching
from garden.data.tokenizers import WordTokenizer
from garden.data.vocabulary import Vocabulary

IMDB_MIN_FREQ = 5
IMDB_MAX_LENGTH = 500


def truncate_pad(ids, max_length, pad_id=0):
    """Cut a sequence to `max_length` or pad it on the right (d2l's `truncate_pad`).

    Args:
        ids: a sequence of ids.
        max_length: the length of the result.
        pad_id: the padding id.

    Returns:
        A list of exactly `max_length` ids.

    Example:

    >>> truncate_pad([5, 6, 7], 5)
    [5, 6, 7, 0, 0]
    >>> truncate_pad([5, 6, 7], 2)
    [5, 6]
    """
    check_positive_integer("max_length", max_length)
    ids = list(ids)[:max_length]
    return ids + [pad_id] * (max_length - len(ids))


def build_review_vocabulary(
    texts, tokenizer=None, min_freq=IMDB_MIN_FREQ, max_tokens=None
):
    """A `Vocabulary` of review words (IMDb defaults: `min_freq=5`).

    Args:
        texts: a list of review strings (the training split only).
        tokenizer: defaults to `WordTokenizer("review")`.
        min_freq: minimum count to keep a word.
        max_tokens: optional cap on the vocabulary size.

    Returns:
        The `Vocabulary` (reserved `<pad>`, `<unk>`, `<bos>`, `<eos>`).
    """
    tokenizer = tokenizer or WordTokenizer("review")
    return Vocabulary(
        (tokenizer.tokenize(text) for text in texts),
        min_freq=min_freq,
        max_tokens=max_tokens,
    )


def classification_dataset(
    texts,
    labels,
    vocabulary,
    tokenizer=None,
    max_length=IMDB_MAX_LENGTH,
    batch_size=64,
    shuffle=True,
    seed=None,
    bucket_boundaries=None,
    cache=True,
    drop_remainder=False,
):
    """A `tf.data.Dataset` of `(token_ids, labels)` batches for `Model.fit`.

    Each text is tokenized, looked up, truncated to `max_length` tokens (the
    first ones are kept) and, in batches, right-padded with 0 (`<pad>`); the
    mask is `token_ids != 0`. Texts with no tokens are dropped.

    Args:
        texts: a list of strings.
        labels: a list of integer labels, one per text.
        vocabulary: a `Vocabulary` built on the training texts.
        tokenizer: defaults to `WordTokenizer("review")`.
        max_length: tokens kept per text (positive integer).
        batch_size: examples per batch.
        shuffle: reshuffle every epoch.
        seed: shuffle seed; the same seed gives the same batches.
        bucket_boundaries: `None` pads every batch to `max_length` (fixed
            shape); a list of increasing lengths groups texts of similar
            length and pads each batch to its longest text only.
        cache: cache the encoded texts in memory after the first epoch.
        drop_remainder: drop a last, smaller batch.

    Returns:
        A `tf.data.Dataset` of int32 `token_ids` of shape `(batch, length)`
        and int32 `labels` of shape `(batch,)`.
    """
    check_positive_integer("max_length", max_length)
    check_positive_integer("batch_size", batch_size)
    batching.check_bucket_boundaries(bucket_boundaries)
    if len(texts) != len(labels):
        raise ValueError(
            "Received an invalid value for argument `labels`, expected one label per "
            f"text ({len(texts)}), got {len(labels)}."
        )
    tokenizer = tokenizer or WordTokenizer("review")
    texts = tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string))
    ids = batching.encode_dataset(texts, tokenizer, vocabulary)
    labels = tf.data.Dataset.from_tensor_slices(np.asarray(labels, dtype="int32"))
    dataset = (
        tf.data.Dataset.zip((ids, labels))
        .map(lambda x, y: (x[:max_length], y), num_parallel_calls=batching.AUTOTUNE)
        .filter(lambda x, y: tf.size(x) > 0)
    )
    return batching.shuffle_and_batch(
        dataset,
        batch_size,
        padded_shapes=([max_length], []),
        padding_values=(0, 0),
        shuffle=shuffle,
        seed=seed,
        cache=cache,
        bucket_boundaries=bucket_boundaries,
        length_function=lambda x, y: tf.shape(x)[0],
        drop_remainder=drop_remainder,
    )
