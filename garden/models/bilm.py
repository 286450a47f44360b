"""A bidirectional LSTM language model and its layers as features (ELMo).

    x_t = embed(w_t)                                    shared by both directions
    ->h_{t,1} = P_1 LSTM_1(x_1 .. x_t)                  forward, left to right
    ->h_{t,j} = P_j LSTM_j(->h_{1,j-1} .. ->h_{t,j-1}) + ->h_{t,j-1}    j = 2 .. L
    <-h_{t,j}   the same over w_n .. w_t, right to left, weights of its own
    p(w_{t+1} | w_1 .. w_t) = softmax(->h_{t,L} E^T)    the forward LM
    p(w_{t-1} | w_t .. w_n) = softmax(<-h_{t,L} E^T)    the backward LM

as in Peters et al. (2018): two LSTM language models, one per direction,
sharing the token embedding E and the softmax (tied to E, Press and Wolf,
2017), two layers each with a residual connection between them. Each LSTM
layer's output is projected back to the embedding width (P_j, ELMo's
projected LSTM, here without feeding the projection back into the
recurrence), so every layer has the width of the embedding and the softmax
over the vocabulary is computed on that width. A downstream model reads the
frozen layers

    h_{t,0} = [x_t; x_t]        h_{t,j} = [->h_{t,j}; <-h_{t,j}]     j = 1 .. L

through `garden.layers.BiLMFeatures` and mixes them with
`garden.layers.ScalarMix`. The vocabulary the biLM was trained with travels in
the `garden.layers.TokenEmbedding`'s config, so a saved `.keras` file is all a
downstream model needs.
"""

import json
import zipfile

import keras
import numpy as np

from garden.checks import check_positive_integer
from garden.layers import (
    LSTM,
    BiLMFeatures,
    ReverseSequence,
    ScalarMix,
    TokenEmbedding,
)
from garden.training.metrics import Perplexity, masked_cross_entropy
from garden.training.sampled_softmax import SampledSoftmaxModel

DIRECTIONS = ("forward", "backward")


def build_bilm(
    tokens,
    embedding_dim=128,
    units=256,
    num_layers=2,
    dropout=0.0,
    name="bilm",
):
    """The biLM as a functional `keras.Model` (see the module docstring).

    Args:
        tokens: The vocabulary's tokens in id order; id 0 is padding.
        embedding_dim: Width of the embedding, of every layer's projection
            and of the softmax's input.
        units: Hidden size of every LSTM.
        num_layers: LSTM layers per direction (ELMo's L = 2).
        dropout: Rate on the embedding and on every layer's output.
        name: Model name.

    Returns:
        A `keras.Model` from right-padded ids `(batch, steps)` to a dict of
        float32 logits `(batch, steps, vocab_size)`: `"forward"` at step t
        scores the token at t + 1, `"backward"` the token at t - 1.

    Example:

    >>> import numpy as np
    >>> model = build_bilm(["<pad>", "<unk>", "a", "b"], 4, 8)
    >>> logits = model(np.array([[2, 3, 0]]))
    >>> tuple(logits["forward"].shape), tuple(logits["backward"].shape)
    ((1, 3, 4), (1, 3, 4))
    """
    check_positive_integer("num_layers", num_layers)
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    embedding = TokenEmbedding(tokens, embedding_dim, name="embedding")
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(embedding(ids))
    logits = {}
    for direction in DIRECTIONS:
        # The backward LM is a forward LM over each row read from its end.
        h = x if direction == "forward" else ReverseSequence(name="reverse")(x, ids)
        for j in range(1, num_layers + 1):
            s = LSTM(units, return_sequences=True, name=f"{direction}_lstm_{j}")(h)
            s = keras.layers.Dense(embedding_dim, name=f"{direction}_projection_{j}")(s)
            if j == 1:
                s = keras.layers.Identity(name=f"{direction}_layer_{j}")(s)
            else:
                s = keras.layers.Add(name=f"{direction}_layer_{j}")([s, h])
            h = keras.layers.Dropout(dropout, name=f"{direction}_dropout_{j}")(s)
        if direction == "backward":
            h = ReverseSequence(name="backward_in_order")(h, ids)
        # The softmax's input, by name, for `SampledSoftmaxModel`.
        h = keras.layers.Identity(name=f"{direction}_states")(h)
        logits[direction] = keras.layers.Activation(
            "linear", dtype="float32", name=direction
        )(embedding(h, reverse=True))
    return keras.Model(ids, logits, name=name)


