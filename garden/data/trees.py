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

`parse_tree_graph` reads the same format inside a TensorFlow graph, with the
same rules and error messages, for exports that take tree strings.
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


# The in-graph reading: `parse_tree`'s rules and messages for a string tensor,
# so an exported model parses trees with no Python on the server.

_OPEN, _CLOSE, _WORD = 0, 1, 2
# Error codes of the in-graph parser, in the order `parse_tree` checks them.
(
    _OK, _CLOSES_NOTHING, _AFTER_ROOT, _MIXED_SUBTREE, _NO_LABEL, _LABEL_NOT_INT,
    _LABEL_RANGE, _NOT_BINARY, _EXPECTED_OPEN, _MIXED_WORD, _UNCLOSED, _EMPTY,
) = range(12)  # fmt: skip
_SPACES = (" ", "\t", "\r", "\n")


def _tokens(text):
    """The tokens of one tree string and the character position of each."""
    chars = tf.strings.unicode_split(text, "UTF-8", errors="replace")
    is_paren = (chars == "(") | (chars == ")")
    is_space = tf.reduce_any(tf.equal(chars[:, None], tf.constant(_SPACES)), axis=1)
    is_word = ~(is_paren | is_space)
    after_word = tf.concat([[False], is_word[:-1]], axis=0)
    starts = is_paren | (is_word & ~after_word)
    token_of_char = tf.cumsum(tf.cast(starts, tf.int32)) - 1
    count = tf.reduce_sum(tf.cast(starts, tf.int32))
    tokens = tf.strings.unsorted_segment_join(
        tf.boolean_mask(chars, ~is_space),
        tf.boolean_mask(token_of_char, ~is_space),
        num_segments=count,
    )
    positions = tf.cast(tf.where(starts)[:, 0], tf.int32)
    return tokens, positions


def _set(tensor, index, value):
    return tf.tensor_scatter_nd_update(tensor, [[index]], [value])


