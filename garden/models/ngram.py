"""N-gram language models: the Markov baseline the recurrent models must beat.

Written by hand on Python dicts because no well-kept library of the field
does interpolated Kneser-Ney fast on a million tokens (nltk's
`KneserNeyInterpolated` takes hours on the Penn Treebank); this one fits an
order-5 model on PTB's training stream in seconds.
"""

import collections
import math

import numpy as np

from garden.checks import check_positive_integer

SMOOTHINGS = ("kneser_ney", "add_k")
# Modified Kneser-Ney discounts at an order whose count-of-counts cannot support
# the estimate (a zero among n1..n4, only on tiny corpora): the usual fixed D.
FALLBACK_DISCOUNT = 0.75


class NGramLanguageModel:
    """An n-gram language model over integer token ids.

    With `smoothing="kneser_ney"`, interpolated Kneser-Ney (Chen & Goodman,
    1998). For a history h of n - 1 tokens, h' the history without its first
    token, and the counts c of the highest order:

        P(w | h) = max(c(hw) - D(c(hw)), 0) / c(h.) + gamma(h) P_lower(w | h')
        gamma(h) = (D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.)) / c(h.)

    where c(h.) = sum_w c(hw) and N_r(h.) is the number of distinct tokens
    seen exactly r times after h (r or more for N3+). The lower orders
    have the same form with c replaced by the continuation count
    N1+(.hw), the number of distinct tokens seen before hw, so a token that
    only ever follows one word gets little mass from the lower orders. Below
    the unigram level the recursion ends at the uniform distribution,

        P_0(w) = 1 / vocab_size,

    so every token, seen or not, has a nonzero probability. A history never
    seen in training passes all its mass to the lower order (gamma = 1).

    With `discount=None` (modified Kneser-Ney, the field's standard) each
    order gets three discounts from its count-of-counts n_r, the number of
    n-grams with count (continuation count below the top order) exactly r:

        Y = n1 / (n1 + 2 n2)
        D1 = 1 - 2 Y n2 / n1,  D2 = 2 - 3 Y n3 / n2,  D3+ = 3 - 4 Y n4 / n3

    An order where these are undefined or outside (0, r] (tiny corpora) uses
    `FALLBACK_DISCOUNT` for all three. A number `discount` uses that one D
    for every count at every order (the original interpolated Kneser-Ney).

    With `smoothing="add_k"`, add-k (Lidstone) smoothing of the highest order:

        P(w | h) = (c(hw) + k) / (c(h.) + k vocab_size)

    which is uniform for an unseen history (k = 1 is Laplace's add-one).

    The training stream is taken as one text: n-grams cross the `<eos>`
    tokens that separate sentences, as the recurrent models' streams do.
    When scoring, token i is conditioned on the min(i, n - 1) tokens before
    it, so the first n - 1 tokens use shorter histories (the lower-order
    distributions above, continuation counts included) rather than padding.

    Args:
        order: n, the number of tokens in an n-gram (a positive integer); the
            model conditions on `order - 1` previous tokens.
        smoothing: `"kneser_ney"` or `"add_k"`.
        discount: for Kneser-Ney, `None` for modified Kneser-Ney with
            discounts estimated per order, or one fixed discount D in (0, 1].
        k: for add-k, the pseudo-count added to every n-gram (positive).

    Example:

    >>> stream = [0, 1, 2, 0, 1, 3, 1, 2]
    >>> model = NGramLanguageModel(2, smoothing="add_k", k=1.0).fit(stream, 5)
    >>> [round(p, 3) for p in np.exp(model.log_probabilities([1, 2])).tolist()]
    [0.308, 0.375]
    >>> model = NGramLanguageModel(2, discount=0.5).fit(stream, 5)
    >>> round(float(model.next_token_probabilities([1]).sum()), 6)
    1.0
    >>> round(model.perplexity([0, 1, 2]), 3)
    2.273
    """

    def __init__(self, order, smoothing="kneser_ney", discount=None, k=1.0):
        check_positive_integer("order", order)
        if smoothing not in SMOOTHINGS:
            raise ValueError(
                "Received an invalid value for argument `smoothing`, expected one "
                f"of {list(SMOOTHINGS)}, got {smoothing!r}."
            )
        if discount is not None and not (_is_real(discount) and 0 < discount <= 1):
            raise ValueError(
                "Received an invalid value for argument `discount`, expected None "
                f"(modified Kneser-Ney) or a number in (0, 1], got {discount!r}."
            )
        if not (_is_real(k) and k > 0):
            raise ValueError(
                "Received an invalid value for argument `k`, expected a positive "
                f"number, got {k!r}."
            )
        self.order = int(order)
        self.smoothing = smoothing
        self.discount = None if discount is None else float(discount)
        self.k = float(k)
        self.vocab_size = None
        # Per order j = 1..order, filled by `fit`: (D1, D2, D3+) for Kneser-Ney.
        self.discounts = {}
        # Per order j: n-gram tuple -> the count smoothed at that order.
        self._counts = {}
        # Per order j: history tuple (j - 1 tokens) -> (c(h.), gamma(h)).
        self._histories = {}

    def fit(self, token_ids, vocab_size):
        """Count the n-grams of a training stream.

        Args:
            token_ids: 1-D sequence of integer ids in `[0, vocab_size)`, e.g.
                from `garden.data.token_stream`.
            vocab_size: the number of ids the model distributes mass over.

        Returns:
            The model itself, fitted.
        """
        check_positive_integer("vocab_size", vocab_size)
        tokens = _token_list(token_ids, int(vocab_size))
        if not tokens:
            raise ValueError(
                "Received an invalid value for argument `token_ids`, expected at "
                "least one token to fit on, got an empty sequence."
            )
        raw = {
            j: collections.Counter(zip(*(tokens[i:] for i in range(j))))
            for j in range(1, self.order + 1)
        }
        if self.smoothing == "add_k":
            counts = raw
        else:
            counts = {self.order: raw[self.order]}
            for j in range(1, self.order):
                # N1+(.w): each (j + 1)-gram type adds one left neighbour to w.
                counts[j] = collections.Counter(ngram[1:] for ngram in raw[j + 1])
        self.vocab_size = int(vocab_size)
        self._counts = counts
        self.discounts = {}
        self._histories = {}
        for j, counts_j in counts.items():
            if self.smoothing == "kneser_ney":
                self.discounts[j] = self._estimate_discounts(counts_j)
            self._histories[j] = self._history_statistics(counts_j, j)
        return self

    def log_probabilities(self, token_ids):
        """Natural-log probability of each token given the tokens before it.

        Token i is conditioned on tokens max(0, i - order + 1) .. i - 1 of
        `token_ids` (shorter histories at the start, no padding).

        Args:
            token_ids: 1-D sequence of integer ids in `[0, vocab_size)`.

        Returns:
            A 1-D float64 NumPy array, one log-probability per token.
        """
        self._check_fitted()
        tokens = _token_list(token_ids, self.vocab_size)
        context = self.order - 1
        return np.array(
            [
                math.log(self._probability(tuple(tokens[max(0, i - context) : i]), w))
                for i, w in enumerate(tokens)
            ],
            dtype="float64",
        )

    def cross_entropy(self, token_ids):
        """Mean negative log-likelihood per token, in nats.

        Args:
            token_ids: 1-D non-empty sequence of integer ids in `[0, vocab_size)`.

        Returns:
            A Python float.
        """
        log_probabilities = self.log_probabilities(token_ids)
        if log_probabilities.size == 0:
            raise ValueError(
                "Received an invalid value for argument `token_ids`, expected at "
                "least one token to score, got an empty sequence."
            )
        return float(-log_probabilities.mean())

    def perplexity(self, token_ids):
        """exp(cross_entropy): the model's average branching factor on the text.

        Args:
            token_ids: 1-D non-empty sequence of integer ids in `[0, vocab_size)`.

        Returns:
            A Python float.
        """
        return math.exp(self.cross_entropy(token_ids))

    def next_token_probabilities(self, history):
        """The distribution over the whole vocabulary after a history.

        Args:
            history: 1-D sequence of integer ids; only its last `order - 1`
                tokens are used (any length, empty included).

        Returns:
            A float64 NumPy array of shape `(vocab_size,)` that sums to 1.
        """
        self._check_fitted()
        tokens = _token_list(history, self.vocab_size, name="history")
        history = tuple(tokens[max(0, len(tokens) - self.order + 1) :])
        return np.array(
            [self._probability(history, w) for w in range(self.vocab_size)],
            dtype="float64",
        )

    def _probability(self, history, token):
        """P(token | history) for a history of at most `order - 1` tokens."""
        level = len(history) + 1
        if self.smoothing == "add_k":
            total, _ = self._histories[level].get(history, (0, 0.0))
            count = self._counts[level].get(history + (token,), 0)
            return (count + self.k) / (total + self.k * self.vocab_size)
        probability = 1.0 / self.vocab_size
        for j in range(1, level + 1):
            h = history[level - j :]
            statistics = self._histories[j].get(h)
            if statistics is None:
                continue  # unseen history: gamma(h) = 1
            total, gamma = statistics
            count = self._counts[j].get(h + (token,), 0)
            discounted = count - self.discounts[j][min(count, 3) - 1] if count else 0
            probability = discounted / total + gamma * probability
        return probability

    def _estimate_discounts(self, counts):
        if self.discount is not None:
            return (self.discount,) * 3
        count_of_counts = collections.Counter(c for c in counts.values() if c <= 4)
        n1, n2, n3, n4 = (count_of_counts[r] for r in (1, 2, 3, 4))
        if min(n1, n2, n3, n4) == 0:
            return (FALLBACK_DISCOUNT,) * 3
        y = n1 / (n1 + 2 * n2)
        discounts = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
        if not all(0 < d <= r for r, d in zip((1, 2, 3), discounts)):
            return (FALLBACK_DISCOUNT,) * 3
        return discounts

    def _history_statistics(self, counts, order):
        """History -> (c(h.), gamma(h)) over the n-grams of one order."""
        totals = collections.Counter()
        backoff = collections.Counter()
        discounts = self.discounts.get(order, (0.0, 0.0, 0.0))
        for ngram, count in counts.items():
            history = ngram[:-1]
            totals[history] += count
            backoff[history] += discounts[min(count, 3) - 1]
        return {h: (total, backoff[h] / total) for h, total in totals.items()}

    def _check_fitted(self):
        if self.vocab_size is None:
            raise RuntimeError(
                "This NGramLanguageModel has not been fitted yet; call "
                "`fit(token_ids, vocab_size)` before scoring."
            )


def _is_real(value):
    return not isinstance(value, bool) and isinstance(value, int | float | np.number)


def _token_list(token_ids, vocab_size, name="token_ids"):
    """Validate a 1-D sequence of ids in [0, vocab_size) and return it as a list."""
    array = np.asarray(token_ids)
    if array.size == 0:
        return []
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a 1-D "
            f"sequence of integer ids, got an array of shape {array.shape} and "
            f"dtype {array.dtype}."
        )
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected ids in "
            f"[0, {vocab_size}) (the `vocab_size` given to `fit`), got {bad}."
        )
    return array.tolist()
