"""The LSTM and GRU take the backend's fused (cuDNN) path exactly when Keras's do.

No GPU is needed: `keras.src.backend.lstm` and `gru`, the functions that
`keras.layers.LSTM`/`GRU` and the garden layers both call, are replaced by a
recorder that keeps every argument and then refuses (raises
NotImplementedError, as the backend does on a CPU) or answers with a result of
its own. A garden layer must hand the recorder the same tensors and flags as
the Keras layer with the same weights and inputs, and return what it returns.
"""

import inspect

import keras
import numpy as np
import pytest
from keras import ops
from keras.src import backend as keras_backend

import garden.layers as layers
from tests.layers.numpy_reference import gru_step, lstm_step, run_sequence
from tests.layers.test_recurrent import UNITS, inputs, padding_mask, twin_layers

FAMILIES = ["lstm", "gru"]
LAYER_CLASSES = {"lstm": layers.LSTM, "gru": layers.GRU}


def snapshot(value):
    """An argument as the test keeps it: tensors and variables as NumPy."""
    if hasattr(value, "shape"):
        return np.asarray(ops.convert_to_tensor(value))
    return value


class Recorder:
    """Stands in for a fused backend kernel; refuses unless given `answer`."""

    def __init__(self, real, answer=None):
        self.signature = inspect.signature(real)
        self.answer = answer
        self.calls = []

    def __call__(self, *args, **kwargs):
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        call = {name: snapshot(value) for name, value in bound.arguments.items()}
        self.calls.append(call)
        if self.answer is None:
            raise NotImplementedError
        return self.answer(call)

    def take(self):
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
def fused(monkeypatch):
    """Recorders in place of the backend's `lstm` and `gru`, by family."""
    recorders = {
        "lstm": Recorder(keras_backend.lstm),
        "gru": Recorder(keras_backend.gru),
    }
    monkeypatch.setattr(keras_backend, "lstm", recorders["lstm"])
    monkeypatch.setattr(keras_backend, "gru", recorders["gru"])
    # Keras's own Bidirectional first tries a fused two-way kernel, which
    # TensorFlow lacks; refusing it everywhere keeps the comparison one-way.
    for name in ("bidirectional_lstm", "bidirectional_gru"):
        monkeypatch.setattr(keras_backend, name, Recorder(getattr(keras_backend, name)))
    return recorders


def assert_same_calls(ours, theirs):
    assert len(ours) == len(theirs) > 0
    for our_call, their_call in zip(ours, theirs):
        assert our_call.keys() == their_call.keys()
        for name, want in their_call.items():
            got = our_call[name]
            if isinstance(want, np.ndarray):
                assert isinstance(got, np.ndarray), name
                assert (got.dtype, got.shape) == (want.dtype, want.shape), name
                np.testing.assert_array_equal(got, want, err_msg=name)
            else:
                assert got is want or got == want, (name, got, want)


def assert_same_outputs(ours, theirs, atol=1e-6):
    ours = ours if isinstance(ours, (list, tuple)) else [ours]
    theirs = theirs if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol)


def initial_states(layer, seed=2):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(4, UNITS)).astype("float32") for _ in layer.state_size]


