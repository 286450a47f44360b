import keras
import numpy as np
import pytest

from garden.layers import GRU, LSTM, DeepRNN, SimpleRNN


def inputs(batch=3, steps=6, features=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, steps, features)).astype("float32")


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_equals_a_stack_of_keras_layers(cell):
    keras_class = {
        "rnn": keras.layers.SimpleRNN,
        "gru": keras.layers.GRU,
        "lstm": keras.layers.LSTM,
    }[cell]
    deep = DeepRNN([5, 7, 3], cell=cell)
    stack = keras.Sequential([keras_class(n, return_sequences=True) for n in (5, 7, 3)])
    x = inputs()
    deep(x)
    stack(x)
    stack.set_weights(deep.get_weights())
    np.testing.assert_allclose(np.asarray(deep(x)), np.asarray(stack(x)), atol=1e-5)


def test_residual_adds_the_input_where_widths_agree():
    deep = DeepRNN(4, num_layers=3, cell="gru", residual=True)
    x = inputs(features=3)
    got = np.asarray(deep(x))
    first, second, third = deep.recurrent_layers
    h1 = np.asarray(first(x)[0])  # widths 3 -> 4 differ: no shortcut
    h2 = np.asarray(second(h1)[0]) + h1
    h3 = np.asarray(third(h2)[0]) + h2
    np.testing.assert_allclose(got, h3, atol=1e-5)
    plain = DeepRNN(4, num_layers=3, cell="gru")
    plain(x)
    plain.set_weights(deep.get_weights())
    assert not np.allclose(np.asarray(plain(x)), got)


def test_last_valid_step_with_padding():
    deep = DeepRNN(5, num_layers=2, residual=True, return_sequences=False)
    full = DeepRNN(5, num_layers=2, residual=True, return_sequences=True)
    x = inputs(features=5)
    deep(x)
    full(x)
    full.set_weights(deep.get_weights())
    lengths = np.array([6, 2, 4])
    mask = np.arange(6)[None, :] < lengths[:, None]
    last = np.asarray(deep(x, mask=mask))
    sequences = np.asarray(full(x, mask=mask))
    for row, length in enumerate(lengths):
        np.testing.assert_allclose(last[row], sequences[row, length - 1], atol=1e-6)
        alone = np.asarray(deep(x[row : row + 1, :length]))
        np.testing.assert_allclose(last[row], alone[0], atol=1e-5)


def test_return_state_and_initial_state():
    deep = DeepRNN([4, 3], cell="lstm", return_state=True)
    outputs, *states = deep(inputs())
    assert [tuple(s.shape) for s in states] == [(3, 4), (3, 4), (3, 3), (3, 3)]
    again, *_ = deep(inputs(), initial_state=states)
    assert not np.allclose(np.asarray(outputs), np.asarray(again))
    with pytest.raises(ValueError, match="`initial_state`.*4 tensors"):
        deep(inputs(), initial_state=states[:2])


def test_stateful_carries_and_resets():
    deep = DeepRNN(4, num_layers=2, cell="gru", stateful=True)
    whole = DeepRNN(4, num_layers=2, cell="gru")
    x = inputs(steps=8)
    deep(x[:, :4])
    whole(x)
    whole.set_weights(deep.get_weights())
    deep.reset_state()
    halves = np.concatenate([np.asarray(deep(x[:, :4])), np.asarray(deep(x[:, 4:]))], 1)
    np.testing.assert_allclose(halves, np.asarray(whole(x)), atol=1e-5)
    deep.reset_state()
    np.testing.assert_allclose(
        np.asarray(deep(x[:, 4:])), np.asarray(whole(x[:, 4:])), atol=1e-5
    )


def test_dropout_between_layers_only_in_training():
    deep = DeepRNN(8, num_layers=2, dropout=0.5, cell="rnn")
    x = inputs()
    np.testing.assert_array_equal(
        np.asarray(deep(x, training=False)), np.asarray(deep(x, training=False))
    )
    assert not np.allclose(np.asarray(deep(x, training=True)), np.asarray(deep(x)))


def test_layer_kwargs_reach_every_layer():
    deep = DeepRNN(
        4, num_layers=2, cell="lstm", layer_kwargs={"recurrent_dropout": 0.2}
    )
    assert all(layer.cell.recurrent_dropout == 0.2 for layer in deep.recurrent_layers)
    assert all(isinstance(layer, LSTM) for layer in deep.recurrent_layers)
    assert isinstance(DeepRNN(4, cell="gru").recurrent_layers[0], GRU)
    assert isinstance(DeepRNN(4, cell="rnn").recurrent_layers[0], SimpleRNN)


