"""Corpus BLEU comes from sacreBLEU, with its signature."""

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
