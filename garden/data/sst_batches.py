"""Sentiment Treebank batches for fitting: whole trees, or every phrase alone.

A tree model trains on `node_dataset`'s batches of post-order node arrays,
each node weighted by the node mask; the BiLSTM baseline on
`phrase_dataset`'s batches of phrases (every node's span of words, from
`encode_phrases`), bucketed by length.
"""

import numpy as np
import tensorflow as tf

from garden.data.trees import tree_dataset

# The node arrays of `garden.data.trees.encode_trees` that a tree model reads.
TREE_INPUTS = (
    "word_ids",
    "left_children",
    "right_children",
    "node_heights",
    "node_mask",
)


def node_dataset(trees, vocabulary, batch_size=25, shuffle=True, seed=None):
    """`(inputs, labels, node_mask)` batches of trees for a tree model's `fit`."""

    def weigh(inputs, labels):
        inputs = {name: inputs[name] for name in TREE_INPUTS}
        weights = tf.cast(inputs["node_mask"], tf.float32)
        # The mask travels as int32 (the model casts it back to bool): under
        # a tf.distribute strategy Keras averages a first batch over the
        # replicas to build the model, and bool tensors cannot be averaged.
        inputs["node_mask"] = tf.cast(inputs["node_mask"], tf.int32)
        return inputs, labels, weights

    return tree_dataset(
        trees, vocabulary, batch_size=batch_size, shuffle=shuffle, seed=seed
    ).map(weigh)


def phrase_spans(tree):
    """The words under every node of a `ParsedTree`, in post-order."""
    spans = []
    for word, left, right in zip(tree.words, tree.left_children, tree.right_children):
        spans.append([word] if word is not None else spans[left] + spans[right])
    return spans


def encode_phrases(trees, vocabulary, roots_only=False, lower=True):
    """Word ids and labels of every phrase (every node's span) of `trees`.

    Returns:
        `(ids, labels)`: a list of int32 arrays and an int32 array.
    """
    ids, labels = [], []
    for tree in trees:
        spans = phrase_spans(tree)
        chosen = [len(spans) - 1] if roots_only else range(len(spans))
        for node in chosen:
            words = [w.lower() if lower else w for w in spans[node]]
            ids.append(np.asarray([vocabulary[w] for w in words], "int32"))
            labels.append(tree.labels[node])
    return ids, np.asarray(labels, "int32")


def phrase_dataset(ids, labels, batch_size=25, shuffle=True, seed=None):
    """Padded batches of phrases of similar length for the BiLSTM's `fit`."""
    ragged = tf.ragged.constant([list(row) for row in ids], dtype=tf.int32)
    dataset = tf.data.Dataset.from_tensor_slices((ragged, labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(lambda x, y: (x, y)).bucket_by_sequence_length(
        lambda x, y: tf.shape(x)[0],
        bucket_boundaries=[2, 4, 8, 16, 32],
        bucket_batch_sizes=[batch_size] * 6,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)
