"""Skip-gram training examples and fastText subwords, made in `tf.data`.

The lectures' recipe for word2vec's training data (Mikolov et al. 2013), all
of it as tensor operations on chunks of the corpus, with no Python loop per
token:

1. Subsampling: each occurrence of word w is kept with probability
   `(sqrt(f(w) / t) + 1) * t / f(w)` (capped at 1), f(w) its relative
   frequency and t the threshold (1e-4): frequent words ("the", ",") are
   mostly dropped, rare ones always kept. This is the formula of word2vec's C
   code and of gensim (the paper's `1 - sqrt(t / f)` is its approximation).
2. Dynamic window: each kept center word draws a window b uniformly from
   1..`window`; its contexts are the kept words at most b positions away in
   the same sentence, so near words count more than far ones.
3. Negatives: K noise words per (center, context) pair, drawn from the
   unigram distribution raised to the power 0.75.

fastText (Bojanowski et al. 2017) represents a word by itself plus its
character n-grams (n = 3..6) of `<word>`, the n-grams hashed into a fixed
number of buckets, so unseen words still get a vector from their pieces. The
hashing runs in TensorFlow (`tf.strings.to_hash_bucket_fast`) both when the
training table is built and inside an exported model, so the two agree.
"""

import functools

import numpy as np
import tensorflow as tf

# Tokens of a chunk of the corpus handed to one `map` call. Pairs never cross
# a chunk boundary; with a window of 5 that loses about 0.1% of the pairs.
CHUNK_SIZE = 8192


def keep_probabilities(counts, sample=1e-4):
    """Probability of keeping each occurrence of each word when subsampling.

    Args:
        counts: Occurrences per word id (reserved ids count 0).
        sample: The threshold t; `0` keeps every word.

    Returns:
        float32 array of the same shape; 0 where a word never occurs.

    Example:

    >>> [round(float(p), 4) for p in keep_probabilities([0, 1, 10**6], sample=1e-3)]
    [0.0, 1.0, 0.0326]
    """
    counts = np.asarray(counts, np.float64)
    if sample < 0:
        raise ValueError(
            "Received an invalid value for argument `sample`, expected a "
            f"number >= 0, got {sample!r}."
        )
    keep = np.zeros_like(counts)
    seen = counts > 0
    if sample == 0:
        keep[seen] = 1.0
        return keep.astype(np.float32)
    frequency = counts[seen] / counts.sum()
    keep[seen] = (np.sqrt(frequency / sample) + 1.0) * sample / frequency
    return np.minimum(keep, 1.0).astype(np.float32)


def noise_distribution(counts, power=0.75):
    """The negatives' distribution: unigram counts to the power 0.75, normalised."""
    weights = np.asarray(counts, np.float64) ** power
    if weights.sum() <= 0:
        raise ValueError("Received `counts` with no occurrences: nothing to sample.")
    return weights / weights.sum()


def skipgram_pairs(ids, sentence, keep, window, seed):
    """(center, context) pairs of one chunk: subsample, then a dynamic window.

    Args:
        ids: int32 `(n,)` word ids of consecutive tokens; -1 is padding.
        sentence: int32 `(n,)` the sentence index of each token; pairs
            never join two sentences.
        keep: float32 `(vocab_size,)`, `keep_probabilities`.
        window: The largest window b.
        seed: int32 `(2,)`, the stateless random seed of this chunk.

    Returns:
        Two int32 tensors `(pairs,)`: centers and contexts.
    """
    seeds = tf.random.experimental.stateless_split(seed, 3)
    real = ids >= 0
    draw = tf.random.stateless_uniform(tf.shape(ids), seeds[0])
    kept = real & (draw < tf.gather(keep, tf.maximum(ids, 0)))
    ids = tf.boolean_mask(ids, kept)
    sentence = tf.boolean_mask(sentence, kept)
    reach = tf.random.stateless_uniform(
        tf.shape(ids), seeds[1], minval=1, maxval=window + 1, dtype=tf.int32
    )
    centers, contexts = [], []
    for offset in range(1, window + 1):
        same = sentence[:-offset] == sentence[offset:]
        # The word at i sees i + offset; the word at i + offset sees i.
        forward = same & (reach[:-offset] >= offset)
        backward = same & (reach[offset:] >= offset)
        centers += [
            tf.boolean_mask(ids[:-offset], forward),
            tf.boolean_mask(ids[offset:], backward),
        ]
        contexts += [
            tf.boolean_mask(ids[offset:], forward),
            tf.boolean_mask(ids[:-offset], backward),
        ]
    centers = tf.concat(centers, 0)
    contexts = tf.concat(contexts, 0)
    # Mix the offsets, and spread a center's pairs over the batches: taking
    # them all in one step is faster but scores worse (docs/word_vectors.md).
    order = tf.random.experimental.stateless_shuffle(
        tf.range(tf.shape(centers)[0]), seeds[2]
    )
    return tf.gather(centers, order), tf.gather(contexts, order)


