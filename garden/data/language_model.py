"""Language-model minibatches: a token stream cut into `(X, Y)` of `num_steps`.

`Y` is `X` shifted by one token. Two partitions, as in d2l (section 9.3):

- `"random"` (`partition_random`): each epoch drops a random offset of
  `0 .. num_steps - 1` tokens, cuts the rest into non-overlapping subsequences
  and deals them out in random order; neighbouring batches are unrelated, so
  the hidden state is reset between batches.
- `"sequential"` (`partition_sequential`): the stream layout for stateful
  truncated backpropagation through time. The stream (after a random offset
  each epoch) is split into `batch_size` contiguous rows, and each batch takes
  the next `num_steps` columns, so row `i` of a batch continues row `i` of the
  batch before it and the hidden state can be carried over.

Both return a `tf.data.Dataset` of int32 `(X, Y)` with shape
`(batch_size, num_steps)` (remainders dropped), fresh randomness on every
iteration (every Keras epoch), and the same sequence of epochs for the same
`seed`. Every epoch has the same, known number of batches (that of the
largest offset), so Keras shows a progress bar with a total and never runs
out of data mid-epoch.
"""

import numpy as np
import tensorflow as tf

from garden.data import batching
from garden.data.preprocessors import shared_encoder

PARTITIONS = ("random", "sequential")


def token_stream(texts, tokenizer, vocabulary, append_eos=False):
    """Concatenate tokenized texts into one stream of ids.

    Args:
        texts: a list of strings (lines or sentences).
        tokenizer: a `WordTokenizer` or `CharacterTokenizer`.
        vocabulary: a `Vocabulary`.
        append_eos: add `<eos>` after each text (the usual choice for PTB).

    Returns:
        A 1-D `np.int32` array.
    """
    return shared_encoder(tokenizer, vocabulary, append_eos).stream(list(texts))


def token_streams(texts, tokenizer, vocabulary, append_eos=False):
    """`token_stream` of each split, all through one encoder (`shared_encoder`).

    Args:
        texts: a dict of lists of strings, keyed by split.
        tokenizer, vocabulary, append_eos: as in `token_stream`.

    Returns:
        A dict of 1-D `np.int32` arrays with the keys of `texts`.
    """
    encoder = shared_encoder(tokenizer, vocabulary, append_eos)
    return {split: encoder.stream(list(lines)) for split, lines in texts.items()}


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a positive "
            f"integer, got {value!r}."
        )


def tokens_needed(batch_size, num_steps):
    """The shortest stream `partition_sequential` takes: one batch at every offset."""
    return batch_size * num_steps + num_steps


def _prepare(token_ids, batch_size, num_steps):
    _check_positive("batch_size", batch_size)
    _check_positive("num_steps", num_steps)
    token_ids = np.asarray(token_ids, dtype="int32").reshape(-1)
    needed = tokens_needed(batch_size, num_steps)
    if len(token_ids) < needed:
        raise ValueError(
            "Received an invalid value for argument `token_ids`, expected at least "
            f"{needed} tokens for batch_size={batch_size} and num_steps={num_steps}, "
            f"got {len(token_ids)}."
        )
    return tf.constant(token_ids)


def _epoch_offsets(seed, num_steps):
    """One random int64 per iteration: the epoch's offset and shuffle seed."""
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return randoms.take(1).map(lambda r: (r % num_steps, r))


def partition_random(token_ids, batch_size, num_steps, seed=None):
    """Random partitioning (d2l's `seq_data_iter_random`) as a `tf.data.Dataset`.

    Args:
        token_ids: 1-D sequence of token ids.
        batch_size: subsequences per batch.
        num_steps: tokens per subsequence.
        seed: integer seed; the same seed gives the same epochs.

    Returns:
        A `tf.data.Dataset` of `(X, Y)` int32 pairs of shape
        `(batch_size, num_steps)`; each iteration is one epoch.

    Example:

    >>> dataset = partition_random(list(range(35)), 2, 5, seed=0)
    >>> [tuple(x.shape) for x, y in dataset]
    [(2, 5), (2, 5), (2, 5)]
    """
    corpus = _prepare(token_ids, batch_size, num_steps)
    length = tf.shape(corpus, out_type=tf.int64)[0]

    def epoch(offset, randomness):
        num_subsequences = (length - offset - 1) // num_steps
        num_batches = num_subsequences // batch_size
        shuffle_seed = tf.stack([tf.constant(seed or 0, tf.int64), randomness])
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_subsequences), seed=shuffle_seed
        )[: num_batches * batch_size]
        starts = offset + order * num_steps
        positions = starts[:, None] + tf.range(num_steps, dtype=tf.int64)[None, :]
        inputs = tf.gather(corpus, positions)
        targets = tf.gather(corpus, positions + 1)
        return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(
            batch_size, drop_remainder=True
        )

    largest_offset = num_steps - 1
    batches = (len(corpus) - largest_offset - 1) // num_steps // batch_size
    return _epochs(_epoch_offsets(seed, num_steps).flat_map(epoch), batches)


