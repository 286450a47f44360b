"""A translation export, loaded in a fresh process, agrees with the recipe's decoder."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from garden.data import WordTokenizer, build_translation_vocabularies
from garden.export.translation import (
    MAX_OUTPUT_LENGTH,
    Translator,
    export_translation_model,
)
from garden.models.seq2seq import build_seq2seq
from tests.export.replay import assert_requests_replay
from tests.export.test_language_model import run_in_fresh_process

PAIRS = [
    ("Go.", "Va !"),
    ("I am cold.", "J'ai froid."),
    ("We are cold.", "Nous avons froid."),
    ("I am here.", "Je suis ici."),
]
# Empty input, 300 words, unknown words and characters, an ordinary sentence.
SENTENCES = ["", "cold " * 300, "Zürich ☃ xyzzy!", "I am cold."]
# TF Serving's warmup batch.
EXAMPLES = ["I am cold.", "We are here.", "Zürich ☃ xyzzy!"]


def build_export(tmp_path_factory):
    """The export the tests of this module read (shared, see conftest.py)."""
    keras.utils.set_random_seed(5)
    tokenizer = WordTokenizer("translation")
    vocabularies = build_translation_vocabularies(PAIRS, tokenizer, min_freq=1)
    models = build_seq2seq(
        len(vocabularies[0]), len(vocabularies[1]), units=8, embedding_dim=6
    )
    rng = np.random.default_rng(0)
    for weight in models.training.weights:
        weight.assign(rng.normal(scale=0.7, size=weight.shape))
    root = tmp_path_factory.mktemp("exports")
    path = export_translation_model(
        models,
        tokenizer,
        *vocabularies,
        str(root),
        "translation",
        examples=EXAMPLES,
        example_beam_width=3,
    )
    return Translator(models, tokenizer, vocabularies, 1.0), path


@pytest.fixture
def exported(translation_export):
    return translation_export


def test_fresh_process_agrees_on_bad_input(exported):
    translator, path = exported
    got = run_in_fresh_process(
        f"""
        import json, tensorflow as tf
        serve = tf.saved_model.load({path!r}).signatures["serving_default"]
        out, text = {{}}, tf.constant({SENTENCES!r})
        for width in (1, 3):
            result = serve(text=text, beam_width=tf.constant(width))
            out[width] = {{
                "translation": [t.decode() for t in result["translation"].numpy()],
                "length": result["length"].numpy().tolist(),
            }}
        print(json.dumps(out))
        """
    )
    for width in (1, 3):
        served = got[str(width)]
        # The recipe closes the space before "," and "."; the export does not.
        want = translator(SENTENCES, width)
        assert [
            t.replace(" .", ".").replace(" ,", ",") for t in served["translation"]
        ] == want
        assert all(0 <= n <= MAX_OUTPUT_LENGTH for n in served["length"])
        assert [len(t.split()) for t in served["translation"]] == served["length"]


def test_saved_model_cli_runs(exported, tmp_path):
    _, path = exported
    np.save(tmp_path / "beam_width.npy", np.int32(2))
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run(
        [cli, "run", "--dir", path, "--tag_set", "serve"]
        + ["--signature_def", "serving_default"]
        + ["--input_exprs", "text=['I am cold.', '']"]
        + ["--inputs", f"beam_width={tmp_path / 'beam_width.npy'}"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "translation" in result.stdout and "length" in result.stdout


def test_warmup_and_rest_requests_replay(exported):
    translator, path = exported
    requests = assert_requests_replay(
        path, "translation", [("serving_default", {"text": EXAMPLES, "beam_width": 3})]
    )
    assert requests[0][1]["beam_width"].tolist() == 3
    assert [text.decode() for text in requests[0][1]["text"]] == EXAMPLES


def test_warmup_settings_are_checked(exported, tmp_path):
    translator, _ = exported
    for argument, value in (
        ("examples", ["fine", b"bytes"]),
        ("example_beam_width", 0),
        ("example_beam_width", 17),
        ("example_beam_width", True),
    ):
        settings = {"examples": EXAMPLES, argument: value}
        with pytest.raises(ValueError, match=f"argument `{argument}`"):
            export_translation_model(
                translator.models,
                translator.tokenizer,
                translator.source_vocabulary,
                translator.target_vocabulary,
                str(tmp_path),
                "translation",
                **settings,
            )
    assert not os.path.exists(tmp_path / "translation")
