"""Additive attention and late fusion: equations, masks, float16 safety."""

import keras
import numpy as np
import pytest

from garden.layers.attention import AdditiveAttention, LateFusion


def numpy_attention(layer, query, value, mask):
    w_q, w_k, v = (np.asarray(w, "float64") for w in layer.get_weights())
    hidden = np.tanh((query @ w_q)[:, :, None, :] + (value @ w_k)[:, None, :, :])
    scores = hidden @ v  # (batch, T, S)
    scores = np.where(mask[:, None, :], scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ value, weights


def test_matches_the_equations_with_a_mask():
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 3, 5)).astype("float32")
    value = rng.normal(size=(2, 4, 7)).astype("float32")
    mask = np.array([[True, True, True, False], [True, False, False, False]])
    layer = AdditiveAttention(6, return_attention_scores=True)
    context, weights = layer(query, value, mask=mask)
    want_context, want_weights = numpy_attention(layer, query, value, mask)
    np.testing.assert_allclose(weights, want_weights, atol=1e-6)
    np.testing.assert_allclose(context, want_context, rtol=1e-5, atol=1e-6)
    # Padding keys get exactly zero weight, and changing them changes nothing.
    assert np.all(np.asarray(weights)[1, :, 1:] == 0.0)
    value[1, 1:] = 100.0
    np.testing.assert_allclose(layer(query, value, mask=mask)[0], context, atol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mask_is_safe_in_half_precision(policy):
    rng = np.random.default_rng(1)
    query = rng.normal(size=(2, 3, 5)).astype("float32")
    value = rng.normal(size=(2, 4, 7)).astype("float32")
    mask = np.array([[True, True, False, False], [False, False, False, False]])
    reference = AdditiveAttention(6)
    want = np.asarray(reference(query, value, mask=mask))
    keras.config.set_dtype_policy(policy)
    layer = AdditiveAttention(6)
    layer.build(query.shape, value.shape)
    layer.set_weights(reference.get_weights())
    got = keras.ops.convert_to_numpy(
        keras.ops.cast(layer(query, value, mask=mask), "float32")
    )
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got[0], want[0], atol=3e-2)
    # A query with no valid key attends to nothing: a zero context, not NaN.
    assert np.all(got[1] == 0.0)


def test_round_trip_and_bad_units(tmp_path):
    query = keras.Input((None, 5))
    value = keras.Input((None, 7))
    model = keras.Model([query, value], AdditiveAttention(4)(query, value))
    model.save(tmp_path / "attention.keras")
    loaded = keras.saving.load_model(tmp_path / "attention.keras")
    batch = [
        np.ones((1, 2, 5), "float32"),
        np.arange(21, dtype="float32").reshape(1, 3, 7),
    ]
    np.testing.assert_allclose(loaded(batch), model(batch), rtol=1e-6)
    with pytest.raises(ValueError, match="units"):
        AdditiveAttention(0)


def test_keys_use_their_own_kernel_and_the_value_mask():
    """Query and value of one width give W_q and W_k one shape, so swapping
    them would go unseen by shapes; with a [query_mask, value_mask] pair the
    keys' mask is the value's."""
    rng = np.random.default_rng(2)
    query = rng.normal(size=(2, 3, 5)).astype("float32")
    value = rng.normal(size=(2, 4, 5)).astype("float32")
    value_mask = np.array([[True, True, True, True], [True, True, False, False]])
    query_mask = np.array([[True, False, False], [True, True, True]])
    layer = AdditiveAttention(6, return_attention_scores=True)
    context, weights = layer(query, value, mask=[query_mask, value_mask])
    want_context, want_weights = numpy_attention(layer, query, value, value_mask)
    np.testing.assert_allclose(weights, want_weights, atol=1e-6)
    np.testing.assert_allclose(context, want_context, rtol=1e-5, atol=1e-6)


def test_padding_keys_from_an_embedding_mask_get_no_weight():
    # Two tensors in: Keras hands the value's mask to `value_mask`, not `mask`.
    attention = AdditiveAttention(4, return_attention_scores=True)
    embedding = keras.layers.Embedding(10, 3, mask_zero=True)
    value_ids = np.array([[4, 5, 0, 0]])
    query = np.ones((1, 2, 3), "float32")
    _, weights = attention(query, embedding(value_ids))
    weights = np.asarray(weights)
    np.testing.assert_allclose(weights[..., 2:], 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)


def test_late_fusion_matches_the_equations_and_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    state = rng.normal(size=(2, 3, 4)).astype("float32")
    context = rng.normal(size=(2, 3, 6)).astype("float32")
    layer = LateFusion()
    layer([state, context])
    # Non-zero bias, so that a dropped or misplaced bias shows.
    layer.bias.assign(rng.normal(size=(4,)).astype("float32"))
    w_c, w_g, w_s, b = (np.asarray(w, "float64") for w in layer.get_weights())
    projected = context @ w_c
    gates = 1.0 / (1.0 + np.exp(-(projected @ w_g + state @ w_s + b)))
    np.testing.assert_allclose(
        layer([state, context]), projected * gates + state, rtol=1e-5, atol=1e-6
    )
    inputs = [keras.Input((None, 4)), keras.Input((None, 6))]
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "fusion.keras")
    loaded = keras.saving.load_model(tmp_path / "fusion.keras")
    np.testing.assert_allclose(loaded([state, context]), model([state, context]))
