"""AWD-LSTM's regularisers against their definitions."""

import keras
import numpy as np
import pytest

from garden.layers.regularization import ActivationRegularization, EmbeddingDropout


def test_embedding_dropout_drops_whole_words_and_scales_the_rest():
    layer = EmbeddingDropout(50, 6, rate=0.4, seed=3)
    ids = np.tile(np.arange(50), (4, 1))  # every word, in 4 rows
    out = keras.ops.convert_to_numpy(layer(ids, training=True))
    table = keras.ops.convert_to_numpy(layer.embeddings)
    dropped = np.all(out[0] == 0, axis=-1)
    # One mask for the batch: a word dropped in one row is dropped in all.
    for row in out[1:]:
        np.testing.assert_array_equal(np.all(row == 0, axis=-1), dropped)
    np.testing.assert_allclose(out[0][~dropped], table[~dropped] / 0.6, rtol=1e-6)
    assert 5 <= dropped.sum() <= 35  # about 20 of 50
    # A new call draws a new mask; inference is the plain embedding.
    again = keras.ops.convert_to_numpy(layer(ids, training=True))
    assert not np.array_equal(np.all(again[0] == 0, axis=-1), dropped)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(ids)), table[ids])


def test_embedding_dropout_round_trips_and_checks_its_rate():
    layer = EmbeddingDropout(10, 3, rate=0.1, seed=2, mask_zero=True)
    clone = EmbeddingDropout.from_config(layer.get_config())
    assert (clone.rate, clone.seed, clone.mask_zero) == (0.1, 2, True)
    with pytest.raises(ValueError, match="`rate`"):
        EmbeddingDropout(10, 3, rate=1.0)


def penalties(h, d, mask, alpha, beta):
    """AR and TAR as Merity et al. define them, over the unmasked steps."""
    ar = np.mean([d[b, t] ** 2 for b, t in zip(*np.nonzero(mask))])
    pairs = [
        (h[b, t] - h[b, t - 1]) ** 2
        for b, t in zip(*np.nonzero(mask))
        if t > 0 and mask[b, t - 1]
    ]
    return alpha * ar, beta * np.mean(pairs)


def test_activation_regularization_adds_ar_and_tar_over_unmasked_steps():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(4, 5, 4)).astype("float32")
    d = (h * (rng.random(h.shape) > 0.3) / 0.7).astype("float32")
    # Right padding, one step, and left padding: a pair counts for TAR only
    # where both its steps are real.
    mask = np.array(
        [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 1, 1, 1]], bool
    )
    layer = ActivationRegularization(alpha=2.0, beta=1.0)
    out = layer([h, d], mask=[mask, mask], training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out), d)
    got = [float(keras.ops.convert_to_numpy(loss)) for loss in layer.losses]
    np.testing.assert_allclose(got, penalties(h, d, mask, 2.0, 1.0), rtol=1e-5)
    # Not in inference, nor with zero weights.
    layer = ActivationRegularization(alpha=2.0, beta=1.0)
    layer([h, d], mask=[mask, mask])
    assert not layer.losses


def test_activation_regularization_reaches_the_training_loss():
    tokens = keras.Input((5,), dtype="int32")
    h = keras.layers.LSTM(4, return_sequences=True)(
        keras.layers.Embedding(10, 3, mask_zero=True)(tokens)
    )
    d = keras.layers.SpatialDropout1D(0.0)(h)  # locked dropout, off here
    y = ActivationRegularization(alpha=2.0, beta=1.0)([h, d])
    model = keras.Model(tokens, keras.layers.Dense(1)(y))
    model.compile(optimizer="sgd", loss="mse")
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    hidden = keras.Model(tokens, h).predict(ids, verbose=0)
    plain = keras.Model(tokens, model.layers[-1](d))
    plain.compile(optimizer="sgd", loss="mse")
    y_true = np.zeros((2, 5, 1))
    mask = ids != 0
    extra = sum(penalties(hidden, hidden, mask, 2.0, 1.0))
    with_penalties = model.test_on_batch(ids, y_true)  # evaluate: no penalties
    assert with_penalties == pytest.approx(plain.test_on_batch(ids, y_true))
    trained = model.compute_loss(ids, y_true, model(ids, training=True))
    base = plain.compute_loss(ids, y_true, plain(ids, training=True))
    assert float(trained) - float(base) == pytest.approx(extra, rel=1e-4)


def test_embedding_dropout_ties_to_the_whole_matrix():
    layer = EmbeddingDropout(12, 4, rate=0.5, seed=1)
    layer(np.array([[1, 2]]))
    hidden = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    table = keras.ops.convert_to_numpy(layer.embeddings)
    # Only the input side drops words: the tied output reads every row.
    logits = layer(hidden, reverse=True, training=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(logits), hidden @ table.T, rtol=1e-5
    )


def test_embedding_dropout_keeps_the_padding_mask_in_training():
    tokens = keras.Input((None,), dtype="int32")
    # A rate this small never drops a word, but takes the dropping path.
    embedded = EmbeddingDropout(10, 3, rate=1e-9, mask_zero=True, seed=0)(tokens)
    model = keras.Model(tokens, keras.layers.GlobalAveragePooling1D()(embedded))
    ids = np.array([[4, 5, 0, 0], [1, 2, 3, 9]])
    table = keras.ops.convert_to_numpy(model.layers[1].embeddings)
    want = [table[[4, 5]].mean(axis=0), table[[1, 2, 3, 9]].mean(axis=0)]
    for training in (True, False):
        got = keras.ops.convert_to_numpy(model(ids, training=training))
        np.testing.assert_allclose(got, want, rtol=1e-5)
