"""Sequence-to-sequence batches for an encoder-decoder trained by teacher forcing.

For a pair (source, target) with token ids `s_1..s_m` and `t_1..t_n`:

    encoder_inputs   = s_1 ... s_m <eos>
    decoder_inputs   = <bos> t_1 ... t_n          (the target shifted right)
    decoder_targets  = t_1 ... t_n <eos>

Batches are `((encoder_inputs, decoder_inputs), decoder_targets)`, right-padded
with 0 (`<pad>`), as `Model.fit` expects for a two-input model. The valid
lengths are the counts of non-zero ids (`valid_lengths`), and can be added as
a third input.
"""

import tensorflow as tf

from garden.checks import check_positive_integer
from garden.data import batching
from garden.data.tokenizers import WordTokenizer
from garden.data.vocabulary import Vocabulary

TRANSLATION_MIN_FREQ = 2


def valid_lengths(ids):
    """The number of non-padding ids in each row of a right-padded batch.

    Args:
        ids: an integer tensor of shape `(batch, length)`, padded with 0.

    Returns:
        An int32 tensor of shape `(batch,)`.
    """
    return tf.math.count_nonzero(ids, axis=-1, dtype=tf.int32)


def build_translation_vocabularies(
    pairs, tokenizer=None, min_freq=TRANSLATION_MIN_FREQ
):
    """Source and target vocabularies of a list of sentence pairs (d2l: min 2).

    Args:
        pairs: a list of `(source, target)` strings (training pairs only).
        tokenizer: defaults to `WordTokenizer("translation")`.
        min_freq: minimum count to keep a word.

    Returns:
        A tuple `(source_vocabulary, target_vocabulary)`.
    """
    tokenizer = tokenizer or WordTokenizer("translation")
    source = Vocabulary((tokenizer.tokenize(s) for s, _ in pairs), min_freq=min_freq)
    target = Vocabulary((tokenizer.tokenize(t) for _, t in pairs), min_freq=min_freq)
    return source, target


def translation_dataset(
    pairs,
    source_vocabulary,
    target_vocabulary,
    tokenizer=None,
    batch_size=64,
    max_length=None,
    bucket_boundaries=None,
    shuffle=True,
    seed=None,
    cache=True,
    return_valid_lengths=False,
    drop_remainder=False,
):
    """A `tf.data.Dataset` of teacher-forcing batches for an encoder-decoder.

    Args:
        pairs: a list of `(source, target)` strings.
        source_vocabulary: `Vocabulary` of the source side.
        target_vocabulary: `Vocabulary` of the target side (needs `<bos>`,
            `<eos>`).
        tokenizer: defaults to `WordTokenizer("translation")`.
        batch_size: pairs per batch.
        max_length: if set, pairs whose `encoder_inputs` or `decoder_inputs`
            would be longer are dropped (not cut), and without bucketing every
            batch is padded to exactly this length.
        bucket_boundaries: optional increasing lengths to bucket pairs by
            `max(len(encoder_inputs), len(decoder_inputs))`; each batch is then
            padded to its longest pair.
        shuffle: reshuffle every epoch.
        seed: shuffle seed; the same seed gives the same batches.
        cache: cache the encoded pairs in memory after the first epoch.
        return_valid_lengths: add the source valid lengths as a third input,
            `(encoder_inputs, decoder_inputs, encoder_valid_lengths)`.
        drop_remainder: drop a last, smaller batch.

    Returns:
        A `tf.data.Dataset` of `((encoder_inputs, decoder_inputs),
        decoder_targets)`, int32, shapes `(batch, source_length)`,
        `(batch, target_length)`, `(batch, target_length)`.
    """
    check_positive_integer("batch_size", batch_size)
    check_positive_integer("max_length", max_length, allow_none=True)
    batching.check_bucket_boundaries(bucket_boundaries)
    tokenizer = tokenizer or WordTokenizer("translation")
    dataset = _teacher_forcing_triples(
        pairs, source_vocabulary, target_vocabulary, tokenizer
    )
    if max_length is not None:
        dataset = dataset.filter(
            lambda encoder, decoder, _: tf.logical_and(
                tf.size(encoder) <= max_length, tf.size(decoder) <= max_length
            )
        )
    length = max_length if bucket_boundaries is None else None
    dataset = batching.shuffle_and_batch(
        dataset,
        batch_size,
        padded_shapes=([length], [length], [length]),
        padding_values=(0, 0, 0),
        shuffle=shuffle,
        seed=seed,
        cache=cache,
        bucket_boundaries=bucket_boundaries,
        length_function=lambda encoder, decoder, _: tf.maximum(
            tf.size(encoder), tf.size(decoder)
        ),
        drop_remainder=drop_remainder,
    )

    def to_keras(encoder, decoder, targets):
        if return_valid_lengths:
            return (encoder, decoder, valid_lengths(encoder)), targets
        return (encoder, decoder), targets

    return dataset.map(to_keras, num_parallel_calls=batching.AUTOTUNE).prefetch(
        batching.AUTOTUNE
    )


def _teacher_forcing_triples(pairs, source_vocabulary, target_vocabulary, tokenizer):
    """One unbatched `(encoder_inputs, decoder_inputs, decoder_targets)` a pair."""
    sources = tf.data.Dataset.from_tensor_slices(tf.constant([s for s, _ in pairs]))
    targets = tf.data.Dataset.from_tensor_slices(tf.constant([t for _, t in pairs]))
    source_ids = batching.encode_dataset(sources, tokenizer, source_vocabulary)
    target_ids = batching.encode_dataset(targets, tokenizer, target_vocabulary)
    source_eos = tf.constant([source_vocabulary.eos_id], tf.int32)
    bos = tf.constant([target_vocabulary.bos_id], tf.int32)
    eos = tf.constant([target_vocabulary.eos_id], tf.int32)

    def teacher_forcing(source, target):
        return (
            tf.concat([source, source_eos], 0),
            tf.concat([bos, target], 0),
            tf.concat([target, eos], 0),
        )

    return tf.data.Dataset.zip((source_ids, target_ids)).map(
        teacher_forcing, num_parallel_calls=batching.AUTOTUNE
    )
