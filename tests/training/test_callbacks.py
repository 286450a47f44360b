import argparse
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from garden.layers import GRU
from garden.training import (
    EpochLearningRate,
    ResetStatesEachEpoch,
    fit_from_flags,
    make_optimizer,
    standard_callbacks,
)
from garden.training.fitting import TrainingDiverged


def test_standard_callbacks_write_logs_checkpoint_and_backup(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 2)), np.ones((8, 1))
    callbacks = standard_callbacks(str(tmp_path), patience=1)
    kinds = {type(c).__name__ for c in callbacks}
    assert {
        "Resume",
        "BestCheckpoint",
        "TensorBoard",
        "ResumableEarlyStopping",
        "TerminateOnNaN",
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


class Scripted(keras.callbacks.Callback):
    """Logs `score` of each epoch from a script, before the callbacks that read it."""

    def __init__(self, scores):
        super().__init__()
        self.scores = scores

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.scores[epoch]


def scripted_run(run_dir, scores, epochs, kill_after=None, patience=None):
    """A run whose `score` follows `scores`, killed after epoch `kill_after`."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    extra = [Interrupt()] if kill_after == 1 else []
    callbacks = standard_callbacks(
        str(run_dir), monitor="score", patience=patience, tensorboard=False
    )
    x, y = np.ones((8, 2)), np.ones((8, 1))
    return model.fit(
        x,
        y,
        epochs=epochs,
        callbacks=[Scripted(scores), *callbacks, *extra],
        verbose=0,
    )


def test_a_resumed_run_keeps_its_best_checkpoint(tmp_path):
    from garden.training.checkpoints import read_record

    scores = [1.0, 3.0, 2.0, 4.0]
    with pytest.raises(RuntimeError, match="killed"):
        scripted_run(tmp_path, scores, 4, kill_after=1)
    scripted_run(tmp_path, scores, 4)
    # Epochs 3 and 4 (from 1) trained after the resume; neither beats epoch 1.
    assert read_record(tmp_path / "best.keras")["epoch"] == 1
    assert read_record(tmp_path / "best.keras")["value"] == 1.0


def test_a_resumed_run_keeps_its_early_stopping_count(tmp_path):
    scores = [1.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    with pytest.raises(RuntimeError, match="killed"):
        scripted_run(tmp_path, scores, 6, kill_after=1, patience=2)
    history = scripted_run(tmp_path, scores, 6, patience=2)
    # Two epochs without improvement (2 and 3, from 1) stop it: one more epoch.
    assert history.epoch == [2]


def fit_args(run_dir, epochs=3):
    return argparse.Namespace(
        verbose=0,
        run_dir=str(run_dir),
        patience=None,
        lr_decay=None,
        lr_decay_start=1,
        epochs=epochs,
    )


def test_fit_from_flags_returns_the_best_epochs_weights(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=make_optimizer("sgd", 0.1), loss="mse")
    last = []
    record = keras.callbacks.LambdaCallback(
        on_train_end=lambda logs: last.append(model.get_weights())
    )
    data = tf.data.Dataset.from_tensor_slices(
        (np.ones((8, 2), "float32"), np.ones((8, 1), "float32"))
    ).batch(4)
    original = standard_callbacks

    def with_script(*args, **kwargs):
        return [Scripted([0.5, 2.0, 3.0]), record, *original(*args, **kwargs)]

    import garden.training.fitting as fitting_module

    fitting_module.standard_callbacks = with_script
    try:
        fit_from_flags(model, fit_args(tmp_path), data, data, "score")
    finally:
        fitting_module.standard_callbacks = original
    best = keras.saving.load_model(tmp_path / "best.keras").get_weights()
    for returned, saved in zip(model.get_weights(), best):
        np.testing.assert_array_equal(returned, saved)
    assert not np.allclose(model.get_weights()[0], last[0][0])


def test_a_diverging_run_fails_and_says_where(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=make_optimizer("sgd", 1e30), loss="mse")
    x = np.full((8, 2), 1e10, "float32")
    data = tf.data.Dataset.from_tensor_slices((x, np.ones((8, 1), "float32"))).batch(4)
    with pytest.raises(TrainingDiverged, match="loss was (nan|inf) at epoch 1"):
        fit_from_flags(model, fit_args(tmp_path), data, data, "val_loss")
    assert not os.path.exists(tmp_path / "best.keras")
