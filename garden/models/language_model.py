"""Recurrent language models: embedding -> deep RNN -> logits over the vocabulary."""

import math

import keras
import numpy as np

from garden.layers import ActivationRegularization, DeepRNN, EmbeddingDropout
from garden.layers.recurrent import check_rate
from garden.training.metrics import Perplexity, masked_cross_entropy
from garden.training.precision import float32_copy


def build_language_model(
    vocab_size,
    cell="lstm",
    units=256,
    num_layers=1,
    embedding_dim=None,
    dropout=0.0,
    recurrent_dropout=0.0,
    tie_weights=False,
    residual=False,
    input_dropout=None,
    hidden_dropout=None,
    locked_dropout=False,
    embedding_dropout=0.0,
    weight_dropout=0.0,
    activation_regularization=0.0,
    temporal_activation_regularization=0.0,
    stateful=False,
    batch_size=None,
    random_truncation=0.0,
    mask_zero=False,
    return_state=False,
    name="language_model",
):
    """A recurrent language model as a functional `keras.Model`.

        E_t = embed(x_t)           (one-hot when `embedding_dim` is None)
        H_t = DeepRNN(dropout(E))_t
        logits_t = dropout(H_t) W_out + b_out     (W_out = E^T with tying)

    Dropout is applied to the embeddings, between recurrent layers and before
    the output layer (Zaremba et al., 2014); `recurrent_dropout` adds a mask on
    the recurrent connections that stays the same at every step (Gal and
    Ghahramani, 2016). With `tie_weights` the output layer reuses the input
    embedding matrix (Press and Wolf, 2017; Inan et al., 2017), projecting the
    top layer to `embedding_dim` first when the widths differ. Logits are
    float32 under every precision policy.

    AWD-LSTM's regularisers (Merity et al., 2017) are each an argument:
    separate rates for the three dropouts (`input_dropout`, `hidden_dropout`,
    `dropout` on the output), "locked" masks that stay the same at every
    step of a sequence (`locked_dropout`), whole words dropped from the
    embedding matrix (`embedding_dropout`, `garden.layers.EmbeddingDropout`),
    DropConnect on the hidden-to-hidden weights (`weight_dropout`), and the
    AR and TAR penalties on the top layer's outputs
    (`garden.layers.ActivationRegularization`).

    Args:
        vocab_size: Number of token ids.
        cell: "lstm", "gru" or "rnn".
        units: Hidden size of every layer.
        num_layers: Number of recurrent layers.
        embedding_dim: Embedding width; None for one-hot inputs (characters).
        dropout: Dropout rate on the output of the top layer, and on the
            embeddings and between layers unless their own rates are given.
        recurrent_dropout: Variational dropout rate on the recurrent state.
        tie_weights: Share the embedding matrix with the output layer.
        residual: Residual connections between recurrent layers.
        input_dropout: Dropout rate on the embeddings; None: `dropout`.
        hidden_dropout: Dropout rate between recurrent layers; None: `dropout`.
        locked_dropout: Whether those three dropouts draw one mask per
            sequence (row and unit) for all its steps.
        embedding_dropout: Probability of dropping a word's whole embedding
            (one mask over the vocabulary per batch); needs `embedding_dim`.
        weight_dropout: DropConnect rate on every layer's `recurrent_kernel`.
        activation_regularization: AR's alpha: the loss adds alpha times the
            mean square of the dropped top-layer outputs.
        temporal_activation_regularization: TAR's beta: the loss adds beta
            times the mean square change of the top-layer outputs per step.
        stateful: Carry states across batches (truncated BPTT); needs
            `batch_size`.
        batch_size: Fixed batch size (stateful models), else None.
        random_truncation: Randomized truncation probability (see
            `garden.layers.recurrent.RecurrentLayer`).
        mask_zero: Treat id 0 as padding (batches of padded sentences and
            batched prompts of different lengths).
        return_state: Build the generation model: inputs `[ids, *states]`,
            outputs `[logits, *states]`, for `garden.decoding.generate`.
        name: Model name.

    Returns:
        A `keras.Model` from int ids `(batch, steps)` to float32 logits
        `(batch, steps, vocab_size)`.

    Example:

    >>> model = build_language_model(50, units=16, embedding_dim=8)
    >>> import numpy as np
    >>> tuple(model(np.ones((2, 7), "int32")).shape)
    (2, 7, 50)
    """
    _check_arguments(
        stateful, batch_size, embedding_dim, tie_weights, embedding_dropout
    )
    input_dropout, hidden_dropout = _layer_rates(dropout, input_dropout, hidden_dropout)
    sequence_dropout = _sequence_dropout(locked_dropout)
    tokens = keras.Input((None,), batch_size=batch_size, dtype="int32", name="ids")
    embedding = _embedding(
        vocab_size, embedding_dim, embedding_dropout, tie_weights, mask_zero
    )
    x = embedding(tokens)
    x = sequence_dropout(input_dropout, name="embedding_dropout")(x)
    rnn = DeepRNN(
        units,
        num_layers=num_layers,
        cell=cell,
        dropout=hidden_dropout,
        locked_dropout=locked_dropout,
        residual=residual,
        return_state=return_state,
        stateful=stateful,
        layer_kwargs={
            "recurrent_dropout": recurrent_dropout,
            "weight_dropout": weight_dropout,
            "random_truncation": random_truncation,
        },
        name="rnn",
    )
    h, state_inputs, states = _run_rnn(rnn, x, return_state, batch_size)
    x = sequence_dropout(dropout, name="output_dropout")(h)
    x = _regularize_activations(
        h, x, activation_regularization, temporal_activation_regularization
    )
    logits = _logits(x, embedding, vocab_size, units, embedding_dim, tie_weights)
    if return_state:
        return keras.Model([tokens, *state_inputs], [logits, *states], name=name)
    return keras.Model(tokens, logits, name=name)


def _check_arguments(
    stateful, batch_size, embedding_dim, tie_weights, embedding_dropout
):
    """Refuses the combinations of `build_language_model` arguments it cannot build."""
    if stateful and batch_size is None:
        raise ValueError(
            "Received an invalid value for argument `batch_size`, expected a "
            "positive integer with `stateful=True`, got None."
        )
    for argument, value in (
        ("tie_weights", tie_weights),
        ("embedding_dropout", embedding_dropout),
    ):
        if value and embedding_dim is None:
            raise ValueError(
                f"Received an invalid value for argument `{argument}`, expected "
                f"{'False' if value is True else 0} for one-hot inputs "
                "(`embedding_dim=None`): there is no embedding matrix."
            )


def _layer_rates(dropout, input_dropout, hidden_dropout):
    """The checked `(input_dropout, hidden_dropout)`, `dropout` where one is None."""
    input_dropout = dropout if input_dropout is None else input_dropout
    hidden_dropout = dropout if hidden_dropout is None else hidden_dropout
    for argument, rate in (
        ("input_dropout", input_dropout),
        ("hidden_dropout", hidden_dropout),
    ):
        check_rate(argument, rate)
    return input_dropout, hidden_dropout


def _sequence_dropout(locked_dropout):
    """The dropout layer class for sequences: one mask per sequence when locked."""
    # SpatialDropout1D's mask is (batch, 1, units): one for every step.
    return keras.layers.SpatialDropout1D if locked_dropout else keras.layers.Dropout


def _embedding(vocab_size, embedding_dim, embedding_dropout, tie_weights, mask_zero):
    """The input embedding layer (named "one_hot" or "embedding")."""
    if embedding_dim is None:
        # One-hot inputs: a frozen identity embedding, so ids need no other path.
        return keras.layers.Embedding(
            vocab_size,
            vocab_size,
            embeddings_initializer="identity",
            trainable=False,
            mask_zero=mask_zero,
            name="one_hot",
        )
    if embedding_dropout:
        # A ReversibleEmbedding: tying reads it from the output side too.
        return EmbeddingDropout(
            vocab_size,
            embedding_dim,
            rate=embedding_dropout,
            mask_zero=mask_zero,
            name="embedding",
        )
    if tie_weights:
        return keras.layers.ReversibleEmbedding(
            vocab_size, embedding_dim, mask_zero=mask_zero, name="embedding"
        )
    return keras.layers.Embedding(
        vocab_size, embedding_dim, mask_zero=mask_zero, name="embedding"
    )


def _state_inputs(rnn, batch_size):
    """One `keras.Input` per state of every layer of `rnn`, in its order."""
    return [
        keras.Input((size,), batch_size=batch_size, name=f"state_{index}")
        for index, size in enumerate(
            size for size in rnn.units for _ in range(rnn.states_per_layer)
        )
    ]


def _run_rnn(rnn, x, return_state, batch_size):
    """Runs `rnn` on `x`, from state inputs of its own with `return_state`.

    Returns:
        `(h, state_inputs, states)`: the top layer's outputs, and the state
        inputs and final states, both empty without `return_state`.
    """
    state_inputs, states = [], []
    if return_state:
        state_inputs = _state_inputs(rnn, batch_size)
        h, *states = rnn(x, initial_state=state_inputs)
    else:
        h = rnn(x)
    return h, state_inputs, states


def _regularize_activations(h, x, alpha, beta):
    """`x` through AR (`alpha`) and TAR (`beta`) on the top layer's outputs `h`.

    Without either penalty `x` is returned as it is: no layer is added.
    """
    if not (alpha or beta):
        return x
    layer = ActivationRegularization(alpha, beta, name="activation_regularization")
    return layer([h, x])


def _logits(x, embedding, vocab_size, units, embedding_dim, tie_weights):
    """The float32 logits: the embedding read in reverse when tied, else a Dense."""
    if not tie_weights:
        return keras.layers.Dense(vocab_size, dtype="float32", name="logits")(x)
    if units != embedding_dim:
        x = keras.layers.Dense(embedding_dim, name="projection")(x)
    logits = embedding(x, reverse=True)
    return keras.layers.Activation("linear", dtype="float32", name="logits")(logits)


def language_model_config(model):
    """The `build_language_model` arguments of a model it built (a loaded checkpoint).

    Read from the layers themselves, so a checkpoint is rebuilt as it was
    trained (stateful, for generation) whatever flags a later command line
    carries.

    Raises:
        ValueError: `model` was not built by `build_language_model`.
    """
    names = {layer.name for layer in model.layers}
    if not {"rnn", "embedding_dropout", "output_dropout", "logits"} <= names or not (
        names & {"one_hot", "embedding"}
    ):
        raise ValueError(
            "Received an invalid value for argument `model`, expected a model built "
            f"by `build_language_model`, got {model.name!r} with layers "
            f"{sorted(names)}."
        )
    rnn = model.get_layer("rnn")
    if "one_hot" in names:
        vocab_size, embedding_dim = model.get_layer("one_hot").input_dim, None
        embedding = None
    else:
        embedding = model.get_layer("embedding")
        vocab_size, embedding_dim = embedding.input_dim, embedding.output_dim
    regularization = (
        model.get_layer("activation_regularization")
        if "activation_regularization" in names
        else ActivationRegularization()
    )
    input_dropout = model.get_layer("embedding_dropout")
    return {
        "vocab_size": vocab_size,
        "cell": rnn.cell,
        "units": rnn.units[0],
        "num_layers": len(rnn.units),
        "embedding_dim": embedding_dim,
        "dropout": model.get_layer("output_dropout").rate,
        "recurrent_dropout": rnn.layer_kwargs.get("recurrent_dropout", 0.0),
        # An untied model ends on its own Dense layer.
        "tie_weights": not isinstance(model.get_layer("logits"), keras.layers.Dense),
        "residual": rnn.residual,
        "input_dropout": input_dropout.rate,
        "hidden_dropout": rnn.dropout,
        "locked_dropout": isinstance(input_dropout, keras.layers.SpatialDropout1D),
        "embedding_dropout": getattr(embedding, "rate", 0.0),
        "weight_dropout": rnn.layer_kwargs.get("weight_dropout", 0.0),
        "activation_regularization": regularization.alpha,
        "temporal_activation_regularization": regularization.beta,
    }


