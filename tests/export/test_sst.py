"""SST exports: a tree string in, the root's probabilities out, in a fresh process."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from garden import data
from garden.data.sst_batches import encode_phrases
from garden.export.sst import export_sst_model, parse_tree_graph
from garden.models.tree import build_sst_model, predict_nodes, predict_phrases
from tests.export.replay import assert_requests_replay
from tests.export.test_language_model import run_in_fresh_process

TRAIN = [
    "(3 (2 The) (4 (3 Rock) (2 rules)))",
    "(0 (1 (2 an) (0 awful)) (2 film))",
    "(1 (2 (2 a) (2 (2 dull) (2 ,))) (1 (2 boring) (1 film)))",
]
# A one-word tree, unseen and upper-case words, a no-break space inside a
# word, a NUL inside a word (a word unlike "Rock").
SERVED = TRAIN[:2] + [
    "(4 Great)",
    "(2 (2 Très) (2 (2 8\xa01\\/2) (2 ÉMOUVANT)))",
    "(1 (2 (2 A) (2 (2 dull) (2 ,))) (1 (2 boring) (1 film)))",
    "(3 (2 The) (4 (3 Rock\x00s) (2 rules)))",
]
# Malformed trees and the start of the error each parser gives.
BAD = {
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
    "(2 a b)": "more than one word or mixes words and subtrees (word at position 5)",
    "(2 a (2 b))": "mixes a word and a subtree (subtree at position 5)",
    "(2 a) (2 b)": "Unexpected text after the root at position 6",
    "a": "Expected '(' at position 0, got 'a'",
}  # fmt: skip


def build_export(tmp_path_factory):
    """The export the tests of this module read (shared, see conftest.py)."""
    keras.utils.set_random_seed(5)
    trees = [data.parse_tree(text) for text in TRAIN]
    vocabulary = data.build_tree_vocabulary(trees)
    root = tmp_path_factory.mktemp("exports")
    models, paths = {}, {}
    for kind in ("treelstm", "bilstm"):
        models[kind] = build_sst_model(
            kind, vocab_size=len(vocabulary), units=4, embedding_dim=3
        )
        paths[kind] = export_sst_model(
            models[kind], vocabulary, str(root), kind, examples=SERVED[:3]
        )
    return vocabulary, models, paths


@pytest.fixture
def exported(sst_export):
    return sst_export


def test_graph_parser_agrees_with_parse_tree():
    parse = tf.function(
        parse_tree_graph, input_signature=[tf.TensorSpec([], tf.string)]
    )
    for text in SERVED:
        words, *arrays = (a.numpy().tolist() for a in parse(tf.constant(text)))
        tree = data.parse_tree(text)
        assert [w.decode() or None for w in words] == list(tree.words)
        want = [tree.labels, tree.left_children, tree.right_children, tree.node_heights]
        assert arrays == [list(a) for a in want]
    for text, message in BAD.items():
        with pytest.raises(
            ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
        ):
            data.parse_tree(text)


def test_graph_parser_agrees_on_real_trees():
    if not os.environ.get("GARDEN_DATA"):
        pytest.skip("needs the Sentiment Treebank in $GARDEN_DATA")
    parse = tf.function(
        parse_tree_graph, input_signature=[tf.TensorSpec([], tf.string)]
    )
    for text in data.load_sst("dev")[:100]:
        tree = data.parse_tree(text)
        words, labels, left, right, heights = parse(tf.constant(text))
        assert [w.decode() or None for w in words.numpy()] == list(tree.words)
        assert heights.numpy().tolist() == list(tree.node_heights)
        assert left.numpy().tolist() == list(tree.left_children)
        assert right.numpy().tolist() == list(tree.right_children)
        assert labels.numpy().tolist() == list(tree.labels)


def test_fresh_process_serves_root_probabilities_and_clear_errors(exported):
    vocabulary, models, paths = exported
    sentences = [" ".join(data.parse_tree(text).leaves) for text in SERVED] + [""]
    got = run_in_fresh_process(
        f"""
        import json, tensorflow as tf
        def serving(path):
            return tf.saved_model.load(path).signatures["serving_default"]

        def probabilities(outputs):
            return outputs["probabilities"].numpy().tolist()

        trees = serving({paths["treelstm"]!r})
        words = serving({paths["bilstm"]!r})
        out = {{
            "tree": probabilities(trees(tree=tf.constant({SERVED!r}))),
            "alone": probabilities(trees(tree=tf.constant({SERVED[2:3]!r}))),
            "sentence": probabilities(words(sentence=tf.constant({sentences!r}))),
            "errors": [],
        }}
        for text in {list(BAD)!r}:
            try:
                trees(tree=tf.constant(["(2 fine)", text]))
                out["errors"].append("no error")
            except tf.errors.InvalidArgumentError as error:
                out["errors"].append(error.message)
        print(json.dumps(out))
        """
    )  # fmt: skip
    trees = [data.parse_tree(text) for text in SERVED]
    want = np.stack(
        [p[-1] for p in predict_nodes(models["treelstm"], trees, vocabulary)]
    )
    np.testing.assert_allclose(got["tree"], want, atol=1e-6)
    np.testing.assert_allclose(got["alone"], want[2:3], atol=1e-6)
    ids, _ = encode_phrases(trees, vocabulary, roots_only=True)
    sentence = predict_phrases(models["bilstm"], ids)
    np.testing.assert_allclose(got["sentence"][:-1], sentence, atol=1e-6)
    # A sentence with no words still gets a distribution.
    assert sum(got["sentence"][-1]) == pytest.approx(1.0, abs=1e-5)
    for (text, message), error in zip(BAD.items(), got["errors"]):
        assert message in error.replace("\\'", "'"), (text, error[:300])


def test_layout_and_saved_model_cli(exported):
    *_, paths = exported
    assert os.path.basename(paths["treelstm"]) == "1"
    assert os.path.exists(paths["treelstm"] + ".keras")
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run(
        [cli, "run", "--dir", paths["treelstm"], "--tag_set", "serve"]
        + ["--signature_def", "serving_default"]
        + ["--input_exprs", "tree=['(3 (2 The) (4 (3 Rock) (2 rules)))']"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "probabilities" in result.stdout and "label" in result.stdout


def test_warmup_and_rest_requests_replay(exported):
    _, _, paths = exported
    assert_requests_replay(
        paths["treelstm"], "treelstm", [("serving_default", {"tree": SERVED[:3]})]
    )
    # The BiLSTM is warmed up with the same trees' sentences.
    sentences = ["The Rock rules", "an awful film", "Great"]
    assert_requests_replay(
        paths["bilstm"], "bilstm", [("serving_default", {"sentence": sentences})]
    )


def test_examples_must_be_trees(exported, tmp_path):
    vocabulary, models, _ = exported
    for examples, message in (
        (["(2 fine)", "(3 (2 a) (2 b)"], "is never closed"),
        ("(2 fine)", "non-empty list of strings"),
    ):
        with pytest.raises(ValueError, match=f"argument `examples`.*{message}"):
            export_sst_model(
                models["treelstm"], vocabulary, str(tmp_path), "sst", examples=examples
            )
    assert not os.path.exists(tmp_path / "sst")
