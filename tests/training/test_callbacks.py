import os

import keras
import numpy as np
import pytest

from garden.layers import GRU
from garden.training import (
    EpochLearningRate,
    ResetStatesEachEpoch,
    make_optimizer,
    standard_callbacks,
)


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

    def logged_epochs():
        rows = (tmp_path / "history.csv").read_text().splitlines()
        assert rows[0].split(",")[:3] == ["epoch", "learning_rate", "loss"]
        return [int(row.split(",")[0]) for row in rows[1:]]

    assert logged_epochs() == [0, 1, 2, 3]  # the resumed run appended
    run([])
    assert logged_epochs() == [0, 1, 2, 3]  # a new run started afresh


def logged_rates(run_dir):
    rows = (run_dir / "history.csv").read_text().splitlines()
    column = rows[0].split(",").index("learning_rate")
    return [float(row.split(",")[column]) for row in rows[1:]]


def test_learning_rate_decays_each_epoch_after_the_start_and_is_logged(tmp_path):
    def run(extra, epochs=6):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer=make_optimizer("sgd", 0.8), loss="mse")
        x, y = np.ones((8, 2)), np.ones((8, 1))
        callbacks = standard_callbacks(
            str(tmp_path), tensorboard=False, lr_decay=0.5, lr_decay_start=2
        )
        return model.fit(x, y, epochs=epochs, callbacks=callbacks + extra, verbose=0)

    # Killed after epoch 2 (from 1), then resumed: the schedule goes on from
    # the initial rate, neither restarting nor decaying the restored rate again.
    try:
        run([Interrupt()])
    except RuntimeError:
        pass
    run([])
    assert logged_rates(tmp_path) == pytest.approx([0.8, 0.8, 0.4, 0.2, 0.1, 0.05])


def test_learning_rate_decay_moves_the_weights_by_the_decayed_rate():
    # One SGD step an epoch on loss w (gradient 1): w falls by each epoch's rate.
    variable_model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    variable_model.layers[0].set_weights([np.zeros((1, 1)), np.zeros(1)])
    variable_model.compile(optimizer=make_optimizer("sgd", 1.0), loss=lambda y, p: p)
    history = variable_model.fit(
        np.zeros((1, 1)),
        np.zeros((1, 1)),
        epochs=4,
        callbacks=[EpochLearningRate(0.5, start=1)],
        verbose=0,
    )
    assert history.history["learning_rate"] == [1.0, 0.5, 0.25, 0.125]
    assert float(variable_model.layers[0].get_weights()[1][0]) == -1.875


def test_learning_rate_decay_arguments_are_checked():
    for bad in ({"decay": 0.0}, {"decay": 1.5}, {"decay": 0.5, "start": 0}):
        with pytest.raises(ValueError, match="`(decay|start)`"):
            EpochLearningRate(**bad)


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


def test_weight_averaging_is_validated_checkpointed_and_kept(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(make_optimizer("sgd", 0.1, ema_momentum=0.9), loss="mse")
    raw = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: raw.append(model.get_weights()[0])
    )
    callbacks = standard_callbacks(str(tmp_path), monitor="loss", ema=True)
    assert isinstance(callbacks[0], keras.callbacks.SwapEMAWeights)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[*callbacks, record])
    final = model.get_weights()[0]
    # Training ends on the average, which is not the last raw step's weights
    # but lies near the raw weights of the last steps.
    assert not np.allclose(final, raw[-1])
    assert np.abs(final - raw[-1]).max() < np.abs(raw[0] - raw[-1]).max()
    saved = keras.saving.load_model(tmp_path / "best.keras").get_weights()[0]
    np.testing.assert_allclose(saved, final, rtol=1e-6)
