"""Sentiment Treebank trees: parsing, and the batched arrays a tree RNN consumes.

A line such as `(3 (2 The) (3 (3 Rock) (2 rules)))` is a binary tree with a
sentiment label (0..4) on every node and a word on every leaf. `parse_tree`
turns it into arrays over its nodes in post-order (children before parents,
the root last), so a recursive network can compute every node's state with one
pass over node positions, or one step per height level
(`node_heights`), batched over trees, without a Python loop per node:

    node i is a leaf       h_i = leaf(embedding[word_ids[i]])
    otherwise              h_i = compose(h[left_children[i]], h[right_children[i]])

Batches pad every tree to the largest node count; padding nodes have
`node_mask` False, word id 0 and children -1.
"""

import dataclasses
import re

import numpy as np
import tensorflow as tf

from garden.data.vocabulary import Vocabulary

NUM_SENTIMENT_CLASSES = 5
# Only ASCII spaces separate tokens: SST words may hold a no-break space ("8\xa01\\/2").
_TOKEN = re.compile(r"\(|\)|[^ \t\r\n()]+")


@dataclasses.dataclass(frozen=True)
class ParsedTree:
    """A binary tree as post-order node arrays.

    Attributes:
        labels: the label of every node.
        left_children: index of each node's left child, -1 for leaves.
        right_children: index of each node's right child, -1 for leaves.
        words: the word of each leaf, `None` for internal nodes.
        node_heights: 0 for leaves, 1 + the children's maximum otherwise.
    """

    labels: tuple
    left_children: tuple
    right_children: tuple
    words: tuple
    node_heights: tuple

    @property
    def num_nodes(self):
        return len(self.labels)

    @property
    def root_label(self):
        return self.labels[-1]

    @property
    def leaves(self):
        """The words of the sentence, left to right."""
        return [word for word in self.words if word is not None]


def parse_tree(text, num_classes=NUM_SENTIMENT_CLASSES):
    """Parse one bracketed, fully labelled binary tree (SST's PTB format).

    Args:
        text: a string such as `"(3 (2 The) (3 Rock))"`.
        num_classes: labels must lie in `0 .. num_classes - 1`.

    Returns:
        A `ParsedTree` in post-order.

    Raises:
        ValueError: for unbalanced brackets, a node with other than two
            children, a missing word, an empty tree, a label that is not an
            integer in range, or text after the root; the message names the
            character position.

    Example:

    >>> tree = parse_tree("(3 (2 The) (4 (3 Rock) (2 rules)))")
    >>> tree.labels, tree.left_children, tree.right_children
    ((2, 3, 2, 4, 3), (-1, -1, -1, 1, 0), (-1, -1, -1, 2, 3))
    >>> tree.leaves
    ['The', 'Rock', 'rules']
    """
    tokens = [(match.group(), match.start()) for match in _TOKEN.finditer(text)]
    if not tokens:
        raise ValueError(f"Empty tree at position 0: got {text!r}.")
    labels, lefts, rights, words, heights = [], [], [], [], []
    stack = []  # open nodes: [label, open_position, children, word]
    index = 0
    finished = False
    while index < len(tokens):
        token, position = tokens[index]
        if finished and token == ")":
            raise ValueError(
                f"Unbalanced brackets: ')' at position {position} closes nothing "
                f"in {text!r}."
            )
        if finished:
            raise ValueError(
                f"Unexpected text after the root at position {position} of {text!r}."
            )
        if token == "(":
            if stack and stack[-1][3] is not None:
                raise ValueError(
                    f"Node opened at position {stack[-1][1]} mixes a word and a "
                    f"subtree (subtree at position {position}) in {text!r}."
                )
            if index + 1 >= len(tokens) or tokens[index + 1][0] in "()":
                raise ValueError(
                    f"Expected a label after '(' at position {position} of {text!r}."
                )
            label_text, label_position = tokens[index + 1]
            if not re.fullmatch(r"-?\d+", label_text):
                raise ValueError(
                    f"Expected an integer label at position {label_position}, got "
                    f"{label_text!r} in {text!r}."
                )
            label = int(label_text)
            if not 0 <= label < num_classes:
                raise ValueError(
                    f"Label out of range at position {label_position}: expected 0 to "
                    f"{num_classes - 1}, got {label} in {text!r}."
                )
            stack.append([label, position, [], None])
            index += 2
            continue
        if token == ")":
            if not stack:
                raise ValueError(
                    f"Unbalanced brackets: ')' at position {position} closes nothing "
                    f"in {text!r}."
                )
            label, open_position, children, word = stack.pop()
            if word is not None:
                left = right = -1
                height = 0
            elif len(children) == 2:
                left, right = children
                height = 1 + max(heights[left], heights[right])
            else:
                kind = "an empty node" if not children else "a non-binary node"
                raise ValueError(
                    "Expected a word or two children for the node at position "
                    f"{open_position}, got {kind} with {len(children)} "
                    f"children in {text!r}."
                )
            labels.append(label)
            lefts.append(left)
            rights.append(right)
            words.append(word)
            heights.append(height)
            if stack:
                stack[-1][2].append(len(labels) - 1)
            else:
                finished = True
            index += 1
            continue
        if not stack:
            raise ValueError(
                f"Expected '(' at position {position}, got {token!r} in {text!r}."
            )
        if stack[-1][3] is not None or stack[-1][2]:
            raise ValueError(
                f"Node opened at position {stack[-1][1]} has more than one word or "
                f"mixes words and subtrees (word at position {position}) in {text!r}."
            )
        stack[-1][3] = token
        index += 1
    if stack:
        raise ValueError(
            f"Unbalanced brackets: '(' at position {stack[-1][1]} is never closed in "
            f"{text!r}."
        )
    return ParsedTree(
        tuple(labels), tuple(lefts), tuple(rights), tuple(words), tuple(heights)
    )


