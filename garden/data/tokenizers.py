"""Character and word tokenizers that give the same tokens in Python and in-graph.

Each standardization is a list of regular-expression rewrites applied in order.
The same patterns run through Python's `re` (for building vocabularies and for
reading) and through `tf.strings.regex_replace` (RE2, inside `tf.data` and
inside an exported model), so both paths produce identical tokens. The
patterns are written in the common subset of both engines: explicit
character classes, no `\\w`/`\\s` (Unicode in Python, ASCII in RE2).

Standardizations, in the field's usage:

- `"whitespace"`: nothing but whitespace splitting (PTB is pre-tokenized).
- `"letters_only"`: every run of non-letters becomes one space, lower-cased
  (d2l's Time Machine preprocessing, for character and word models).
- `"review"`: lower-cased, HTML `<br />` breaks become spaces, each ASCII
  punctuation mark becomes its own token (IMDb).
- `"unpunctuated"`: lower-cased, HTML `<br />` breaks become spaces,
  apostrophes are dropped (`don't` -> `dont`) and every other ASCII
  punctuation mark becomes a space: the bare words a punctuation-restoration
  model reads.
- `"translation"`: the no-break spaces `\\u202f` and `\\xa0` become spaces,
  lower-cased, a space goes before `, . ! ?` (d2l's `preprocess_nmt`).
"""

import re

import tensorflow as tf