def test_keras_file_round_trip(tmp_path):
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 6, mask_zero=True)(tokens)
    x = DeepRNN(
        6,
        num_layers=2,
        dropout=0.3,
        locked_dropout=True,
        residual=True,
        return_sequences=False,
    )(x)
    model = keras.Model(tokens, keras.layers.Dense(2)(x))
    ids = np.array([[3, 4, 5, 0, 0], [7, 1, 2, 9, 11]], "int32")
    model.save(tmp_path / "deep.keras")
    loaded = keras.saving.load_model(tmp_path / "deep.keras")
    np.testing.assert_allclose(
        np.asarray(loaded(ids)), np.asarray(model(ids)), atol=1e-6
    )
    layer = model.layers[2]
    assert DeepRNN.from_config(layer.get_config()).get_config() == layer.get_config()
    assert loaded.layers[2].locked_dropout


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(30, 8, mask_zero=True)(tokens)
    x = DeepRNN(8, num_layers=2, residual=True, dropout=0.2, return_sequences=False)(x)
    model = keras.Model(tokens, keras.layers.Dense(2, dtype="float32")(x))
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 30, size=(16, 7)).astype("int32")
    ids[::3, 4:] = 0
    history = model.fit(ids, rng.integers(0, 2, 16), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert model.predict(ids, verbose=0).dtype == np.float32


def test_bad_arguments():
    with pytest.raises(ValueError, match="`cell`.*'lstm'"):
        DeepRNN(4, cell="transformer")
    with pytest.raises(ValueError, match="`num_layers`"):
        DeepRNN(4, num_layers=0)
    with pytest.raises(ValueError, match="`units`"):
        DeepRNN([4, -1])
    with pytest.raises(ValueError, match="`dropout`"):
        DeepRNN(4, dropout=1.0)
    with pytest.raises(ValueError, match="rank 3"):
        DeepRNN(4)(np.ones((2, 3), "float32"))


@pytest.mark.parametrize("locked", [False, True])
def test_dropout_between_layers_acts_on_the_residual_sum(locked):
    """H^(1) + X (the first layer's shortcut, widths agree) is what is dropped
    on its way up, at rate p = 0.25, in training only, and not after the top.
    The top layer's weights are zero, so its output H^(2) = tanh(0) = 0 and the
    stack returns its input, dropout(H^(1) + X), through the shortcut. Locked
    dropout keeps a row's mask at every step; the plain one does not."""
    deep = DeepRNN(
        4,
        num_layers=2,
        cell="rnn",
        residual=True,
        dropout=0.25,
        locked_dropout=locked,
    )
    x = inputs(batch=8, features=4)
    deep(x)
    first, top = deep.recurrent_layers
    top.set_weights([np.zeros_like(w) for w in top.get_weights()])
    below = np.asarray(first(x)[0]) + x
    np.testing.assert_allclose(np.asarray(deep(x, training=False)), below, atol=1e-6)
    got = np.asarray(deep(x, training=True))
    kept = got != 0.0
    assert 0.15 < (~kept).mean() < 0.35
    np.testing.assert_allclose(got[kept], below[kept] / 0.75, rtol=1e-5, atol=1e-6)
    same_over_time = (kept == kept[:, :1]).all()
    assert same_over_time == locked


def test_mask_reaches_every_layer():
    """Padded steps leave every layer's state alone, not only the first's: the
    final states of a padded row are those of its real prefix run alone. With
    `residual` the sum H^(1) + X carries no Keras mask, so the layer must pass
    the mask on itself."""
    deep = DeepRNN(5, num_layers=2, cell="gru", residual=True, return_state=True)
    x = inputs(features=5)
    lengths = np.array([6, 2, 4])
    mask = np.arange(6)[None, :] < lengths[:, None]
    outputs, *states = (np.asarray(t) for t in deep(x, mask=mask))
    for row, length in enumerate(lengths):
        alone, *alone_states = (np.asarray(t) for t in deep(x[row : row + 1, :length]))
        np.testing.assert_allclose(outputs[row, :length], alone[0], atol=1e-5)
        for state, want in zip(states, alone_states):
            np.testing.assert_allclose(state[row], want[0], atol=1e-5)