def build_tree_vocabulary(trees, min_freq=1, lower=True):
    """A `Vocabulary` of the leaf words of parsed trees.

    Args:
        trees: a list of `ParsedTree` (training split).
        min_freq: minimum count to keep a word.
        lower: lower-case the words (GloVe's vocabulary is lower-case).

    Returns:
        The `Vocabulary`.
    """
    return Vocabulary(
        ([w.lower() if lower else w for w in tree.leaves] for tree in trees),
        min_freq=min_freq,
    )


def _tree_arrays(tree, vocabulary, lower):
    words = [w.lower() if lower and w is not None else w for w in tree.words]
    return {
        "word_ids": np.asarray(
            [0 if w is None else vocabulary[w] for w in words], dtype="int32"
        ),
        "left_children": np.asarray(tree.left_children, dtype="int32"),
        "right_children": np.asarray(tree.right_children, dtype="int32"),
        "node_heights": np.asarray(tree.node_heights, dtype="int32"),
        "node_mask": np.ones(tree.num_nodes, dtype=bool),
        "labels": np.asarray(tree.labels, dtype="int32"),
    }


_PADDING = {
    "word_ids": 0,
    "left_children": -1,
    "right_children": -1,
    "node_heights": -1,
    "node_mask": False,
    "labels": 0,
}


def encode_trees(trees, vocabulary, lower=True):
    """Pad a list of trees into one batch of node arrays.

    Args:
        trees: a list of `ParsedTree`.
        vocabulary: a `Vocabulary` of leaf words.
        lower: lower-case words before lookup (as in `build_tree_vocabulary`).

    Returns:
        A dict of NumPy arrays of shape `(batch, max_nodes)`: `word_ids`
        (int32, 0 on internal and padding nodes), `left_children` and
        `right_children` (int32, -1 for leaves and padding), `node_heights`
        (int32, -1 for padding), `node_mask` (bool), `labels` (int32), plus
        `num_nodes` of shape `(batch,)`; the root of tree b is node
        `num_nodes[b] - 1`.
    """
    arrays = [_tree_arrays(tree, vocabulary, lower) for tree in trees]
    max_nodes = max(tree.num_nodes for tree in trees)
    batch = {}
    for key, pad in _PADDING.items():
        batch[key] = np.stack(
            [
                np.pad(a[key], (0, max_nodes - len(a[key])), constant_values=pad)
                for a in arrays
            ]
        )
    batch["num_nodes"] = np.asarray([tree.num_nodes for tree in trees], dtype="int32")
    return batch


def tree_dataset(trees, vocabulary, batch_size=32, shuffle=True, seed=None, lower=True):
    """A `tf.data.Dataset` of padded tree batches for `Model.fit`.

    Args:
        trees: a list of `ParsedTree`.
        vocabulary: a `Vocabulary` of leaf words.
        batch_size: trees per batch.
        shuffle: reshuffle every epoch.
        seed: shuffle seed; the same seed gives the same batches.
        lower: lower-case words before lookup.

    Returns:
        A `tf.data.Dataset` of `(inputs, labels)`: `inputs` is a dict of
        `word_ids`, `left_children`, `right_children`, `node_heights`,
        `node_mask` (shape `(batch, max_nodes)` for the batch) and
        `num_nodes` (shape `(batch,)`); `labels` holds every node's label,
        shape `(batch, max_nodes)`, to be weighted by `node_mask`.
    """
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(
            "Received an invalid value for argument `batch_size`, expected a positive "
            f"integer, got {batch_size!r}."
        )
    # Padded once to the largest tree; each batch is then cut to its own largest.
    columns = encode_trees(trees, vocabulary, lower=lower)
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    if shuffle:
        dataset = dataset.shuffle(len(trees), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)

    def split_labels(batch):
        max_nodes = tf.reduce_max(batch["num_nodes"])
        batch = {
            key: value if key == "num_nodes" else value[:, :max_nodes]
            for key, value in batch.items()
        }
        labels = batch.pop("labels")
        return batch, labels

    return dataset.map(split_labels, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )
