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

import collections
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
    nodes = {field.name: [] for field in dataclasses.fields(ParsedTree)}
    stack = []  # open nodes: [label, open_position, children, word]
    index = 0
    finished = False
    while index < len(tokens):
        token, position = tokens[index]
        if finished:
            _reject_after_root(token, position, text)
        if token == "(":
            _open_node(stack, tokens, index, text, num_classes)
            index += 2
        elif token == ")":
            finished = _close_node(stack, nodes, position, text)
            index += 1
        else:
            _add_word(stack, token, position, text)
            index += 1
    if stack:
        raise ValueError(
            f"Unbalanced brackets: '(' at position {stack[-1][1]} is never closed in "
            f"{text!r}."
        )
    return ParsedTree(**{name: tuple(values) for name, values in nodes.items()})


def _reject_after_root(token, position, text):
    """Raise for any token after the root has closed."""
    if token == ")":
        raise ValueError(
            f"Unbalanced brackets: ')' at position {position} closes nothing "
            f"in {text!r}."
        )
    raise ValueError(
        f"Unexpected text after the root at position {position} of {text!r}."
    )


def _open_node(stack, tokens, index, text, num_classes):
    """Push the node that the '(' at `tokens[index]` opens, with its label."""
    position = tokens[index][1]
    if stack and stack[-1][3] is not None:
        raise ValueError(
            f"Node opened at position {stack[-1][1]} mixes a word and a "
            f"subtree (subtree at position {position}) in {text!r}."
        )
    label = _read_label(tokens, index, text, num_classes)
    stack.append([label, position, [], None])


def _read_label(tokens, index, text, num_classes):
    """The label after the '(' at `tokens[index]`: an integer in range."""
    position = tokens[index][1]
    if index + 1 >= len(tokens) or tokens[index + 1][0] in "()":
        raise ValueError(
            f"Expected a label after '(' at position {position} of {text!r}."
        )
    label_text, label_position = tokens[index + 1]
    # ASCII digits only, as the in-graph reading's RE2 `\d` (Python's `\d` also
    # takes other scripts' digits, which `int` reads).
    if not re.fullmatch(r"-?[0-9]+", label_text):
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
    return label


def _close_node(stack, nodes, position, text):
    """Append the innermost open node to `nodes`; True when it was the root.

    A node closes as a leaf with its word or as the parent of exactly two
    children, and becomes the next child of the node around it.
    """
    if not stack:
        raise ValueError(
            f"Unbalanced brackets: ')' at position {position} closes nothing "
            f"in {text!r}."
        )
    label, open_position, children, word = stack.pop()
    heights = nodes["node_heights"]
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
    # The keys of `nodes` are `ParsedTree`'s fields, in this order.
    for name, value in zip(nodes, (label, left, right, word, height)):
        nodes[name].append(value)
    if stack:
        stack[-1][2].append(len(heights) - 1)
    return not stack


def _add_word(stack, token, position, text):
    """Give the innermost open node its one word, before any subtree."""
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


# The in-graph reading: `parse_tree`'s rules and messages for a string tensor,
# so an exported model parses trees with no Python on the server.

_OPEN, _CLOSE, _WORD = 0, 1, 2
# Error codes of the in-graph parser, in the order `parse_tree` checks them.
(
    _OK, _CLOSES_NOTHING, _AFTER_ROOT, _MIXED_SUBTREE, _NO_LABEL, _LABEL_NOT_INT,
    _LABEL_RANGE, _NOT_BINARY, _EXPECTED_OPEN, _MIXED_WORD, _UNCLOSED, _EMPTY,
) = range(12)  # fmt: skip
_SPACES = (" ", "\t", "\r", "\n")

# A tree string's tokens, with the character position and kind of each.
_Tokens = collections.namedtuple("_Tokens", "strings positions kinds count")
# The open nodes by depth, and the closed ones in post-order, a tensor a field;
# `word` is the index of the node's word among the tokens, -1 if none.
_Stack = collections.namedtuple("_Stack", "label position children left right word")
_Nodes = collections.namedtuple("_Nodes", "label left right word height")