def flatten_sentences(sentences, min_id):
    """Word ids and sentence indices of every token with id >= `min_id`.

    Words below `min_id` (padding, `<unk>`, reserved tokens) are dropped
    before windowing, as word2vec and gensim drop out-of-vocabulary words.
    """
    ids = [np.asarray(sentence, np.int32) for sentence in sentences]
    lengths = [len(sentence) for sentence in ids]
    flat = np.concatenate(ids) if ids else np.zeros([0], np.int32)
    index = np.repeat(np.arange(len(ids), dtype=np.int32), lengths)
    known = flat >= min_id
    return flat[known], index[known]


def expected_pairs(sentences, keep, window, min_id=4):
    """How many pairs an epoch of `skipgram_dataset` yields, on average.

    Two kept words d apart in a sentence make the pair (i, j) when i's window
    b reaches d, with probability (window - d + 1) / window, and (j, i) the
    same; a sentence of l kept words has l - d such neighbours. So a sentence
    yields sum_d 2 max(l - d, 0) (window - d + 1) / window pairs, taken here
    at its expected kept length l = sum of its words' keep probabilities
    (exact without subsampling; 0.2% above an epoch's pairs on PTB).
    Far from sentence ends that is (window + 1) pairs a word; PTB's sentences
    (21 words on average) yield a fifth less, and a learning-rate schedule
    sized by (window + 1) a word ended the run at a fifth of its start
    instead of near zero.

    Args:
        sentences: Lists of word ids, as for `skipgram_dataset`.
        keep: `keep_probabilities` of every id.
        window: The largest window b.
        min_id: The first id of a real word.

    Returns:
        A float, the expected number of pairs.
    """
    ids, sentence = flatten_sentences(sentences, min_id)
    kept = np.bincount(
        sentence, weights=np.asarray(keep, np.float64)[ids], minlength=len(sentences)
    )
    d = np.arange(1, window + 1)
    reach = (window - d + 1) / window
    return float(np.sum(2 * np.maximum(kept[:, None] - d, 0) * reach))