def compile_bilm(model, optimizer):
    """Masked cross-entropy of both directions (summed) and their perplexities."""
    model.compile(
        optimizer=optimizer,
        loss={direction: masked_cross_entropy(pad_id=0) for direction in DIRECTIONS},
        metrics={direction: [Perplexity(pad_id=0)] for direction in DIRECTIONS},
    )
    return model


def compile_sampled_bilm(model, optimizer, num_samples, seed=None):
    """The biLM wrapped to train on a sampled softmax of `num_samples` draws.

    Validation (and `evaluate`) use the full softmax's loss per direction;
    see `garden.training.sampled_softmax.SampledSoftmaxModel`.
    """
    trainer = SampledSoftmaxModel(
        model,
        {direction: f"{direction}_states" for direction in DIRECTIONS},
        num_samples=num_samples,
        seed=seed,
    )
    trainer.compile(
        optimizer=optimizer,
        loss={direction: masked_cross_entropy(pad_id=0) for direction in DIRECTIONS},
    )
    return trainer


def bilm_tokens(bilm):
    """The vocabulary a biLM was trained with, in id order."""
    return list(bilm.get_layer("embedding").tokens)


def bilm_depth(model):
    """LSTM layers per direction of a biLM, or of a model built on its layers."""
    return sum(1 for layer in model.layers if layer.name.startswith("forward_lstm_"))


def bilm_feature_model(bilm):
    """Token ids to the stacked layer states of a trained biLM (no softmax).

        h_{t,0} = [x_t; x_t]        h_{t,j} = [->h_{t,j}; <-h_{t,j}]

    The backward states are put back into reading order, so at step t the
    forward half has read w_1 .. w_t and the backward half w_t .. w_n.

    Args:
        bilm: A model from `build_bilm` (or loaded from its `.keras` file).

    Returns:
        A functional `keras.Model` (its layers shared with `bilm`) from ids
        `(batch, steps)` to a list of L + 1 tensors `(batch, steps,
        2 * embedding_dim)`.
    """
    ids = bilm.input
    x = bilm.get_layer("embedding_dropout").output
    layers = [keras.layers.Concatenate(name="layer_0")([x, x])]
    for j in range(1, bilm_depth(bilm) + 1):
        forward = bilm.get_layer(f"forward_layer_{j}").output
        backward = bilm.get_layer(f"backward_layer_{j}").output
        backward = ReverseSequence(name=f"backward_in_order_{j}")(backward, ids)
        layers.append(keras.layers.Concatenate(name=f"layer_{j}")([forward, backward]))
    return keras.Model(ids, layers, name="bilm_features")


def elmo_features(ids, features, id_map, name="elmo"):
    """ELMo for a downstream model: the frozen layers, mixed by learned weights.

        ELMo_t = gamma * sum_j softmax(s)_j h_{t,j}

    Args:
        ids: The downstream model's ids tensor `(batch, steps)`.
        features: The model from `bilm_feature_model`.
        id_map: Downstream id -> biLM id (`map_vocabulary`).
        name: Prefix of the two layers' names.

    Returns:
        The mixed features `(batch, steps, 2 * embedding_dim)`, masked.
    """
    layers = BiLMFeatures(features, id_map, name=f"{name}_bilm")(ids)
    return ScalarMix(len(layers), name=f"{name}_mix")(layers)


