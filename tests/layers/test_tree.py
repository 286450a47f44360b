"""TreeRNN and TreeLSTM: the equations node by node, padding, gradients, saving."""

import keras
import numpy as np
import pytest
from keras import ops

from garden import data
from garden.layers import TreeLSTM, TreeRNN
from tests.backends import BACKEND, FLOAT64, GRADIENT_DTYPE, value_and_gradients

# Three shapes: a right-branching tree, a single leaf, a balanced tree.
TREES = [
    "(3 (2 The) (4 (3 Rock) (2 rules)))",
    "(2 fine)",
    "(1 (1 (2 a) (1 b)) (2 (2 c) (3 d)))",
]


def tree_batch(width, seed=0, dtype="float64"):
    """Node arrays of `TREES` and random leaf vectors; padding is large noise."""
    trees = [data.parse_tree(text) for text in TREES]
    vocabulary = data.build_tree_vocabulary(trees)
    batch = data.encode_trees(trees, vocabulary)
    x = np.random.default_rng(seed).normal(size=(*batch["word_ids"].shape, width))
    x[~batch["node_mask"]] = 100.0
    return trees, batch, x.astype(dtype)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_tree_rnn(tree, x, kernel, bias):
    """Socher's recursion, one node at a time."""

    def node(i):
        if tree.left_children[i] < 0:
            return x[i]
        children = np.concatenate(
            [node(tree.left_children[i]), node(tree.right_children[i])]
        )
        return np.tanh(children @ kernel + bias)

    return np.stack([node(i) for i in range(tree.num_nodes)])


def numpy_tree_lstm(tree, x, kernel, recurrent_kernel, bias):
    """Tai et al.'s binary Tree-LSTM, one node at a time; returns every h."""
    b_i, b_fl, b_fr, b_o, b_u = np.split(bias, 5)

    def node(i):
        if tree.left_children[i] < 0:
            w_i, w_o, w_u = np.split(x[i] @ kernel, 3)
            c = sigmoid(w_i + b_i) * np.tanh(w_u + b_u)
            return sigmoid(w_o + b_o) * np.tanh(c), c
        (h_l, c_l), (h_r, c_r) = (
            node(tree.left_children[i]),
            node(tree.right_children[i]),
        )
        z = np.concatenate([h_l, h_r]) @ recurrent_kernel
        i_, f_l, f_r, o, u = np.split(z, 5)
        c = (
            sigmoid(i_ + b_i) * np.tanh(u + b_u)
            + sigmoid(f_l + b_fl) * c_l
            + sigmoid(f_r + b_fr) * c_r
        )
        return sigmoid(o + b_o) * np.tanh(c), c

    return np.stack([node(i)[0] for i in range(tree.num_nodes)])


def run(layer, batch, x):
    return layer(
        x,
        left_children=batch["left_children"],
        right_children=batch["right_children"],
        node_heights=batch["node_heights"],
        node_mask=batch["node_mask"],
    )


def randomize(layer, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(scale=0.5, size=w.shape) for w in layer.get_weights()]
    )
    return layer.get_weights()


CASES = [
    (TreeRNN, numpy_tree_rnn, 4, 4),
    (TreeLSTM, numpy_tree_lstm, 3, 5),
]


@pytest.mark.parametrize("schedule", ["compact", "dense"])
@pytest.mark.parametrize(
    "dtype, atol",
    [pytest.param("float64", 1e-12, marks=FLOAT64.marks), ("float32", 2e-5)],
)
@pytest.mark.parametrize("layer_class, reference, units, width", CASES)
def test_every_node_matches_the_recursion(
    layer_class, reference, units, width, schedule, dtype, atol
):
    trees, batch, x = tree_batch(width, dtype=dtype)
    layer = layer_class(units, schedule=schedule, dtype=dtype)
    run(layer, batch, x)
    weights = randomize(layer)
    out = np.asarray(run(layer, batch, x))
    assert out.dtype == dtype and out.shape == (3, 7, units)
    for b, tree in enumerate(trees):
        want = reference(tree, x[b].astype("float64"), *weights)
        np.testing.assert_allclose(out[b, : tree.num_nodes], want, atol=atol, rtol=0)
        # Padding nodes are zeros whatever their inputs held.
        assert not out[b, tree.num_nodes :].any()
    if BACKEND == "tensorflow":
        # The same numbers in a compiled graph, the height loop a graph loop.
        import tensorflow as tf

        graph = tf.function(lambda x: run(layer, batch, x))
        np.testing.assert_allclose(np.asarray(graph(x)), out, atol=atol, rtol=0)


@pytest.mark.parametrize("layer_class, _, units, width", CASES)
def test_a_tree_alone_equals_the_tree_in_a_padded_batch(layer_class, _, units, width):
    trees, batch, x = tree_batch(width, dtype="float32")
    layer = layer_class(units)
    together = np.asarray(run(layer, batch, x))
    for b, tree in enumerate(trees):
        alone = {
            key: value[b : b + 1, : tree.num_nodes]
            for key, value in batch.items()
            if key != "num_nodes"
        }
        single = np.asarray(run(layer, alone, x[b : b + 1, : tree.num_nodes]))
        np.testing.assert_allclose(single[0], together[b, : tree.num_nodes], atol=1e-6)


