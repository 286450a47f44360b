"""Export of a Sentiment Treebank model: a bracketed tree (or a sentence) in.

The tree models take SST's own format, `(3 (2 The) (3 (3 Rock) (2 rules)))`,
parsed inside the graph by `garden.data.trees.parse_tree_graph` with the same
rules and error messages as `garden.data.parse_tree`; the BiLSTM takes a plain
tokenized sentence. Both return the 5-way class probabilities of the whole
sentence (the root).
"""

import tensorflow as tf

from garden.data.sst_batches import TREE_INPUTS
from garden.data.tokenizers import lower_graph
from garden.data.trees import parse_tree, parse_tree_graph
from garden.export.limits import MAX_TREE_CHARACTERS, MAX_TREE_DEPTH
from garden.export.serving import (
    example_texts,
    limited_texts,
    tracking_archive,
    within_limits,
    write_version,
)
from garden.layers import cell_loops_only
from garden.training.checkpoints import save_model


def tree_archive(model, vocabulary):
    """An `ExportArchive` whose `serving_default` classifies SST tree strings.

    `serving_default(tree)`:
        tree: string `(batch,)`, each one bracketed, fully labelled binary
        tree in SST's format (the node labels are read and checked, not used).
        Returns `probabilities` float32 `(batch, 5)`, the root's class
        probabilities, and `label` int32 `(batch,)`, their argmax.

    Words are lower-cased and looked up in the training vocabulary (unseen
    words are `<unk>`). A malformed tree fails the call with an
    `InvalidArgumentError` whose message names the character position, as
    `garden.data.parse_tree` does. So does a request past
    `garden.export.limits`, naming the limit: `MAX_BATCH_SIZE` trees,
    `MAX_TEXT_LENGTH` characters per tree, `MAX_TREE_CHARACTERS` characters
    in all, `MAX_TREE_DEPTH` levels. An empty batch gets empty outputs.

    Args:
        model: A tree model from `garden.models.tree.build_tree_classifier`.
        vocabulary: The training `Vocabulary` (lower-cased words).

    Returns:
        The `keras.export.ExportArchive`.
    """
    lookup = vocabulary.to_string_lookup()
    archive = tracking_archive(model, lookup)

    def serve(tree):
        tree = _within_tree_characters(limited_texts(tree, "tree"))
        ids, _, left, right, heights = _parse_trees(tree, lookup)
        # A root's height is its tree's depth.
        deepest = tf.reduce_max(tf.concat([heights.flat_values, [0]], axis=0))
        ids = within_limits(
            ids,
            (
                deepest,
                MAX_TREE_DEPTH,
                "Received a tree {} levels deep in input `tree`, expected at "
                f"most MAX_TREE_DEPTH = {MAX_TREE_DEPTH}.",
            ),
        )
        inputs = _tree_inputs(ids, left, right, heights)
        nodes = model({name: inputs[name] for name in TREE_INPUTS}, training=False)
        roots = tf.cast(tf.maximum(ids.row_lengths() - 1, 0), tf.int32)
        probabilities = tf.gather(nodes, roots, batch_dims=1)
        label = tf.cast(tf.argmax(probabilities, axis=-1), tf.int32)
        return {"probabilities": probabilities, "label": label}

    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec([None], tf.string, name="tree")],
    )
    return archive


def _within_tree_characters(tree):
    """`tree`, once its characters in all are checked against the limit."""
    characters = tf.reduce_sum(tf.strings.length(tree, unit="UTF8_CHAR"))
    return within_limits(
        tree,
        (
            characters,
            MAX_TREE_CHARACTERS,
            "Received {} characters in input `tree`, expected at most "
            f"MAX_TREE_CHARACTERS = {MAX_TREE_CHARACTERS} per request.",
        ),
    )