def _epochs(dataset, batches):
    """Each epoch cut to `batches` batches, a count `Model.fit` can rely on."""
    dataset = dataset.take(batches)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    return dataset.prefetch(tf.data.AUTOTUNE)


def partition_sequential(
    token_ids, batch_size, num_steps, seed=None, random_offset=True
):
    """Sequential partitioning: the stream layout for stateful truncated BPTT.

    The (offset) stream is reshaped to `batch_size` rows; batch `t` holds
    columns `t * num_steps .. (t + 1) * num_steps - 1`, so row `i` of batch
    `t + 1` starts exactly where row `i` of batch `t` ended (d2l's
    `seq_data_iter_sequential`).

    Args:
        token_ids: 1-D sequence of token ids.
        batch_size: rows (parallel streams) per batch.
        num_steps: tokens per row per batch (the truncation length).
        seed: integer seed for the per-epoch offsets.
        random_offset: start each epoch at a random offset in
            `0 .. num_steps - 1`; `False` always starts at 0.

    Returns:
        A `tf.data.Dataset` of `(X, Y)` int32 pairs of shape
        `(batch_size, num_steps)`; each iteration is one epoch.

    Example:

    >>> dataset = partition_sequential(list(range(24)), 2, 3, random_offset=False)
    >>> [x.numpy().tolist() for x, y in dataset][:2]
    [[[0, 1, 2], [11, 12, 13]], [[3, 4, 5], [14, 15, 16]]]
    """
    corpus = _prepare(token_ids, batch_size, num_steps)
    length = tf.shape(corpus, out_type=tf.int64)[0]

    def epoch(offset, randomness):
        del randomness
        if not random_offset:
            offset = tf.zeros_like(offset)
        row_length = (length - offset - 1) // batch_size
        num_batches = row_length // num_steps
        inputs = tf.reshape(
            corpus[offset : offset + batch_size * row_length], (batch_size, -1)
        )
        targets = tf.reshape(
            corpus[offset + 1 : offset + 1 + batch_size * row_length], (batch_size, -1)
        )
        columns = num_batches * num_steps
        # (batch, num_batches, steps) -> (num_batches, batch, steps)
        inputs = tf.transpose(
            tf.reshape(inputs[:, :columns], (batch_size, num_batches, num_steps)),
            (1, 0, 2),
        )
        targets = tf.transpose(
            tf.reshape(targets[:, :columns], (batch_size, num_batches, num_steps)),
            (1, 0, 2),
        )
        return tf.data.Dataset.from_tensor_slices((inputs, targets))

    largest_offset = num_steps - 1 if random_offset else 0
    batches = (len(corpus) - largest_offset - 1) // batch_size // num_steps
    return _epochs(_epoch_offsets(seed, num_steps).flat_map(epoch), batches)


def language_model_dataset(
    token_ids, batch_size, num_steps, partition="random", seed=None
):
    """`(X, Y)` minibatches of a token stream, partitioned randomly or sequentially.

    Args:
        token_ids: 1-D sequence of token ids (see `token_stream`).
        batch_size: rows per batch.
        num_steps: tokens per row.
        partition: `"random"` (`partition_random`) or `"sequential"`
            (`partition_sequential`, the stateful stream layout).
        seed: integer seed for offsets and order.

    Returns:
        A `tf.data.Dataset` of int32 `(X, Y)` of shape `(batch_size, num_steps)`.
    """
    if partition not in PARTITIONS:
        raise ValueError(
            "Received an invalid value for argument `partition`, expected one of "
            f"{list(PARTITIONS)}, got {partition!r}."
        )
    if partition == "random":
        return partition_random(token_ids, batch_size, num_steps, seed=seed)
    return partition_sequential(token_ids, batch_size, num_steps, seed=seed)


