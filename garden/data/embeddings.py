"""Pretrained word vectors as an embedding matrix aligned to a `Vocabulary`.

GloVe 6B 50d (`load_glove_embeddings`), or any file in word2vec's text format
(`load_word_vectors_embeddings`: the vectors of `recipes.word_vectors`,
gensim's `save_word2vec_format(binary=False)`, fastText's `.vec`).
"""

import dataclasses
import gzip
import os

import numpy as np

from garden.data import sources
from garden.data.vocabulary import Vocabulary

GLOVE_DIMENSION = 50
OOV_INITIALIZERS = ("normal", "zeros")


@dataclasses.dataclass(frozen=True)
class EmbeddingMatrix:
    """An embedding matrix and how much of the vocabulary the vectors covered.

    Attributes:
        matrix: float32 array of shape `(len(vocabulary), dimension)`; row `i`
            is the vector of token id `i`.
        num_found: how many non-reserved tokens had a pretrained vector.
        coverage: `num_found` divided by the number of non-reserved tokens.
    """

    matrix: np.ndarray
    num_found: int
    coverage: float


def _glove_text(path, download, cache_dir):
    located, origin = sources.locate(
        "glove", path=path, download=download, cache_dir=cache_dir
    )
    source = sources.SOURCES["glove"]
    if os.path.isdir(located):
        located = os.path.join(located, source.member)
    elif origin == "download":
        # glove.6B.zip holds all four dimensions; only the 50-d member is checked.
        directory = sources.extract_archive(located, cache_dir=cache_dir)
        located = os.path.join(directory, source.member)
        sources.verify_checksum(
            located, "sha256", source.member_sha256, "extracted GloVe file"
        )
    return sources.open_text(located)


def load_glove_embeddings(
    vocabulary,
    path=None,
    oov_initializer="normal",
    stddev=0.01,
    seed=None,
    download=True,
    cache_dir=None,
):
    """Build an embedding matrix for `vocabulary` from GloVe 6B 50-d vectors.

    A token without a GloVe vector is looked up lower-cased; failing that,
    its row is drawn from N(0, `stddev`^2) (`"normal"`, the usual choice when
    the embedding is fine-tuned) or left at zeros (`"zeros"`). The `<pad>` row
    is always zeros.

    Args:
        vocabulary: the `Vocabulary` whose ids index the rows.
        path: `glove.6B.50d.txt`, its `.gz`, or a directory holding the `.txt`.
        oov_initializer: `"normal"` or `"zeros"` for tokens without a vector.
        stddev: standard deviation of the `"normal"` rows.
        seed: seed of the `"normal"` rows.
        download: whether to download `glove.6B.zip` when no local copy exists.
        cache_dir: cache for downloads and extraction.

    Returns:
        An `EmbeddingMatrix` with `matrix`, `num_found` and `coverage`.
    """
    return _embedding_matrix(
        vocabulary,
        _glove_text(path, download, cache_dir).splitlines(),
        GLOVE_DIMENSION,
        oov_initializer,
        stddev,
        seed,
    )


def _is_header(line):
    parts = line.split()
    return len(parts) == 2 and all(part.isdigit() for part in parts)


def _open_text(path):
    """Opens a text file, gzipped or not, for reading lines."""
    if str(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def word_vectors_dimension(path):
    """The vector size of a word2vec text file (its header, or its first line).

    Raises:
        ValueError: the file does not start like word vectors.
    """
    with _open_text(path) as f:
        first = f.readline()
    if _is_header(first):
        return int(first.split()[1])
    if len(first.split()) < 2:
        raise ValueError(
            f"Expected word vectors in `{path}` (`word x1 x2 ...` per line, "
            f"optionally after a `count dimension` header), got {first[:60]!r}."
        )
    return len(first.split()) - 1


def load_word_vectors_embeddings(
    vocabulary, path, oov_initializer="normal", stddev=0.01, seed=None
):
    """An embedding matrix for `vocabulary` from a word2vec text file.

    As `load_glove_embeddings` (exact, then lower-cased matches; the rest
    drawn from N(0, stddev^2) or zeros), with the dimension read from the
    file.

    Args:
        vocabulary: The `Vocabulary` whose ids index the rows.
        path: A word2vec text file (`.gz` allowed), header optional.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: it is not a word2vec text file.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Received an invalid value for argument `path`: `{path}` is not a file "
            "(expected word vectors in word2vec's text format)."
        )
    dimension = word_vectors_dimension(path)
    with _open_text(path) as f:
        lines = f.read().splitlines()
    if lines and _is_header(lines[0]):
        lines = lines[1:]
    return _embedding_matrix(
        vocabulary, lines, dimension, oov_initializer, stddev, seed, path
    )


def _embedding_matrix(
    vocabulary, lines, dimension, oov_initializer, stddev, seed, where="GloVe"
):
    if oov_initializer not in OOV_INITIALIZERS:
        raise ValueError(
            "Received an invalid value for argument `oov_initializer`, expected one "
            f"of {list(OOV_INITIALIZERS)}, got {oov_initializer!r}."
        )
    if not isinstance(vocabulary, Vocabulary):
        raise ValueError(
            "Received an invalid value for argument `vocabulary`, expected a "
            f"`Vocabulary`, got {type(vocabulary).__name__}."
        )
    wanted = {}
    for index, token in enumerate(vocabulary.tokens):
        if token not in vocabulary.reserved_tokens:
            wanted.setdefault(token, []).append(index)
    lowered = {}
    for token, rows in wanted.items():
        lowered.setdefault(token.lower(), []).extend(rows)
    rng = np.random.default_rng(seed)
    if oov_initializer == "normal":
        matrix = rng.normal(0.0, stddev, (len(vocabulary), dimension))
    else:
        matrix = np.zeros((len(vocabulary), dimension))
    matrix = matrix.astype("float32")
    matrix[vocabulary.pad_id] = 0.0
    found = set()
    exact_found = set()
    for number, line in enumerate(lines, 1):
        # Only the word is cut from a line (most lines are not wanted): the
        # vector's text is copied and parsed for the vocabulary's words alone.
        space = line.find(" ")
        word = line[:space] if space >= 0 else line.rstrip()
        if word not in lowered and word not in wanted:
            continue
        exact = wanted.get(word, [])
        lower = [row for row in lowered.get(word, ()) if row not in exact_found]
        if exact or lower:
            values = line[space + 1 :].rstrip() if space >= 0 else ""
            vector = np.asarray(values.split(" "), dtype="float32")
            if vector.shape != (dimension,):
                raise ValueError(
                    f"Expected {dimension} numbers after the word on line {number} "
                    f"of {where}, got {vector.size}."
                )
            # An exact match wins over a lower-cased one, whichever comes first.
            matrix[lower] = vector
            matrix[exact] = vector
            exact_found.update(exact)
            found.update(exact, lower)
    num_tokens = sum(len(rows) for rows in wanted.values())
    return EmbeddingMatrix(
        matrix=matrix,
        num_found=len(found),
        coverage=len(found) / num_tokens if num_tokens else 0.0,
    )