def parse_tree_graph(text, num_classes=NUM_SENTIMENT_CLASSES):
    """`parse_tree` for one string tensor, in the graph.

    A stack machine runs over the tokens in a `tf.while_loop`; the first error
    stops it and fails an assertion whose message names the character
    position, as the Python parser's `ValueError` does.

    Args:
        text: a scalar string tensor, one tree in SST's format.
        num_classes: labels must lie in `0 .. num_classes - 1`.

    Returns:
        `(words, labels, left_children, right_children, node_heights)`, each of
        shape `(num_nodes,)` in post-order; `words` is "" at internal nodes.
    """
    tokens = _tokens(text)

    def condition(i, error, *_):
        return (i < tokens.count) & (error == _OK)

    def step(i, _error, _error_at, _extra, finished, depth, stack, nodes, count):
        kind, position = tokens.kinds[i], tokens.positions[i]
        label_index, label, label_error = _read_label_graph(tokens, i, num_classes)
        error = _step_error(kind, finished, depth, stack, label_error)
        error_at, extra = _error_place(
            error, position, tokens.positions[label_index], depth, stack
        )

        def push():
            new_stack = _open_node_graph(stack, depth, label, position)
            return i + 2, finished, depth + 1, new_stack, nodes, count

        def pop():
            new_stack, new_nodes, closed_root = _close_node_graph(
                stack, nodes, depth, count
            )
            return i + 1, closed_root, depth - 1, new_stack, new_nodes, count + 1

        def word():
            top = tf.maximum(depth - 1, 0)
            new_stack = stack._replace(word=_set(stack.word, top, i))
            return i + 1, finished, depth, new_stack, nodes, count

        def stop():
            return i, finished, depth, stack, nodes, count

        i, finished, depth, stack, nodes, count = tf.case(
            [(error != _OK, stop), (kind == _OPEN, push), (kind == _CLOSE, pop)],
            default=word,
        )
        return i, error, error_at, extra, finished, depth, stack, nodes, count

    state = tf.while_loop(condition, step, _initial_state(tokens.count))
    return _nodes_or_error(state, tokens, text, num_classes)


def _nodes_or_error(state, tokens, text, num_classes):
    """The closed nodes when the loop has stopped, or the assertion of its error.

    A node still open at the end of the text is unclosed, unless an earlier
    token failed first.
    """
    _, error, error_at, extra, _, depth, stack, nodes, count = state
    unclosed = (error == _OK) & (depth > 0)
    error = tf.where(unclosed, _UNCLOSED, error)
    error_at = tf.where(unclosed, stack.position[tf.maximum(depth - 1, 0)], error_at)
    tf.debugging.Assert(
        error == _OK, [_message(error, error_at, extra, tokens, text, num_classes)]
    )
    nodes = _Nodes(*(column[:count] for column in nodes))
    words = tf.where(
        nodes.word >= 0, tf.gather(tokens.strings, tf.maximum(nodes.word, 0)), ""
    )
    return words, nodes.label, nodes.left, nodes.right, nodes.height


def _tokens(text):
    """The `_Tokens` of one tree string, split as `_TOKEN` splits it."""
    chars = tf.strings.unicode_split(text, "UTF-8", errors="replace")
    is_paren = (chars == "(") | (chars == ")")
    is_space = tf.reduce_any(tf.equal(chars[:, None], tf.constant(_SPACES)), axis=1)
    is_word = ~(is_paren | is_space)
    after_word = tf.concat([[False], is_word[:-1]], axis=0)
    starts = is_paren | (is_word & ~after_word)
    token_of_char = tf.cumsum(tf.cast(starts, tf.int32)) - 1
    count = tf.reduce_sum(tf.cast(starts, tf.int32))
    strings = tf.strings.unsorted_segment_join(
        tf.boolean_mask(chars, ~is_space),
        tf.boolean_mask(token_of_char, ~is_space),
        num_segments=count,
    )
    positions = tf.cast(tf.where(starts)[:, 0], tf.int32)
    kinds = tf.where(strings == "(", _OPEN, tf.where(strings == ")", _CLOSE, _WORD))
    return _Tokens(strings, positions, kinds, tf.size(strings))


def _initial_state(num_tokens):
    """The loop's state before the first token: no error unless there is none."""
    size = num_tokens + 1
    zeros, minus_ones = tf.zeros([size], tf.int32), tf.fill([size], -1)
    return (
        tf.constant(0),  # the token at hand
        tf.where(num_tokens == 0, _EMPTY, _OK),  # error code
        tf.constant(0),  # the error's character position
        tf.constant(0),  # the other number its message names
        tf.constant(False),  # whether the root has closed
        tf.constant(0),  # depth: the number of open nodes
        _Stack(zeros, zeros, zeros, minus_ones, minus_ones, minus_ones),
        _Nodes(zeros, minus_ones, minus_ones, minus_ones, zeros),
        tf.constant(0),  # the number of closed nodes
    )


def _first(cases, default):
    """The value of the first `(condition, value)` that holds, else `default`."""
    value = default
    for condition, case_value in reversed(cases):
        value = tf.where(condition, case_value, value)
    return value


def _set(tensor, index, value):
    return tf.tensor_scatter_nd_update(tensor, [[index]], [value])


