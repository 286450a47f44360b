"""Tests for `garden/models/ngram.py`: hand-computed probabilities, normalisation,
and Kneser-Ney beating add-one on held-out text."""

import math
import os

import numpy as np
import pytest

from garden.models.ngram import FALLBACK_DISCOUNT, NGramLanguageModel

# a b c a b d b c, with a=0, b=1, c=2, d=3; id 4 (e) is never seen.
STREAM = [0, 1, 2, 0, 1, 3, 1, 2]
VOCAB_SIZE = 5


def zipf_stream(length, vocab_size, seed):
    """Random text with a Zipf-like unigram distribution, so counts of 1..4 occur."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, vocab_size + 1)
    return rng.choice(vocab_size, size=length, p=weights / weights.sum())


def test_add_k_bigram_matches_hand_computation():
    model = NGramLanguageModel(2, smoothing="add_k", k=1.0).fit(STREAM, VOCAB_SIZE)
    probabilities = np.exp(model.log_probabilities([1, 2, 0, 4]))
    # P(w | h) = (c(hw) + 1) / (c(h.) + 5). The first token has no history and
    # uses the add-one unigram: c(b) = 3 of 8 tokens, (3 + 1) / (8 + 5).
    # b is followed 3 times, twice by c: (2 + 1) / (3 + 5).
    # c occurs twice but the last c is followed by nothing, so c(c.) = 1 and
    # P(a | c) = (1 + 1) / (1 + 5). a is never followed by e: (0 + 1) / (2 + 5).
    np.testing.assert_allclose(probabilities, [4 / 13, 3 / 8, 2 / 6, 1 / 7])
    # e was never seen as a history: the uniform distribution.
    np.testing.assert_allclose(model.next_token_probabilities([4]), 0.2)


def test_kneser_ney_bigram_matches_hand_computation():
    model = NGramLanguageModel(2, discount=0.5).fit(STREAM, VOCAB_SIZE)
    # Bigram types: ab x2, bc x2, ca, bd, db (5 types).
    # Unigram level, continuation counts N1+(.w): a 1 (c), b 2 (a, d), c 1 (b),
    # d 1 (b), e 0; total 5. gamma() = 0.5 * 4 types / 5 = 0.4, so with the
    # uniform 1/5 below it:
    #   P1(a) = P1(c) = P1(d) = 0.5 / 5 + 0.4 / 5 = 0.18
    #   P1(b) = 1.5 / 5 + 0.08 = 0.38,  P1(e) = 0.08          (sum 1)
    # After b: c(bc) = 2, c(bd) = 1, c(b.) = 3, gamma(b) = 0.5 * 2 / 3 = 1/3:
    #   P(c | b) = 1.5 / 3 + 0.18 / 3 = 0.56
    #   P(d | b) = 0.5 / 3 + 0.18 / 3
    #   P(a | b) = 0.18 / 3, P(b | b) = 0.38 / 3, P(e | b) = 0.08 / 3  (sum 1)
    # After a: c(ab) = 2 = c(a.), gamma(a) = 0.5 / 2: P(b | a) = 1.5 / 2 + 0.38 / 4
    unigram = [0.18, 0.38, 0.18, 0.18, 0.08]
    np.testing.assert_allclose(model.next_token_probabilities([]), unigram)
    np.testing.assert_allclose(
        model.next_token_probabilities([1]),
        [0.06, 0.38 / 3, 0.56, 0.5 / 3 + 0.06, 0.08 / 3],
    )
    # The first token uses the unigram level (no padding); e is an unseen history.
    np.testing.assert_allclose(
        np.exp(model.log_probabilities([1, 2, 0, 1])),
        [0.38, 0.56, 0.5 / 1 + 0.5 * 0.18, 0.75 + 0.38 / 4],
    )
    np.testing.assert_allclose(model.next_token_probabilities([4]), unigram)
    expected = -np.mean(np.log([0.18, 0.75 + 0.38 / 4, 0.56]))
    assert model.cross_entropy([0, 1, 2]) == pytest.approx(expected)
    assert model.perplexity([0, 1, 2]) == pytest.approx(math.exp(expected))


def test_modified_kneser_ney_discounts_follow_count_of_counts():
    stream = zipf_stream(5000, 50, seed=0)
    model = NGramLanguageModel(2).fit(stream, 50)
    # Count-of-counts of the bigrams, counted another way.
    _, counts = np.unique(
        np.stack([stream[:-1], stream[1:]], axis=1), axis=0, return_counts=True
    )
    n1, n2, n3, n4 = (np.sum(counts == r) for r in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2)
    expected = [1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3]
    np.testing.assert_allclose(model.discounts[2], expected)


def test_tiny_corpus_falls_back_to_fixed_discount():
    model = NGramLanguageModel(2).fit(STREAM, VOCAB_SIZE)
    # No bigram occurs 3 or 4 times: modified discounts cannot be estimated.
    assert model.discounts[2] == (FALLBACK_DISCOUNT,) * 3


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize(
    "smoothing, discount", [("kneser_ney", None), ("kneser_ney", 0.3), ("add_k", None)]
)
def test_distributions_sum_to_one(order, smoothing, discount):
    vocab_size = 25  # the stream uses only ids 0..19: five are never seen
    stream = zipf_stream(2000, 20, seed=1)
    model = NGramLanguageModel(order, smoothing=smoothing, discount=discount, k=0.5)
    model.fit(stream, vocab_size)
    histories = [
        [],  # shorter than order - 1, as at the start of a text
        stream[:1].tolist(),
        stream[100:110].tolist(),  # seen, longer than order - 1
        [20, 21, 22],  # never seen
        [int(stream[5]), 24],  # seen token, then an unseen one
    ]
    for history in histories:
        probabilities = model.next_token_probabilities(history)
        assert probabilities.shape == (vocab_size,)
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(probabilities > 0)


def test_log_probabilities_match_next_token_distributions():
    stream = zipf_stream(1000, 15, seed=2)
    model = NGramLanguageModel(3).fit(stream, 15)
    text = stream[:20]
    expected = [
        math.log(model.next_token_probabilities(text[max(0, i - 2) : i])[token])
        for i, token in enumerate(text)
    ]
    np.testing.assert_allclose(model.log_probabilities(text), expected)


def test_order_one_add_k_is_the_smoothed_unigram():
    stream = zipf_stream(500, 12, seed=3)
    k = 0.7
    model = NGramLanguageModel(1, smoothing="add_k", k=k).fit(stream, 15)
    counts = np.bincount(stream, minlength=15)
    expected = (counts + k) / (len(stream) + k * 15)
    np.testing.assert_allclose(model.next_token_probabilities([3, 4]), expected)
    np.testing.assert_allclose(
        model.log_probabilities(stream[:30]), np.log(expected[stream[:30]])
    )


def test_uniform_model_has_perplexity_vocab_size():
    vocab_size = 17
    # Every id equally often: the add-k unigram is exactly uniform.
    model = NGramLanguageModel(1, smoothing="add_k").fit(
        np.tile(np.arange(vocab_size), 3), vocab_size
    )
    text = zipf_stream(200, vocab_size, seed=4)
    assert model.perplexity(text) == pytest.approx(vocab_size)
    assert model.cross_entropy(text) == pytest.approx(math.log(vocab_size))


def test_kneser_ney_beats_add_one_on_the_time_machine():
    if "GARDEN_DATA" not in os.environ:
        pytest.skip("real-data test: set GARDEN_DATA to the shared data directory")
    from garden.data.corpora import load_time_machine
    from garden.data.language_model import token_stream
    from garden.data.tokenizers import CharacterTokenizer
    from garden.data.vocabulary import Vocabulary

    text = load_time_machine(
        path=os.path.join(os.environ["GARDEN_DATA"], "timemachine", "timemachine.txt")
    )
    split = int(0.9 * len(text))
    tokenizer = CharacterTokenizer()
    vocabulary = Vocabulary(tokenizer.tokenize(text[:split]))
    train = token_stream([text[:split]], tokenizer, vocabulary)
    valid = token_stream([text[split:]], tokenizer, vocabulary)
    perplexities = {
        smoothing: NGramLanguageModel(4, smoothing=smoothing)
        .fit(train, len(vocabulary))
        .perplexity(valid)
        for smoothing in ("kneser_ney", "add_k")
    }
    # A character 4-gram model does far better than the 31-symbol uniform.
    assert perplexities["kneser_ney"] < 6.0
    assert perplexities["kneser_ney"] < perplexities["add_k"]


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"order": 0}, "order"),
        ({"order": -2}, "order"),
        ({"order": 2.0}, "order"),
        ({"order": True}, "order"),
        ({"order": 2, "smoothing": "witten_bell"}, "smoothing"),
        ({"order": 2, "discount": 0}, "discount"),
        ({"order": 2, "discount": 1.5}, "discount"),
        ({"order": 2, "discount": "modified"}, "discount"),
        ({"order": 2, "k": 0}, "k"),
        ({"order": 2, "k": -1.0}, "k"),
    ],
)
def test_invalid_arguments_raise(kwargs, argument):
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        NGramLanguageModel(**kwargs)


def test_invalid_argument_message():
    with pytest.raises(ValueError) as error:
        NGramLanguageModel(0)
    assert str(error.value) == (
        "Received an invalid value for argument `order`, expected a positive "
        "integer, got 0."
    )


@pytest.mark.parametrize(
    "token_ids", [[0, 1, 5], [0, -1, 2], [0.0, 1.0], [[0, 1], [1, 2]], []]
)
def test_invalid_training_ids_raise(token_ids):
    with pytest.raises(ValueError, match="argument `token_ids`"):
        NGramLanguageModel(2).fit(token_ids, 5)


@pytest.mark.parametrize("vocab_size", [0, -3, 2.5, None])
def test_invalid_vocab_size_raises(vocab_size):
    with pytest.raises(ValueError, match="argument `vocab_size`"):
        NGramLanguageModel(2).fit([0, 1], vocab_size)


def test_scoring_ids_outside_the_vocabulary_raises():
    model = NGramLanguageModel(2).fit(STREAM, VOCAB_SIZE)
    with pytest.raises(ValueError, match=r"argument `token_ids`.*\[0, 5\).*got 5"):
        model.log_probabilities([0, 5])
    with pytest.raises(ValueError, match="argument `token_ids`"):
        model.perplexity([-1])
    with pytest.raises(ValueError, match="argument `token_ids`.*empty"):
        model.cross_entropy([])
    with pytest.raises(ValueError, match="argument `history`"):
        model.next_token_probabilities([7])


def test_scoring_before_fit_raises():
    model = NGramLanguageModel(3)
    for score in (model.log_probabilities, model.cross_entropy, model.perplexity):
        with pytest.raises(RuntimeError, match="not been fitted"):
            score([0, 1])
    with pytest.raises(RuntimeError, match="not been fitted"):
        model.next_token_probabilities([0])


def test_fit_again_replaces_the_previous_counts():
    model = NGramLanguageModel(2, smoothing="add_k")
    first = model.fit([0, 0, 0], 2).next_token_probabilities([0])
    second = model.fit([1, 1, 1], 2).next_token_probabilities([1])
    np.testing.assert_allclose(first, second[::-1])
    assert model.discounts == {}  # add-k has no discounts


# c d d c d c a d a d c c d b c d a c d, with a=0, b=1, c=2, d=3.
TRIGRAM_STREAM = [2, 3, 3, 2, 3, 2, 0, 3, 0, 3, 2, 2, 3, 1, 2, 3, 0, 2, 3]


def test_modified_kneser_ney_trigram_lower_orders_match_hand_computation():
    model = NGramLanguageModel(3).fit(TRIGRAM_STREAM, 4)
    # Unigram level: continuation counts N1+(.w), the distinct tokens before w
    # (raw counts a 3, b 1, c 7, d 8 would give other numbers):
    #   a 2 (c, d), b 1 (d), c 4 (a, b, c, d), d 3 (a, c, d); total 10.
    # Count-of-counts n1 = n2 = n3 = n4 = 1, so Y = 1 / 3 and
    #   D1 = 1 - 2 Y = 1/3,  D2 = 2 - 3 Y = 1,  D3+ = 3 - 4 Y = 5/3.
    # (The raw counts have no count of 2: they would fall back to 0.75.)
    assert model.discounts[1] == pytest.approx((1 / 3, 1, 5 / 3))
    # gamma() = (D2 + D1 + D3+ + D3+) / 10 = 7/15, times the uniform 1/4 = 7/60:
    #   P1(a) = (2 - 1) / 10 + 7/60 = 13/60,   P1(b) = (1 - 1/3) / 10 + 7/60 = 11/60
    #   P1(c) = (4 - 5/3) / 10 + 7/60 = 21/60, P1(d) = (3 - 5/3) / 10 + 7/60 = 15/60
    unigram = np.array([13, 11, 21, 15]) / 60
    np.testing.assert_allclose(model.next_token_probabilities([]), unigram)
    # Bigram level: continuation counts N1+(.vw), the distinct tokens before vw:
    #   cd 4 (a, b, c, d), dc 3 (a, c, d), ad 2 (c, d), da 2 (a, c), and
    #   ac, bc, ca, cc, db, dd 1 each.
    # n1 = 6, n2 = 2, n3 = n4 = 1: Y = 6 / (6 + 4) = 3/5 and
    #   D1 = 1 - 2 Y 2/6 = 3/5,  D2 = 2 - 3 Y 1/2 = 11/10,  D3+ = 3 - 4 Y = 3/5.
    # (Raw bigram counts: cd 5 times and none 4 times, the fallback again.)
    assert model.discounts[2] == pytest.approx((3 / 5, 11 / 10, 3 / 5))
    # After b: only bc (1), total 1, gamma(b) = D1 = 3/5:
    #   P2(c | b) = (1 - 3/5) + 3/5 P1(c) = 2/5 + 21/100, others 3/5 P1(w).
    after_b = np.array([13, 11, 61, 15]) / 100
    np.testing.assert_allclose(model.next_token_probabilities([1]), after_b)
    # After c: ca 1, cc 1, cd 4, total 6, gamma(c) = 3 D1 / 6 = 3/10:
    #   P2(a | c) = (2/5) / 6 + 3/10 13/60 = 79/600
    #   P2(b | c) = 3/10 11/60 = 33/600
    #   P2(c | c) = (2/5) / 6 + 3/10 21/60 = 103/600
    #   P2(d | c) = (4 - 3/5) / 6 + 3/10 15/60 = 385/600
    after_c = np.array([79, 33, 103, 385]) / 600
    np.testing.assert_allclose(model.next_token_probabilities([2]), after_c)
    # Trigram level, raw counts: every trigram occurs once, so n2 = 0 and the
    # top order falls back to D = 0.75. After b c: only bcd, gamma(bc) = 0.75:
    #   P(d | b c) = 0.25 + 0.75 P2(d | c), otherwise 0.75 P2(w | c).
    assert model.discounts[3] == (FALLBACK_DISCOUNT,) * 3
    after_bc = 0.75 * after_c + np.array([0, 0, 0, 0.25])
    np.testing.assert_allclose(model.next_token_probabilities([0, 1, 2]), after_bc)
    # Scoring "b c d": b on the unigram level, c after b on the bigram level
    # (continuation counts, no padding), d after b c on the trigram level.
    np.testing.assert_allclose(
        np.exp(model.log_probabilities([1, 2, 3])),
        [11 / 60, 61 / 100, 0.25 + 0.75 * 385 / 600],
    )


def test_a_missing_count_of_four_falls_back_too():
    # a b a b a b c d c d e a: bigrams ab 3 times, ba and cd twice, bc, dc, de
    # and ea once, so n1 = 4, n2 = 2, n3 = 1 but n4 = 0: D3+ = 3 - 4 Y n4 / n3
    # would be 3, no estimate at all, and the order uses the fixed discount.
    model = NGramLanguageModel(2).fit([0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 4, 0], 5)
    assert model.discounts[2] == (FALLBACK_DISCOUNT,) * 3