def with_elmo(embedded, ids, bilm=None, bilm_ids=None):
    """`[E; ELMo(ids)]`, the word vectors and the mixed biLM layers, or E alone.

    Args:
        embedded: The downstream word vectors `(batch, steps, dim)`, masked.
        ids: The ids they embed.
        bilm: The feature model from `load_bilm`, or None for E alone.
        bilm_ids: The biLM id of every downstream id (`map_vocabulary`).

    Returns:
        `(batch, steps, dim + 2 * bilm_embedding_dim)` with a `bilm`.
    """
    if bilm is None:
        return embedded
    if bilm_ids is None:
        raise ValueError(
            "Received no value for argument `bilm_ids`, expected the biLM id of "
            "every downstream id (`map_vocabulary`) with a `bilm`."
        )
    elmo = elmo_features(ids, bilm, bilm_ids)
    return keras.layers.Concatenate(name="embedding_and_elmo")([embedded, elmo])


def map_vocabulary(tokens, bilm_vocabulary, aliases=None):
    """The biLM id of every downstream token (`<unk>`, 1, where it has none).

    Args:
        tokens: The downstream vocabulary's tokens in id order (id 0 padding).
        bilm_vocabulary: The biLM's tokens in id order (`bilm_tokens`).
        aliases: Optional dict of downstream token -> biLM token, tried when
            the token itself is not in the biLM's vocabulary.

    Returns:
        `(id_map, coverage)`: int32 `(len(tokens),)` and the share of the
        downstream tokens (padding and `<unk>` aside) the biLM knows.

    Example:

    >>> id_map, coverage = map_vocabulary(
    ...     ["<pad>", "<unk>", "good", "-lrb-", "zzz"],
    ...     ["<pad>", "<unk>", "(", "good"], aliases={"-lrb-": "("})
    >>> id_map.tolist(), round(coverage, 3)
    ([0, 1, 3, 2, 1], 0.667)
    """
    aliases = aliases or {}
    index = {token: i for i, token in enumerate(bilm_vocabulary)}
    id_map = np.ones(len(tokens), "int32")
    id_map[0] = 0
    for i, token in enumerate(tokens[2:], start=2):
        id_map[i] = index.get(token, index.get(aliases.get(token), 1))
    known = int(np.sum(id_map[2:] > 1))
    return id_map, known / max(len(tokens) - 2, 1)


def check_bilm_file(path):
    """Raises `ValueError` unless `path` is a `.keras` file holding a biLM.

    Reads only the file's config, so a wrong file is found in milliseconds.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"expected a biLM saved as a .keras file, got {path!r} ({error})"
        ) from error
    if config.get("class_name") == "SampledSoftmaxModel":
        # A checkpoint written while `recipes.bilm --sampled-softmax` trains.
        config = config.get("config", {}).get("model", {})
    layers = config.get("config", {}).get("layers", [])
    names = {layer.get("config", {}).get("name") for layer in layers}
    classes = {layer.get("class_name") for layer in layers}
    expected = {"embedding", "forward_layer_1", "backward_layer_1"}
    if "TokenEmbedding" not in classes or not expected <= names:
        raise ValueError(
            f"expected a biLM saved by `recipes.bilm`, got {path!r}: a model "
            f"{config.get('config', {}).get('name')!r} with no "
            "`TokenEmbedding` and forward and backward layers"
        )


def read_bilm(path):
    """A trained biLM (the `build_bilm` model) from its `.keras` file.

    A checkpoint written while `recipes.bilm --sampled-softmax` trains holds
    the training wrapper; the biLM inside it is returned.
    """
    check_bilm_file(path)
    bilm = keras.saving.load_model(path, compile=False)
    if isinstance(bilm, SampledSoftmaxModel):
        bilm = bilm.model
    return bilm


def load_bilm(path):
    """A trained biLM's feature model and vocabulary from its `.keras` file.

    Returns:
        `(features, tokens)`: `bilm_feature_model` of the biLM and its tokens.
    """
    bilm = read_bilm(path)
    return bilm_feature_model(bilm), bilm_tokens(bilm)
