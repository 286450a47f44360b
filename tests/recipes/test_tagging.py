"""The punctuation recipe end to end on a slice of IMDb, small and fast."""

import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes import tagging as recipe
from tests.recipes.conftest import fix_search_space, without
from tests.training.test_plots import picture

pytestmark = pytest.mark.skipif(
    not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
)
SMALL = [
    "--max-train-examples", "60", "--validation-size", "20",
    "--max-test-examples", "20", "--epochs", "1", "--verbose", "0",
    "--units", "8", "--embedding-dim", "8", "--num-layers", "1", "--window", "50",
]  # fmt: skip
# No words at all, 2,400 words (19,200 characters: just within the served
# limit), and unseen, non-ASCII words.
BAD_INPUT = ["", "?!", "so good " * 1_200, "Très émouvant 😀 zzyzx"]


def punctuated_lines(output):
    lines = output.split("\nPunctuated:\n", 1)[1].splitlines()
    return [line.split(" -> ", 1)[1] for line in lines if " -> " in line]


def test_search_retrain_report_punctuate_and_export(tmp_path, capsys, monkeypatch):
    fix_search_space(monkeypatch, recipe, cell="lstm", units=8, num_layers=1)
    recipe.main(
        [
            *without(SMALL, "--units", "--num-layers"), "--unidirectional",
            "--tune", "--tuner", "random", "--max-trials", "1",
            "--tune-dir", str(tmp_path / "search"), "--run-dir", str(tmp_path / "run"),
            "--export", str(tmp_path / "exports"),
            *[flag for text in BAD_INPUT for flag in ("--punctuate", text)],
        ]
    )  # fmt: skip
    output = capsys.readouterr().out
    assert "train 40, valid 20, test 20 reviews" in output
    assert "unidirectional layers (cell searched)" in output
    assert "cell: lstm" in output  # the trial's, pinned above
    trials = os.listdir(tmp_path / "search" / "tagger_unidirectional")
    assert len([name for name in trials if name.startswith("trial_")]) == 1
    assert os.path.exists(tmp_path / "run" / "best.keras")
    picture(tmp_path / "run" / "confusion.png", panels=1)  # the marks and none
    picture(tmp_path / "run" / "learning_curves.png", panels=2)  # loss, mark_f1
    table = re.findall(
        r"^\| (\w[\w ()]*) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", output, re.M
    )
    assert [row[0] for row in table] == [
        "comma",
        "period",
        "question",
        "overall (micro)",
    ]
    assert all(0.0 <= float(value) <= 100.0 for row in table for value in row[1:])
    shown = [eval(line) for line in punctuated_lines(output)]  # the printed repr
    assert shown[:2] == ["", ""] and len(shown[2].split()) == 2_400
    assert re.sub("[,.?]", "", shown[3]) == "très émouvant 😀 zzyzx"
    served = tf.saved_model.load(str(tmp_path / "exports" / "tagging" / "1"))
    got = served.signatures["serving_default"](text=tf.constant(BAD_INPUT))
    assert [text.decode() for text in got["punctuated"].numpy()] == shown
    # The offsets chosen on validation are in the exported output bias.
    chosen = re.search(
        r"Mark offsets chosen on validation: comma (\S+), period (\S+), "
        r"question (\S+) \(validation F1 ([\d.]+) -> ([\d.]+)\)",
        output,
    )
    assert float(chosen[5]) >= float(chosen[4])
    trained = keras.saving.load_model(tmp_path / "run" / "best.keras")
    exported = keras.saving.load_model(tmp_path / "exports" / "tagging" / "1.keras")
    bias = [
        np.asarray(trained.get_layer("logits").bias),
        np.asarray(exported.get_layer("tagger").get_layer("logits").bias),
    ]
    offsets = [0.0, *map(float, chosen.groups()[:3])]
    assert any(offsets)  # the 1-epoch model marks too few words
    np.testing.assert_allclose(bias[1] - bias[0], offsets, atol=0.051)


def test_the_attention_tagger_serves_what_it_prints(tmp_path, capsys):
    texts = ["what a film i loved it", "so good " * 30]
    recipe.main(
        [
            *SMALL, "--attention-units", "4", "--run-dir", str(tmp_path / "run"),
            "--export", str(tmp_path / "exports"),
            *[flag for text in texts for flag in ("--punctuate", text)],
        ]
    )  # fmt: skip
    shown = [eval(line) for line in punctuated_lines(capsys.readouterr().out)]
    exported = keras.saving.load_model(tmp_path / "exports" / "tagging" / "1.keras")
    assert exported.get_layer("tagger").get_layer("attention").units == 4
    served = tf.saved_model.load(str(tmp_path / "exports" / "tagging" / "1"))
    got = served.signatures["serving_default"](text=tf.constant(texts))
    assert [text.decode() for text in got["punctuated"].numpy()] == shown


def test_stride_defaults_to_half_the_window():
    assert recipe.parse_args(SMALL).stride == 25
    assert recipe.parse_args([*SMALL, "--window", "9"]).stride == 4
    assert recipe.parse_args([*SMALL, "--stride", "50"]).stride == 50


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--validation-size", "60"], "--validation-size"),
        (["--cell", "transformer"], "--cell"),
        (["--window", "0"], "--window"),
        (["--stride", "0"], "--stride"),
        (["--stride", "51"], "--stride: 51 is longer than --window 50"),
        (["--dropout", "1.0"], "--dropout"),
        (["--attention-units", "-1"], "--attention-units"),
        (["--attention-units", "8", "--unidirectional"], "not with --unidirectional"),
        (["--embeddings", "glove"], "the glove vectors have 50"),
        (["--embeddings", "word2vec"], "--embeddings"),
        (["--ema", "1.5"], "--ema"),
        (["--ema", "0.99", "--tune"], "--ema: not with --tune"),
    ],
)
def test_bad_flags_fail_clearly(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.parse_args([*SMALL, *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("embeddings", ["glove", "random"])
def test_glove_starts_the_embedding(embeddings, tmp_path, capsys):
    from garden.data.embeddings import load_glove_embeddings

    at = SMALL.index("--embedding-dim")  # left to its default
    flags = [*SMALL[:at], *SMALL[at + 2 :], "--embeddings", embeddings]
    recipe.main([*flags, "--run-dir", str(tmp_path / "run")])
    assert ("GloVe 6B 50d covers" in capsys.readouterr().out) == (embeddings == "glove")
    model = keras.saving.load_model(tmp_path / "run" / "best.keras")
    trained = next(w for w in model.weights if "embeddings" in w.path).numpy()
    # The recipe's vocabulary and GloVe rows for it (words without a vector
    # drawn with the same seed).
    args = recipe.parse_args(flags)
    tokenizer = recipe.punctuation.tokenizer()
    vocabulary = recipe.data.Vocabulary(
        (tokenizer.tokenize(t) for t in recipe.load_splits(args)["train"]),
        min_freq=args.min_freq,
    )
    glove = load_glove_embeddings(vocabulary, seed=args.seed).matrix
    width = 50 if embeddings == "glove" else 100
    assert trained.shape == (len(vocabulary), width)
    # Training moves each weight by its steps times the learning rate at
    # most (about 0.1 here); GloVe's and Keras's random weights are further
    # apart (4.4 at most).
    moved = np.abs(trained[:, :50] - glove).max()
    assert (moved < 0.25) == (embeddings == "glove")
