"""Beam search finds the best sequences; width 1 is greedy; graph mode agrees."""

import itertools

import numpy as np
import pytest
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


def test_width_one_is_greedy():
    ids, lengths, _ = search(1, 1, 7, 1.0)
    previous, want = BOS, []
    for _ in range(7):
        previous = int(np.argmax(TABLE[previous]))
        if previous == EOS:
            break
        want.append(previous)
    assert np.asarray(ids)[0, : int(lengths[0])].tolist() == want


@pytest.mark.tensorflow_only(reason="tf.function with the width and length as tensors")
def test_graph_mode_agrees():
    import tensorflow as tf

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


def trigram_table(seed):
    """Random logits given the last two tokens; <eos> likely enough to win."""
    table = np.random.default_rng(seed).normal(scale=2.0, size=(VOCAB, VOCAB, VOCAB))
    table[..., PAD] = -50.0
    table[..., EOS] += 0.5
    return table.astype("float32")


def trigram_search(table, batch, width, max_length, alpha):
    """Beam search on a model whose state is the token before the last one."""
    flat = ops.convert_to_tensor(table.reshape(VOCAB * VOCAB, VOCAB))

    def step(token_ids, states):
        before = ops.cast(states[0][:, 0], "int32")
        logits = ops.take(flat, before * VOCAB + token_ids[:, 0], axis=0)
        return logits, [ops.cast(token_ids, "float32")]

    states = [tile_beams(ops.full((batch, 1), float(BOS)), width)]
    return beam_search(step, states, batch, BOS, EOS, width, max_length, alpha)


def reference_beam_search(table, width, max_length, alpha):
    """The documented algorithm in plain Python, on the trigram table."""
    log_probs = table - np.log(np.exp(table.astype("float64")).sum(-1, keepdims=True))
    beams = [(0.0, (), False)]  # (log probability, tokens with <eos>, finished)
    for _ in range(max_length):
        if all(finished for _, _, finished in beams):
            break
        candidates = []
        for score, tokens, finished in beams:
            if finished:  # extends itself by padding, at no cost
                candidates.append((score, tokens, True))
                continue
            before, last = ((BOS, BOS) + tokens)[-2:]
            for token in range(1, VOCAB):  # never <pad>
                total = score + log_probs[before, last, token]
                candidates.append((total, tokens + (token,), token == EOS))
        beams = sorted(candidates, key=lambda beam: -beam[0])[:width]
    normalised = [
        (score / ((5 + len(tokens)) / 6) ** alpha, tokens) for score, tokens, _ in beams
    ]
    score, tokens = max(normalised)
    return [token for token in tokens if token != EOS], score


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("width", [2, 3, 5])
def test_beam_search_matches_a_python_reference_on_a_stateful_model(seed, width):
    # Every beam's state must follow it when beams are reordered, and so must
    # its tokens, length and finished flag: the reference keeps them together.
    table = trigram_table(seed)
    for max_length, alpha in [(3, 0.0), (5, 1.0), (6, 2.0)]:
        want, want_score = reference_beam_search(table, width, max_length, alpha)
        ids, lengths, scores = trigram_search(table, 2, width, max_length, alpha)
        for row in range(2):
            assert int(lengths[row]) == len(want)
            assert np.asarray(ids)[row].tolist() == want + [PAD] * (
                max_length - len(want)
            )
            assert float(scores[row]) == pytest.approx(want_score, rel=1e-5)


def test_length_penalty_counts_the_eos_and_can_prefer_the_longer_output():
    # Tokens 3 = A, 4 = B, 5 = C. After <bos> always A; after A: <eos> with
    # probability e^-1.6, B with e^-2, C with the rest; after B always B; after
    # C only padding is likely (a dead end). Within 3 tokens two outputs matter:
    #   "A <eos>": log P = -1.6, |Y| = 2 (the <eos> counts)
    #   "A B B":   log P = -2.0, |Y| = 3 (unfinished at max_length)
    # score = log P / ((5 + |Y|) / 6) ** alpha.
    A, B, C = 3, 4, 5
    logits = np.full((VOCAB, VOCAB), -50.0)
    logits[BOS, A] = 0.0
    logits[A, EOS], logits[A, B] = -1.6, -2.0
    logits[A, C] = np.log(1.0 - np.exp(-1.6) - np.exp(-2.0))
    logits[B, B] = 0.0
    logits[C, PAD] = 10.0
    table = ops.convert_to_tensor(logits.astype("float32"))

    def step(token_ids, states):
        return ops.take(table, token_ids[:, 0], axis=0), states

    states = [tile_beams(ops.zeros((1, 1)), 3)]
    expected = {
        # alpha 0: raw log probability, -1.6 > -2.
        0.0: ([A], -1.6),
        # alpha 1: -1.6 / (7/6) = -1.371 > -2 / (8/6) = -1.5. Not counting the
        # <eos> would give -1.6 / (6/6) < -1.5 and pick "A B B".
        1.0: ([A], -1.6 * 6 / 7),
        # alpha 2: -1.6 / (7/6)^2 = -1.176 < -2 / (8/6)^2 = -1.125.
        2.0: ([A, B, B], -2.0 * (6 / 8) ** 2),
    }
    for alpha, (tokens, score) in expected.items():
        ids, lengths, scores = beam_search(
            step, states, 1, BOS, EOS, 3, 3, alpha, banned_ids=(BOS,)
        )
        assert int(lengths[0]) == len(tokens)
        assert np.asarray(ids)[0, : len(tokens)].tolist() == tokens
        assert float(scores[0]) == pytest.approx(score, rel=1e-5)
