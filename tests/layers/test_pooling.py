"""Pooling layers against a NumPy reference, with masks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from garden.layers import ConcatPooling, FirstAndLastSteps


def _reference(x, mask):
    rows = []
    for sequence, keep in zip(x, mask):
        valid = sequence[keep]
        if not len(valid):
            rows.append(np.zeros(3 * x.shape[-1]))
            continue
        rows.append(np.concatenate([valid[-1], valid.max(0), valid.mean(0)]))
    return np.stack(rows)


def test_concat_pooling_reads_only_the_valid_steps():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    x[:, 4:] = 100.0  # padding that must not win the max nor move the mean
    mask = np.array([[1] * 4 + [0] * 2, [1] * 6, [1] + [0] * 5, [0] * 6], bool)
    x[1, 4:] = rng.normal(size=(2, 3))
    got = keras.ops.convert_to_numpy(ConcatPooling()(x, mask=mask))
    np.testing.assert_allclose(got, _reference(x, mask), rtol=1e-6, atol=1e-6)
    unmasked = keras.ops.convert_to_numpy(ConcatPooling()(x))
    np.testing.assert_allclose(unmasked, _reference(x, np.ones((4, 6), bool)), 1e-6)


def test_concat_pooling_gradients_are_finite_and_skip_padding():
    x = keras.Variable(np.arange(12, dtype="float32").reshape(2, 3, 2))
    mask = np.array([[True, True, False], [False, False, False]])
    with tf.GradientTape() as tape:
        total = keras.ops.sum(ConcatPooling()(x, mask=mask))
    grad = tape.gradient(total, x.value).numpy()
    assert np.isfinite(grad).all()
    assert not grad[0, 2].any() and not grad[1].any()
    # Step 2 of row 0 is the last and the max (1 + 1) and half the mean.
    np.testing.assert_allclose(grad[0, 1], [2.5, 2.5])
    np.testing.assert_allclose(grad[0, 0], [0.5, 0.5])


@pytest.mark.parametrize("layer", [ConcatPooling(), FirstAndLastSteps()])
def test_pooling_in_a_saved_model_with_an_embedding_mask(layer, tmp_path):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 4, mask_zero=True)(ids)
    model = keras.Model(ids, layer(keras.layers.GRU(3, return_sequences=True)(x)))
    batch = np.array([[1, 2, 3, 0], [4, 0, 0, 0]], "int32")
    want = model.predict(batch, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), want, atol=1e-6)