def parse_tree_graph(text, num_classes=NUM_SENTIMENT_CLASSES):
    """`parse_tree` for one string tensor, in the graph.

    A stack machine runs over the tokens in a `tf.while_loop`; the first error
    stops it and fails an assertion whose message names the character
    position, as the Python parser's `ValueError` does.

    Returns:
        `(words, labels, left_children, right_children, node_heights)`, each of
        shape `(num_nodes,)` in post-order; `words` is "" at internal nodes.
    """
    tokens, positions = _tokens(text)
    m = tf.size(tokens)
    kinds = tf.where(tokens == "(", _OPEN, tf.where(tokens == ")", _CLOSE, _WORD))
    size = m + 1
    minus_ones = tf.fill([size], -1)
    zeros = tf.zeros([size], tf.int32)

    def condition(i, error, *_):
        return (i < m) & (error == _OK)

    def step(i, _error, _where, _extra, finished, depth, stack, nodes, count):
        (s_label, s_pos, s_children, s_left, s_right, s_word) = stack
        (n_label, n_left, n_right, n_word, n_height) = nodes
        kind, position = kinds[i], positions[i]
        top = tf.maximum(depth - 1, 0)

        # "(" label: push a node.
        label_index = tf.minimum(i + 1, m - 1)
        label_text = tokens[label_index]
        is_int = tf.strings.regex_full_match(label_text, r"-?\d{1,9}")
        label = tf.cast(
            tf.strings.to_number(tf.where(is_int, label_text, "0"), tf.int64), tf.int32
        )
        looks_int = tf.strings.regex_full_match(label_text, r"-?\d+")
        open_error = tf.case(
            [
                (
                    (depth > 0) & (s_word[top] >= 0),
                    lambda: tf.constant(_MIXED_SUBTREE),
                ),
                (
                    (i + 1 >= m) | (kinds[label_index] != _WORD),
                    lambda: tf.constant(_NO_LABEL),
                ),
                (~looks_int, lambda: tf.constant(_LABEL_NOT_INT)),
                (
                    ~is_int | (label < 0) | (label >= num_classes),
                    lambda: tf.constant(_LABEL_RANGE),
                ),
            ],
            default=lambda: tf.constant(_OK),
        )
        # ")": pop a node, a leaf with its word or a parent of exactly two.
        leaf = s_word[top] >= 0
        close_error = tf.case(
            [
                (depth == 0, lambda: tf.constant(_CLOSES_NOTHING)),
                (~leaf & (s_children[top] != 2), lambda: tf.constant(_NOT_BINARY)),
            ],
            default=lambda: tf.constant(_OK),
        )
        # A word: the node's one word, before any subtree.
        word_error = tf.case(
            [
                (depth == 0, lambda: tf.constant(_EXPECTED_OPEN)),
                (
                    (s_word[top] >= 0) | (s_children[top] > 0),
                    lambda: tf.constant(_MIXED_WORD),
                ),
            ],
            default=lambda: tf.constant(_OK),
        )
        fail = tf.case(
            [
                (finished & (kind == _CLOSE), lambda: tf.constant(_CLOSES_NOTHING)),
                (finished, lambda: tf.constant(_AFTER_ROOT)),
                (kind == _OPEN, lambda: open_error),
                (kind == _CLOSE, lambda: close_error),
            ],
            default=lambda: word_error,
        )
        fail_at = tf.case(
            [
                (
                    (fail == _LABEL_NOT_INT) | (fail == _LABEL_RANGE),
                    lambda: positions[label_index],
                ),
                (fail == _NOT_BINARY, lambda: s_pos[top]),
            ],
            default=lambda: position,
        )
        fail_extra = tf.case(
            [
                (
                    (fail == _MIXED_SUBTREE) | (fail == _MIXED_WORD),
                    lambda: s_pos[top],
                ),
                (fail == _NOT_BINARY, lambda: s_children[top]),
            ],
            default=lambda: tf.constant(0),
        )

        def push():
            return (
                i + 2, finished, depth + 1,
                (
                    _set(s_label, depth, label), _set(s_pos, depth, position),
                    _set(s_children, depth, 0), _set(s_left, depth, -1),
                    _set(s_right, depth, -1), _set(s_word, depth, -1),
                ),
                nodes, count,
            )  # fmt: skip

        def pop():
            left, right = s_left[top], s_right[top]
            height = tf.where(
                leaf,
                0,
                1
                + tf.maximum(
                    n_height[tf.maximum(left, 0)], n_height[tf.maximum(right, 0)]
                ),
            )
            new_nodes = (
                _set(n_label, count, s_label[top]),
                _set(n_left, count, tf.where(leaf, -1, left)),
                _set(n_right, count, tf.where(leaf, -1, right)),
                _set(n_word, count, s_word[top]),
                _set(n_height, count, height),
            )
            parent = tf.maximum(depth - 2, 0)
            has_parent = depth > 1
            children = s_children[parent]
            new_left = tf.where(has_parent & (children == 0), count, s_left[parent])
            new_right = tf.where(has_parent & (children == 1), count, s_right[parent])
            new_stack = (
                s_label, s_pos,
                _set(s_children, parent, tf.where(has_parent, children + 1, children)),
                _set(s_left, parent, new_left), _set(s_right, parent, new_right),
                s_word,
            )  # fmt: skip
            return i + 1, ~has_parent, depth - 1, new_stack, new_nodes, count + 1

        def word():
            stack = (s_label, s_pos, s_children, s_left, s_right, _set(s_word, top, i))
            return i + 1, finished, depth, stack, nodes, count

        def stop():
            return i, finished, depth, stack, nodes, count

        i, finished, depth, stack, nodes, count = tf.case(
            [
                (fail != _OK, stop),
                (kind == _OPEN, push),
                (kind == _CLOSE, pop),
            ],
            default=word,
        )
        return i, fail, fail_at, fail_extra, finished, depth, stack, nodes, count

    initial = (
        tf.constant(0), tf.where(m == 0, _EMPTY, _OK), tf.constant(0), tf.constant(0),
        tf.constant(False), tf.constant(0),
        (zeros, zeros, zeros, minus_ones, minus_ones, minus_ones),
        (zeros, minus_ones, minus_ones, minus_ones, zeros),
        tf.constant(0),
    )  # fmt: skip
    _, error, error_at, extra, _, depth, stack, nodes, count = tf.while_loop(
        condition, step, initial
    )
    s_pos = stack[1]
    unclosed = (error == _OK) & (depth > 0)
    error = tf.where(unclosed, _UNCLOSED, error)
    error_at = tf.where(unclosed, s_pos[tf.maximum(depth - 1, 0)], error_at)
    tf.debugging.Assert(
        error == _OK,
        [_message(error, error_at, extra, tokens, positions, text, num_classes)],
    )
    n_label, n_left, n_right, n_word, n_height = (node[:count] for node in nodes)
    words = tf.where(n_word >= 0, tf.gather(tokens, tf.maximum(n_word, 0)), "")
    return words, n_label, n_left, n_right, n_height


def _message(error, error_at, extra, tokens, positions, text, num_classes):
    """The `parse_tree` error message of an error code, as a string tensor."""
    at = tf.strings.as_string(error_at)
    extra = tf.strings.as_string(extra)
    # The token that starts at the error's position (a label or a word).
    token = tf.boolean_mask(tokens, positions == error_at)
    token = tf.cond(tf.size(token) > 0, lambda: token[0], lambda: tf.constant(""))
    node = tf.where(extra == "0", "an empty node", "a non-binary node")
    messages = [
        "",
        "Unbalanced brackets: ')' at position " + at + " closes nothing",
        "Unexpected text after the root at position " + at,
        "Node opened at position " + extra + " mixes a word and a subtree "
        "(subtree at position " + at + ")",
        "Expected a label after '(' at position " + at,
        "Expected an integer label at position " + at + ", got '" + token + "'",
        "Label out of range at position " + at + ": expected 0 to "
        + str(num_classes - 1) + ", got " + token,
        "Expected a word or two children for the node at position " + at
        + ", got " + node + " with " + extra + " children",
        "Expected '(' at position " + at + ", got '" + token + "'",
        "Node opened at position " + extra + " has more than one word or mixes "
        "words and subtrees (word at position " + at + ")",
        "Unbalanced brackets: '(' at position " + at + " is never closed",
        "Empty tree at position 0",
    ]  # fmt: skip
    return tf.gather(tf.stack(messages), error) + " in: " + text


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
