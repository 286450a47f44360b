"""The translation recipe end to end on a slice of fra-eng, small and fast."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from garden import data
from garden.export.translation import detokenize
from recipes import translation as recipe
from tests.recipes.conftest import fix_search_space, without
from tests.training.test_plots import logged_images, picture

pytestmark = pytest.mark.skipif(
    not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
)
SMALL = [
    "--max-train-pairs", "400", "--validation-size", "60", "--test-size", "40",
    "--epochs", "1", "--units", "16", "--embedding-dim", "8", "--num-layers", "1",
    "--batch-size", "32", "--verbose", "0",
]  # fmt: skip
# Empty input, 300 words, unknown words and characters.
BAD_INPUT = ["", "hello " * 300, "Zürich ☃ xyzzy!"]


def test_split_is_by_sentence_seeded_and_complete():
    pairs = data.load_english_french()[:3000]
    splits = recipe.split_pairs(pairs, 200, 100, seed=0)
    assert splits == recipe.split_pairs(pairs, 200, 100, seed=0)
    assert splits != recipe.split_pairs(pairs, 200, 100, seed=1)
    sources = {name: {s for s, _ in split} for name, split in splits.items()}
    assert not sources["test"] & sources["train"]
    assert not sources["valid"] & (sources["train"] | sources["test"])
    assert len(splits["test"]) >= 200 and len(splits["valid"]) >= 100
    assert sorted(sum(splits.values(), [])) == sorted(pairs)
    with pytest.raises(ValueError, match="No training pairs"):
        recipe.split_pairs(pairs, 2000, 1000, seed=0)


def assert_attention_replays_greedy(translator, texts, maps):
    """Each map is the attention of the greedy translation, row by row."""
    source_vocabulary = translator.source_vocabulary
    target_vocabulary = translator.target_vocabulary
    for greedy, (weights, source, target) in zip(translator(texts, 1), maps):
        assert weights.shape == (len(target), len(source))
        np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
        words = [token for token in target if token != "<eos>"]
        assert detokenize(words) == greedy
        # Fed its own output after <bos>, alone (unpadded), the decoder
        # predicts it again: each row is a step of the translation, unshifted.
        ids = target_vocabulary.encode(target)
        read = np.array([[target_vocabulary.bos_id, *ids[:-1]]])
        source_ids = np.array([source_vocabulary.encode(source)])
        logits = translator.models.training((source_ids, read)).numpy()[0]
        logits[:, [0, target_vocabulary.bos_id]] = -np.inf  # never generated
        assert logits.argmax(-1).tolist() == ids
        alone = translator.models.alignment((source_ids, read))[0]
        np.testing.assert_allclose(alone, weights, rtol=1e-5, atol=1e-6)


def test_trains_scores_translates_bad_input_and_exports(tmp_path, capsys, monkeypatch):
    drawn = []
    attention = recipe.Translator.attention

    def recorded_attention(translator, texts):
        drawn.append((translator, texts, attention(translator, texts)))
        return drawn[-1][-1]

    monkeypatch.setattr(recipe.Translator, "attention", recorded_attention)
    recipe.main(
        [*SMALL, "--run-dir", str(tmp_path / "run"), "--beam-width", "3"]
        + ["--export", str(tmp_path / "exports")]
        + [flag for text in BAD_INPUT for flag in ("--translate", text)]
    )
    output = capsys.readouterr().out
    assert "Test BLEU, greedy:" in output and "Test BLEU, beam 3:" in output
    assert "nrefs:1|case:lc" in output
    rows = (tmp_path / "run" / "translations.tsv").read_text().splitlines()
    assert rows[0] == "source\treference\tgreedy\tbeam"
    scored = re.search(r"Test BLEU, greedy: [0-9.]+ \((\d+) pairs", output)
    assert len(rows) - 1 == int(scored.group(1)) >= 40
    shown = output.split("\nTranslations:\n", 1)[1].splitlines()[: len(BAD_INPUT)]
    cli = [line.split(" -> ", 1)[1][1:-1] for line in shown]
    assert len(cli) == 3 and all(len(text.split()) <= 200 for text in cli)
    picture(tmp_path / "run" / "learning_curves.png", panels=2)  # loss, perplexity
    picture(tmp_path / "run" / "attention.png", panels=3)  # three test sentences
    ((translator, texts, maps),) = drawn
    assert len(texts) == 3
    assert_attention_replays_greedy(translator, texts, maps)
    assert set(logged_images(tmp_path / "run" / "logs" / "plots")) == {
        "learning_curves",
        "attention",
    }
    served = tf.saved_model.load(str(tmp_path / "exports" / "translation" / "1"))
    got = served.signatures["serving_default"](
        text=tf.constant(BAD_INPUT), beam_width=tf.constant(3)
    )
    translations = [t.decode() for t in got["translation"].numpy()]
    assert [detokenize(t.split()) for t in translations] == cli
    # The checkpoint rebuilds its own architecture: other model flags (which
    # once failed with a shape traceback, then were ignored) are refused, and
    # its training command scores it again.
    scored = ["--evaluate", str(tmp_path / "run" / "best.keras"), "--beam-width", "3"]
    with pytest.raises(SystemExit):
        recipe.parse_args([*without(SMALL, "--units"), "--units", "24", *scored])
    assert "argument --units: 24, but the checkpoint" in capsys.readouterr().err
    recipe.main([*SMALL, "--run-dir", str(tmp_path / "again"), *scored])
    again = capsys.readouterr().out
    # The same scores; the lines also say how many seconds decoding took.
    scores = r"Test BLEU, ([^:]+): ([0-9.]+)"
    assert re.findall(scores, again) == re.findall(scores, output)
    assert {p.name for p in (tmp_path / "again").glob("*.png")} == {"attention.png"}
    assert np.all(got["length"].numpy() <= 200)


def test_tuning_searches_then_retrains(tmp_path, capsys, monkeypatch):
    fix_search_space(monkeypatch, recipe, units=16, embedding_dim=8, num_layers=1)
    recipe.main(
        [*without(SMALL, "--units", "--embedding-dim", "--num-layers")]
        + ["--tune", "--tuner", "random", "--max-trials", "1"]
        + ["--tune-dir", str(tmp_path / "search"), "--run-dir", str(tmp_path / "run")]
    )
    output = capsys.readouterr().out
    trials = os.listdir(tmp_path / "search" / "seq2seq_attention")
    assert any(name.startswith("trial_") for name in trials)
    assert "Test BLEU, beam 4:" in output


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--beam-width", "0"], "--beam-width"),
        (
            ["--beam-width", "1", "--length-penalty", "0.6"],
            "--length-penalty: applies only with --beam-width 2",
        ),
        (["--beam-width", "17"], "--beam-width"),
        (["--max-length", "1"], "--max-length"),
        (["--cell", "transformer"], "--cell"),
        (["--dropout", "1.5"], "--dropout"),
    ],
)
def test_bad_flags_fail_clearly(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.parse_args([*SMALL, *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
