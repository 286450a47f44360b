import argparse
import inspect

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

from garden.models import build_language_model
from garden.tuning import RecipeHyperModel, make_tuner, optimizer_from_hp, search
from garden.tuning.search import awd_regularization_from_hp

X = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
Y = (X.sum(axis=1, keepdims=True) > 0).astype("float32")


# KerasTuner deep-copies callbacks for every trial, so they report here.
SEEN = []


class RecordPolicy(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        SEEN.append(
            (keras.config.dtype_policy().name, self.model.layers[0].compute_dtype)
        )


def build(hp):
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(hp.Int("units", 2, 8, step=2), activation="relu"),
            keras.layers.Dense(1, activation="sigmoid", dtype="float32"),
        ]
    )
    model.compile(optimizer=optimizer_from_hp(hp), loss="binary_crossentropy")
    return model


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_every_trial_trains_in_the_chosen_precision(precision, tmp_path):
    SEEN.clear()
    tuner = make_tuner(
        "random",
        RecipeHyperModel(build, precision),
        "val_loss",
        directory=str(tmp_path),
        project_name="policy",
        max_trials=2,
    )
    keras.config.set_dtype_policy("float32")
    tuner.search(
        X, Y, validation_data=(X, Y), epochs=1, callbacks=[RecordPolicy()], verbose=0
    )
    compute = precision.split("_")[1]
    assert SEEN == [(precision, compute)] * 2


def test_a_search_resumes_in_its_directory(tmp_path):
    def tuner(max_trials):
        return make_tuner(
            "random",
            RecipeHyperModel(build, "float32"),
            "val_loss",
            directory=str(tmp_path),
            project_name="resume",
            max_trials=max_trials,
        )

    first = tuner(1)
    first.search(X, Y, validation_data=(X, Y), epochs=1, verbose=0)
    trial_id = first.oracle.get_best_trials(1)[0].trial_id
    second = tuner(2)
    assert trial_id in second.oracle.trials
    second.search(X, Y, validation_data=(X, Y), epochs=1, verbose=0)
    assert len(second.oracle.trials) == 2
    assert second.get_best_models(1)[0].predict(X, verbose=0).shape == (32, 1)


def test_hyperband_is_the_default_kind(tmp_path):
    tuner = make_tuner(
        "hyperband",
        RecipeHyperModel(build, "float32"),
        "val_loss",
        directory=str(tmp_path),
        project_name="hb",
        max_epochs=3,
    )
    assert isinstance(tuner.oracle, keras_tuner.oracles.HyperbandOracle)
    with pytest.raises(ValueError, match="`kind`"):
        make_tuner("grid", RecipeHyperModel(build, "float32"), "val_loss", "d", "p")


def test_learning_rate_range_depends_on_the_optimizer():
    for name, active, low in (
        ("sgd", "learning_rate_sgd", 1e-2),
        ("adam", "learning_rate_adam", 1e-4),
    ):
        hp = keras_tuner.HyperParameters()
        hp.Fixed("optimizer", name)
        optimizer = optimizer_from_hp(hp)
        assert hp.is_active(active)
        assert hp.get(active) >= low
        others = [n for n in ("learning_rate_sgd", "learning_rate_adam") if n != active]
        assert all(not hp.is_active(n) for n in others if n in hp)
        assert float(optimizer.learning_rate) == pytest.approx(hp.get(active))
    hp = keras_tuner.HyperParameters()
    hp.Fixed("clip_gradients", False)
    assert optimizer_from_hp(hp).global_clipnorm is None
    assert "clip_norm" not in hp.values or not hp.is_active("clip_norm")


def test_awd_regularisers_are_searched_where_the_model_has_them():
    hp = keras_tuner.HyperParameters()
    config = awd_regularization_from_hp(hp)
    assert set(config) == {
        "locked_dropout", "weight_dropout", "embedding_dropout",
        "activation_regularization", "temporal_activation_regularization",
    }  # fmt: skip
    assert set(config) <= set(inspect.signature(build_language_model).parameters)
    # One-hot inputs (characters) have no embedding matrix to drop words from.
    assert "embedding_dropout" not in awd_regularization_from_hp(
        keras_tuner.HyperParameters(), embeddings=False
    )


def test_the_weight_average_is_searched_where_asked():
    hp = keras_tuner.HyperParameters()
    assert not optimizer_from_hp(hp).use_ema
    assert "average_weights" not in hp.values
    hp = keras_tuner.HyperParameters()
    assert not optimizer_from_hp(hp, averaging=True).use_ema  # off by default
    assert hp.values["average_weights"] is False
    hp = keras_tuner.HyperParameters()
    hp.Fixed("average_weights", True)
    hp.Fixed("ema_momentum", 0.999)
    optimizer = optimizer_from_hp(hp, averaging=True)
    assert optimizer.use_ema and optimizer.ema_momentum == 0.999


def test_trials_with_and_without_the_average_share_the_callbacks(tmp_path):
    # One list of callbacks serves every trial: the average's swap must
    # leave a trial that does not average alone (Keras's raises, and the
    # trial fails). That the swap validates the average where there is one
    # is tested in tests/training/test_fitting.py.
    averaged = []

    def build_averaging(hp):
        model = build(hp)
        model.compile(
            optimizer=optimizer_from_hp(hp, averaging=True), loss="binary_crossentropy"
        )
        averaged.append(model.optimizer.use_ema)
        return model

    args = argparse.Namespace(
        run_dir=str(tmp_path / "run"), patience=None, lr_decay=None,
        lr_decay_start=1, tuner="random", tune_dir=str(tmp_path / "search"),
        max_trials=4, epochs=2, seed=3, verbose=0,
    )  # fmt: skip
    data = tf.data.Dataset.from_tensor_slices((X, Y)).batch(8)
    search(args, build_averaging, "val_loss", "min", "ema", data, data, averaging=True)
    assert sorted(set(averaged)) == [False, True]
    trials = keras_tuner.RandomSearch(
        build_averaging, "val_loss", directory=args.tune_dir, project_name="ema"
    ).oracle.trials.values()
    assert [trial.status for trial in trials] == ["COMPLETED"] * 4
