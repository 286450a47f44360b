"""Corpus BLEU comes from sacreBLEU, with its signature."""

import math

import pytest

from garden.training.bleu import corpus_bleu


def test_perfect_partial_and_signature():
    score, signature = corpus_bleu(["le chat est noir ."], ["Le chat est noir."])
    assert score == pytest.approx(100.0)
    assert "case:lc" in signature and "tok:13a" in signature
    partial, _ = corpus_bleu(["le chien est noir ."], ["le chat est noir ."])
    assert 0.0 < partial < 100.0
    cased, signature = corpus_bleu(["Le chat"], ["le chat"], lowercase=False)
    assert "case:mixed" in signature and cased < 100.0


def test_counts_must_match():
    with pytest.raises(ValueError, match="one reference per hypothesis"):
        corpus_bleu(["a", "b"], ["a"])


def test_corpus_bleu_pools_the_counts_and_applies_the_brevity_penalty():
    hypotheses = ["the cat sat on the mat", "a dog barks"]
    references = ["the cat sat on the red mat", "a dog barks"]
    # n-gram matches pooled over both sentences (clipped by the reference):
    #   1-grams 6 + 3 of 6 + 3, 2-grams 4 + 2 of 5 + 2,
    #   3-grams 3 + 1 of 4 + 1, 4-grams 2 + 0 of 3 + 0.
    # The hypotheses have 9 words and the references 10: BP = exp(1 - 10/9).
    # (A mean of sentence scores, or the references taken as hypotheses,
    # would give other numbers.)
    precisions = [9 / 9, 6 / 7, 4 / 5, 2 / 3]
    expected = 100 * math.exp(1 - 10 / 9) * math.prod(precisions) ** (1 / 4)
    score, _ = corpus_bleu(hypotheses, references)
    assert score == pytest.approx(expected, rel=1e-6)
    # Longer than the reference: no brevity penalty, precision alone.
    longer, _ = corpus_bleu(["the cat sat on the red mat"], ["the cat sat on the mat"])
    expected_longer = 100 * (6 / 7 * 4 / 6 * 3 / 5 * 2 / 4) ** (1 / 4)
    assert longer == pytest.approx(expected_longer, rel=1e-6)


def test_an_order_without_matches_is_smoothed_as_sacrebleu_does_by_default():
    # Clipped precisions 3/4, 2/3, 1/2 and 0/1: exp smoothing (sacreBLEU's
    # default) counts the empty order as 1/2 (floor smoothing would give 39.76,
    # none 0); the lengths match, so no brevity penalty.
    score, signature = corpus_bleu(["a b c d"], ["a b c e"])
    assert score == pytest.approx(100 * (3 / 4 * 2 / 3 * 1 / 2 * 1 / 2) ** (1 / 4))
    assert "smooth:exp" in signature
