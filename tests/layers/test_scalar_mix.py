import keras
import numpy as np
import pytest

from garden.layers import ScalarMix
from tests.backends import value_and_gradients


def numpy_scalar_mix(layers, s, gamma):
    weights = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    return gamma * sum(w * h for w, h in zip(weights, layers))


def test_matches_numpy_softmax_weights_and_gamma():
    rng = np.random.default_rng(0)
    layers = [rng.normal(size=(2, 5, 6)).astype("float32") for _ in range(3)]
    mix = ScalarMix(3)
    mix(layers)
    s = np.array([0.3, -1.2, 2.0], "float32")
    mix.set_weights([s, np.float32(1.7)])
    np.testing.assert_allclose(
        np.asarray(mix(layers)), numpy_scalar_mix(layers, s, 1.7), atol=1e-5
    )


def test_starts_as_the_mean_and_learns_which_layer_to_trust():
    rng = np.random.default_rng(1)
    layers = [rng.normal(size=(64, 4)).astype("float32") for _ in range(3)]
    mix = ScalarMix(3)
    np.testing.assert_allclose(
        np.asarray(mix(layers)), np.mean(layers, axis=0), atol=1e-6
    )
    # The target is layer 1 alone: gradient descent must move the weight there.
    for _ in range(100):
        _, gradients = value_and_gradients(
            lambda: keras.ops.mean((mix(layers) - layers[1]) ** 2),
            mix.trainable_weights,
        )
        for variable, gradient in zip(mix.trainable_weights, gradients):
            variable.assign_sub(0.5 * gradient)
    weights = np.asarray(keras.ops.softmax(mix.scalar_parameters))
    assert weights.argmax() == 1 and weights[1] > 0.8
    assert abs(float(mix.gamma) - 1.0) < 0.2


def test_serialization_round_trip_and_saved_model(tmp_path):
    mix = ScalarMix(2, initial_scalar_parameters=[1.0, -1.0], initial_gamma=0.5)
    restored = ScalarMix.from_config(mix.get_config())
    assert restored.get_config() == mix.get_config()
    inputs = [keras.Input((3, 4)) for _ in range(2)]
    model = keras.Model(inputs, mix(inputs))
    x = [np.ones((1, 3, 4), "float32"), np.full((1, 3, 4), 2.0, "float32")]
    path = tmp_path / "mix.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)))
    expected = 0.5 * (np.exp(1) + 2 * np.exp(-1)) / (np.exp(1) + np.exp(-1))
    np.testing.assert_allclose(np.asarray(model(x))[0, 0, 0], expected, rtol=1e-6)


def test_passes_on_the_first_mask():
    mask = np.array([[True, False]])
    mix = ScalarMix(2)
    x = np.ones((1, 2, 3), "float32")
    assert np.asarray(mix.compute_mask([x, x], [mask, None])).tolist() == [
        [True, False]
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_layers": 0}, "`num_layers`"),
        ({"num_layers": 2, "initial_scalar_parameters": [0.0]}, "2 values"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScalarMix(**kwargs)


def test_wrong_number_of_inputs_is_an_error():
    with pytest.raises(ValueError, match="list of 3 tensors"):
        ScalarMix(3)([np.ones((1, 2), "float32")] * 2)