@pytest.mark.parametrize(
    "layer_class, units, width, schedule",
    [(TreeRNN, 4, 4, "dense"), (TreeLSTM, 3, 5, "compact")],
)
def test_gradients_match_finite_differences(layer_class, units, width, schedule):
    """In float64 to 1e-5, or in float32 off TensorFlow (see `tests.backends`)."""
    dtype = GRADIENT_DTYPE
    __, batch, x = tree_batch(width, dtype=dtype)
    layer = layer_class(units, schedule=schedule, dtype=dtype)
    run(layer, batch, x)
    randomize(layer, seed=2)
    x = keras.Variable(x, trainable=False, dtype=dtype)
    projection = np.random.default_rng(3).normal(size=(3, 7, units)).astype(dtype)

    def loss():
        return ops.sum(run(layer, batch, x) * ops.convert_to_tensor(projection))

    _, analytic = value_and_gradients(loss, [*layer.trainable_weights, x])
    input_gradient = np.asarray(analytic.pop())
    # Every leaf feeds the loss; padding inputs do not.
    assert np.abs(input_gradient[batch["node_heights"] == 0]).sum(axis=-1).min() > 0
    assert not input_gradient[~batch["node_mask"]].any()
    rng = np.random.default_rng(4)
    epsilon, rel, abs_ = (
        (1e-6, 1e-5, 1e-7) if dtype == "float64" else (1e-3, 1e-2, 1e-3)
    )
    for variable, gradient in zip(layer.trainable_weights, analytic):
        flat = np.asarray(variable).reshape(-1)
        for index in rng.choice(flat.size, size=4, replace=False):
            numeric = []
            for sign in (1, -1):
                moved = flat.copy()
                moved[index] += sign * epsilon
                variable.assign(moved.reshape(variable.shape))
                numeric.append(float(loss()))
            variable.assign(flat.reshape(variable.shape))
            estimate = (numeric[0] - numeric[1]) / (2 * epsilon)
            got = np.asarray(gradient).reshape(-1)[index]
            assert got == pytest.approx(estimate, rel=rel, abs=abs_)


@pytest.mark.parametrize("layer_class, _, units, width", CASES)
def test_config_and_keras_file_round_trip(tmp_path, layer_class, _, units, width):
    __, batch, x = tree_batch(width, dtype="float32")
    inputs = {
        "x": keras.Input((None, width), name="x"),
        **{
            name: keras.Input((None,), dtype="int32", name=name)
            for name in ("left_children", "right_children", "node_heights")
        },
    }
    layer = layer_class(units, schedule="dense", kernel_regularizer="l2")
    outputs = layer(
        inputs["x"],
        left_children=inputs["left_children"],
        right_children=inputs["right_children"],
        node_heights=inputs["node_heights"],
    )
    model = keras.Model(inputs, outputs)
    feed = {"x": x, **{name: batch[name] for name in inputs if name != "x"}}
    path = str(tmp_path / "tree.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(feed, verbose=0), model.predict(feed, verbose=0)
    )
    clone = layer_class.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.schedule == "dense"
    # "compact" has data-dependent shapes, except on JAX where it runs as "dense".
    assert layer_class(units).supports_jit is (BACKEND == "jax")
    assert clone.supports_jit


def test_tree_lstm_forget_biases_start_at_one():
    layer = TreeLSTM(2)
    layer.build((None, None, 3))
    assert layer.get_weights()[2].tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    assert [w.shape for w in layer.get_weights()] == [(3, 6), (4, 10), (10,)]


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_states_follow_the_policy(policy):
    keras.config.set_dtype_policy(policy)
    trees, batch, x = tree_batch(4, dtype="float32")
    layer = TreeLSTM(4)
    out = run(layer, batch, x)
    assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1]
    assert layer.kernel.dtype == "float32"
    assert np.isfinite(np.asarray(ops.cast(out, "float32"))).all()


def test_invalid_arguments_name_the_argument():
    with pytest.raises(ValueError, match="argument `units`"):
        TreeRNN(0)
    with pytest.raises(ValueError, match="argument `schedule`"):
        TreeLSTM(3, schedule="levels")
    with pytest.raises(ValueError, match="width must equal `units`=4, got 6"):
        TreeRNN(4).build((None, None, 6))


@pytest.mark.parametrize("layer_class, _, units, width", CASES)
def test_default_node_mask_zeroes_padding_only(layer_class, _, units, width):
    """Without `node_mask` padding is `node_heights < 0`: leaves stay."""
    __, batch, x = tree_batch(width, dtype="float32")
    layer = layer_class(units)
    explicit = np.asarray(run(layer, batch, x))
    default = np.asarray(
        layer(
            x,
            left_children=batch["left_children"],
            right_children=batch["right_children"],
            node_heights=batch["node_heights"],
        )
    )
    np.testing.assert_array_equal(default, explicit)
    assert np.abs(default[batch["node_heights"] == 0]).sum(axis=-1).min() > 0
