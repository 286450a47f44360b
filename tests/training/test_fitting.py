"""`fit_from_flags`: a recipe's fit says nothing a user cannot act on."""

import argparse
import warnings

import keras
import numpy as np
import tensorflow as tf

from garden.training.fitting import epochs_of_unknown_length, fit_from_flags
from garden.training.optimizers import optimizer_from_flags

RAN_OUT = "Your input ran out of data"


def _unknown_length_dataset():
    # A filter hides the batch count from Keras, as the recipes' pipelines do.
    x = np.arange(40, dtype="float32").reshape(20, 2) / 40
    y = x.sum(axis=1, keepdims=True)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda a, b: True)
    return dataset.batch(5)


def _model(optimizer="sgd"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _messages(record):
    return [str(w.message) for w in record if issubclass(w.category, UserWarning)]


def test_keras_warns_at_the_end_of_an_epoch_of_unknown_length():
    # The warning `epochs_of_unknown_length` silences is real: without it, a
    # plain fit of the same data warns.
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _model().fit(_unknown_length_dataset(), epochs=2, verbose=0, shuffle=False)
    assert any(RAN_OUT in m for m in _messages(record))


def test_only_that_warning_is_silenced():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with epochs_of_unknown_length():
            _model().fit(_unknown_length_dataset(), epochs=2, verbose=0, shuffle=False)
            warnings.warn("something else", UserWarning, stacklevel=1)
    assert _messages(record) == ["something else"]


def _flags(run_dir, **more):
    """The shared flags `fit_from_flags` reads, for a 2-epoch run."""
    return argparse.Namespace(
        run_dir=str(run_dir),
        verbose=0,
        patience=None,
        epochs=2,
        lr_decay=None,
        lr_decay_start=1,
        recipe="test",
        **more,
    )


def test_a_recipe_fit_warns_nothing(tmp_path):
    args = _flags(tmp_path)
    data = _unknown_length_dataset()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        history = fit_from_flags(_model(), args, data, data, monitor="val_loss")
    assert len(history.history["loss"]) == 2
    assert _messages(record) == []


def test_ema_flag_averages_validation_and_checkpoint(tmp_path):
    # `--ema` reaches the optimizer (optimizer_from_flags) and the callbacks
    # (fit_from_flags): training ends on the averaged weights, not the last
    # step's raw ones, and best.keras holds them.
    args = _flags(tmp_path, optimizer="sgd", learning_rate=0.1, clip_norm=None, ema=0.9)
    model = _model(optimizer_from_flags(args))
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == 0.9
    raw = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: raw.append(model.get_weights()[0])
    )
    data = _unknown_length_dataset()
    fit_from_flags(model, args, data, data, monitor="val_loss", callbacks=[record])
    final = model.get_weights()[0]
    assert not np.allclose(final, raw[-1])
    saved = keras.saving.load_model(tmp_path / "best.keras").get_weights()[0]
    np.testing.assert_allclose(saved, final, rtol=1e-6)
    args.ema = None
    assert not optimizer_from_flags(args).use_ema


def test_the_optimizer_decides_the_averaging_not_the_flag(tmp_path):
    # A searched trial's optimizer may average with no `--ema` flag (the
    # best trial, retrained): fit_from_flags swaps its average in as well.
    args = _flags(tmp_path, ema=None)
    model = _model(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9))
    raw = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: raw.append(model.get_weights()[0])
    )
    data = _unknown_length_dataset()
    fit_from_flags(model, args, data, data, monitor="val_loss", callbacks=[record])
    saved = keras.saving.load_model(tmp_path / "best.keras").get_weights()[0]
    assert not np.allclose(saved, raw[-1])
    np.testing.assert_allclose(saved, model.get_weights()[0], rtol=1e-6)
