"""Word-pair correlations and analogies, scored as gensim scores them."""

import numpy as np
import pytest

from garden.models.word2vec import WordVectors
from garden.training import word_similarity as ws


def test_spearman_with_ties_matches_hand_values():
    # Ranks x: 1, 2.5, 2.5, 4; y: 1, 2, 3, 4 -> Pearson of the ranks.
    x, y = [1, 2, 2, 3], [10, 20, 30, 40]
    rx, ry = np.array([1, 2.5, 2.5, 4]), np.array([1, 2, 3, 4])
    want = np.corrcoef(rx, ry)[0, 1]
    assert ws.spearman(x, y) == pytest.approx(want)
    assert ws.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)


def test_word_pairs_skip_unknown_words_and_report_coverage():
    vectors = WordVectors(
        ["king", "queen", "car"], [[1.0, 0.1], [0.9, 0.2], [0.0, 1.0]]
    )
    pairs = [
        ("King", "queen", 9.0),
        ("king", "car", 1.0),
        ("queen", "car", 2.0),
        ("king", "unicorn", 5.0),
    ]
    score = ws.evaluate_word_pairs(vectors, pairs)
    assert score.count == 3 and score.coverage == pytest.approx(0.75)
    assert score.value == pytest.approx(1.0)


def test_a_word_in_two_cases_takes_the_first_row():
    # "Cat" (more frequent, first) points like dog; "cat" like car. The human
    # scores agree with the first row's cosines (+1) and not the second's (-1).
    vectors = WordVectors(
        ["Cat", "cat", "dog", "car"], [[1, 0], [0, 1], [1, 0.1], [0.1, 1]]
    )
    score = ws.evaluate_word_pairs(vectors, [("cat", "dog", 9.0), ("cat", "car", 1.0)])
    assert score.value == pytest.approx(1.0)


def test_analogies_by_3cosadd_exclude_the_question_words():
    # knave sits at man - woman + king: the wrong way round finds it.
    words = ["man", "woman", "king", "queen", "apple", "knave"]
    matrix = np.array(
        [[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [-1, 0, 0.2], [1, -1, 1]], float
    )
    vectors = WordVectors(words, matrix)
    questions = [
        ("royal", "man", "woman", "king", "queen"),
        ("royal", "Man", "King", "woman", "QUEEN"),
        ("fruit", "man", "woman", "king", "apple"),
        ("fruit", "man", "woman", "king", "pear"),
    ]
    overall, sections = ws.evaluate_analogies(vectors, questions)
    assert overall.count == 3 and overall.coverage == pytest.approx(0.75)
    assert overall.value == pytest.approx(2 / 3)
    assert sections["royal"].value == 1.0 and sections["fruit"].value == 0.0
    assert sections["fruit"].coverage == pytest.approx(0.5)
    # Outside the first two words nothing is known.
    restricted, _ = ws.evaluate_analogies(vectors, questions, restrict_vocab=2)
    assert restricted.count == 0
    # The first four words answer both royal questions.
    restricted, _ = ws.evaluate_analogies(vectors, questions, restrict_vocab=4)
    assert (restricted.count, restricted.coverage, restricted.value) == (2, 0.5, 1.0)


def test_analogies_never_answer_the_third_word():
    # b - a + c is nearest to c itself; the answer is the next nearest, d.
    vectors = WordVectors(
        ["a", "b", "c", "d", "e"], [[1, 0], [1, 0.2], [0, 1], [0.2, 1], [-1, 0]]
    )
    overall, _ = ws.evaluate_analogies(vectors, [("s", "a", "b", "c", "d")])
    assert overall.value == 1.0
