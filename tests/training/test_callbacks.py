import os

import keras
import numpy as np

from garden.layers import GRU
from garden.training import ResetStatesEachEpoch, standard_callbacks


def test_standard_callbacks_write_logs_checkpoint_and_backup(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 2)), np.ones((8, 1))
    callbacks = standard_callbacks(str(tmp_path), patience=1)
    kinds = {type(c).__name__ for c in callbacks}
    assert {
        "BackupAndRestore",
        "ModelCheckpoint",
        "TensorBoard",
        "EarlyStopping",
    } <= kinds
    model.fit(x, y, validation_data=(x, y), epochs=2, callbacks=callbacks, verbose=0)
    assert os.path.exists(tmp_path / "best.keras")
    assert os.listdir(tmp_path / "logs")


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("killed")


def test_a_killed_run_resumes_from_its_last_epoch(tmp_path):
    def run(extra):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        x, y = np.ones((8, 2)), np.ones((8, 1))
        callbacks = standard_callbacks(str(tmp_path), tensorboard=False) + extra
        return model.fit(x, y, epochs=4, callbacks=callbacks, verbose=0)

    try:
        run([Interrupt()])
    except RuntimeError:
        pass
    history = run([])
    assert len(history.history["loss"]) == 2  # epochs 3 and 4 only


def test_states_reset_at_epoch_and_evaluation_start():
    tokens = keras.Input((3,), batch_size=2, dtype="int32")
    x = keras.layers.Embedding(5, 3)(tokens)
    model = keras.Model(tokens, GRU(4, stateful=True, name="gru")(x))
    model.compile(optimizer="sgd", loss="mse")
    ids = np.ones((2, 3), "int32")
    model.predict(ids, verbose=0)
    state = model.get_layer("gru").states[0]
    assert np.any(np.asarray(state) != 0)
    callback = ResetStatesEachEpoch()
    callback.set_model(model)
    callback.on_epoch_begin(0)
    assert np.all(np.asarray(state) == 0)
