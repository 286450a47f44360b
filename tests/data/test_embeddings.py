"""GloVe embedding matrices aligned to a vocabulary."""

import gzip

import numpy as np
import pytest

from garden import data


def write_glove(path, rows):
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for word, vector in rows:
            f.write(word + " " + " ".join(f"{v:.5g}" for v in vector) + "\n")
    return str(path)


def test_rows_follow_vocabulary_ids_and_missing_words(tmp_path):
    the, cat = np.full(50, 0.5), np.arange(50) / 10
    path = write_glove(
        tmp_path / "glove.txt.gz", [("the", the), ("cat", cat), ("x", -the)]
    )
    vocabulary = data.Vocabulary(["cat", "cat", "The", "zebra"])
    result = data.load_glove_embeddings(vocabulary, path=path, oov_initializer="zeros")
    matrix = result.matrix
    assert matrix.shape == (len(vocabulary), 50) and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix[vocabulary["cat"]], cat, rtol=1e-5)
    np.testing.assert_allclose(matrix[vocabulary["The"]], the)  # lower-cased match
    assert not matrix[vocabulary["zebra"]].any()
    assert not matrix[vocabulary.pad_id].any()
    assert (result.num_found, result.coverage) == (2, 2 / 3)
    normal = data.load_glove_embeddings(vocabulary, path=path, seed=0).matrix
    assert 0 < np.abs(normal[vocabulary["zebra"]]).max() < 0.1
    assert not normal[vocabulary.pad_id].any()


def test_invalid_oov_initializer(tmp_path):
    with pytest.raises(ValueError, match="argument `oov_initializer`"):
        data.load_glove_embeddings(data.Vocabulary(["a"]), oov_initializer="uniform")


def test_real_glove_covers_imdb_vocabulary(imdb_vocabulary):
    result = data.load_glove_embeddings(imdb_vocabulary, seed=0)
    assert result.coverage > 0.95
    first = [0.418, 0.24968, -0.41242]
    np.testing.assert_allclose(result.matrix[imdb_vocabulary["the"]][:3], first)


def test_word2vec_text_files_of_any_dimension(tmp_path):
    from garden.models.word2vec import WordVectors

    vectors = WordVectors(["movie", "great"], [[1, 2, 3], [4, 5, 6]])
    path = tmp_path / "vectors.txt"
    vectors.save_word2vec_format(path)
    vocabulary = data.Vocabulary(["great", "Movie", "unseen"])
    result = data.load_word_vectors_embeddings(
        vocabulary, str(path), oov_initializer="zeros"
    )
    assert result.matrix.shape == (len(vocabulary), 3)
    np.testing.assert_allclose(result.matrix[vocabulary["Movie"]], [1, 2, 3])
    np.testing.assert_allclose(result.matrix[vocabulary["great"]], [4, 5, 6])
    assert not result.matrix[vocabulary["unseen"]].any()
    # Without a header (GloVe's layout) and gzipped, the same.
    headless = write_glove(
        tmp_path / "v.txt.gz", [("movie", [1, 2]), ("great", [3, 4])]
    )
    assert data.embeddings.word_vectors_dimension(headless) == 2
    matrix = data.load_word_vectors_embeddings(vocabulary, headless).matrix
    np.testing.assert_allclose(matrix[vocabulary["great"]], [3, 4])


def test_bad_word_vector_files_are_named(tmp_path):
    vocabulary = data.Vocabulary(["a", "b"])
    with pytest.raises(FileNotFoundError, match="not a file"):
        data.load_word_vectors_embeddings(vocabulary, str(tmp_path / "none.txt"))
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match="line 2"):
        data.load_word_vectors_embeddings(vocabulary, str(ragged))
    empty = tmp_path / "empty.txt"
    empty.write_text("just\n")
    with pytest.raises(ValueError, match="Expected word vectors"):
        data.embeddings.word_vectors_dimension(str(empty))
