"""A token vocabulary with reserved ids that Keras lookup layers reproduce exactly.

Ids: `<pad>` = 0, `<unk>` = 1, then the other reserved tokens (`<bos>` = 2,
`<eos>` = 3 by default), then the corpus tokens seen at least `min_freq`
times, most frequent first (ties broken alphabetically, so the ids do not
depend on the order the corpus was read in).

`to_string_lookup` and `to_text_vectorization` build Keras layers with the same
ids: Keras puts its mask token at 0 and its single OOV bucket at 1, which are
exactly `<pad>` and `<unk>` here, and the rest of the list follows in order.
"""

import collections

import keras
import numpy as np
import tensorflow as tf

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"


class Vocabulary:
    """Map tokens to integer ids and back.

    Args:
        tokens: an iterable of tokens, or of lists of tokens (one per text),
            or a `collections.Counter` of token counts.
        min_freq: keep tokens seen at least this many times (positive integer).
        max_tokens: optional cap on the vocabulary size, reserved ids included.
        reserved_tokens: tokens after `<pad>` and `<unk>` that always get ids,
            in this order.

    Example:

    >>> vocabulary = Vocabulary([["a", "b", "a"], ["c", "a", "b"]], min_freq=2)
    >>> vocabulary.tokens
    ['<pad>', '<unk>', '<bos>', '<eos>', 'a', 'b']
    >>> vocabulary.encode(["a", "c", "b"])
    [4, 1, 5]
    >>> vocabulary.decode([4, 1, 5, 0])
    ['a', '<unk>', 'b', '<pad>']
    """

    def __init__(
        self, tokens=(), min_freq=1, max_tokens=None, reserved_tokens=(BOS, EOS)
    ):
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(
                "Received an invalid value for argument `min_freq`, expected a "
                f"positive integer, got {min_freq!r}."
            )
        reserved = [PAD, UNK, *reserved_tokens]
        if len(set(reserved)) != len(reserved):
            raise ValueError(
                "Received an invalid value for argument `reserved_tokens`, expected "
                f"distinct tokens other than {PAD!r} and {UNK!r}, got "
                f"{tuple(reserved_tokens)!r}."
            )
        if max_tokens is not None and max_tokens < len(reserved):
            raise ValueError(
                "Received an invalid value for argument `max_tokens`, expected an "
                f"integer of at least {len(reserved)} (the reserved tokens), got "
                f"{max_tokens!r}."
            )
        counts = tokens if isinstance(tokens, collections.Counter) else _count(tokens)
        self.token_counts = counts
        kept = sorted(
            (token for token, count in counts.items() if count >= min_freq),
            key=lambda token: (-counts[token], token),
        )
        kept = [token for token in kept if token not in set(reserved)]
        self.tokens = reserved + kept
        if max_tokens is not None:
            self.tokens = self.tokens[:max_tokens]
        self.reserved_tokens = tuple(reserved)
        self._ids = {token: index for index, token in enumerate(self.tokens)}

    pad_id = 0
    unk_id = 1

    @property
    def bos_id(self):
        """The id of `<bos>` (raises `KeyError` if it is not reserved)."""
        return self._ids[BOS]

    @property
    def eos_id(self):
        """The id of `<eos>` (raises `KeyError` if it is not reserved)."""
        return self._ids[EOS]

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self._ids

    def __getitem__(self, token):
        return self._ids.get(token, self.unk_id)

    def encode(self, tokens):
        """Token strings to ids; unknown tokens map to `<unk>` (1).

        Args:
            tokens: a list of token strings.

        Returns:
            A list of integer ids.
        """
        ids = self._ids
        return [ids.get(token, 1) for token in tokens]

    def decode(self, ids):
        """Ids to token strings.

        Args:
            ids: an iterable of integer ids in `[0, len(self))`.

        Returns:
            A list of token strings.
        """
        return [self.tokens[int(index)] for index in ids]

    def lookup_table(self):
        """A `tf.lookup.StaticHashTable` from token to id, for `tf.data` maps.

        Unknown tokens map to `<unk>` (1), as in `encode`.

        Returns:
            The `StaticHashTable` (string keys, int32 values).
        """
        initializer = tf.lookup.KeyValueTensorInitializer(
            tf.constant(self.tokens, tf.string),
            tf.range(len(self.tokens), dtype=tf.int32),
        )
        return tf.lookup.StaticHashTable(initializer, default_value=self.unk_id)

    def to_string_lookup(self, invert=False, **kwargs):
        """A `keras.layers.StringLookup` with exactly this vocabulary's ids.

        `<pad>` is its mask token (id 0) and `<unk>` its one OOV token (id 1).

        Args:
            invert: map ids back to tokens instead.
            **kwargs: passed on to `StringLookup`.

        Returns:
            The `StringLookup` layer.
        """
        return keras.layers.StringLookup(
            vocabulary=self.tokens[2:],
            mask_token=PAD,
            oov_token=UNK,
            num_oov_indices=1,
            invert=invert,
            **kwargs,
        )

    def to_text_vectorization(self, tokenizer, output_sequence_length=None, **kwargs):
        """A `keras.layers.TextVectorization` that tokenizes and looks up in-graph.

        Its ids equal `self.encode(tokenizer.tokenize(text))`; Keras names id 0
        `""` and id 1 `"[UNK]"` in `get_vocabulary()`, the ids are the same.
        Sequences are right-padded with 0 to `output_sequence_length`.

        Args:
            tokenizer: a `WordTokenizer` or `CharacterTokenizer`.
            output_sequence_length: pad or truncate to this length, or `None`.
            **kwargs: passed on to `TextVectorization`.

        Returns:
            The `TextVectorization` layer.
        """
        return keras.layers.TextVectorization(
            standardize=tokenizer.standardize_graph,
            split=tokenizer.split_graph,
            vocabulary=self.tokens[2:],
            output_mode="int",
            output_sequence_length=output_sequence_length,
            **kwargs,
        )

    def save(self, path):
        """Write one token per line, in id order.

        Args:
            path: the file to write.
        """
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(self.tokens) + "\n")

    @classmethod
    def load(cls, path):
        """Read a vocabulary written by `save`, keeping every id.

        Args:
            path: a file with one token per line, `<pad>` and `<unk>` first.

        Returns:
            The `Vocabulary`.
        """
        with open(path, encoding="utf-8") as f:
            tokens = f.read().split("\n")[:-1]
        if tokens[:2] != [PAD, UNK]:
            raise ValueError(
                "Received an invalid value for argument `path`, expected a "
                f"vocabulary file starting with {PAD!r} and {UNK!r}, got {path!r}."
            )
        reserved = 2
        while reserved < len(tokens) and tokens[reserved] in (BOS, EOS):
            reserved += 1
        vocabulary = cls(reserved_tokens=tokens[2:reserved])
        vocabulary.tokens = tokens
        vocabulary._ids = {token: index for index, token in enumerate(tokens)}
        return vocabulary


def _count(tokens):
    counts = collections.Counter()
    for item in tokens:
        if isinstance(item, str):
            counts[item] += 1
        else:
            counts.update(item)
    return counts


def encode_texts(texts, tokenizer, vocabulary):
    """Tokenize and encode texts in Python.

    Args:
        texts: a list of strings.
        tokenizer: a `WordTokenizer` or `CharacterTokenizer`.
        vocabulary: a `Vocabulary`.

    Returns:
        A list of `np.int32` arrays, one per text.
    """
    return [
        np.asarray(vocabulary.encode(tokenizer.tokenize(text)), dtype="int32")
        for text in texts
    ]
