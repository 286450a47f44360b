"""Skip-gram with negative sampling, and fastText's subword variant, as Keras models.

The lectures' model (Mikolov et al. 2013): two embedding tables, V for words
as centers and U for words as contexts. For a center c, its context o and K
noise words n_1..n_K the loss is

    -log sigmoid(u_o . v_c) - sum_k log sigmoid(-u_{n_k} . v_c)

fastText (Bojanowski et al. 2017) replaces v_c by the vectors of c and of its
hashed character n-grams; the paper sums them, fastText and gensim average
them (the same direction, so the same cosine similarities), and we average
too, as the implementations train, and update every row of a word with the
whole gradient of its vector, as they do (not the mean's 1/|G_c| share).

Word2vec's C code and gensim update the vectors pair by pair with SGD and a
learning rate falling linearly from 0.025. Here a batch of pairs is one SGD
step on the *summed* loss, so each pair moves its vectors as much as in the
C code; the embeddings' gradients are sparse (`IndexedSlices`) and Keras's SGD
applies them as scatter updates, so a step costs the rows it touches, not
the whole table.
"""

import keras
import numpy as np

from garden.layers import SubwordEmbedding
from garden.training.losses import NegativeSamplingLoss


def build_skipgram(vocab_size, dim=100, negatives=5, subword_table=None, buckets=0):
    """The skip-gram (or fastText, with `subword_table`) training model.

    Args:
        vocab_size: Words in the vocabulary (reserved ids included).
        dim: The vector size d.
        negatives: K, noise words per pair.
        subword_table: `garden.data.skipgram.subword_table`, for fastText.
        buckets: The number of n-gram hash buckets of that table.

    Returns:
        A `keras.Model` from `{"center", "context", "noise"}` to float32
        logits `(batch, 1 + K)`: u_o . v_c, then u_{n_k} . v_c.
    """
    center = keras.Input((), dtype="int32", name="center")
    context = keras.Input((), dtype="int32", name="context")
    noise = keras.Input((negatives,), dtype="int32", name="noise")
    if subword_table is None:
        centers = SubwordEmbedding(vocab_size, dim, name="center_embedding")
    else:
        # gensim's FastText starts words and n-grams uniform in (-1/d, 1/d).
        limit = 1.0 / dim
        centers = SubwordEmbedding(
            vocab_size + buckets,
            dim,
            subword_table=subword_table,
            embeddings_initializer=keras.initializers.RandomUniform(-limit, limit),
            name="center_embedding",
        )
    # word2vec starts the context vectors at zero.
    contexts = keras.layers.Embedding(
        vocab_size, dim, embeddings_initializer="zeros", name="context_embedding"
    )
    v = centers(center)
    targets = keras.layers.Concatenate(axis=1)(
        [keras.layers.Reshape((1,))(context), noise]
    )
    u = contexts(targets)
    logits = keras.layers.Dot(axes=(2, 1), dtype="float32", name="logits")([u, v])
    name = "skipgram" if subword_table is None else "fasttext"
    return keras.Model(
        {"center": center, "context": context, "noise": noise}, logits, name=name
    )


def compile_skipgram(model, learning_rate=0.025, total_steps=None, final_fraction=1e-4):
    """SGD on the summed loss, the rate falling linearly to `final_fraction` of it.

    Args:
        model: From `build_skipgram`.
        learning_rate: The per-pair learning rate (word2vec's alpha).
        total_steps: Steps over which it falls (the whole run); `None` keeps
            it constant.
        final_fraction: The last rate as a fraction of the first
            (word2vec: min_alpha = 0.0001 = alpha * 0.004; gensim the same).
    """
    rate = learning_rate
    if total_steps:
        rate = keras.optimizers.schedules.PolynomialDecay(
            learning_rate,
            decay_steps=int(total_steps),
            end_learning_rate=learning_rate * final_fraction,
            power=1.0,
        )
    model.compile(
        optimizer=keras.optimizers.SGD(rate),
        loss=NegativeSamplingLoss(),
        # XLA would densify the sparse row updates into whole-table ones, and
        # cannot compile fastText's variable-length subword lists.
        jit_compile=False,
    )
    return model


def center_vectors(model, min_id=4):
    """Every vocabulary word's vector from a trained model (rows from `min_id`).

    For fastText the vector of word c is the mean over its word and n-gram
    rows, as in training.
    """
    layer = model.get_layer("center_embedding")
    vocab_size = model.get_layer("context_embedding").input_dim
    ids = np.arange(min_id, vocab_size, dtype="int32")
    vectors = [
        keras.ops.convert_to_numpy(layer(ids[start : start + 4096]))
        for start in range(0, len(ids), 4096)
    ]
    return np.concatenate(vectors).astype("float32")