def _read_label_graph(tokens, i, num_classes):
    """The label after the '(' at token `i`: its token index, value and error."""
    label_index = tf.minimum(i + 1, tokens.count - 1)
    label_text = tokens.strings[label_index]
    # Nine digits always fit an int32; a longer integer is out of range anyway.
    is_int = tf.strings.regex_full_match(label_text, r"-?\d{1,9}")
    label = tf.cast(
        tf.strings.to_number(tf.where(is_int, label_text, "0"), tf.int64), tf.int32
    )
    looks_int = tf.strings.regex_full_match(label_text, r"-?\d+")
    no_label = (i + 1 >= tokens.count) | (tokens.kinds[label_index] != _WORD)
    error = _first(
        [
            (no_label, _NO_LABEL),
            (~looks_int, _LABEL_NOT_INT),
            (~is_int | (label < 0) | (label >= num_classes), _LABEL_RANGE),
        ],
        _OK,
    )
    return label_index, label, error


def _step_error(kind, finished, depth, stack, label_error):
    """The error code of a token of `kind`, checked in `parse_tree`'s order."""
    top = tf.maximum(depth - 1, 0)
    has_word = stack.word[top] >= 0
    # "(" label: a subtree may not follow the node's word.
    open_error = _first([((depth > 0) & has_word, _MIXED_SUBTREE)], label_error)
    # ")": a leaf with its word or a parent of exactly two.
    close_error = _first(
        [
            (depth == 0, _CLOSES_NOTHING),
            (~has_word & (stack.children[top] != 2), _NOT_BINARY),
        ],
        _OK,
    )
    # A word: the node's one word, before any subtree.
    word_error = _first(
        [
            (depth == 0, _EXPECTED_OPEN),
            (has_word | (stack.children[top] > 0), _MIXED_WORD),
        ],
        _OK,
    )
    return _first(
        [
            (finished & (kind == _CLOSE), _CLOSES_NOTHING),
            (finished, _AFTER_ROOT),
            (kind == _OPEN, open_error),
            (kind == _CLOSE, close_error),
        ],
        word_error,
    )


def _error_place(error, position, label_position, depth, stack):
    """The character position an error names, and the other number it names."""
    top = tf.maximum(depth - 1, 0)
    error_at = _first(
        [
            ((error == _LABEL_NOT_INT) | (error == _LABEL_RANGE), label_position),
            (error == _NOT_BINARY, stack.position[top]),
        ],
        position,
    )
    extra = _first(
        [
            ((error == _MIXED_SUBTREE) | (error == _MIXED_WORD), stack.position[top]),
            (error == _NOT_BINARY, stack.children[top]),
        ],
        0,
    )
    return error_at, extra


def _open_node_graph(stack, depth, label, position):
    """Push a node with its label and position, no children and no word yet."""
    values = (label, position, 0, -1, -1, -1)
    return _Stack(*(_set(field, depth, value) for field, value in zip(stack, values)))


def _close_node_graph(stack, nodes, depth, count):
    """Close the innermost open node as node `count`, its parent's next child.

    Returns:
        The new `_Stack` and `_Nodes`, and whether the node was the root.
    """
    top = tf.maximum(depth - 1, 0)
    leaf = stack.word[top] >= 0
    left, right = stack.left[top], stack.right[top]
    height = tf.where(
        leaf,
        0,
        1
        + tf.maximum(
            nodes.height[tf.maximum(left, 0)], nodes.height[tf.maximum(right, 0)]
        ),
    )
    values = (
        stack.label[top],
        tf.where(leaf, -1, left),
        tf.where(leaf, -1, right),
        stack.word[top],
        height,
    )
    nodes = _Nodes(*(_set(field, count, value) for field, value in zip(nodes, values)))
    parent = tf.maximum(depth - 2, 0)
    has_parent = depth > 1
    children = stack.children[parent]
    stack = stack._replace(
        children=_set(
            stack.children, parent, tf.where(has_parent, children + 1, children)
        ),
        left=_set(
            stack.left,
            parent,
            tf.where(has_parent & (children == 0), count, stack.left[parent]),
        ),
        right=_set(
            stack.right,
            parent,
            tf.where(has_parent & (children == 1), count, stack.right[parent]),
        ),
    )
    return stack, nodes, ~has_parent


def _message(error, error_at, extra, tokens, text, num_classes):
    """The `parse_tree` error message of an error code, as a string tensor."""
    at = tf.strings.as_string(error_at)
    extra = tf.strings.as_string(extra)
    # The token that starts at the error's position (a label or a word).
    token = tf.boolean_mask(tokens.strings, tokens.positions == error_at)
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
