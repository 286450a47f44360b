"""A language model export, loaded in a fresh process, agrees with Keras."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from garden.data import Vocabulary, WordTokenizer
from garden.decoding import generate
from garden.export import export_language_model, next_version
from garden.models.language_model import (
    build_language_model,
    generation_model,
    zero_states,
)
from tests.export.replay import assert_requests_replay

TEXT = "the time traveller was expounding a recondite matter to us " * 3
# TF Serving's warmup prompts (greedy, so a replay gives the same text).
EXAMPLES = ["The Time Traveller", "was expounding a recondite matter", "zebra"]
WARMUP = dict(examples=EXAMPLES, example_max_length=5, example_temperature=0.0)


def small_generator(**config):
    """An untrained word-level generator over TEXT, its tokenizer and vocabulary."""
    tokenizer = WordTokenizer("letters_only")
    vocabulary = Vocabulary([tokenizer.tokenize(TEXT)])
    config = dict(vocab_size=len(vocabulary), **config)
    trained = build_language_model(**config)
    return generation_model(config, trained.get_weights()), tokenizer, vocabulary


def build_export(tmp_path_factory):
    """The export the tests of this module read (shared, see conftest.py)."""
    keras.utils.set_random_seed(7)
    generator, tokenizer, vocabulary = small_generator(
        units=12, num_layers=2, embedding_dim=8
    )
    root = tmp_path_factory.mktemp("exports")
    first = export_language_model(
        generator, tokenizer, vocabulary, str(root), "lm", separator=" ", **WARMUP
    )
    second = export_language_model(
        generator, tokenizer, vocabulary, str(root), "lm", separator=" ", **WARMUP
    )
    return generator, tokenizer, vocabulary, root, first, second


@pytest.fixture
def exported(language_model_export):
    return language_model_export


def run_in_fresh_process(code):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def keras_greedy(generator, tokenizer, vocabulary, prompt, length):
    ids = np.array([vocabulary.encode(tokenizer.tokenize(prompt))], "int32")

    def step(token_ids, states):
        logits, *states = generator([token_ids, *states])
        return logits, states

    out, _ = generate(step, ids, zero_states(generator, 1), length, temperature=0.0)
    return " ".join(vocabulary.decode(np.asarray(out)[0]))


def keras_mean_nll(generator, tokenizer, vocabulary, text):
    ids = vocabulary.encode(tokenizer.tokenize(text))
    inputs = keras.ops.convert_to_tensor([ids], "int32")
    logits = np.asarray(generator([inputs, *zero_states(generator, 1)])[0])[0]
    shifted = logits - logits.max(-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    picked = log_p[np.arange(len(ids) - 1), ids[1:]]
    return float(-picked.mean()), len(ids) - 1


def test_versions_increase_and_keras_file_sits_beside(exported):
    *_, root, first, second = exported
    assert os.path.basename(first) == "1" and os.path.basename(second) == "2"
    assert next_version(str(root), "lm") == 3
    assert os.path.exists(f"{second}.keras")
    assert sorted(os.listdir(root / "lm")) == ["1", "1.keras", "2", "2.keras"]


def test_fresh_process_agrees_with_keras(exported):
    generator, tokenizer, vocabulary, _, path, _ = exported
    got = run_in_fresh_process(
        f"""
        import json, keras, numpy as np, tensorflow as tf
        import garden
        # The .keras file beside the version: raw text in, logits out.
        text_model = keras.saving.load_model({path!r} + ".keras")
        logits = text_model.predict(
            np.array(["the time traveller was here"], dtype=object), verbose=0
        )
        model = tf.saved_model.load({path!r})
        serve, score = model.signatures["serving_default"], model.signatures["score"]
        prompts = tf.constant(
            ["The time traveller", "", "zebra", "\u00e9t\u00e9 \U0001f600"]
        )
        six = tf.constant(6)
        greedy = serve(prompt=prompts, max_length=six,
                       temperature=tf.constant(0.0))["generated_text"]
        cold = serve(prompt=prompts, max_length=six,
                     temperature=tf.constant(-2.0))["generated_text"]
        long = serve(prompt=prompts[:1], max_length=tf.constant(10**6),
                     temperature=tf.constant(1.0))["generated_text"]
        none = serve(prompt=prompts[:1], max_length=tf.constant(-3),
                     temperature=tf.constant(1.0))["generated_text"]
        scored = score(text=tf.constant(["the time traveller was here", "", "a"]))
        print(json.dumps({{
            "greedy": [t.decode() for t in greedy.numpy()],
            "cold": [t.decode() for t in cold.numpy()],
            "long": len(long.numpy()[0].decode().split()),
            "none": none.numpy()[0].decode(),
            "nll": scored["mean_nll"].numpy().tolist(),
            "count": scored["token_count"].numpy().tolist(),
            "keras_file": logits.tolist(),
        }}))
        """
    )
    want = keras_greedy(generator, tokenizer, vocabulary, "The time traveller", 6)
    assert got["greedy"][0] == want and len(want.split()) == 6
    assert got["greedy"][1] == ""  # an empty prompt gives an empty text
    assert len(got["greedy"][2].split()) == 6  # unknown word -> <unk>, still runs
    assert len(got["greedy"][3].split()) == 6  # characters outside the vocabulary
    assert got["cold"] == got["greedy"]  # temperature <= 0 is greedy
    assert got["long"] == 1000 and got["none"] == ""
    nll, count = keras_mean_nll(
        generator, tokenizer, vocabulary, "the time traveller was here"
    )
    assert got["count"] == [count, 0, 0]
    np.testing.assert_allclose(got["nll"][0], nll, rtol=1e-4)
    assert got["nll"][1:] == [0.0, 0.0]
    ids = vocabulary.encode(tokenizer.tokenize("the time traveller was here"))
    inputs = keras.ops.convert_to_tensor([ids], "int32")
    want_logits = generator([inputs, *zero_states(generator, 1)])[0]
    np.testing.assert_allclose(got["keras_file"], want_logits, rtol=1e-4, atol=1e-5)


def test_saved_model_cli_runs_both_signatures(exported, tmp_path):
    *_, path, _ = exported
    np.save(tmp_path / "max_length.npy", np.int32(4))
    np.save(tmp_path / "temperature.npy", np.float32(0.7))
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for signature, arguments, output in (
        (
            "serving_default",
            [
                "--input_exprs",
                "prompt=['the time', 'we']",
                "--inputs",
                f"max_length={tmp_path / 'max_length.npy'};"
                f"temperature={tmp_path / 'temperature.npy'}",
            ],
            "generated_text",
        ),
        ("score", ["--input_exprs", "text=['the time traveller']"], "mean_nll"),
    ):
        result = subprocess.run(
            [cli, "run", "--dir", path, "--tag_set", "serve"]
            + ["--signature_def", signature, *arguments],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert output in result.stdout


def test_warmup_and_rest_requests_replay_both_signatures(exported):
    *_, first, second = exported
    examples = [
        (
            "serving_default",
            {"prompt": EXAMPLES, "max_length": 5, "temperature": 0.0},
        ),
        ("score", {"text": EXAMPLES}),
    ]
    requests = assert_requests_replay(second, "lm", examples)
    assert requests[0][1]["max_length"].shape == ()  # a scalar, as the signature
    assert requests[0][1]["temperature"].dtype == np.float32


def test_warmup_settings_are_checked(exported, tmp_path):
    generator, tokenizer, vocabulary, *_ = exported
    for argument, value in (
        ("examples", "the time"),
        ("example_max_length", -1),
        ("example_max_length", 1001),
        ("example_max_length", 2.5),
        ("example_temperature", "hot"),
        ("example_temperature", float("nan")),
    ):
        settings = {**WARMUP, argument: value}
        with pytest.raises(ValueError, match=f"argument `{argument}`"):
            export_language_model(
                generator, tokenizer, vocabulary, str(tmp_path), "lm", " ", **settings
            )
    assert not os.path.exists(tmp_path / "lm")
