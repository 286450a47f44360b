"""ULMFiT's fine-tuning pieces against their definitions."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from garden.training.finetuning import (
    GradualUnfreezing,
    LayerwiseAdam,
    LayerwiseSGD,
    SlantedTriangular,
)

GROUPS = [["bottom"], ["middle"], ["top"]]


def _stlr(t, total, cut_frac, ratio, peak):
    # Howard and Ruder (2018), equation 3.
    cut = np.floor(total * cut_frac)
    p = t / cut if t < cut else 1 - (t - cut) / (cut * (1 / cut_frac - 1))
    return peak * (1 + max(p, 0) * (ratio - 1)) / ratio


# 105 steps: cut = floor(10.5) = 10, and the decay spans cut * (1 / cut_frac - 1)
# = 90 steps, not the 95 left, so the rate reaches its floor at step 100.
@pytest.mark.parametrize("total", [1000, 105])
def test_slanted_triangular_is_equation_3(total):
    schedule = SlantedTriangular(0.01, total_steps=total, cut_frac=0.1, ratio=32)
    steps = np.arange(0, total + 1)
    got = keras.ops.convert_to_numpy(schedule(steps))
    want = [_stlr(t, total, 0.1, 32, 0.01) for t in steps]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got.argmax() == total // 10 and np.isclose(got.max(), 0.01)
    copy = SlantedTriangular.from_config(schedule.get_config())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(copy(steps)), got)


@pytest.mark.parametrize(
    "arguments, name",
    [
        (dict(total_steps=0), "total_steps"),
        (dict(total_steps=10, cut_frac=1.0), "cut_frac"),
        (dict(total_steps=10, ratio=0.5), "ratio"),
    ],
)
def test_slanted_triangular_names_a_bad_argument(arguments, name):
    with pytest.raises(ValueError, match=f"argument `{name}`"):
        SlantedTriangular(0.01, **arguments)


def _model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    x = keras.layers.Dense(4, activation="tanh", name="bottom")(inputs)
    x = keras.layers.Dense(4, activation="tanh", name="middle")(x)
    return keras.Model(inputs, keras.layers.Dense(1, name="top")(x))


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 1))


def _one_step(optimizer):
    """Each layer's kernel change after one full-batch step, and the gradients."""
    model = _model()
    x, y = _data()
    with tf.GradientTape() as tape:
        loss = keras.losses.mean_squared_error(y, model(x))
        loss = tf.reduce_mean(loss)
    grads = dict(
        zip(
            [v.path for v in model.trainable_variables],
            tape.gradient(loss, model.trainable_variables),
        )
    )
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return {v.path: v.numpy() - before[v.path] for v in model.trainable_variables}, {
        path: g.numpy() for path, g in grads.items()
    }


def test_each_group_steps_at_its_rate_and_frozen_groups_stay():
    lr, decay = 0.1, 2.6
    for unfrozen in (3, 2):
        deltas, grads = _one_step(
            LayerwiseSGD(GROUPS, decay=decay, unfrozen=unfrozen, learning_rate=lr)
        )
        for index, (layer,) in enumerate(GROUPS):
            factor = decay ** -(2 - index) if index >= 3 - unfrozen else 0.0
            for kind in ("kernel", "bias"):
                path = f"{layer}/{kind}"
                np.testing.assert_allclose(
                    deltas[path], -lr * factor * grads[path], rtol=1e-4, atol=1e-7
                )
    assert not deltas["bottom/kernel"].any()


def test_adam_steps_scale_by_the_group_factor():
    plain, _ = _one_step(keras.optimizers.Adam(0.01))
    layerwise, _ = _one_step(LayerwiseAdam(GROUPS, decay=2.0, learning_rate=0.01))
    for index, (layer,) in enumerate(GROUPS):
        path = f"{layer}/kernel"
        np.testing.assert_allclose(
            layerwise[path], plain[path] * 2.0 ** -(2 - index), rtol=1e-4, atol=1e-8
        )


def test_gradual_unfreezing_adds_a_group_each_epoch_and_saves_its_state(tmp_path):
    model = _model()
    optimizer = LayerwiseAdam(GROUPS, learning_rate=0.01)
    model.compile(optimizer=optimizer, loss="mse")
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(int(optimizer.unfrozen.numpy()))
    )
    x, y = _data()
    bottom = model.get_layer("bottom").get_weights()[0].copy()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[GradualUnfreezing(1), record])
    np.testing.assert_array_equal(model.get_layer("bottom").get_weights()[0], bottom)
    model.fit(x, y, epochs=4, verbose=0, callbacks=[GradualUnfreezing(1), record])
    assert seen == [1, 2, 1, 2, 3, 3]
    assert not np.allclose(model.get_layer("bottom").get_weights()[0], bottom)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, LayerwiseAdam)
    assert loaded.optimizer.groups == GROUPS
    assert int(loaded.optimizer.unfrozen.numpy()) == 3


def test_every_variable_must_have_a_group():
    model = _model()
    model.compile(optimizer=LayerwiseSGD([["bottom"], ["top"]]), loss="mse")
    with pytest.raises(ValueError, match="middle/kernel"):
        model.fit(*_data(), epochs=1, verbose=0)


@pytest.mark.parametrize(
    "arguments, name",
    [
        (dict(groups=[]), "groups"),
        (dict(groups=[["a"], []]), "groups"),
        (dict(groups=[["a"], ["a"]]), "groups"),
        (dict(groups=[["a"]], decay=0.5), "decay"),
        (dict(groups=[["a"]], unfrozen=0), "unfrozen"),
    ],
)
def test_bad_arguments_are_named(arguments, name):
    with pytest.raises(ValueError, match=f"argument `{name}`"):
        LayerwiseSGD(**arguments)


def test_gradual_unfreezing_needs_a_layerwise_optimizer():
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="LayerwiseAdam or LayerwiseSGD"):
        model.fit(*_data(), epochs=1, verbose=0, callbacks=[GradualUnfreezing()])
