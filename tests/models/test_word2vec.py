"""The skip-gram and fastText models: their SGD step, subword means, saving."""

import keras
import numpy as np
import pytest

from garden.data.skipgram import subword_table
from garden.layers import SubwordEmbedding
from garden.models.word2vec import (
    WordVectors,
    build_skipgram,
    center_vectors,
    compile_skipgram,
)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_one_batch_is_word2vecs_pairwise_sgd_summed():
    model = compile_skipgram(build_skipgram(20, dim=4, negatives=2), 0.1)
    rng = np.random.default_rng(0)
    v = rng.normal(size=(20, 4)).astype("float32")
    u = rng.normal(size=(20, 4)).astype("float32")
    model.get_layer("center_embedding").embeddings.assign(v)
    model.get_layer("context_embedding").embeddings.assign(u)
    inputs = {
        "center": np.array([3, 3, 5], "int32"),
        "context": np.array([4, 6, 3], "int32"),
        "noise": np.array([[7, 8], [9, 4], [3, 3]], "int32"),
    }
    labels = np.array([[1, 0, 0]] * 3, "float32")
    loss = model.train_on_batch(inputs, labels)
    want_v, want_u, want_loss = v.copy(), u.copy(), 0.0
    for c, o, noise in zip(inputs["center"], inputs["context"], inputs["noise"]):
        for word, label in zip([o, *noise], [1, 0, 0]):
            score = u[word] @ v[c]
            want_loss -= np.log(sigmoid(score) if label else sigmoid(-score))
            step = 0.1 * (sigmoid(score) - label)
            want_v[c] -= step * u[word]
            want_u[word] -= step * v[c]
    assert loss == pytest.approx(want_loss, rel=1e-5)
    got_v = model.get_layer("center_embedding").embeddings.numpy()
    np.testing.assert_allclose(got_v, want_v, atol=1e-6)
    got_u = model.get_layer("context_embedding").embeddings.numpy()
    np.testing.assert_allclose(got_u, want_u, atol=1e-6)


def test_context_vectors_start_at_zero_and_rate_falls_linearly():
    model = compile_skipgram(build_skipgram(10, dim=3), 0.025, total_steps=100)
    assert not model.get_layer("context_embedding").embeddings.numpy().any()
    rate = model.optimizer.learning_rate
    schedule = model.optimizer._learning_rate
    assert float(rate) == pytest.approx(0.025)
    assert float(schedule(50)) == pytest.approx(0.025 * (0.5 + 0.5e-4))
    assert float(schedule(1000)) == pytest.approx(0.025e-4)


def test_fasttext_center_is_the_mean_of_word_and_ngram_rows():
    tokens = ["<pad>", "<unk>", "walk", "walking"]
    table = subword_table(tokens, buckets=30, min_n=3, max_n=4, min_id=2)
    layer = SubwordEmbedding(4 + 30, 5, subword_table=table)
    layer.build((None,))
    out = keras.ops.convert_to_numpy(layer(np.array([3, 2], "int32")))
    weights = layer.embeddings.numpy()
    for position, word in enumerate([3, 2]):
        rows = table[word][table[word] >= 0]
        np.testing.assert_allclose(out[position], weights[rows].mean(0), rtol=1e-6)


def test_fasttext_model_saves_and_loads_with_its_table(tmp_path):
    tokens = ["<pad>", "<unk>", "walk", "walking", "talk"]
    table = subword_table(tokens, buckets=40, min_id=2)
    model = build_skipgram(5, dim=4, negatives=2, subword_table=table, buckets=40)
    compile_skipgram(model)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(
        loaded.get_layer("center_embedding").table.numpy(), table
    )
    np.testing.assert_allclose(center_vectors(loaded, 2), center_vectors(model, 2))
    assert center_vectors(model, 2).shape == (3, 4)


