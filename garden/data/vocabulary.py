"""A token vocabulary with reserved ids that Keras lookup layers reproduce exactly.

Ids: `<pad>` = 0, `<unk>` = 1, then the other reserved tokens (`<bos>` = 2,
`<eos>` = 3 by default), then the corpus tokens seen at least `min_freq`
times, most frequent first (ties broken alphabetically, so the ids do not
depend on the order the corpus was read in).

`to_string_lookup` builds Keras lookup layers with the same ids (the task's
text-to-ids layer, `garden.data.TextToIds`, holds one): Keras puts its mask
token at 0 and its single OOV bucket at 1, which are exactly `<pad>` and
`<unk>` here, and the rest of the list follows in order.
"""

import collections

import keras

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
        return cls.from_tokens(tokens)

    @classmethod
    def from_tokens(cls, tokens):
        """The vocabulary whose `tokens` (in id order) are these.

        Args:
            tokens: a list of token strings, `<pad>` and `<unk>` first, then
                any of `<bos>`/`<eos>`, then the corpus tokens.

        Returns:
            The `Vocabulary` (without token counts).
        """
        tokens = list(tokens)
        if tokens[:2] != [PAD, UNK] or len(set(tokens)) != len(tokens):
            raise ValueError(
                "Received an invalid value for argument `tokens`, expected distinct "
                f"tokens starting with {PAD!r} and {UNK!r}, got {tokens[:4]!r}..."
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
