"""Sentiment Treebank models: recursive networks with a classifier at every node.

    E = embed(word ids)                         at the leaves (dropout)
    H = TreeRNN(E) or TreeLSTM(E)               every node, bottom-up
    P = softmax(dropout(H) W_s + b_s)           5 classes at every node

trained on every labelled phrase: the loss is the cross-entropy at every real
node, averaged over the nodes (padding has weight 0). The comparison is a
sequence model that never sees the tree: a BiLSTM over the leaves of a phrase,
trained on the same phrases (each node's span of words) and scored on the
same nodes.
"""

import keras
import numpy as np

from garden.data.sst_batches import TREE_INPUTS
from garden.data.trees import NUM_SENTIMENT_CLASSES, encode_trees
from garden.layers import FirstAndLastSteps, TreeLSTM, TreeRNN
from garden.layers.deep_rnn import recurrent_layer_class
from garden.models.batched import pad_ids, predict_by_length
from garden.models.bilm import with_elmo
from garden.training.sentiment_metrics import RootAccuracy

TREE_MODELS = {"treernn": TreeRNN, "treelstm": TreeLSTM}
SST_MODELS = (*TREE_MODELS, "bilstm")


def tree_inputs():
    """The functional inputs of a tree model, one per post-order node array."""
    return {
        name: keras.Input(
            (None,), dtype="bool" if name == "node_mask" else "int32", name=name
        )
        for name in TREE_INPUTS
    }


def _embedding(vocab_size, embedding_dim, trainable, mask_zero=False):
    return keras.layers.Embedding(
        vocab_size, embedding_dim, mask_zero=mask_zero, trainable=trainable,
        name="embedding",
    )  # fmt: skip


def _probabilities(x):
    # The float32 island: softmax and so the loss.
    return keras.layers.Dense(
        NUM_SENTIMENT_CLASSES, activation="softmax", dtype="float32",
        name="probabilities",
    )(x)  # fmt: skip


def build_tree_classifier(
    vocab_size,
    kind="treelstm",
    units=150,
    embedding_dim=None,
    trainable_embeddings=True,
    dropout=0.0,
    schedule="compact",
    name=None,
):
    """A recursive network with a 5-way softmax at every node.

    Args:
        vocab_size: Number of word ids.
        kind: "treelstm" (default) or "treernn".
        units: Width of the node states.
        embedding_dim: Width of the word vectors; default `units`. A TreeRNN
            uses its leaf vectors as node vectors, so a different width gets a
            `leaf_projection` (tanh) to `units` first.
        trainable_embeddings: False freezes the embedding (pretrained vectors).
        dropout: Rate on the word vectors and on the node states.
        schedule: The tree layer's level schedule, "compact" or "dense".
        name: Model name; default `kind`.

    Returns:
        A `keras.Model` from the dict of `TREE_INPUTS` (each `(batch, nodes)`)
        to float32 probabilities `(batch, nodes, 5)`.

    Example:

    >>> import numpy as np
    >>> model = build_tree_classifier(10, "treernn", units=4)
    >>> out = model({"word_ids": np.array([[3, 4, 0]]),
    ...              "left_children": np.array([[-1, -1, 0]]),
    ...              "right_children": np.array([[-1, -1, 1]]),
    ...              "node_heights": np.array([[0, 0, 1]]),
    ...              "node_mask": np.array([[True, True, True]])})
    >>> tuple(out.shape)
    (1, 3, 5)
    """
    if kind not in TREE_MODELS:
        raise ValueError(
            "Received an invalid value for argument `kind`, expected one of "
            f"{list(TREE_MODELS)}, got {kind!r}."
        )
    embedding_dim = embedding_dim or units
    inputs = tree_inputs()
    x = _embedding(vocab_size, embedding_dim, trainable_embeddings)(inputs["word_ids"])
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    if kind == "treernn" and embedding_dim != units:
        x = keras.layers.Dense(units, activation="tanh", name="leaf_projection")(x)
    h = TREE_MODELS[kind](units, schedule=schedule, name=kind)(
        x,
        left_children=inputs["left_children"],
        right_children=inputs["right_children"],
        node_heights=inputs["node_heights"],
        node_mask=inputs["node_mask"],
    )
    h = keras.layers.Dropout(dropout, name="dropout")(h)
    return keras.Model(inputs, _probabilities(h), name=name or kind)


