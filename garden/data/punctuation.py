"""Punctuation restoration data: bare words, and the mark that followed each.

A text becomes the words a punctuation-restoration model reads (lower-cased,
punctuation removed: `WordTokenizer("unpunctuated")`) and one label per word,
the mark that followed it in the text, in the four classes of Tilk and
Alumäe (2015, 2016):

    none       no mark, or only quotes, brackets and other symbols
    comma      ,  :  and a dash standing apart from words ( - or -- )
    period     .  !  ;
    question   ?

The marks between two words (or after the last one) are read together, and
the strongest wins: question, then period, then comma ("Really?!" is a
question, "etc.," a period, "great," he" a comma). A mark glued between two
words with no space counts only if it is one of `, ; ! ?` ("good,bad"):
glued `.`, `:`, `-` and `/` join numbers, times, abbreviations and compounds
("7.5/10", "10:30", "e.g", "well-known"), so those words get "none". The
end of the text counts as a space, so a review's last word takes the mark
that ends it. HTML `<br />` breaks are spaces; apostrophes are dropped
("don't" -> "dont"); non-ASCII punctuation stays part of its word, as the
tokenizer leaves it.

Long texts are cut into windows of at most `window` consecutive words
(`windows`); every word of a text lies in exactly one window, so scores over
windows are scores over every word.
"""

import re

import numpy as np
import tensorflow as tf

from garden.checks import check_positive_integer
from garden.data import batching
from garden.data.tokenizers import _WHITESPACE, WordTokenizer

PUNCTUATION_LABELS = ("none", "comma", "period", "question")
NONE, COMMA, PERIOD, QUESTION = range(4)
# What `restore_punctuation` writes after a word of each label.
MARKS = ("", ",", ".", "?")
# Label of padding positions: the loss and the metrics skip it.
PAD_LABEL = -1
PUNCTUATION_WINDOW = 200

_LABEL_OF_CHARACTER = {
    "?": QUESTION,
    ".": PERIOD,
    "!": PERIOD,
    ";": PERIOD,
    ",": COMMA,
    ":": COMMA,
    "-": COMMA,
}
_GLUED_MARKS = frozenset(",;!?")
# ASCII punctuation less the apostrophe, which the tokenizer drops first.
_ASCII_MARKS = r"""!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~"""
_PIECES = re.compile(f"(?P<word>[^ {_ASCII_MARKS}]+)|(?P<mark>[{_ASCII_MARKS}])| +")
_BREAK = re.compile("<br */?>")


def tokenizer():
    """The tokenizer of the words (`WordTokenizer("unpunctuated")`)."""
    return WordTokenizer("unpunctuated")


def _label_of(marks, glued):
    if glued:
        marks = [mark for mark in marks if mark in _GLUED_MARKS]
    return max((_LABEL_OF_CHARACTER.get(mark, NONE) for mark in marks), default=NONE)


def punctuation_labels(text):
    """The bare words of a punctuated text and the mark after each.

    The words are exactly `WordTokenizer("unpunctuated").tokenize(text)`.

    Args:
        text: A `str`, punctuated (a raw IMDb review).

    Returns:
        `(words, labels)`: a list of word strings and a list of as many
        label ids (indices into `PUNCTUATION_LABELS`).

    Example:

    >>> words, labels = punctuation_labels('Great film, I said. Why? "Wow"!')
    >>> words
    ['great', 'film', 'i', 'said', 'why', 'wow']
    >>> [PUNCTUATION_LABELS[label] for label in labels]
    ['none', 'comma', 'none', 'period', 'question', 'period']
    """
    text = _BREAK.sub(" ", text.lower()).replace("'", "")
    text = re.sub(_WHITESPACE, " ", text)
    words, labels = [], []
    marks, spaced = [], False
    for piece in _PIECES.finditer(text):
        if piece.group("word"):
            if words:
                labels.append(_label_of(marks, glued=not spaced))
            words.append(piece.group("word"))
            marks, spaced = [], False
        elif piece.group("mark"):
            marks.append(piece.group("mark"))
        else:
            spaced = True
    if words:
        labels.append(_label_of(marks, glued=False))
    return words, labels


def restore_punctuation(words, labels):
    """Writes words with the mark of each label after it, joined by spaces.

    Example:

    >>> restore_punctuation(["well", "is", "it", "good"], [1, 0, 0, 3])
    'well, is it good?'
    """
    return " ".join(word + MARKS[int(label)] for word, label in zip(words, labels))


def windows(sequence, window=PUNCTUATION_WINDOW):
    """Consecutive pieces of at most `window` items (none for an empty sequence).

    Example:

    >>> windows([1, 2, 3, 4, 5], 2)
    [[1, 2], [3, 4], [5]]
    """
    check_positive_integer("window", window)
    return [
        sequence[start : start + window] for start in range(0, len(sequence), window)
    ]


def punctuation_examples(texts, vocabulary, window=PUNCTUATION_WINDOW):
    """Word ids and labels of every window of every text.

    Args:
        texts: Punctuated strings.
        vocabulary: A `Vocabulary` of the bare words (unseen words: `<unk>`).
        window: Most words per window.

    Returns:
        `(ids, labels)`: two lists of int32 arrays, one pair per window, in
        text order.
    """
    ids, labels = [], []
    for text in texts:
        words, marks = punctuation_labels(text)
        ids += [
            np.asarray(x, "int32") for x in windows(vocabulary.encode(words), window)
        ]
        labels += [np.asarray(y, "int32") for y in windows(marks, window)]
    return ids, labels


def punctuation_dataset(
    texts,
    vocabulary,
    window=PUNCTUATION_WINDOW,
    batch_size=64,
    shuffle=True,
    seed=None,
    bucket_boundaries=None,
    cache=True,
):
    """A `tf.data.Dataset` of `(word_ids, labels)` windows for `Model.fit`.

    Each text is cut into windows of at most `window` words
    (`punctuation_examples`); batches are right-padded with id 0 (`<pad>`)
    and label `PAD_LABEL` (-1), which the tagger's loss and metrics skip.

    Args:
        texts: Punctuated strings.
        vocabulary: A `Vocabulary` of the bare words.
        window: Most words per window.
        batch_size: Windows per batch.
        shuffle: Reshuffle every epoch.
        seed: Shuffle seed.
        bucket_boundaries: `None` pads every batch to its longest window; a
            list of increasing lengths batches windows of similar length.
        cache: Cache the windows in memory.

    Returns:
        A `tf.data.Dataset` of int32 `(batch, length)` ids and labels.
    """
    check_positive_integer("batch_size", batch_size)
    batching.check_bucket_boundaries(bucket_boundaries)
    ids, labels = punctuation_examples(texts, vocabulary, window)
    lengths = np.asarray([len(x) for x in ids], "int64")

    def ragged(pieces):
        flat = np.concatenate(pieces) if pieces else np.zeros(0, "int32")
        return tf.RaggedTensor.from_row_lengths(flat, lengths)

    # Rows of a ragged tensor arrive as ragged specs; `padded_batch` wants dense.
    dataset = tf.data.Dataset.from_tensor_slices((ragged(ids), ragged(labels))).map(
        lambda x, y: (tf.identity(x), tf.identity(y))
    )
    return batching.shuffle_and_batch(
        dataset,
        batch_size,
        padded_shapes=([None], [None]),
        padding_values=(0, PAD_LABEL),
        shuffle=shuffle,
        seed=seed,
        cache=cache,
        bucket_boundaries=bucket_boundaries,
        length_function=lambda x, y: tf.shape(x)[0],
    )