def sentence_dataset(
    sentences,
    tokenizer,
    vocabulary,
    batch_size,
    shuffle=True,
    seed=None,
    bucket_boundaries=None,
):
    """Whole sentences as `(X, Y)` batches, for full backpropagation through time.

    Each sentence is one sequence the model reads from a zero state:
    `X = [<eos>, w_1, ..., w_n]` and `Y = [w_1, ..., w_n, <eos>]` (the `<eos>`
    in front stands for the end of the previous sentence, as in the stream
    layout). Batches are right-padded with 0 (`<pad>`), which the loss ignores.

    Args:
        sentences: A list of strings, one sentence (or line) each.
        tokenizer: A `WordTokenizer` or `CharacterTokenizer`.
        vocabulary: A `Vocabulary`.
        batch_size: Sentences per batch.
        shuffle: Reshuffle every epoch.
        seed: Shuffle seed.
        bucket_boundaries: Optional increasing lengths to bucket sentences by.

    Returns:
        A `tf.data.Dataset` of int32 `(X, Y)` of shape `(batch, longest)`.

    Example:

    >>> from garden.data import Vocabulary, WordTokenizer
    >>> tokenizer = WordTokenizer("whitespace")
    >>> vocabulary = Vocabulary([["a", "b", "c"]])
    >>> x, y = next(iter(sentence_dataset(["a b", "c"], tokenizer, vocabulary, 2,
    ...                                   shuffle=False)))
    >>> x.numpy().tolist(), y.numpy().tolist()
    ([[3, 4, 5], [3, 6, 0]], [[4, 5, 3], [6, 3, 0]])
    """
    _check_positive("batch_size", batch_size)
    batching.check_bucket_boundaries(bucket_boundaries)
    eos = tf.constant([vocabulary.eos_id], tf.int32)
    texts = tf.data.Dataset.from_tensor_slices(tf.constant(list(sentences), tf.string))
    ids = batching.encode_dataset(texts, tokenizer, vocabulary)
    ids = ids.filter(lambda sentence: tf.size(sentence) > 0)
    pairs = ids.map(
        lambda sentence: (
            tf.concat([eos, sentence], 0),
            tf.concat([sentence, eos], 0),
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return batching.shuffle_and_batch(
        pairs,
        batch_size,
        padded_shapes=([None], [None]),
        padding_values=(0, 0),
        shuffle=shuffle,
        seed=seed,
        cache=True,
        bucket_boundaries=bucket_boundaries,
        length_function=lambda x, y: tf.shape(x)[0],
    )


def bidirectional_windows(token_ids, num_steps, bos_id, eos_id):
    """Texts cut into windows with the targets of a forward and a backward LM.

    Each text `w_1 .. w_n` is read as `<bos> w_1 .. w_n <eos>` and cut into
    windows of `num_steps` words (the last one shorter, right-padded with 0).
    In a window, the forward target at step t is the word after it and the
    backward target the word before it, across window boundaries, so only the
    text's first word predicts `<bos>` and its last `<eos>`.

    Args:
        token_ids: A list of 1-D id sequences, one per text (empty ones skip).
        num_steps: Words per window.
        bos_id, eos_id: The ids of `<bos>` and `<eos>`.

    Returns:
        `(inputs, forward_targets, backward_targets)`, int32 arrays of shape
        `(windows, num_steps)`.

    Example:

    >>> x, f, b = bidirectional_windows([[5, 6, 7]], 2, bos_id=2, eos_id=3)
    >>> x.tolist(), f.tolist(), b.tolist()
    ([[5, 6], [7, 0]], [[6, 7], [3, 0]], [[2, 5], [6, 0]])
    """
    _check_positive("num_steps", num_steps)
    rows = [[], [], []]
    for ids in token_ids:
        ids = np.asarray(ids, "int32").reshape(-1)
        if not len(ids):
            continue
        text = np.concatenate([[bos_id], ids, [eos_id]]).astype("int32")
        for start in range(0, len(ids), num_steps):
            width = min(num_steps, len(ids) - start)
            for row, shift in zip(rows, (1, 2, 0)):
                window = np.zeros(num_steps, "int32")
                window[:width] = text[start + shift : start + shift + width]
                row.append(window)
    empty = np.zeros((0, num_steps), "int32")
    return tuple(np.stack(row) if row else empty for row in rows)


def bidirectional_dataset(
    token_ids, num_steps, bos_id, eos_id, batch_size, shuffle=True, seed=None
):
    """`bidirectional_windows` as `(ids, {"forward": .., "backward": ..})` batches.

    Args:
        token_ids, num_steps, bos_id, eos_id: As for `bidirectional_windows`.
        batch_size: Windows per batch.
        shuffle: Reshuffle the windows every epoch.
        seed: Shuffle seed.

    Returns:
        A `tf.data.Dataset` of int32 `(batch, num_steps)` ids and targets.
    """
    _check_positive("batch_size", batch_size)
    x, forward, backward = bidirectional_windows(token_ids, num_steps, bos_id, eos_id)
    dataset = tf.data.Dataset.from_tensor_slices(
        (x, {"forward": forward, "backward": backward})
    )
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
