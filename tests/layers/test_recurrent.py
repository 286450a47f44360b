"""Behaviour the three recurrent families share, checked on each of them.

Parity with Keras's built-ins on copied weights (masks, go_backwards,
return_state, initial_state, stateful), the cells inside Keras's own
wrappers, serialization, mixed precision and argument errors.
"""

import keras
import numpy as np
import pytest

import garden.layers as layers
from tests.backends import value_and_gradients

FAMILIES = {
    "simple_rnn": (layers.SimpleRNN, keras.layers.SimpleRNN, {}),
    "gru": (layers.GRU, keras.layers.GRU, {}),
    "gru_reset_before": (layers.GRU, keras.layers.GRU, {"reset_after": False}),
    "lstm": (layers.LSTM, keras.layers.LSTM, {}),
}
CELLS = {
    "simple_rnn": (layers.SimpleRNNCell, keras.layers.SimpleRNNCell),
    "gru": (layers.GRUCell, keras.layers.GRUCell),
    "lstm": (layers.LSTMCell, keras.layers.LSTMCell),
}
UNITS = 6


def inputs(batch=4, steps=7, features=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, steps, features)).astype("float32")


def repeated_rows(layer, one, rng, rows):
    """`one` repeated `rows` times and initial states of 0.3 to differentiate.

    The layer is built on `one` and given weights drawn from `rng`; many
    identical rows let each draw its own truncation points.
    """
    layer(one)
    layer.set_weights(
        [rng.normal(scale=0.8, size=w.shape) for w in layer.get_weights()]
    )
    x = np.repeat(one, rows, axis=0)
    initial = [
        keras.Variable(np.full((rows, 3), 0.3, "float32"), trainable=False)
        for _ in layer.state_size
    ]
    return x, initial


def padding_mask(batch=4, steps=7):
    lengths = np.array([steps, 4, 1, 6])[:batch]
    return np.arange(steps)[None, :] < lengths[:, None]


def twin_layers(family, **kwargs):
    """A garden layer and the Keras built-in, built, with the same weights."""
    ours_class, keras_class, extra = FAMILIES[family]
    ours = ours_class(UNITS, **extra, **kwargs)
    theirs = keras_class(UNITS, **extra, **kwargs)
    x = inputs()
    ours(x)
    theirs(x)
    rng = np.random.default_rng(1)
    weights = [rng.normal(scale=0.5, size=w.shape) for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


def assert_all_close(ours, theirs, atol=1e-5):
    ours = ours if isinstance(ours, (list, tuple)) else [ours]
    theirs = theirs if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol)


@pytest.mark.parametrize("family", FAMILIES)
def test_weights_have_keras_names_shapes_and_order(family):
    ours, theirs = twin_layers(family)
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [
        w.path.split("/", 1)[1] for w in theirs.weights
    ]
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_parity_with_keras(family, go_backwards, masked):
    ours, theirs = twin_layers(
        family, return_sequences=True, return_state=True, go_backwards=go_backwards
    )
    mask = padding_mask() if masked else None
    assert_all_close(ours(inputs(), mask=mask), theirs(inputs(), mask=mask))


