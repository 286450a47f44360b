"""SST trees: both parsers, errors with positions, batched post-order arrays."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from garden import data
from garden.data.trees import parse_tree_graph

EXAMPLE = "(3 (2 The) (4 (3 Rock) (2 rules)))"
# Trees the two parsers must read alike: a one-word tree, upper-case and
# accented words, a no-break space inside a word, a NUL inside a word.
EDGE_CASES = [
    EXAMPLE,
    "(0 (1 (2 an) (0 awful)) (2 film))",
    "(4 Great)",
    "(2 (2 Très) (2 (2 8\xa01\\/2) (2 ÉMOUVANT)))",
    "(1 (2 (2 A) (2 (2 dull) (2 ,))) (1 (2 boring) (1 film)))",
    "(3 (2 The) (4 (3 Rock\x00s) (2 rules)))",
]
# Malformed trees and the start of the error each parser gives.
MALFORMED = {
    "(3 (2 a) (2 b)": "Unbalanced brackets: '(' at position 0 is never closed",
    "(3 (2 a) (2 b)))": "Unbalanced brackets: ')' at position 15 closes nothing",
    "(3 (2 a) (2 b) (2 c))": "position 0, got a non-binary node with 3 children",
    "(3 (2 a))": "node at position 0, got a non-binary node with 1 children",
    "(3 )": "node at position 0, got an empty node with 0 children",
    "": "Empty tree at position 0",
    "  ": "Empty tree at position 0",
    "( (2 a) (2 b))": "Expected a label after '(' at position 0",
    "(2 (7 a) (2 b))": "Label out of range at position 4: expected 0 to 4, got 7",
    "(2 (-1 a) (2 b))": "Label out of range at position 4: expected 0 to 4, got -1",
    "(x a)": "Expected an integer label at position 1, got 'x'",
    # Arabic-Indic three: a digit to Python's `\d`, not a label to either reading.
    "(\u0663 a)": "Expected an integer label at position 1, got '\u0663'",
    "(2 a b)": "more than one word or mixes words and subtrees (word at position 5)",
    "(2 a (2 b))": "mixes a word and a subtree (subtree at position 5)",
    "(2 a) (2 b)": "Unexpected text after the root at position 6",
    "a": "Expected '(' at position 0, got 'a'",
}  # fmt: skip


def test_post_order_arrays_of_a_small_tree():
    tree = data.parse_tree(EXAMPLE)
    assert tree.labels == (2, 3, 2, 4, 3)
    assert tree.left_children == (-1, -1, -1, 1, 0)
    assert tree.right_children == (-1, -1, -1, 2, 3)
    assert tree.node_heights == (0, 0, 0, 1, 2)
    assert tree.words == ("The", "Rock", "rules", None, None)
    assert tree.root_label == 3 and tree.num_nodes == 5


@pytest.mark.parametrize(
    "text, message",
    [
        ("(3 (2 a) (2 b)", "Unbalanced brackets: '(' at position 0"),
        ("(3 (2 a) (2 b)))", "Unbalanced brackets: ')' at position 15"),
        ("(3 (2 a) (2 b) (2 c))", "two children for the node at position 0"),
        ("(3 (2 a))", "got a non-binary node with 1 children"),
        ("(3 )", "got an empty node with 0 children"),
        ("", "Empty tree at position 0"),
        ("( (2 a) (2 b))", "Expected a label after '(' at position 0"),
        ("(2 (7 a) (2 b))", "Label out of range at position 4"),
        ("(x a)", "Expected an integer label at position 1"),
        (
            "(2 a b)",
            "more than one word or mixes words and subtrees (word at position 5)",
        ),
        ("(2 a) (2 b)", "Unexpected text after the root at position 6"),
        ("(2 (2 a) (2 b)) c", "Unexpected text after the root at position 16"),
    ],
)
def test_parse_errors_name_the_position(text, message):
    with pytest.raises(
        ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        data.parse_tree(text)


def graph_parser():
    return tf.function(parse_tree_graph, input_signature=[tf.TensorSpec([], tf.string)])


def test_graph_parser_agrees_with_parse_tree():
    parse = graph_parser()
    for text in EDGE_CASES:
        words, *arrays = (a.numpy().tolist() for a in parse(tf.constant(text)))
        tree = data.parse_tree(text)
        assert [w.decode() or None for w in words] == list(tree.words)
        want = [tree.labels, tree.left_children, tree.right_children, tree.node_heights]
        assert arrays == [list(a) for a in want]
    for text, message in MALFORMED.items():
        with pytest.raises(
            ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
        ):
            data.parse_tree(text)
        with pytest.raises(tf.errors.InvalidArgumentError) as error:
            parse(tf.constant(text))
        assert message in error.value.message.replace("\\'", "'"), text


def test_graph_parser_agrees_on_real_trees(data_dir):
    parse = graph_parser()
    for text in data.load_sst("dev")[:100]:
        tree = data.parse_tree(text)
        words, labels, left, right, heights = parse(tf.constant(text))
        assert [w.decode() or None for w in words.numpy()] == list(tree.words)
        assert heights.numpy().tolist() == list(tree.node_heights)
        assert left.numpy().tolist() == list(tree.left_children)
        assert right.numpy().tolist() == list(tree.right_children)
        assert labels.numpy().tolist() == list(tree.labels)


def subtree_sizes(batch):
    """Leaves under each node, computed batch-wise with one loop over positions."""
    left, right, mask = (
        batch["left_children"],
        batch["right_children"],
        batch["node_mask"],
    )
    rows = np.arange(left.shape[0])
    sizes = np.zeros(left.shape, dtype=int)
    for i in range(left.shape[1]):  # children come first, so they are ready
        is_leaf = left[:, i] < 0
        combined = sizes[rows, left[:, i]] + sizes[rows, right[:, i]]
        sizes[:, i] = np.where(mask[:, i], np.where(is_leaf, 1, combined), 0)
    return sizes


def test_batched_arrays_are_consumable_without_a_loop_per_node():
    texts = [EXAMPLE, "(1 (0 awful) (2 .))", "(2 fine)"]
    trees = [data.parse_tree(text) for text in texts]
    vocabulary = data.build_tree_vocabulary(trees)
    batch = data.encode_trees(trees, vocabulary)
    assert batch["word_ids"].shape == (3, 5)
    assert batch["num_nodes"].tolist() == [5, 3, 1]
    assert batch["node_mask"].sum(axis=1).tolist() == [5, 3, 1]
    assert (batch["left_children"][~batch["node_mask"]] == -1).all()
    assert (batch["word_ids"][0] != 0).tolist() == [True, True, True, False, False]
    assert vocabulary.decode(batch["word_ids"][1][:2]) == ["awful", "."]
    roots = batch["num_nodes"] - 1
    sizes = subtree_sizes(batch)
    assert sizes[np.arange(3), roots].tolist() == [len(t.leaves) for t in trees]


def test_real_sst_counts_and_root_labels(data_dir):
    counts = {}
    for split, expected in (("train", 8_544), ("dev", 1_101), ("test", 2_210)):
        trees = [data.parse_tree(line) for line in data.load_sst(split)]
        assert len(trees) == expected
        counts[split] = collections.Counter(tree.root_label for tree in trees)
        for tree in trees[:300]:
            parents = np.arange(tree.num_nodes)
            internal = np.asarray(tree.left_children) >= 0
            assert (np.asarray(tree.left_children)[internal] < parents[internal]).all()
            assert (np.asarray(tree.right_children)[internal] < parents[internal]).all()
            assert len(tree.leaves) == (tree.num_nodes + 1) // 2
    assert [counts["train"][label] for label in range(5)] == [
        1092,
        2218,
        1624,
        2322,
        1288,
    ]
    assert [counts["test"][label] for label in range(5)] == [279, 633, 389, 510, 399]
    assert sum(n for label, n in counts["test"].items() if label != 2) == 1_821


def test_tree_dataset_batches_real_trees(data_dir):
    trees = [data.parse_tree(line) for line in data.load_sst("dev")]
    vocabulary = data.build_tree_vocabulary(trees)
    dataset = data.tree_dataset(trees, vocabulary, batch_size=16, seed=0)
    seen = 0
    for inputs, labels in dataset:
        max_nodes = int(inputs["num_nodes"].numpy().max())
        assert labels.shape == inputs["word_ids"].shape == (labels.shape[0], max_nodes)
        assert inputs["node_mask"].numpy().sum() == inputs["num_nodes"].numpy().sum()
        seen += labels.shape[0]
    assert seen == 1_101
