"""Skip-gram examples: subsampling, windows within sentences, noise, subwords."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from garden.data.skipgram import (
    expected_pairs,
    keep_probabilities,
    noise_distribution,
    skipgram_dataset,
    skipgram_pairs,
    subword_buckets,
    subword_strings,
    subword_table,
)


def test_keep_probability_is_word2vecs_formula():
    counts = np.array([0, 5, 100, 10_000, 1_000_000], float)
    keep = keep_probabilities(counts, sample=1e-3)
    f = counts[1:] / counts.sum()
    want = np.minimum((np.sqrt(f / 1e-3) + 1) * 1e-3 / f, 1)
    np.testing.assert_allclose(keep[1:], want, rtol=1e-6)
    assert keep[0] == 0 and keep[1] == 1 and keep[-1] < 0.05
    assert keep_probabilities(counts, sample=0).tolist() == [0, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="sample"):
        keep_probabilities(counts, sample=-1)


def pairs_of(ids, sentence, window, seed=(1, 2), sample=0.0):
    keep = tf.constant(keep_probabilities(np.ones(100), sample))
    centers, contexts = skipgram_pairs(
        tf.constant(ids, tf.int32),
        tf.constant(sentence, tf.int32),
        keep,
        window,
        tf.constant(seed, tf.int32),
    )
    return list(zip(centers.numpy().tolist(), contexts.numpy().tolist()))


def test_window_one_gives_exactly_the_neighbours_in_the_same_sentence():
    ids = [10, 11, 12, 20, 21, -1]
    sentence = [0, 0, 0, 1, 1, -1]
    got = collections.Counter(pairs_of(ids, sentence, window=1))
    want = collections.Counter(
        [(10, 11), (11, 10), (11, 12), (12, 11), (20, 21), (21, 20)]
    )
    assert got == want


def test_dynamic_window_weights_near_contexts_more():
    ids = list(range(2, 62))
    distances = collections.Counter()
    for seed in range(20):
        for center, context in pairs_of(ids, [0] * 60, window=4, seed=(seed, 0)):
            distances[abs(center - context)] += 1
    assert set(distances) == {1, 2, 3, 4}
    # P(b >= d) = (5 - d) / 4: 4 : 3 : 2 : 1.
    ratios = [distances[d] / distances[1] for d in (2, 3, 4)]
    np.testing.assert_allclose(ratios, [0.75, 0.5, 0.25], atol=0.06)


def test_subsampling_keeps_words_at_their_probability():
    counts = np.zeros(10)
    counts[2], counts[3] = 9_000, 1_000
    ids = np.tile(np.array([2] * 9 + [3], np.int32), 2000)
    keep = keep_probabilities(counts, sample=0.05)
    kept = collections.Counter()
    # Count kept words through the dataset of one long sentence, window 1:
    # every kept word in the middle is the center of exactly two pairs.
    dataset = skipgram_dataset(
        [ids], counts, window=1, negatives=1, sample=0.05, batch_size=4096, min_id=2
    )
    for inputs, _ in dataset:
        kept.update(inputs["center"].numpy().tolist())
    rate = {word: kept[word] / 2 / np.sum(ids == word) for word in (2, 3)}
    assert rate[2] == pytest.approx(keep[2], abs=0.03)
    assert rate[3] == pytest.approx(keep[3], abs=0.03)
    assert rate[2] < rate[3]


def test_expected_pairs_counts_what_an_epoch_yields_in_short_sentences():
    # Sentences of 2 to 11 words yield far fewer pairs than (window + 1) a
    # word, the count that once sized the learning-rate schedule.
    rng = np.random.default_rng(0)
    sentences = [rng.integers(2, 6, rng.integers(2, 12)) for _ in range(400)]
    counts = np.bincount(np.concatenate(sentences), minlength=6).astype(float)
    for sample in (0.0, 0.05):
        keep = keep_probabilities(counts, sample=sample)
        dataset = skipgram_dataset(
            sentences, counts, window=5, negatives=1, sample=sample, min_id=2
        )
        epochs = 10
        pairs = sum(len(inputs["center"]) for inputs, _ in dataset.repeat(epochs))
        want = expected_pairs(sentences, keep, window=5, min_id=2)
        assert want == pytest.approx(pairs / epochs, rel=0.03)
        assert want < 0.7 * np.sum(counts * keep) * 6


def test_noise_follows_the_unigram_distribution_to_the_three_quarters():
    counts = np.array([0, 0, 1000, 100, 10, 1], float)
    sentences = [[2, 3, 4, 5, 2, 3] * 50]
    dataset = skipgram_dataset(
        sentences, counts, window=2, negatives=20, sample=0, batch_size=256, min_id=2
    )
    noise = np.concatenate(
        [inputs["noise"].numpy().ravel() for _ in range(20) for inputs, _ in dataset]
    )
    frequency = np.bincount(noise, minlength=6) / len(noise)
    np.testing.assert_allclose(frequency, noise_distribution(counts), atol=0.01)
    assert frequency[:2].sum() == 0


def test_dataset_batches_and_labels():
    dataset = skipgram_dataset(
        [[2, 3, 4, 5, 6] * 40] * 5,
        np.array([0, 0, 1, 1, 1, 1, 1]) * 200.0,
        window=2,
        negatives=3,
        sample=0,
        batch_size=32,
        min_id=2,
    )
    inputs, labels = next(iter(dataset))
    assert inputs["center"].shape == (32,) and inputs["noise"].shape == (32, 3)
    assert labels.numpy().tolist()[0] == [1.0, 0.0, 0.0, 0.0]
    assert (inputs["center"].numpy() >= 2).all()


def test_dataset_rejects_bad_arguments():
    with pytest.raises(ValueError, match="window"):
        skipgram_dataset([[2, 3]], [0, 0, 1, 1], window=0, min_id=2)
    with pytest.raises(ValueError, match="no words"):
        skipgram_dataset([[0, 1]], [0, 0, 1, 1], min_id=2)


def test_subwords_are_fasttexts_boundary_marked_ngrams():
    grams = subword_strings(tf.constant(["where", "a"]), 3, 6).to_list()
    want = [
        "<wh", "whe", "her", "ere", "re>",
        "<whe", "wher", "here", "ere>",
        "<wher", "where", "here>",
        "<where", "where>",
    ]  # fmt: skip
    assert [g.decode() for g in grams[0]] == want
    assert [g.decode() for g in grams[1]] == ["<a>"]
    assert subword_strings(tf.constant(["été"]), 5, 5).to_list()[0] == [
        "<été>".encode()
    ]
    with pytest.raises(ValueError, match="min_n"):
        subword_strings(tf.constant(["a"]), 4, 3)


def test_subword_table_rows_hash_like_the_graph():
    tokens = ["<pad>", "<unk>", "walk", "walking", "a"]
    table = subword_table(tokens, buckets=50, min_n=3, max_n=4, min_id=2)
    assert table[:2, 0].tolist() == [0, 1] and (table[:2, 1:] == -1).all()
    assert table[3, 0] == 3
    hashed = subword_buckets(tf.constant(["walking"]), 50, 3, 4).to_list()[0]
    row = table[3][table[3] >= 0][1:]
    assert row.tolist() == [h + len(tokens) for h in hashed]
    assert (row >= len(tokens)).all() and (row < len(tokens) + 50).all()
