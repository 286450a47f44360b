"""The `tf.data` steps every text pipeline shares: encode, cache, shuffle, pad.

Padding is on the right with id 0 (`<pad>`), so the mask of a batch is
`ids != 0`, which `keras.layers.Embedding(mask_zero=True)` computes itself.
"""

import numpy as np
import tensorflow as tf

from garden.data.preprocessors import ENCODE_BLOCK, shared_encoder

AUTOTUNE = tf.data.AUTOTUNE


def check_bucket_boundaries(bucket_boundaries):
    """Raise a `ValueError` unless the boundaries are increasing positive ints."""
    if bucket_boundaries is None:
        return
    values = list(bucket_boundaries)
    if (
        not values
        or any(not isinstance(b, int | np.integer) or b < 1 for b in values)
        or sorted(set(values)) != values
    ):
        raise ValueError(
            "Received an invalid value for argument `bucket_boundaries`, expected a "
            "strictly increasing list of positive integers, got "
            f"{bucket_boundaries!r}."
        )


def encode_dataset(texts, tokenizer, vocabulary, append_eos=False):
    """A dataset of id vectors, one per text, through the task's `TextToIds`.

    Args:
        texts: a `tf.data.Dataset` of scalar strings.
        tokenizer: a `WordTokenizer` or `CharacterTokenizer`.
        vocabulary: a `Vocabulary`.
        append_eos: put `<eos>` after each text's ids.

    Returns:
        A `tf.data.Dataset` of 1-D int32 tensors (variable length), in order.
    """
    encode = shared_encoder(tokenizer, vocabulary, append_eos).graph_function()
    return (
        texts.batch(ENCODE_BLOCK)
        .map(encode, num_parallel_calls=AUTOTUNE, deterministic=True)
        .unbatch()
    )


def shuffle_and_batch(
    dataset,
    batch_size,
    padded_shapes,
    padding_values,
    shuffle,
    seed,
    cache,
    bucket_boundaries=None,
    length_function=None,
    drop_remainder=False,
):
    """Cache, shuffle, pad into batches (optionally bucketed by length), prefetch.

    Args:
        dataset: a `tf.data.Dataset` of encoded examples.
        batch_size: examples per batch.
        padded_shapes: `padded_batch` shapes; a `None` dimension pads to the
            longest example in the batch.
        padding_values: `padded_batch` padding values.
        shuffle: whether to reshuffle every epoch (before batching).
        seed: shuffle seed; the same seed gives the same batches.
        cache: whether to cache the encoded examples in memory, so only the
            first epoch tokenizes.
        bucket_boundaries: optional increasing lengths; examples are grouped
            into buckets between them (`bucket_by_sequence_length`) and padded
            to the longest in their batch only.
        length_function: the example's length, used with `bucket_boundaries`.
        drop_remainder: whether to drop a last, smaller batch.

    Returns:
        The batched, prefetched `tf.data.Dataset`.
    """
    if cache:
        dataset = dataset.cache()
    if shuffle:
        size = dataset.cardinality()
        buffer_size = 50_000 if size < 0 else max(1, int(size))
        dataset = dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    if bucket_boundaries is None:
        dataset = dataset.padded_batch(
            batch_size,
            padded_shapes=padded_shapes,
            padding_values=padding_values,
            drop_remainder=drop_remainder,
        )
    else:
        dataset = dataset.bucket_by_sequence_length(
            length_function,
            bucket_boundaries=list(bucket_boundaries),
            bucket_batch_sizes=[batch_size] * (len(bucket_boundaries) + 1),
            padding_values=padding_values,
            drop_remainder=drop_remainder,
        )
    return dataset.prefetch(AUTOTUNE)
