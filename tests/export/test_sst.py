"""SST exports: a tree string in, the root's probabilities out, in a fresh process."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from garden import data
from garden.data.sst_batches import encode_phrases
from garden.export.sst import export_sst_model
from garden.models.tree import build_sst_model, predict_nodes, predict_phrases
from tests.data.test_trees import EDGE_CASES, MALFORMED
from tests.export.replay import assert_requests_replay
from tests.export.test_language_model import run_in_fresh_process

TRAIN = [
    "(3 (2 The) (4 (3 Rock) (2 rules)))",
    "(0 (1 (2 an) (0 awful)) (2 film))",
    "(1 (2 (2 a) (2 (2 dull) (2 ,))) (1 (2 boring) (1 film)))",
]
# The format's edge cases, served: unseen and upper-case words, and a NUL
# inside a word (a word unlike "Rock").
SERVED = EDGE_CASES
BAD = MALFORMED


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