class WordVectors:
    """Trained word vectors: lookup, nearest neighbours, word2vec text format.

    Args:
        words: The words, one per row of `vectors`.
        vectors: float32 `(len(words), d)`.
        ngram_vectors: fastText's n-gram rows `(buckets, d)`, or `None`; with
            them a word outside `words` gets the mean of its n-gram vectors.
        min_n, max_n: fastText's n-gram lengths.

    Example:

    >>> vectors = WordVectors(["a", "b", "c"], np.eye(3)[[0, 0, 1]] + [0, 0.1, 0])
    >>> [word for word, _ in vectors.most_similar("a", topn=2)]
    ['b', 'c']
    """

    def __init__(self, words, vectors, ngram_vectors=None, min_n=3, max_n=6):
        vectors = np.asarray(vectors, np.float32)
        if vectors.ndim != 2 or len(words) != len(vectors):
            raise ValueError(
                "Received invalid arguments `words` and `vectors`, expected one "
                f"row per word, got {len(words)} words and shape {vectors.shape}."
            )
        self.words = list(words)
        self.vectors = vectors
        self.ngram_vectors = ngram_vectors
        self.min_n, self.max_n = min_n, max_n
        self.index = {word: row for row, word in enumerate(self.words)}
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.unit_vectors = vectors / np.maximum(norms, 1e-12)

    @property
    def dim(self):
        return self.vectors.shape[1]

    def __contains__(self, word):
        return word in self.index

    def __len__(self):
        return len(self.words)

    def vector(self, word):
        """The word's vector; for fastText vectors also of an unseen word.

        Raises:
            KeyError: the word is unknown and there are no n-gram vectors, or
                it has no n-grams.
        """
        if word in self.index:
            return self.vectors[self.index[word]]
        if self.ngram_vectors is None:
            raise KeyError(f"{word!r} is not in the vocabulary")
        from garden.data.skipgram import subword_buckets

        buckets = subword_buckets(
            [word], len(self.ngram_vectors), self.min_n, self.max_n
        )
        rows = np.asarray(buckets.to_list()[0], np.int64)
        if not len(rows):
            raise KeyError(f"{word!r} has no character n-grams")
        return self.ngram_vectors[rows].mean(axis=0)

    def most_similar(self, word, topn=10):
        """The `topn` words of highest cosine similarity, `[(word, cosine)]`."""
        query = self.vector(word)
        scores = self.unit_vectors @ (query / max(np.linalg.norm(query), 1e-12))
        if word in self.index:
            scores[self.index[word]] = -np.inf
        best = np.argsort(-scores)[:topn]
        return [(self.words[row], float(scores[row])) for row in best]

    def save_word2vec_format(self, path):
        """Writes `path` in word2vec's text format (a header, then one word per line).

        Written to a temporary name and renamed, so a failed write leaves no
        half file; GloVe-style readers (the sentiment recipe) skip the header.
        """
        from garden.reports import atomic_write

        with atomic_write(path) as temporary:
            with open(temporary, "w", encoding="utf-8") as f:
                f.write(f"{len(self.words)} {self.dim}\n")
                for word, row in zip(self.words, self.vectors):
                    f.write(word + " " + " ".join(f"{x:.6g}" for x in row) + "\n")

    @classmethod
    def load_word2vec_format(cls, path):
        """Reads word2vec's text format (header optional, as GloVe files lack it)."""
        from garden.data.sources import open_text

        lines = open_text(path).splitlines()
        if lines and len(lines[0].split()) == 2 and lines[0].split()[0].isdigit():
            lines = lines[1:]
        words, rows = [], []
        for number, line in enumerate(lines, 1):
            parts = line.rstrip().split(" ")
            if len(parts) < 2:
                continue
            try:
                rows.append(np.asarray(parts[1:], np.float32))
            except ValueError:
                raise ValueError(
                    f"Expected `word x1 x2 ...` on line {number} of `{path}`, got "
                    f"{line[:60]!r}."
                ) from None
            if rows and len(rows[-1]) != len(rows[0]):
                raise ValueError(
                    f"Expected {len(rows[0])} numbers on line {number} of `{path}`,"
                    f" got {len(rows[-1])}."
                )
            words.append(parts[0])
        if not words:
            raise ValueError(f"Expected word vectors in `{path}`, found none.")
        return cls(words, np.stack(rows))