def test_word_vectors_round_trip_the_word2vec_text_format(tmp_path):
    rng = np.random.default_rng(1)
    vectors = WordVectors(["cat", "dog", "été"], rng.normal(size=(3, 4)))
    path = tmp_path / "sub" / "vectors.txt"
    vectors.save_word2vec_format(path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "3 4"
    assert [p.name for p in path.parent.iterdir()] == ["vectors.txt"]
    loaded = WordVectors.load_word2vec_format(path)
    assert loaded.words == vectors.words
    np.testing.assert_allclose(loaded.vectors, vectors.vectors, rtol=1e-5)
    (tmp_path / "bad.txt").write_text("cat 1 2\ndog 1\n")
    with pytest.raises(ValueError, match="line 2"):
        WordVectors.load_word2vec_format(tmp_path / "bad.txt")


def test_unseen_words_get_their_ngram_mean_only_with_ngrams():
    from garden.data.skipgram import subword_buckets

    rng = np.random.default_rng(2)
    ngrams = rng.normal(size=(16, 3)).astype("float32")
    vectors = WordVectors(["cat"], np.ones((1, 3)), ngrams, min_n=3, max_n=4)
    rows = subword_buckets(["cats"], 16, 3, 4).to_list()[0]
    np.testing.assert_allclose(vectors.vector("cats"), ngrams[rows].mean(0))
    np.testing.assert_allclose(vectors.vector("cat"), np.ones(3))
    with pytest.raises(KeyError, match="n-grams"):
        vectors.vector("")
    with pytest.raises(KeyError, match="vocabulary"):
        WordVectors(["cat"], np.ones((1, 3))).vector("cats")


def test_fasttext_updates_every_row_with_the_whole_gradient():
    tokens = ["<pad>", "<unk>", "walk", "walking"]
    table = subword_table(tokens, buckets=30, min_n=3, max_n=4, min_id=2)
    model = build_skipgram(4, dim=3, negatives=1, subword_table=table, buckets=30)
    compile_skipgram(model, 0.1)
    u = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    model.get_layer("context_embedding").embeddings.assign(u)
    layer = model.get_layer("center_embedding")
    before = layer.embeddings.numpy()
    inputs = {
        "center": np.array([3], "int32"),
        "context": np.array([2], "int32"),
        "noise": np.array([[3]], "int32"),
    }
    v = before[table[3][table[3] >= 0]].mean(0)
    model.train_on_batch(inputs, np.array([[1, 0]], "float32"))
    # fastText's rule: every row moves by the step of v_c, not a 1/|G_c| share.
    step = -0.1 * ((sigmoid(u[2] @ v) - 1) * u[2] + sigmoid(u[3] @ v) * u[3])
    # A bucket that two n-grams share (30 buckets) moves once per n-gram.
    rows, times = np.unique(table[3][table[3] >= 0], return_counts=True)
    moved = layer.embeddings.numpy() - before
    np.testing.assert_allclose(moved[rows], times[:, None] * step, atol=1e-6)
    others = np.setdiff1d(np.arange(len(before)), rows)
    assert not moved[others].any()


def test_fasttext_gradient_scatters_only_the_real_rows():
    import tensorflow as tf

    tokens = ["<pad>", "<unk>", "a", "walking"]
    table = subword_table(tokens, buckets=30, min_n=3, max_n=4, min_id=2)
    layer = SubwordEmbedding(4 + 30, 5, subword_table=table)
    ids = np.array([[3, 2], [2, 3]], "int32")
    with tf.GradientTape() as tape:
        out = layer(ids)
        loss = tf.reduce_sum(out)
    gradient = tape.gradient(loss, layer.embeddings.value)
    # Sparse, one row per real entry: "a" fills 2 of the table's 14 columns
    # (its id and "<a>"), "walking" all 14; the -1 padding is not scattered.
    assert table.shape[1] == 14
    assert isinstance(gradient, tf.IndexedSlices)
    assert gradient.indices.shape[0] == 2 * (2 + 14)
    flat = keras.ops.convert_to_numpy(layer(ids.reshape(-1)))
    np.testing.assert_allclose(out.numpy().reshape(4, 5), flat, rtol=1e-6)
