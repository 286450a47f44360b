"""The SST recipe end to end on a few trees, small and fast."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from garden import data
from garden.models.bilm import build_bilm
from recipes import sst as recipe
from tests.training.test_plots import logged_images, picture

pytestmark = pytest.mark.skipif(
    not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
)
SMALL = [
    "--max-train-trees", "40", "--max-test-trees", "20", "--epochs", "1",
    "--units", "8", "--batch-size", "10", "--verbose", "0",
]  # fmt: skip


def scores_of(output):
    lines = output.split("\nTest (", 1)[1].splitlines()
    return {
        line.split(":")[0].strip(): float(line.split(":")[1].split()[0])
        for line in lines[1:4]
    }


def test_treernn_reports_exports_and_its_checkpoint_evaluates_alike(tmp_path, capsys):
    flags = [*SMALL, "--model", "treernn", "--embeddings", "random"]
    recipe.main([*flags, "--run-dir", str(tmp_path / "run")])
    output = capsys.readouterr().out
    assert "train 40, dev 40, test 20 trees" in output
    assert "Test (20 sentences" in output
    scores = scores_of(output)
    assert set(scores) == {
        "root fine-grained accuracy", "root binary accuracy", "all-node accuracy"
    }  # fmt: skip
    assert all(0.0 <= value <= 1.0 for value in scores.values())
    recipe.main(
        [*flags, "--run-dir", str(tmp_path / "again")]
        + ["--evaluate", str(tmp_path / "run" / "best.keras")]
        + ["--export", str(tmp_path / "exports")]
    )
    output = capsys.readouterr().out
    assert scores_of(output) == scores
    assert os.path.isdir(tmp_path / "exports" / "sst" / "1")
    # The evaluation too draws the test roots, fine-grained and binary.
    for name in ("confusion_root", "confusion_root_binary"):
        picture(tmp_path / "again" / f"{name}.png", panels=1)
    assert set(logged_images(tmp_path / "again" / "logs" / "plots")) == {
        "confusion_root",
        "confusion_root_binary",
    }


def test_bilstm_on_glove_phrases(tmp_path, capsys):
    recipe.main([*SMALL, "--model", "bilstm", "--run-dir", str(tmp_path / "run")])
    output = capsys.readouterr().out
    assert "GloVe 6B 50d covers" in output and "model bilstm" in output
    assert 0.0 <= scores_of(output)["all-node accuracy"] <= 1.0
    assert os.path.exists(tmp_path / "run" / "best.keras")


def test_glove_fixes_the_embedding_width():
    with pytest.raises(SystemExit):
        recipe.parse_args(["--embedding-dim", "100"])
    args = recipe.parse_args(["--embeddings", "random", "--units", "30"])
    assert args.embedding_dim == 30 and args.model == "treelstm"


WORDS = ["the", "film", "is", "good", "not", "bad", "(", ")", ".", ",", "a"]


def tiny_bilm(path):
    """An untrained biLM with a few words: the recipe's wiring, fast."""
    build_bilm(["<pad>", "<unk>", "<bos>", "<eos>", *WORDS], 4, 6).save(path)
    return str(path)


def test_bilstm_with_bilm_features_serves_raw_sentences(tmp_path, capsys):
    bilm = tiny_bilm(tmp_path / "bilm.keras")
    # Seed 2 samples training trees with brackets, `n't`, `'s` and `` in them.
    flags = [*SMALL, "--seed", "2"]
    recipe.main(
        [*flags, "--model", "bilstm", "--bilm", bilm]
        + ["--run-dir", str(tmp_path / "run"), "--export", str(tmp_path / "exports")]
    )
    output = capsys.readouterr().out
    assert "The biLM's vocabulary covers" in output
    assert 0.0 <= scores_of(output)["root fine-grained accuracy"] <= 1.0
    path = tmp_path / "exports" / "sst" / "1"
    model = keras.saving.load_model(f"{path}.keras")
    trees = recipe.load_trees(recipe.parse_args(flags))["train"]
    vocabulary = data.build_tree_vocabulary(trees)
    sentence = "The film is n't good -LRB- not bad -RRB- ."
    ids = np.array([[vocabulary[w.lower()] for w in sentence.split()]], "int32")
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    got = served(sentence=tf.constant([sentence]))["probabilities"].numpy()
    np.testing.assert_allclose(got, np.asarray(model(ids)), atol=1e-5)
    bilm_ids = np.asarray(model.get_layer("elmo_bilm").id_map)
    # PTB's brackets and clitics reach the biLM as its own words.
    aliases = {"-lrb-": "(", "-rrb-": ")", "n't": "not", "'s": "is"}
    assert {w: WORDS[bilm_ids[vocabulary[w]] - 4] for w in aliases} == aliases


def test_bilm_flag_errors_name_the_flag(tmp_path, capsys):
    with pytest.raises(SystemExit):
        recipe.parse_args(["--model", "bilstm", "--bilm", str(tmp_path / "no.keras")])
    assert "argument --bilm: expected a biLM" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        recipe.parse_args(
            ["--model", "treelstm", "--bilm", tiny_bilm(tmp_path / "b.keras")]
        )
    assert "argument --bilm: only for --model bilstm" in capsys.readouterr().err


def test_size_flags_draw_a_seeded_sample_across_sentiments():
    args = recipe.parse_args([*SMALL, "--seed", "4"])
    trees = recipe.load_trees(args)
    assert [len(trees[split]) for split in ("train", "dev", "test")] == [40, 40, 20]
    # The files run from positive to negative reviews: the sample is drawn
    # from the whole file, not its start.
    lines = data.load_sst("train")
    second_half = {data.parse_tree(line) for line in lines[len(lines) // 2 :]}
    assert 5 < len(second_half.intersection(trees["train"])) < 35
    again = recipe.load_trees(recipe.parse_args([*SMALL, "--seed", "4"]))
    assert again["train"] == trees["train"]
    other = recipe.load_trees(recipe.parse_args([*SMALL, "--seed", "5"]))
    assert other["train"] != trees["train"]