# What the inference twins leave out: training-only randomness. A cell with
# `weight_dropout` would draw (and not use) a dropped W_hh at every call.
INFERENCE = {"random_truncation": 0.0, "weight_dropout": 0.0}


def compile_language_model(model, optimizer):
    """Compiles with the masked cross-entropy and the perplexity metric."""
    model.compile(
        optimizer=optimizer,
        loss=masked_cross_entropy(pad_id=0),
        metrics=[Perplexity(pad_id=0)],
    )
    return model


def generation_model(config, weights):
    """The float32, stateless, state-in/state-out twin of a trained model.

    Args:
        config: The `build_language_model` arguments of the trained model.
        weights: Its `get_weights()`.

    Returns:
        A model for `garden.decoding.generate` and for export: inputs
        `[ids, *states]`, outputs `[logits, *states]`, padding-aware.
    """
    options = {
        **config,
        **INFERENCE,
        "stateful": False,
        "batch_size": None,
        "mask_zero": True,
        "return_state": True,
        "name": "generator",
    }
    return float32_copy(build_language_model, options, weights)


def zero_states(model, batch_size):
    """Zero initial states for a generation model's state inputs."""
    return [
        keras.ops.zeros((batch_size, state.shape[-1]), "float32")
        for state in model.inputs[1:]
    ]


def stream_perplexity(config, weights, token_ids, rows=1, num_steps=256, verbose=0):
    """Perplexity of a token stream read in order with the state carried along.

    Every token after the first is predicted from all the tokens before it
    (the protocol of the test model in TensorFlow's PTB tutorial, batch 1):
    the same tokens, with at least the same context, that an n-gram model
    scores on the stream. With `rows > 1` the stream is cut into that many
    rows read in parallel, each from a zero state (faster, and a little
    worse: the start of each row has no context), and the fewer than `rows`
    tokens left over at the end are not scored.

    Args:
        config: The `build_language_model` arguments of the trained model.
        weights: Its `get_weights()`.
        token_ids: The 1-D stream, at least 2 tokens.
        rows: Parallel rows the stream is cut into.
        num_steps: Tokens read per call (memory, not context: the state
            carries across calls).
        verbose: As Keras's: 0 is silent, 1 a progress bar over the tokens
            scored, 2 one line at the end.

    Returns:
        `(perplexity, tokens scored)`.
    """
    if rows < 1 or num_steps < 1:
        raise ValueError(
            "Received an invalid value for argument `rows`/`num_steps`, expected "
            f"positive integers, got rows={rows}, num_steps={num_steps}."
        )
    token_ids = np.asarray(token_ids, dtype="int32")
    if token_ids.ndim != 1 or len(token_ids) < rows + 1:
        raise ValueError(
            "Received an invalid value for argument `token_ids`, expected a 1-D "
            f"stream of at least {rows + 1} tokens (rows={rows}), got shape "
            f"{token_ids.shape}."
        )
    options = {**config, **INFERENCE, "stateful": True, "batch_size": rows}
    model = build_language_model(**options, name="stream_evaluator")
    model.set_weights(weights)
    model.compile(loss=masked_cross_entropy(pad_id=None))
    length = (len(token_ids) - 1) // rows
    inputs = token_ids[: rows * length].reshape(rows, length)
    targets = token_ids[1 : rows * length + 1].reshape(rows, length)
    total = 0.0
    progress = keras.utils.Progbar(rows * length, verbose=verbose, unit_name="token")
    for start in range(0, length, num_steps):
        window = slice(start, start + num_steps)
        # The stateful model carries its state from one call to the next.
        loss = model.test_on_batch(inputs[:, window], targets[:, window])
        total += float(loss) * targets[:, window].size
        progress.add(targets[:, window].size)
    return math.exp(total / (rows * length)), rows * length