def build_phrase_classifier(
    vocab_size,
    units=150,
    embedding_dim=None,
    trainable_embeddings=True,
    dropout=0.0,
    cell="lstm",
    bilm=None,
    bilm_ids=None,
    name="bilstm",
):
    """The sequence comparison: a BiLSTM over a phrase's words, 5-way softmax.

        H = [forward(E); backward(E)]          E = embed(ids), padding masked
                                               E = [E; ELMo(ids)] with a `bilm`
        p = softmax(dropout([H_1; H_T]) W + b)

    Args:
        vocab_size: Number of word ids (0 is padding).
        units: Hidden size of each direction.
        embedding_dim: Width of the word vectors; default `units`.
        trainable_embeddings: False freezes the embedding.
        dropout: Rate on the word vectors and before the softmax.
        cell: The garden cell of both directions.
        bilm: Optional frozen biLM features (`garden.models.bilm.load_bilm`),
            mixed by a learned `ScalarMix` and concatenated to the embedding.
        bilm_ids: The biLM id of every id (`garden.models.bilm.map_vocabulary`).
        name: Model name.

    Returns:
        A `keras.Model` from right-padded ids `(batch, steps)` to float32
        `(batch, 5)`.
    """
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = _embedding(vocab_size, embedding_dim or units, trainable_embeddings, True)(ids)
    x = with_elmo(x, ids, bilm, bilm_ids)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    x = keras.layers.Bidirectional(
        recurrent_layer_class(cell)(units, return_sequences=True), name="bidirectional"
    )(x)
    x = FirstAndLastSteps(name="first_and_last")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(ids, _probabilities(x), name=name)


def build_sst_model(kind, **config):
    """`build_tree_classifier` for "treernn"/"treelstm", else the BiLSTM."""
    if kind == "bilstm":
        config.pop("schedule", None)
        return build_phrase_classifier(**config)
    return build_tree_classifier(kind=kind, **config)


def compile_sst_model(model, optimizer):
    """Node-weighted cross-entropy; root and node accuracies for tree models.

    A tree model is fed the node mask as `sample_weight`, so the loss is the
    mean over real nodes (`mean_with_sample_weight`) and the root metrics find
    each tree's last real node. The BiLSTM classifies one phrase per example.
    """
    if len(model.outputs[0].shape) == 2:
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
        return model
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(
            reduction="mean_with_sample_weight"
        ),
        weighted_metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="node_accuracy"),
            RootAccuracy(name="root_accuracy"),
            RootAccuracy(binary=True, name="root_binary_accuracy"),
        ],
    )
    return model


def predict_nodes(model, trees, vocabulary, batch_size=100, verbose=0):
    """Every node's 5-way probabilities under a tree model.

    `verbose` as Keras's: a progress bar over the trees.

    Returns:
        A list, one `(num_nodes, 5)` float32 array per tree, root last.
    """

    def predict(batch):
        encoded = encode_trees(batch, vocabulary)
        p = np.asarray(
            model.predict_on_batch({name: encoded[name] for name in TREE_INPUTS}),
            "float32",
        )
        return [p[line, : tree.num_nodes] for line, tree in enumerate(batch)]

    return predict_by_length(
        predict,
        trees,
        batch_size,
        length=lambda tree: tree.num_nodes,
        verbose=verbose,
        unit_name="tree",
    )


def predict_phrases(model, ids, batch_size=100, verbose=0):
    """The BiLSTM's probabilities for a list of id arrays, in order.

    `verbose` as Keras's: a progress bar over the phrases.
    """

    def predict(batch):
        return np.asarray(model.predict_on_batch(pad_ids(batch)), "float32")

    out = predict_by_length(
        predict, ids, batch_size, verbose=verbose, unit_name="phrase"
    )
    return np.asarray(out, "float32").reshape(len(ids), NUM_SENTIMENT_CLASSES)
