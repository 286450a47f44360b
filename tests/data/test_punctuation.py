"""Punctuation labels read from text, exactly; windows; the training batches."""

import numpy as np
import pytest
import tensorflow as tf

from garden.data import Vocabulary
from garden.data import punctuation as P

N, C, D, Q = P.NONE, P.COMMA, P.PERIOD, P.QUESTION


@pytest.mark.parametrize(
    "text, words, labels",
    [
        ("Hello, world.", ["hello", "world"], [C, D]),
        ("Why not? Fine!", ["why", "not", "fine"], [N, Q, D]),
        ("One; two: three - four -- five", ["one", "two", "three", "four", "five"],
         [D, C, C, C, N]),
        # The strongest mark of a run wins: question, period, comma.
        ("Really?! Yes..., sure?.", ["really", "yes", "sure"], [Q, D, Q]),
        # Quotes and brackets are no marks; the mark inside or after them counts.
        ('He said "great," (really) "wow"!', ["he", "said", "great", "really", "wow"],
         [N, N, C, N, D]),
        # Glued between words: only , ; ! ? count; . : - / join.
        ("7.5/10 at 10:30, well-known e.g. good,bad so?no",
         ["7", "5", "10", "at", "10", "30", "well", "known", "e", "g", "good", "bad",
          "so", "no"],
         [N, N, N, N, N, C, N, N, N, D, C, N, Q, N]),
        # Breaks are spaces, apostrophes go, case goes; the end needs no mark.
        ("Don't.<br /><br />It's GOOD", ["dont", "its", "good"], [D, N, N]),
        ("Good.<br>Bad<br/>ok", ["good", "bad", "ok"], [D, N, N]),
        ("  ...Leading marks, then words  ", ["leading", "marks", "then", "words"],
         [N, C, N, N]),
        ("", [], []),
        ("?!. ,", [], []),
        ("Très émouvant, 😀 ニース.", ["très", "émouvant", "😀", "ニース"],
         [N, C, N, D]),
    ],
)  # fmt: skip
def test_labels_of_exact_strings(text, words, labels):
    assert P.punctuation_labels(text) == (words, labels)


def test_words_are_the_tokenizer_words_in_python_and_in_graph():
    texts = [
        "Don't stop-believing, 3.5 stars?!<br />Next\tline\u00a0here",
        "A <i>great</i> film... or not?",
        "Good.<br>Bad<br/>ok",
        "",
    ]
    tokenizer = P.tokenizer()
    words = [P.punctuation_labels(text)[0] for text in texts]
    assert words == [tokenizer.tokenize(text) for text in texts]
    graph = tokenizer.tokenize_graph(tf.constant(texts)).to_list()
    assert [[w.decode() for w in row] for row in graph] == words


def test_real_reviews_give_one_label_per_tokenizer_word(imdb_train):
    texts = imdb_train[0][:300:3]
    tokenizer = P.tokenizer()
    counts = np.zeros(4, "int64")
    for text in texts:
        words, labels = P.punctuation_labels(text)
        assert words == tokenizer.tokenize(text) and len(labels) == len(words)
        counts += np.bincount(labels, minlength=4)
    # Most words carry no mark; periods and commas are common, questions rare.
    assert counts[N] > 5 * (counts[C] + counts[D]) and counts[C] > counts[Q] > 0


def test_restore_punctuation_writes_the_marks():
    assert P.restore_punctuation(["so", "what", "fine"], [C, Q, D]) == "so, what? fine."
    assert P.restore_punctuation([], []) == ""


def test_windows_cover_every_item_once():
    assert P.windows(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert P.windows([], 3) == []
    with pytest.raises(ValueError, match="argument `window`"):
        P.windows([1], 0)


def test_dataset_pads_ids_with_zero_and_labels_with_minus_one():
    texts = ["One, two three. Four?", "Five six", ""]
    vocabulary = Vocabulary(P.tokenizer().tokenize(text) for text in texts)
    ids, labels = P.punctuation_examples(texts, vocabulary, window=3)
    assert [len(x) for x in ids] == [3, 1, 2]
    assert [y.tolist() for y in labels] == [[C, N, D], [Q], [N, N]]
    dataset = P.punctuation_dataset(texts, vocabulary, window=3, shuffle=False)
    (x, y), *rest = list(dataset)
    assert not rest and x.dtype == tf.int32 and y.dtype == tf.int32
    assert y.numpy().tolist() == [[C, N, D], [Q, -1, -1], [N, N, -1]]
    assert ((x.numpy() == 0) == (y.numpy() == P.PAD_LABEL)).all()
    assert vocabulary.decode(x.numpy()[1][:1]) == ["four"]