def _parse_trees(tree, lookup):
    """Ragged post-order node arrays of a batch of tree strings, words as ids.

    Returns:
        `(word_ids, labels, left_children, right_children, node_heights)`,
        each of shape `(batch, None)`; word ids are 0 at internal nodes.
    """
    ragged = tf.RaggedTensorSpec([None], tf.int32, ragged_rank=0)

    def parse(text):
        words, *arrays = parse_tree_graph(text)
        ids = tf.where(
            words != "",
            tf.cast(lookup(lower_graph(words)), tf.int32),
            0,
        )
        return (ids, *arrays)

    return tf.map_fn(parse, tree, fn_output_signature=(ragged,) * 5)


def _tree_inputs(ids, left, right, heights):
    """The tree model's inputs: the ragged node arrays padded into a batch."""
    inputs = {
        "word_ids": ids.to_tensor(0),
        "left_children": left.to_tensor(-1),
        "right_children": right.to_tensor(-1),
        "node_heights": heights.to_tensor(-1),
    }
    inputs["node_mask"] = tf.sequence_mask(
        ids.row_lengths(), tf.shape(inputs["word_ids"])[1]
    )
    return inputs


def sentence_archive(model, vocabulary):
    """An `ExportArchive` whose `serving_default` classifies plain sentences.

    `serving_default(sentence)`:
        sentence: string `(batch,)`, words separated by spaces (SST's
        tokenization, e.g. "The Rock rules .").
        Returns `probabilities` float32 `(batch, 5)` and `label` int32.

    A sentence with no words gets the model's prediction for no words. A
    request past `garden.export.limits` (`MAX_BATCH_SIZE` sentences,
    `MAX_TEXT_LENGTH` characters per sentence) fails with an
    `InvalidArgumentError` naming it.
    """
    lookup = vocabulary.to_string_lookup()
    archive = tracking_archive(model, lookup)

    def serve(sentence):
        sentence = limited_texts(sentence, "sentence")
        words = tf.strings.split(
            tf.strings.strip(tf.strings.regex_replace(sentence, "[ \t\r\n]+", " ")),
            sep=" ",
        )
        ids = tf.cast(lookup(tf.ragged.map_flat_values(lower_graph, words)), tf.int32)
        ids = ids.to_tensor(0)
        ids = tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]])
        probabilities = model(ids, training=False)
        label = tf.cast(tf.argmax(probabilities, axis=-1), tf.int32)
        return {"probabilities": probabilities, "label": label}

    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec([None], tf.string, name="sentence")],
    )
    return archive


def export_sst_model(model, vocabulary, root, model_name, *, examples):
    """Writes `root/model_name/<next version>/` and `<version>.keras` beside it.

    A tree model gets `tree_archive`, the BiLSTM `sentence_archive`.

    Args:
        model: A model from `garden.models.tree.build_sst_model`.
        vocabulary: The training `Vocabulary`.
        root: The export root.
        model_name: The served model's name (a directory under `root`).
        examples: A few SST bracketed trees: TF Serving's warmup request, one
            batch to `serving_default`, as trees for a tree model and as
            their sentences (the leaves joined by spaces) for the BiLSTM.

    Returns:
        The version directory.
    """
    trees = []
    for text in example_texts(examples):
        try:
            trees.append(parse_tree(text))
        except ValueError as error:
            raise ValueError(
                "Received an invalid value for argument `examples`, expected "
                f"SST bracketed trees, got {text!r:.200}: {error}"
            ) from error
    is_tree = isinstance(model.input, dict)
    if is_tree:
        warmup = [("serving_default", {"tree": list(examples)})]
    else:
        sentences = [" ".join(tree.leaves) for tree in trees]
        warmup = [("serving_default", {"sentence": sentences})]
    # Traced on the cells' loops: a graph with cuDNN's op serves on GPUs only.
    with cell_loops_only(model):
        archive = (tree_archive if is_tree else sentence_archive)(model, vocabulary)
        path = write_version(root, model_name, archive.write_out, warmup)
    save_model(model, f"{path}.keras")
    return path