def skipgram_dataset(
    sentences,
    counts,
    window=5,
    negatives=5,
    sample=1e-4,
    batch_size=1024,
    min_id=4,
    seed=0,
):
    """Batches of `((center, context, noise), labels)` for the skip-gram model.

    Each epoch (each pass over the dataset) draws new subsampling, windows,
    chunk order and negatives.

    Args:
        sentences: Lists of word ids, one per sentence (or document).
        counts: Occurrences of each id in the training corpus, `(vocab_size,)`.
        window: The largest window b (contexts within b words).
        negatives: K, noise words per pair.
        sample: The subsampling threshold t (0: keep every word).
        batch_size: Pairs per batch.
        min_id: The first id of a real word (ids below are reserved).
        seed: Seeds subsampling, windows, order and negatives.

    Returns:
        A `tf.data.Dataset`; inputs are `center` `(batch,)`, `context`
        `(batch,)` and `noise` `(batch, K)`; labels `(batch, 1 + K)` are 1
        for the context and 0 for the noise words.
    """
    for name, value in (("window", window), ("negatives", negatives)):
        if value < 1:
            raise ValueError(
                f"Received an invalid value for argument `{name}`, expected a "
                f"positive integer, got {value!r}."
            )
    counts = np.asarray(counts, np.float64).copy()
    counts[:min_id] = 0
    ids, sentence = flatten_sentences(sentences, min_id)
    if len(ids) == 0:
        raise ValueError("Received `sentences` with no words of the vocabulary.")
    padding = -len(ids) % CHUNK_SIZE
    ids = np.pad(ids, (0, padding), constant_values=-1).reshape(-1, CHUNK_SIZE)
    sentence = np.pad(sentence, (0, padding), constant_values=-1)
    sentence = sentence.reshape(-1, CHUNK_SIZE)
    keep = tf.constant(keep_probabilities(counts, sample))
    cumulative = tf.constant(np.cumsum(noise_distribution(counts)), tf.float32)

    chunks = tf.data.Dataset.from_tensor_slices((ids, sentence))
    chunks = chunks.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    pairs_of = _traced_pairs(window)
    pairs = tf.data.Dataset.zip(chunks, seeds).map(
        lambda chunk, seed_pair: pairs_of(
            chunk[0], chunk[1], keep, tf.cast(seed_pair, tf.int32)
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    batches = _with_negatives(pairs.rebatch(batch_size), cumulative, negatives, seed)
    return batches.prefetch(tf.data.AUTOTUNE)


@functools.cache
def _traced_pairs(window):
    """`skipgram_pairs` with this window, traced once per process.

    Its 4 x window masks took a fifth of a second to trace, again for every
    dataset (a run's training and validation pairs, each trial of a search):
    each dataset's map now calls this one traced graph.
    """

    def pairs(ids, sentence, keep, seed):
        return skipgram_pairs(ids, sentence, keep, window, seed)

    chunk = tf.TensorSpec([None], tf.int32)
    return tf.function(
        pairs,
        input_signature=[chunk, chunk, tf.TensorSpec([None], tf.float32),
                         tf.TensorSpec([2], tf.int32)],
    )  # fmt: skip


def _with_negatives(batches, cumulative, negatives, seed):
    """Batches of `(center, context)` pairs with K noise words each, and labels.

    Args:
        batches: A dataset of `(center, context)` batches.
        cumulative: The cumulative noise distribution over the vocabulary.
        negatives: K, noise words per pair.
        seed: The `skipgram_dataset` seed (the noise draws use `seed + 1`).

    Returns:
        A dataset of `({"center", "context", "noise"}, labels)` batches.
    """

    def add_noise(center, context, seed_pair):
        draws = tf.random.stateless_uniform(
            [tf.shape(center)[0], negatives], tf.cast(seed_pair, tf.int32)
        )
        noise = tf.searchsorted(
            cumulative[None, :], tf.reshape(draws, [1, -1]), side="right"
        )
        noise = tf.reshape(noise, tf.shape(draws))
        noise = tf.minimum(tf.cast(noise, tf.int32), tf.shape(cumulative)[0] - 1)
        labels = tf.concat(
            [tf.ones_like(center[:, None]), tf.zeros_like(noise)], axis=1
        )
        inputs = {"center": center, "context": context, "noise": noise}
        return inputs, tf.cast(labels, tf.float32)

    noise_seeds = tf.data.Dataset.random(seed=seed + 1).batch(2)
    return tf.data.Dataset.zip(batches, noise_seeds).map(
        lambda pair, seed_pair: add_noise(*pair, seed_pair),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


def subword_strings(words, min_n=3, max_n=6):
    """Character n-grams of `<word>` for n in `min_n..max_n`, in-graph.

    Args:
        words: string tensor `(n,)`.

    Returns:
        A `tf.RaggedTensor` of strings, `(n, None)`.

    Example:

    >>> subword_strings(tf.constant(["cat"]), 3, 4).to_list()
    [[b'<ca', b'cat', b'at>', b'<cat', b'cat>']]
    """
    if not 1 <= min_n <= max_n:
        raise ValueError(
            "Received invalid arguments `min_n` and `max_n`, expected "
            f"1 <= min_n <= max_n, got {min_n!r} and {max_n!r}."
        )
    marked = tf.strings.join(["<", words, ">"])
    characters = tf.strings.unicode_split(marked, "UTF-8")
    return tf.strings.ngrams(
        characters, ngram_width=tuple(range(min_n, max_n + 1)), separator=""
    )


def subword_buckets(words, buckets, min_n=3, max_n=6):
    """The hashed n-gram buckets of each word, `(n, None)` int32, in-graph."""
    grams = subword_strings(words, min_n, max_n)
    hashed = tf.strings.to_hash_bucket_fast(grams, buckets)
    return tf.cast(hashed, tf.int32)


def subword_table(tokens, buckets, min_n=3, max_n=6, min_id=4):
    """Rows of input-table ids for every vocabulary id: the word, then its n-grams.

    Row i holds i (the word's own vector) followed by `vocab_size + bucket`
    for each of its n-grams, padded with -1. Reserved ids (below `min_id`)
    have only their own id.

    Args:
        tokens: The vocabulary's tokens in id order.
        buckets: Number of hash buckets for the n-grams.

    Returns:
        int32 array `(vocab_size, 1 + most n-grams of a word)`.
    """
    if buckets < 1:
        raise ValueError(
            "Received an invalid value for argument `buckets`, expected a "
            f"positive integer, got {buckets!r}."
        )
    vocab_size = len(tokens)
    grams = subword_buckets(tf.constant(list(tokens[min_id:])), buckets, min_n, max_n)
    grams = (grams + vocab_size).to_list()
    rows = [[index] for index in range(min_id)]
    rows += [[min_id + offset, *row] for offset, row in enumerate(grams)]
    width = max(len(row) for row in rows)
    table = np.full((vocab_size, width), -1, np.int32)
    for index, row in enumerate(rows):
        table[index, : len(row)] = row
    return table