# Each case: the layers' arguments and a function of the garden layer giving
# the call's arguments.
CASES = {
    "last_output": ({}, lambda layer: {}),
    "mask": ({"return_sequences": True}, lambda layer: {"mask": padding_mask()}),
    # A mask given as a list (one per input) counts by its first entry.
    "nested_mask": ({}, lambda layer: {"mask": [padding_mask(), None]}),
    "go_backwards_masked": (
        {"go_backwards": True, "return_sequences": True},
        lambda layer: {"mask": padding_mask()},
    ),
    "return_state": (
        {"return_sequences": True, "return_state": True},
        lambda layer: {},
    ),
    "initial_state": (
        {"return_state": True},
        lambda layer: {"initial_state": initial_states(layer)},
    ),
    "input_dropout_training": (
        {"dropout": 0.4, "seed": 7, "return_sequences": True},
        lambda layer: {"training": True},
    ),
    "input_dropout_inference": (
        {"dropout": 0.4, "seed": 7},
        lambda layer: {"training": False},
    ),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("family", FAMILIES)
def test_same_fused_call_as_keras(fused, family, case):
    layer_kwargs, call_kwargs = CASES[case]
    ours, theirs = twin_layers(family, **layer_kwargs)
    fused[family].take()  # the calls that built the layers
    kwargs = call_kwargs(ours)
    ours_out = ours(inputs(), **kwargs)
    ours_calls = fused[family].take()
    theirs_out = theirs(inputs(), **kwargs)
    assert_same_calls(ours_calls, fused[family].take())
    # The backend refused, so both ran their loop: the same result.
    assert_same_outputs(ours_out, theirs_out)


@pytest.mark.parametrize("family", FAMILIES)
def test_input_dropout_is_one_mask_on_every_step_before_the_call(fused, family):
    ours, _ = twin_layers(family, dropout=0.4, seed=7)
    fused[family].take()
    ours(inputs(), training=True)
    (call,) = fused[family].take()
    kept = call["inputs"] != 0.0
    assert not kept.all()
    # A dropped feature is dropped at every step of its row.
    np.testing.assert_array_equal(kept, np.broadcast_to(kept[:, :1], kept.shape))
    np.testing.assert_allclose(call["inputs"][kept], inputs()[kept] / 0.6, rtol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_fused_calls_inside_bidirectional(fused, family):
    ours, theirs = twin_layers(family, return_sequences=True)
    ours_bi = keras.layers.Bidirectional(ours)
    theirs_bi = keras.layers.Bidirectional(theirs)
    ours_bi(inputs())
    theirs_bi(inputs())
    theirs_bi.set_weights(ours_bi.get_weights())
    fused[family].take()
    ours_out = ours_bi(inputs(), mask=padding_mask())
    ours_calls = fused[family].take()
    theirs_out = theirs_bi(inputs(), mask=padding_mask())
    theirs_calls = fused[family].take()
    assert [call["go_backwards"] for call in ours_calls] == [False, True]
    assert_same_calls(ours_calls, theirs_calls)
    assert_same_outputs(ours_out, theirs_out)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_fused_calls_when_stateful(fused, family):
    ours, theirs = twin_layers(family, stateful=True, return_sequences=True)
    x = inputs(steps=8)
    for layer in (ours, theirs):
        layer.reset_state()
    fused[family].take()
    ours_out = [ours(x[:, :4]), ours(x[:, 4:])]
    ours_calls = fused[family].take()
    theirs_out = [theirs(x[:, :4]), theirs(x[:, 4:])]
    assert_same_calls(ours_calls, fused[family].take())
    assert_same_outputs(ours_out, theirs_out)
    # The second batch starts from the first one's final state.
    state_name = "initial_state" if family == "gru" else "initial_state_h"
    assert np.abs(ours_calls[1][state_name]).sum() > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_same_fused_call_in_mixed_float16(fused, family):
    keras.config.set_dtype_policy("mixed_float16")
    ours, theirs = twin_layers(family, return_sequences=True, return_state=True)
    fused[family].take()
    ours_out = ours(inputs(), mask=padding_mask())
    ours_calls = fused[family].take()
    theirs_out = theirs(inputs(), mask=padding_mask())
    assert_same_calls(ours_calls, fused[family].take())
    assert ours_calls[0]["inputs"].dtype == np.float16
    assert_same_outputs(ours_out, theirs_out, atol=1e-3)


def reference_answer(family, shift=1.0):
    """A fused kernel that computes the equations, then adds `shift`.

    The shift marks its results, so a test sees that they, not the loop's,
    came back (unmasked, forward inputs only).
    """
    step = lstm_step if family == "lstm" else gru_step

    def answer(call):
        weights = [call["kernel"], call["recurrent_kernel"], call["bias"]]
        if family == "lstm":
            states = (call["initial_state_h"], call["initial_state_c"])
            outputs, finals = run_sequence(
                lambda x, h, c: step(x, h, c, *weights), call["inputs"], states
            )
        else:
            outputs, finals = run_sequence(
                lambda x, h: step(x, h, *weights, reset_after=True),
                call["inputs"],
                (call["initial_state"],),
            )
        dtype = call["inputs"].dtype
        outputs = (outputs + shift).astype(dtype)
        if not call["return_sequences"]:
            outputs = outputs[:, -1:]
        finals = [ops.convert_to_tensor((s + shift).astype(dtype)) for s in finals]
        return (
            ops.convert_to_tensor(outputs[:, -1]),
            ops.convert_to_tensor(outputs),
            finals,
        )

    return answer


@pytest.mark.parametrize("family", FAMILIES)
def test_the_fused_result_is_returned_and_carried(fused, family):
    fused[family].answer = reference_answer(family)
    ours, theirs = twin_layers(
        family, stateful=True, return_sequences=True, return_state=True
    )
    loop = LAYER_CLASSES[family](
        UNITS, return_sequences=True, return_state=True, use_cudnn=False
    )
    loop(inputs())
    loop.set_weights(ours.get_weights())
    for layer in (ours, theirs):
        layer.reset_state()
    fused[family].take()
    first, *first_states = ours(inputs())
    second = ours(inputs())
    calls = fused[family].take()
    assert len(calls) == 2
    # The equations plus the kernel's mark, not the loop's result.
    expected, *_ = loop(inputs())
    np.testing.assert_allclose(np.asarray(first), np.asarray(expected) + 1.0, atol=1e-5)
    # A stateful layer keeps the states the kernel returned.
    state_names = (
        ["initial_state"]
        if family == "gru"
        else [
            "initial_state_h",
            "initial_state_c",
        ]
    )
    for name, state in zip(state_names, first_states):
        np.testing.assert_array_equal(calls[1][name], np.asarray(state))
    theirs_first = theirs(inputs())
    assert_same_outputs([first, *first_states], theirs_first)
    assert_same_outputs(second, theirs(inputs()))


@pytest.mark.parametrize("family", FAMILIES)
def test_weight_dropout_hands_the_kernel_the_sequences_dropped_recurrent_kernel(
    fused, family
):
    layer = LAYER_CLASSES[family](UNITS, weight_dropout=0.5, seed=3)
    assert layer.fused_refusal() is None
    layer(inputs())
    fused[family].take()
    dropped = np.asarray(layer.cell.recurrent_weights(training=True))
    layer(inputs(), training=True)
    (call,) = fused[family].take()
    np.testing.assert_array_equal(call["recurrent_kernel"], dropped)
    assert (dropped == 0.0).any()
    layer(inputs(), training=False)
    (call,) = fused[family].take()
    np.testing.assert_array_equal(
        call["recurrent_kernel"], np.asarray(layer.cell.recurrent_kernel)
    )


NEVER_FUSED = {
    "recurrent_dropout": {"recurrent_dropout": 0.2},
    "relu": {"activation": "relu"},
    "hard_sigmoid_gates": {"recurrent_activation": "hard_sigmoid"},
    "no_bias": {"use_bias": False},
    "unroll": {"unroll": True},
    "random_truncation": {"random_truncation": 0.3},
    "use_cudnn_false": {"use_cudnn": False},
}


@pytest.mark.parametrize(
    "family, config",
    [(family, config) for family in FAMILIES for config in NEVER_FUSED]
    + [("gru", "reset_before")],
)
def test_configurations_the_kernel_cannot_run_never_call_it(fused, family, config):
    kwargs = {"reset_after": False} if config == "reset_before" else NEVER_FUSED[config]
    layer = LAYER_CLASSES[family](UNITS, return_sequences=True, **kwargs)
    for training in (False, True):
        layer(inputs(), mask=padding_mask(), training=training)
    assert fused["lstm"].calls == [] and fused["gru"].calls == []
    # Nor inside Bidirectional, whose backward copy comes from the config.
    keras.layers.Bidirectional(layer)(inputs())
    assert fused["lstm"].calls == [] and fused["gru"].calls == []


@pytest.mark.parametrize("family", FAMILIES)
def test_use_cudnn_true_fails_clearly_where_it_cannot_run(fused, family):
    layer_class = LAYER_CLASSES[family]
    with pytest.raises(ValueError, match="`use_cudnn`.*`recurrent_dropout`"):
        layer_class(UNITS, recurrent_dropout=0.1, use_cudnn=True)
    with pytest.raises(ValueError, match="`use_cudnn`.*`activation` is not tanh"):
        layer_class(UNITS, activation="relu", use_cudnn=True)
    if family == "gru":
        with pytest.raises(ValueError, match="`use_cudnn`.*`reset_after`"):
            layer_class(UNITS, reset_after=False, use_cudnn=True)
    for value in ("yes", 1, None):
        with pytest.raises(ValueError, match="`use_cudnn`.*got"):
            layer_class(UNITS, use_cudnn=value)
    # An eligible layer on a backend that refuses fails as Keras's does.
    layer = layer_class(UNITS, use_cudnn=True)
    with pytest.raises(ValueError, match="`use_cudnn`.*backend has none"):
        layer(inputs())
    with pytest.raises(ValueError, match="use_cudnn=True"):
        getattr(keras.layers, family.upper())(UNITS, use_cudnn=True)(inputs())


@pytest.mark.parametrize("family", FAMILIES)
def test_use_cudnn_is_serialized(family):
    layer_class = LAYER_CLASSES[family]
    layer = layer_class(UNITS, use_cudnn=False)
    config = layer.get_config()
    assert config["use_cudnn"] is False
    assert layer_class.from_config(config).use_cudnn is False
    assert layer_class(UNITS).get_config()["use_cudnn"] == "auto"


@pytest.mark.parametrize("family", FAMILIES)
def test_loop_result_unchanged_where_the_backend_refuses(family):
    # The real backend: on a CPU TensorFlow refuses, and "auto" must give,
    # bit for bit, what the cell's loop gives.
    auto = LAYER_CLASSES[family](UNITS, return_sequences=True, return_state=True)
    loop = LAYER_CLASSES[family](
        UNITS, return_sequences=True, return_state=True, use_cudnn=False
    )
    auto(inputs())
    loop(inputs())
    loop.set_weights(auto.get_weights())
    for kwargs in ({}, {"mask": padding_mask()}):
        got = [np.asarray(t) for t in auto(inputs(), **kwargs)]
        want = [np.asarray(t) for t in loop(inputs(), **kwargs)]
        if keras.backend.backend() == "tensorflow":
            for a, b in zip(got, want):
                np.testing.assert_array_equal(a, b)
        else:  # JAX runs its GRU kernel on a CPU too
            assert_same_outputs(got, want)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="XLA flag of the TF backend"
)
@pytest.mark.parametrize("family", FAMILIES)
def test_a_layer_that_may_run_cudnn_is_not_jit_compiled(monkeypatch, family):
    # cuDNN kernels do not compile with XLA; pretend a GPU is there.
    monkeypatch.setattr(keras_backend, "cudnn_ok", lambda *args, **kwargs: True)
    layer_class = LAYER_CLASSES[family]
    assert layer_class(UNITS).supports_jit is False
    assert getattr(keras.layers, family.upper())(UNITS).supports_jit is False
    assert layer_class(UNITS, use_cudnn=False).supports_jit is True
    assert layer_class(UNITS, recurrent_dropout=0.1).supports_jit is True


def test_cell_loops_only_keeps_a_traced_graph_free_of_the_fused_kernel(fused):
    fused["lstm"].answer = reference_answer("lstm")
    inputs_ = keras.Input((7, 5))
    hidden = keras.layers.Bidirectional(layers.LSTM(UNITS, return_sequences=True))(
        inputs_
    )
    model = keras.Model(inputs_, layers.LSTM(UNITS, use_cudnn=True)(hidden))
    fused["lstm"].take()
    with layers.cell_loops_only(model):
        inside = model(inputs())
    assert fused["lstm"].take() == []
    # Outside the block every layer takes the fused path again.
    outside = model(inputs())
    assert len(fused["lstm"].take()) == 3
    assert not np.allclose(np.asarray(inside), np.asarray(outside))
