import keras
import numpy as np
import pytest

from garden.layers import TextCNN


def numpy_text_cnn(x, weights, widths, phi=lambda z: np.maximum(z, 0)):
    """Kim's encoder in NumPy: zero-padded windows at each token, phi, max."""
    steps = x.shape[1]
    padded = np.pad(x, [(0, 0), (0, max(widths) - 1), (0, 0)])
    pooled = []
    for (kernel, bias), width in zip(zip(weights[::2], weights[1::2]), widths):
        windows = np.stack(
            [padded[:, j : j + width].reshape(x.shape[0], -1) for j in range(steps)], 1
        )
        features = phi(windows @ kernel.reshape(-1, kernel.shape[-1]) + bias)
        pooled.append(features.max(axis=1))
    return np.concatenate(pooled, axis=-1)


def test_matches_numpy_and_default_sizes():
    cnn = TextCNN()
    assert cnn.kernel_sizes == [3, 4, 5] and cnn.filters == 100
    x = np.random.default_rng(0).normal(size=(2, 9, 6)).astype("float32")
    out = np.asarray(cnn(x, training=False))
    assert out.shape == (2, 300)
    expected = numpy_text_cnn(x, cnn.get_weights(), [3, 4, 5])
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_padded_batch_gives_each_text_its_own_features():
    cnn = TextCNN(filters=8, kernel_sizes=(2, 3, 5), dropout=0.0)
    rng = np.random.default_rng(1)
    lengths = [9, 4, 1]
    x = rng.normal(size=(3, 9, 6)).astype("float32")
    # Large padded values: if a padded step leaked into the max it would win.
    mask = np.arange(9)[None, :] < np.array(lengths)[:, None]
    x[~mask] = 100.0
    batch = np.asarray(cnn(x, mask=mask))
    for row, length in enumerate(lengths):
        alone = np.asarray(cnn(x[row : row + 1, :length]))
        np.testing.assert_allclose(batch[row], alone[0], atol=1e-5)


def test_fully_padded_row_gives_zeros_not_nan():
    cnn = TextCNN(filters=4, kernel_sizes=(3,), dropout=0.0)
    x = np.ones((2, 5, 3), "float32")
    mask = np.array([[True] * 5, [False] * 5])
    out = np.asarray(cnn(x, mask=mask))
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[1], 0.0)


def test_text_shorter_than_the_widest_window():
    cnn = TextCNN(filters=4, kernel_sizes=(3, 5))
    assert np.asarray(cnn(np.ones((1, 2, 3), "float32"))).shape == (1, 8)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_in_a_masked_model_under_mixed_precision(policy, tmp_path):
    keras.config.set_dtype_policy(policy)
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(40, 8, mask_zero=True)(tokens)
    cnn = TextCNN(filters=6, kernel_sizes=(2, 3))
    features = cnn(x)
    model = keras.Model(tokens, keras.layers.Dense(2, dtype="float32")(features))
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    assert features.dtype == policy.split("_")[1]
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 40, size=(16, 8)).astype("int32")
    ids[::2, 3:] = 0
    ids[1] = 0  # an empty text
    history = model.fit(ids, rng.integers(0, 2, 16), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    model.save(tmp_path / "cnn.keras")
    loaded = keras.saving.load_model(tmp_path / "cnn.keras")
    np.testing.assert_allclose(
        np.asarray(loaded(ids), "float32"), np.asarray(model(ids), "float32"), atol=1e-2
    )


def test_get_config_round_trip():
    cnn = TextCNN(filters=7, kernel_sizes=(2, 4), activation="tanh", dropout=0.1)
    clone = TextCNN.from_config(cnn.get_config())
    assert clone.get_config() == cnn.get_config()


def test_bad_arguments():
    with pytest.raises(ValueError, match="`filters`"):
        TextCNN(filters=0)
    with pytest.raises(ValueError, match="`kernel_sizes`"):
        TextCNN(kernel_sizes=())
    with pytest.raises(ValueError, match="`kernel_sizes`"):
        TextCNN(kernel_sizes=(3, -1))
    with pytest.raises(ValueError, match="`activation`"):
        TextCNN(activation="nope")
    with pytest.raises(ValueError, match="rank 3"):
        TextCNN()(np.ones((2, 5), "float32"))


def test_padding_never_wins_the_max_when_features_are_negative():
    """With a linear f most maxima are negative: a padded window scored 0 (not
    the lowest float) would win them. Every row equals NumPy on its own tokens,
    including texts shorter than the widest window."""
    cnn = TextCNN(filters=8, kernel_sizes=(2, 3, 5), activation="linear", dropout=0.0)
    rng = np.random.default_rng(2)
    lengths = [9, 4, 2, 1]
    x = rng.normal(size=(4, 9, 6)).astype("float32")
    mask = np.arange(9)[None, :] < np.array(lengths)[:, None]
    x[~mask] = 100.0
    cnn.build(x.shape)
    # Biases of -2 make most maxima negative, whatever the initial kernels.
    cnn.set_weights([w if w.ndim > 1 else w - 2.0 for w in cnn.get_weights()])
    batch = np.asarray(cnn(x, mask=mask))
    assert (batch < 0).mean() > 0.25
    for row, length in enumerate(lengths):
        want = numpy_text_cnn(
            x[row : row + 1, :length], cnn.get_weights(), [2, 3, 5], phi=lambda z: z
        )
        np.testing.assert_allclose(batch[row], want[0], atol=1e-5)


def test_training_dropout_drops_pooled_features_at_rate_p():
    """Inverted dropout on the pooled features, only in training: each feature
    is 0 with probability p (0.25 here, so p and 1 - p differ) or scaled by
    1 / (1 - p). tanh keeps the undropped features away from 0."""
    cnn = TextCNN(filters=50, kernel_sizes=(2, 3), activation="tanh", dropout=0.25)
    x = np.random.default_rng(3).normal(size=(40, 6, 5)).astype("float32")
    infer = np.asarray(cnn(x, training=False))
    want = numpy_text_cnn(x, cnn.get_weights(), [2, 3], phi=np.tanh)
    np.testing.assert_allclose(infer, want, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(cnn(x)), infer)
    train = np.asarray(cnn(x, training=True))
    kept = train != 0.0
    assert abs((~kept).mean() - 0.25) < 0.03
    np.testing.assert_allclose(train[kept], infer[kept] / 0.75, rtol=1e-5)
