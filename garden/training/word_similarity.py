"""Intrinsic evaluation of word vectors: rated word pairs and analogies.

As gensim's `KeyedVectors.evaluate_word_pairs` and `evaluate_word_analogies`
do, so our numbers and gensim's read the same:

- Word pairs (WordSim-353, SimLex-999): Spearman's rank correlation between
  the cosine similarity of the two words and the human score, over the pairs
  whose two words both have vectors; the share of such pairs is the coverage.
- Analogies (Mikolov et al. 2013, "a is to b as c is to d"): 3CosAdd, the
  word of highest cosine with b - a + c (unit vectors; a, b and c excluded),
  correct when it is d; over the questions whose four words are among the
  `restrict_vocab` most frequent words, whose share is the coverage.

Words are compared lower-cased (the questions capitalise names; our
vocabularies are lower case). The test sets are read by
`garden.data.word_similarity`.
"""

import dataclasses

import numpy as np


def rank(values):
    """Ranks from 1, ties getting the mean of the ranks they span.

    >>> rank([10, 20, 20, 5]).tolist()
    [2.0, 3.5, 3.5, 1.0]
    """
    values = np.asarray(values, np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x, y):
    """Spearman's rank correlation: Pearson's on the (tie-averaged) ranks.

    >>> round(spearman([1, 2, 3, 4], [10, 20, 40, 30]), 2)
    0.8
    """
    rx, ry = rank(x), rank(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / denominator) if denominator else float("nan")


@dataclasses.dataclass(frozen=True)
class Score:
    """A score and the share of the test set it was computed on."""

    value: float
    coverage: float
    count: int


def _lower_index(vectors, restrict_vocab=None):
    """Lower-cased word -> row, the first (most frequent) row winning."""
    index = {}
    words = vectors.words[:restrict_vocab] if restrict_vocab else vectors.words
    for row, word in enumerate(words):
        index.setdefault(word.lower(), row)
    return index


def evaluate_word_pairs(vectors, pairs):
    """Spearman correlation of cosines with human scores over covered pairs.

    Args:
        vectors: A `garden.models.word2vec.WordVectors`.
        pairs: `[(word1, word2, score)]`, from
            `garden.data.word_similarity.load_word_pairs`.

    Returns:
        A `Score` (value NaN when fewer than two pairs are covered).
    """
    index = _lower_index(vectors)
    cosines, scores = [], []
    for first, second, score in pairs:
        a, b = index.get(first.lower()), index.get(second.lower())
        if a is None or b is None:
            continue
        cosines.append(float(vectors.unit_vectors[a] @ vectors.unit_vectors[b]))
        scores.append(score)
    value = spearman(cosines, scores) if len(scores) > 1 else float("nan")
    return Score(value, len(scores) / max(len(pairs), 1), len(scores))


def evaluate_analogies(vectors, questions, restrict_vocab=300_000, batch_size=512):
    """3CosAdd accuracy over the questions whose words are all in the vocabulary.

    Args:
        vectors: A `WordVectors` whose rows are ordered most frequent first.
        questions: `[(section, a, b, c, d)]`, from
            `garden.data.word_similarity.load_analogies`.
        restrict_vocab: Only the first this many words are candidates and
            count as known (gensim's default, 300,000).

    Returns:
        `(Score, {section: Score})`: overall and per section.
    """
    index = _lower_index(vectors, restrict_vocab)
    rows = sorted(set(index.values()))
    candidates = vectors.unit_vectors[rows]
    position = {row: place for place, row in enumerate(rows)}
    covered = [
        (section, *[position[index[word.lower()]] for word in words])
        for section, *words in questions
        if all(word.lower() in index for word in words)
    ]
    correct = np.zeros(len(covered), bool)
    for start in range(0, len(covered), batch_size):
        batch = np.asarray(
            [question[1:] for question in covered[start : start + batch_size]]
        )
        if not len(batch):
            continue
        a, b, c, d = batch.T
        target = candidates[b] - candidates[a] + candidates[c]
        target /= np.maximum(np.linalg.norm(target, axis=1, keepdims=True), 1e-12)
        scores = target @ candidates.T
        for column in (a, b, c):
            scores[np.arange(len(batch)), column] = -np.inf
        correct[start : start + len(batch)] = scores.argmax(axis=1) == d
    sections = {}
    for section in dict.fromkeys(question[0] for question in questions):
        total = sum(1 for question in questions if question[0] == section)
        hits = [ok for question, ok in zip(covered, correct) if question[0] == section]
        sections[section] = Score(
            float(np.mean(hits)) if hits else float("nan"),
            len(hits) / total,
            len(hits),
        )
    overall = Score(
        float(correct.mean()) if len(correct) else float("nan"),
        len(covered) / max(len(questions), 1),
        len(covered),
    )
    return overall, sections