# Python's str.split() also splits on \x1c-\x1f and other Unicode spaces, which
# RE2 would not; both sides therefore split on this exact set.
_WHITESPACE = "[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
_ASCII_PUNCTUATION = r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])"""

STANDARDIZATIONS = {
    "whitespace": (False, ()),
    "letters_only": (True, (("[^A-Za-z]+", " "),)),
    "review": (
        True,
        (
            ("<br */?>", " "),
            (_ASCII_PUNCTUATION, r" \1 "),
        ),
    ),
    "unpunctuated": (
        True,
        (
            ("<br */?>", " "),
            ("'", ""),
            (_ASCII_PUNCTUATION, " "),
        ),
    ),
    "translation": (
        True,
        (
            ("[\u202f\u00a0]", " "),
            ("([,.!?])", r" \1"),
        ),
    ),
}


def lower_graph(texts):
    """`str.lower` of a string tensor, in-graph, every character kept.

    `tf.strings.lower(..., encoding="utf-8")` reads each string only up to
    its first NUL and drops the rest, where Python keeps NUL as an ordinary
    character; so the pieces between NULs are lower-cased and joined back.
    Bytes that are not UTF-8 become U+FFFD, as Python's
    `bytes.decode("utf-8", "replace")` makes them.

    Args:
        texts: a string tensor of any shape.

    Returns:
        The lower-cased string tensor, same shape.

    Example:

    >>> lower_graph(tf.constant(["Good\\x00 AWFUL"])).numpy()
    array([b'good\\x00 awful'], dtype=object)
    """
    texts = tf.convert_to_tensor(texts, dtype=tf.string)
    pieces = tf.strings.split(tf.reshape(texts, [-1]), "\x00")
    # Each piece gets its NUL back as a tensor value (a NUL inside the
    # `separator` attribute of `reduce_join` would be cut off too); the
    # last one is dropped.
    lowered = tf.strings.lower(pieces, encoding="utf-8") + "\x00"
    joined = tf.strings.reduce_join(lowered, axis=-1)
    length = tf.strings.length(joined) - 1
    lowered = tf.strings.substr(joined, tf.zeros_like(length), length)
    return tf.reshape(lowered, tf.shape(texts))


def _check_standardize(standardize):
    if standardize not in STANDARDIZATIONS:
        raise ValueError(
            "Received an invalid value for argument `standardize`, expected one of "
            f"{sorted(STANDARDIZATIONS)}, got {standardize!r}."
        )


class _Tokenizer:
    """Shared standardization; subclasses define how to split."""

    def __init__(self, standardize):
        _check_standardize(standardize)
        self.standardize_name = standardize
        self.lower, rules = STANDARDIZATIONS[standardize]
        self._rules = rules
        self._python_rules = tuple(
            (re.compile(pattern), replacement) for pattern, replacement in self._rules
        )

    def get_config(self):
        """What the tokenizer is: its class and standardization."""
        return {"class": type(self).__name__, "standardize": self.standardize_name}

    def standardize(self, text):
        """Standardize one string in Python.

        Args:
            text: a `str`.

        Returns:
            The standardized `str`.
        """
        if self.lower:
            text = text.lower()
        for pattern, replacement in self._python_rules:
            text = pattern.sub(replacement, text)
        return text

    def standardize_graph(self, texts):
        """Standardize a string tensor with `tf.strings` ops (same result).

        Usable as a `keras.layers.TextVectorization` `standardize` callable.

        Args:
            texts: a string tensor of any shape.

        Returns:
            The standardized string tensor, same shape.
        """
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        if self.lower:
            texts = lower_graph(texts)
        for pattern, replacement in self._rules:
            texts = tf.strings.regex_replace(texts, pattern, replacement)
        return texts

    def tokenize(self, text):
        """Standardize and split one string in Python.

        Args:
            text: a `str`.

        Returns:
            A list of token strings.
        """
        return self.split(self.standardize(text))

    def tokenize_graph(self, texts):
        """Standardize and split a rank-1 string tensor in-graph.

        Args:
            texts: a string tensor of shape `(batch,)`.

        Returns:
            A `tf.RaggedTensor` of tokens of shape `(batch, None)`.
        """
        return self.split_graph(self.standardize_graph(texts))


class WordTokenizer(_Tokenizer):
    """Split standardized text into words on whitespace.

    Args:
        standardize: one of `"whitespace"`, `"letters_only"`, `"review"`,
            `"translation"` (see the module docstring).

    Example:

    >>> tokenizer = WordTokenizer("review")
    >>> tokenizer.tokenize("A <i>great</i> film!<br /><br />Loved it.")
    ['a', '<', 'i', '>', 'great', '<', '/', 'i', '>', 'film', '!', 'loved', 'it', '.']
    >>> WordTokenizer("translation").tokenize("Cours\\u202f!")
    ['cours', '!']
    """

    def split(self, text):
        """Split a standardized string on whitespace (Python)."""
        return [token for token in re.split(_WHITESPACE, text) if token]

    def split_graph(self, texts):
        """Split standardized strings on whitespace in-graph.

        Usable as a `keras.layers.TextVectorization` `split` callable.

        Args:
            texts: a string tensor of shape `(batch,)`.

        Returns:
            A `tf.RaggedTensor` of shape `(batch, None)`.
        """
        texts = tf.strings.regex_replace(texts, _WHITESPACE, " ")
        tokens = tf.strings.split(texts, sep=" ")
        return tf.ragged.boolean_mask(tokens, tf.strings.length(tokens) > 0)

    def detokenize(self, tokens):
        """Join word tokens with single spaces."""
        return " ".join(tokens)


class CharacterTokenizer(_Tokenizer):
    """Split standardized text into Unicode characters.

    Args:
        standardize: as for `WordTokenizer`; d2l's character models use
            `"letters_only"` (26 letters and the space).

    Example:

    >>> CharacterTokenizer("letters_only").tokenize("Time, travel!")
    ['t', 'i', 'm', 'e', ' ', 't', 'r', 'a', 'v', 'e', 'l', ' ']
    """

    def __init__(self, standardize="letters_only"):
        super().__init__(standardize)

    def split(self, text):
        """Split a standardized string into characters (Python)."""
        return list(text)

    def split_graph(self, texts):
        """Split standardized strings into characters in-graph.

        Args:
            texts: a string tensor of shape `(batch,)`.

        Returns:
            A `tf.RaggedTensor` of shape `(batch, None)`.
        """
        return tf.strings.unicode_split(texts, "UTF-8")

    def detokenize(self, tokens):
        """Join character tokens."""
        return "".join(tokens)
