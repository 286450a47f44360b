"""`ZeroStates`: zero initial states sized to the batch of its input."""

import keras
import numpy as np
import pytest

from garden.layers import ZeroStates


def test_zeros_of_the_batch_and_sizes():
    ids = keras.ops.ones((5, 7), "int32")
    states = ZeroStates([3, 2])(ids)
    assert [tuple(s.shape) for s in states] == [(5, 3), (5, 2)]
    assert all(not np.any(keras.ops.convert_to_numpy(s)) for s in states)


def test_feeds_a_state_input_in_a_saved_functional_model(tmp_path):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 4)(ids)
    (state,) = ZeroStates([6])(ids)
    rnn = keras.layers.GRU(6, return_sequences=True)
    model = keras.Model(ids, rnn(x, initial_state=[state]))
    batch = np.array([[1, 2, 3], [4, 5, 0]], "int32")
    want = model.predict(batch, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), want, atol=1e-6)
    assert loaded.layers[2].get_config()["sizes"] == [6]


def test_sizes_must_be_positive_integers():
    with pytest.raises(ValueError, match="argument `sizes`"):
        ZeroStates([4, 0])
