"""Beam search finds the best sequences; width 1 is greedy; graph mode agrees."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from garden.decoding.beam_search import beam_search, tile_beams

VOCAB, PAD, EOS, BOS = 6, 0, 1, 2
TABLE = np.random.default_rng(3).normal(scale=2.0, size=(VOCAB, VOCAB))
TABLE[:, PAD] = -50.0  # a bigram model that never emits padding
TABLE[:, EOS] -= 1.5
TABLE = TABLE.astype("float32")
LOG_PROBS = TABLE - np.log(np.exp(TABLE.astype("float64")).sum(1, keepdims=True))


def step(token_ids, states):
    """Logits of the bigram table; the state counts the steps taken."""
    logits = ops.take(ops.convert_to_tensor(TABLE), token_ids[:, 0], axis=0)
    return logits, [states[0] + 1.0]


def search(batch, width, max_length, alpha):
    states = [tile_beams(ops.zeros((batch, 1)), width)]
    return beam_search(step, states, batch, BOS, EOS, width, max_length, alpha)


def exhaustive_best(max_length, alpha):
    """The best sequence by enumeration: ends with <eos>, or runs to the limit."""
    best = None
    for length in range(1, max_length + 1):
        for sequence in itertools.product(range(1, VOCAB), repeat=length):
            if EOS in sequence[:-1] or (length < max_length and sequence[-1] != EOS):
                continue
            previous, total = BOS, 0.0
            for token in sequence:
                total += LOG_PROBS[previous, token]
                previous = token
            score = total / ((5 + length) / 6) ** alpha
            if best is None or score > best[0]:
                best = (score, [token for token in sequence if token != EOS])
    return best


@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0])
def test_wide_beam_finds_the_exhaustive_optimum(alpha):
    ids, lengths, scores = search(2, VOCAB**3, 4, alpha)
    score, sequence = exhaustive_best(4, alpha)
    for row in range(2):
        assert int(lengths[row]) == len(sequence)
        assert np.asarray(ids)[row, : len(sequence)].tolist() == sequence
        assert np.all(np.asarray(ids)[row, len(sequence) :] == PAD)
        assert float(scores[row]) == pytest.approx(score, rel=1e-4)


def test_width_one_is_greedy_and_graph_mode_agrees():
    ids, lengths, _ = search(1, 1, 7, 1.0)
    previous, want = BOS, []
    for _ in range(7):
        previous = int(np.argmax(TABLE[previous]))
        if previous == EOS:
            break
        want.append(previous)
    assert np.asarray(ids)[0, : int(lengths[0])].tolist() == want
    graph = tf.function(lambda width, length: search(3, width, length, 1.0))
    for width in (1, 3):
        eager = search(3, width, 7, 1.0)
        traced = graph(tf.constant(width), tf.constant(7))
        for a, b in zip(eager, traced):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_no_beam_scores_above_the_optimum():
    best, _ = exhaustive_best(6, 0.0)
    for width in (1, 2, 4, 16):
        assert float(search(1, width, 6, 0.0)[2][0]) <= best + 1e-5


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="beam_width"):
        search(1, 0, 5, 1.0)
    with pytest.raises(ValueError, match="max_length"):
        search(1, 2, 0, 1.0)
    with pytest.raises(ValueError, match="length_penalty"):
        search(1, 2, 5, -1.0)


def test_padding_and_banned_ids_are_never_generated():
    favourite = np.zeros((VOCAB, VOCAB), "float32")
    favourite[:, PAD] = 10.0  # padding and <bos> are the likeliest tokens
    favourite[:, BOS] = 9.0
    favourite[:, EOS] = -10.0

    def step_favouring(token_ids, states):
        logits = ops.take(ops.convert_to_tensor(favourite), token_ids[:, 0], axis=0)
        return logits, states

    states = [tile_beams(ops.zeros((2, 1)), 3)]
    ids, lengths, _ = beam_search(
        step_favouring, states, 2, BOS, EOS, 3, 5, banned_ids=(BOS,)
    )
    generated = np.asarray(ids)[np.arange(5)[None, :] < np.asarray(lengths)[:, None]]
    assert generated.size and not np.isin(generated, [PAD, BOS]).any()
