"""Export of a Sentiment Treebank model: a bracketed tree (or a sentence) in.

The tree models take SST's own format, `(3 (2 The) (3 (3 Rock) (2 rules)))`,
parsed inside the graph with the same rules, and the same error messages, as
`garden.data.parse_tree`; the BiLSTM takes a plain tokenized sentence. Both
return the 5-way class probabilities of the whole sentence (the root).
"""

import tensorflow as tf

from garden.data.sst_batches import TREE_INPUTS
from garden.data.tokenizers import lower_graph
from garden.data.trees import NUM_SENTIMENT_CLASSES, parse_tree
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
    """`garden.data.parse_tree` for one string tensor, in the graph.

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
    ragged = tf.RaggedTensorSpec([None], tf.int32, ragged_rank=0)

    def parse(text):
        words, *arrays = parse_tree_graph(text)
        ids = tf.where(
            words != "",
            tf.cast(lookup(lower_graph(words)), tf.int32),
            0,
        )
        return (ids, *arrays)

    def serve(tree):
        tree = limited_texts(tree, "tree")
        characters = tf.reduce_sum(tf.strings.length(tree, unit="UTF8_CHAR"))
        tree = within_limits(
            tree,
            (
                characters,
                MAX_TREE_CHARACTERS,
                "Received {} characters in input `tree`, expected at most "
                f"MAX_TREE_CHARACTERS = {MAX_TREE_CHARACTERS} per request.",
            ),
        )
        ids, _, left, right, heights = tf.map_fn(
            parse, tree, fn_output_signature=(ragged,) * 5
        )
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
        inputs = {
            "word_ids": ids.to_tensor(0),
            "left_children": left.to_tensor(-1),
            "right_children": right.to_tensor(-1),
            "node_heights": heights.to_tensor(-1),
        }
        num_nodes = ids.row_lengths()
        inputs["node_mask"] = tf.sequence_mask(
            num_nodes, tf.shape(inputs["word_ids"])[1]
        )
        nodes = model({name: inputs[name] for name in TREE_INPUTS}, training=False)
        roots = tf.cast(tf.maximum(num_nodes - 1, 0), tf.int32)
        probabilities = tf.gather(nodes, roots, batch_dims=1)
        label = tf.cast(tf.argmax(probabilities, axis=-1), tf.int32)
        return {"probabilities": probabilities, "label": label}

    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec([None], tf.string, name="tree")],
    )
    return archive


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