@pytest.mark.parametrize("family", FAMILIES)
def test_weights_move_back_from_ours_to_keras(family):
    ours, theirs = twin_layers(family)
    theirs.set_weights([w * 0.5 for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    assert_all_close(ours(inputs()), theirs(inputs()))


@pytest.mark.parametrize("family", FAMILIES)
def test_padded_steps_carry_last_valid_state_and_output(family):
    ours, _ = twin_layers(family, return_sequences=True, return_state=True)
    mask = padding_mask()
    outputs, *states = ours(inputs(), mask=mask)
    outputs = np.asarray(outputs)
    # Row 1 has 4 real steps: every later output repeats the 4th.
    for t in range(4, 7):
        np.testing.assert_array_equal(outputs[1, t], outputs[1, 3])
    np.testing.assert_array_equal(np.asarray(states[0])[1], outputs[1, 3])
    # The padded row gives what its real prefix gives alone.
    alone = ours(inputs()[1:2, :4], mask=None)
    np.testing.assert_allclose(outputs[1, :4], np.asarray(alone[0])[0], atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_initial_state_parity(family):
    ours, theirs = twin_layers(family, return_state=True)
    rng = np.random.default_rng(2)
    state = [rng.normal(size=(4, UNITS)).astype("float32") for _ in ours.state_size]
    assert_all_close(
        ours(inputs(), initial_state=state), theirs(inputs(), initial_state=state)
    )
    # A different initial state changes the output, so it is really used.
    zero = ours(inputs())
    assert not np.allclose(
        np.asarray(zero[0]), np.asarray(ours(inputs(), initial_state=state)[0])
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_stateful_over_two_batches(family):
    ours_class, keras_class, extra = FAMILIES[family]
    x = inputs(steps=8)
    first, second = x[:, :4], x[:, 4:]
    ours = ours_class(UNITS, stateful=True, return_sequences=True, **extra)
    theirs = keras_class(UNITS, stateful=True, return_sequences=True, **extra)
    whole = ours_class(UNITS, return_sequences=True, **extra)
    for layer in (ours, theirs, whole):
        layer(first)
    weights = theirs.get_weights()
    ours.set_weights(weights)
    whole.set_weights(weights)
    ours.reset_state()
    theirs.reset_state()
    ours_out = np.concatenate([np.asarray(ours(first)), np.asarray(ours(second))], 1)
    keras_out = np.concatenate(
        [np.asarray(theirs(first)), np.asarray(theirs(second))], 1
    )
    np.testing.assert_allclose(ours_out, keras_out, atol=1e-5)
    # Two stateful halves equal one pass over the whole sequence.
    np.testing.assert_allclose(ours_out, np.asarray(whole(x)), atol=1e-5)
    ours.reset_state()
    np.testing.assert_allclose(
        np.asarray(ours(second)), np.asarray(whole(second)), atol=1e-5
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_inside_keras_bidirectional(family):
    ours, theirs = twin_layers(family, return_sequences=True)
    ours_bi = keras.layers.Bidirectional(ours)
    theirs_bi = keras.layers.Bidirectional(theirs)
    x = inputs()
    ours_bi(x)
    theirs_bi(x)
    theirs_bi.set_weights(ours_bi.get_weights())
    mask = padding_mask()
    assert_all_close(ours_bi(x, mask=mask), theirs_bi(x, mask=mask))
    assert type(ours_bi.backward_layer) is type(ours)
    assert ours_bi.backward_layer.go_backwards


def test_cells_inside_keras_rnn_and_stacked_cells():
    ours_cells = [cls(UNITS) for cls, _ in CELLS.values()]
    keras_cells = [cls(UNITS) for _, cls in CELLS.values()]
    ours = keras.layers.RNN(keras.layers.StackedRNNCells(ours_cells), return_state=True)
    theirs = keras.layers.RNN(
        keras.layers.StackedRNNCells(keras_cells), return_state=True
    )
    x = inputs()
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    mask = padding_mask()
    assert_all_close(ours(x, mask=mask), theirs(x, mask=mask))


@pytest.mark.parametrize("family", ["simple_rnn", "gru", "lstm"])
def test_dropout_uses_one_mask_for_all_steps(family):
    ours_class, _, _ = FAMILIES[family]
    layer = ours_class(4, dropout=0.5, return_sequences=True, seed=3)
    x = np.ones((64, 5, 4), "float32")
    layer(x)
    cell = layer.cell
    # The input drives every gate block through an identity per block.
    weights = layer.get_weights()
    blocks = weights[0].shape[1] // 4
    weights[0] = np.tile(np.eye(4, dtype="float32"), (1, blocks))
    weights[1] = np.zeros_like(weights[1])
    weights[2] = np.zeros_like(weights[2])
    layer.set_weights(weights)
    assert cell.dropout == 0.5
    train = np.asarray(layer(x, training=True))
    infer = np.asarray(layer(x, training=False))
    assert not np.allclose(train, infer)
    if family == "simple_rnn":
        # No recurrence: each step sees only the dropped input, so equal steps
        # mean the same units were dropped at every step.
        for t in range(1, 5):
            np.testing.assert_array_equal(train[:, t], train[:, 0])
        assert np.any(train[:, 0] == 0.0)
    # A new call draws a new mask.
    assert not np.allclose(train, np.asarray(layer(x, training=True)))


@pytest.mark.parametrize("family", FAMILIES)
def test_get_config_round_trip(family):
    ours_class, _, extra = FAMILIES[family]
    layer = ours_class(
        UNITS,
        return_sequences=True,
        go_backwards=True,
        dropout=0.25,
        recurrent_dropout=0.1,
        weight_dropout=0.3,
        kernel_regularizer="l2",
        **extra,
    )
    config = layer.get_config()
    clone = ours_class.from_config(config)
    assert clone.get_config() == config
    assert clone.cell.dropout == 0.25 and clone.go_backwards
    assert clone.cell.weight_dropout == 0.3


@pytest.mark.parametrize("family", FAMILIES)
def test_keras_file_round_trip(family, tmp_path):
    ours_class, _, extra = FAMILIES[family]
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 5, mask_zero=True)(tokens)
    x = keras.layers.Bidirectional(ours_class(UNITS, return_sequences=True, **extra))(x)
    x = ours_class(UNITS, **extra)(x)
    model = keras.Model(tokens, keras.layers.Dense(2)(x))
    ids = np.array([[3, 4, 5, 0, 0], [7, 1, 2, 9, 11]], "int32")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects: registered
    np.testing.assert_allclose(
        np.asarray(loaded(ids)), np.asarray(model(ids)), atol=1e-6
    )


@pytest.mark.parametrize("family", ["simple_rnn", "gru", "lstm"])
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_forward_and_backward(family, policy):
    ours_class, _, _ = FAMILIES[family]
    keras.config.set_dtype_policy(policy)
    compute = policy.split("_")[1]
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(30, 8, mask_zero=True)(tokens)
    layer = ours_class(UNITS, return_sequences=True, return_state=True, dropout=0.1)
    sequences, *states = layer(x)
    pooled = keras.layers.GlobalAveragePooling1D()(sequences)
    logits = keras.layers.Dense(2, dtype="float32")(pooled)
    model = keras.Model(tokens, logits)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    assert sequences.dtype == compute and all(s.dtype == compute for s in states)
    assert all(w.dtype == "float32" for w in layer.weights)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 30, size=(16, 9)).astype("int32")
    ids[::2, 5:] = 0  # padding, hence masks, in half the rows
    labels = rng.integers(0, 2, size=(16,))
    history = model.fit(ids, labels, epochs=3, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    assert model.predict(ids, verbose=0).dtype == np.float32
    for weight in model.weights:
        assert np.all(np.isfinite(np.asarray(weight)))


@pytest.mark.parametrize("family", ["simple_rnn", "gru", "lstm"])
def test_invalid_units(family):
    ours_class, _, _ = FAMILIES[family]
    for units in (0, -3, 2.5):
        with pytest.raises(ValueError, match="`units`.*positive integer"):
            ours_class(units)
    cell_class = CELLS[family][0]
    with pytest.raises(ValueError, match="`units`"):
        cell_class(-3)


@pytest.mark.parametrize("family", ["simple_rnn", "gru", "lstm"])
def test_unknown_activation(family):
    ours_class, _, _ = FAMILIES[family]
    with pytest.raises(ValueError, match="`activation`.*'no_such'"):
        ours_class(4, activation="no_such")
    if family != "simple_rnn":
        with pytest.raises(ValueError, match="`recurrent_activation`"):
            ours_class(4, recurrent_activation="no_such")


@pytest.mark.parametrize("family", ["simple_rnn", "gru", "lstm"])
def test_invalid_dropout(family):
    ours_class, _, _ = FAMILIES[family]
    with pytest.raises(ValueError, match="`dropout`"):
        ours_class(4, dropout=1.5)
    with pytest.raises(ValueError, match="`recurrent_dropout`"):
        ours_class(4, recurrent_dropout=-0.1)
    with pytest.raises(ValueError, match="`weight_dropout`"):
        ours_class(4, weight_dropout=1.0)


@pytest.mark.parametrize("family", ["simple_rnn", "gru", "lstm"])
def test_wrong_input_rank(family):
    ours_class, _, _ = FAMILIES[family]
    with pytest.raises(ValueError, match="ndim=3|rank 3"):
        ours_class(4)(np.ones((2, 5), "float32"))


@pytest.mark.parametrize("family", ["simple_rnn", "gru", "lstm"])
def test_initial_state_of_wrong_shape(family):
    ours_class, _, _ = FAMILIES[family]
    layer = ours_class(4)
    x = np.ones((2, 5, 3), "float32")
    states = [np.zeros((2, 4), "float32") for _ in layer.state_size]
    layer(x, initial_state=states)
    wrong_width = [np.zeros((2, 7), "float32") for _ in layer.state_size]
    with pytest.raises(ValueError, match="`initial_state`.*expected"):
        layer(x, initial_state=wrong_width)
    with pytest.raises(ValueError, match="`initial_state`"):
        layer(x, initial_state=states + states)
    with pytest.raises(ValueError, match="`initial_state`"):
        layer(x, initial_state=[np.zeros((3, 4), "float32") for _ in states])


@pytest.mark.parametrize("family", ["simple_rnn", "gru", "lstm"])
def test_random_truncation_is_unbiased_and_keeps_the_forward_pass(family):
    ours_class, _, _ = FAMILIES[family]
    layer = ours_class(3, random_truncation=0.5, seed=0, return_sequences=True)
    one = inputs(batch=1, steps=6, features=2)
    rows = 20_000
    x, initial = repeated_rows(layer, one, np.random.default_rng(3), rows)

    def gradients(training):
        outputs = layer(x, initial_state=initial, training=training)

        def loss():
            outputs = layer(x, initial_state=initial, training=training)
            return keras.ops.sum(outputs[:, -1]) / rows

        _, grads = value_and_gradients(loss, [*initial, layer.cell.kernel])
        return outputs, grads

    full_out, full = gradients(training=False)
    random_out, randomized = gradients(training=True)
    np.testing.assert_allclose(np.asarray(random_out), np.asarray(full_out), atol=1e-6)
    # The gradient reaching the initial state crosses 6 steps: it survives in
    # about 0.5 ** 6 of the rows, scaled by 2 ** 6, and is right on average.
    per_row = np.asarray(randomized[0]) * rows
    survived = np.any(per_row != 0.0, axis=1).mean()
    assert 0.005 < survived < 0.03
    # Averaged over rows, the initial-state and kernel gradients are unbiased.
    pairs = [
        (np.asarray(g).mean(axis=0), np.asarray(w).mean(axis=0))
        for g, w in zip(randomized[:-1], full[:-1])
    ]
    pairs.append((np.asarray(randomized[-1]), np.asarray(full[-1])))
    for ours, want in pairs:
        scale = np.abs(want).max()
        np.testing.assert_allclose(ours, want, atol=0.15 * scale)
    assert not np.allclose(
        pairs[0][0], pairs[0][1], atol=1e-3 * np.abs(pairs[0][1]).max()
    )


@pytest.mark.parametrize("family", ["simple_rnn", "lstm"])
def test_random_truncation_keeps_one_minus_p_of_the_steps(family):
    """With p = 0.25 (not 0.5, where p and 1 - p agree) xi_t is 0 with
    probability p and 1 / (1 - p) otherwise: the gradient reaching H_0 after
    6 steps survives in (1 - p) ** 6 of the rows, scaled by (1 - p) ** -6."""
    ours_class, _, _ = FAMILIES[family]
    layer = ours_class(3, random_truncation=0.25, seed=0, return_sequences=True)
    one = inputs(batch=1, steps=6, features=2)
    x, initial = repeated_rows(layer, one, np.random.default_rng(3), rows=4000)

    def gradient(training):
        def loss():
            outputs = layer(x, initial_state=initial, training=training)
            return keras.ops.sum(outputs[:, -1])

        return np.asarray(value_and_gradients(loss, initial[:1])[1][0])

    full, randomized = gradient(False), gradient(True)
    survived = np.any(randomized != 0.0, axis=1)
    assert abs(survived.mean() - 0.75**6) < 0.03
    np.testing.assert_allclose(
        randomized[survived], full[survived] / 0.75**6, rtol=1e-4, atol=1e-6
    )


def one_step_initial_state_gradients(layer_class, p, training, rows=20_000):
    """Per-row gradient of a one-step output w.r.t. the initial state, many rows.

    One step, so each row's gradient is either cut or passed exactly once.
    """
    layer = layer_class(3, random_truncation=p, seed=0)
    rng = np.random.default_rng(0)
    one = rng.normal(size=(1, 1, 2)).astype("float32")
    x, initial = repeated_rows(layer, one, rng, rows)

    def loss():
        return keras.ops.sum(layer(x, initial_state=initial, training=training))

    # Rows are independent: row i's gradient is that of row i's own loss.
    return np.asarray(value_and_gradients(loss, initial[:1])[1][0])


@pytest.mark.parametrize("layer_class", [layers.SimpleRNN, layers.GRU, layers.LSTM])
def test_one_step_gradient_is_cut_with_probability_p_and_scaled_by_1_over_1_minus_p(
    layer_class,
):
    # At p = 0.2, using p for 1 - p (the probability the gradient passes)
    # changes the numbers; at p = 0.5 both give the same truncations.
    p = 0.2
    full = one_step_initial_state_gradients(layer_class, p, training=False)
    randomized = one_step_initial_state_gradients(layer_class, p, training=True)
    assert np.all(full != 0.0)
    cut = np.all(randomized == 0.0, axis=1)
    # xi = 0 with probability p = 0.2 (not 1 - p = 0.8); the standard error of
    # the fraction over 20,000 rows is 0.003.
    assert abs(cut.mean() - p) < 0.015
    # Where the gradient passes it is the full one times 1 / (1 - p) = 1.25.
    np.testing.assert_allclose(randomized[~cut], full[~cut] / (1 - p), rtol=1e-5)
    # So its mean over the rows is the full gradient (unbiased).
    np.testing.assert_allclose(randomized.mean(0), full.mean(0), rtol=0.03)
