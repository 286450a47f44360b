"""A classifier export, loaded in a fresh process, agrees with Keras on raw text."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from garden.data import Vocabulary, WordTokenizer, encode_texts
from garden.export import export_classifier, next_version
from garden.models.classifiers import build_classifier, predict_probabilities
from tests.export.replay import assert_requests_replay
from tests.export.test_language_model import run_in_fresh_process

CORPUS = [
    "A wonderful film, moving and funny.<br /><br />I loved every minute.",
    "Terrible plot, wooden acting; a boring, awful film.",
    "The best movie of the year! Great cast and a great story.",
]
# An empty review, 3,600 words (19,800 characters: just within the served
# limit), non-ASCII text, an ordinary review, and one with a NUL (the words
# after it count too).
REVIEWS = [
    "",
    "great film " * 1_800,
    "Très émouvant 😀 ニース <br />ΤΈΛΟΣ",
    "A boring film.<br /><br />The acting was awful!",
    "Wonderful\x00 but boring, terrible and awful.",
]
# TF Serving's warmup batch: ordinary reviews, HTML and non-ASCII text.
EXAMPLES = [CORPUS[0], REVIEWS[2], REVIEWS[3]]
CONFIGS = {
    "birnn": dict(units=6, embedding_dim=5),
    "textcnn": dict(embedding_dim=5, filters=4, multichannel=True),
}


def build_export(tmp_path_factory):
    """The export the tests of this module read (shared, see conftest.py)."""
    keras.utils.set_random_seed(3)
    tokenizer = WordTokenizer("review")
    vocabulary = Vocabulary(tokenizer.tokenize(text) for text in CORPUS)
    root = tmp_path_factory.mktemp("exports")
    models, paths = {}, {}
    for kind, config in CONFIGS.items():
        model = build_classifier(kind, vocab_size=len(vocabulary), **config)
        models[kind] = model
        paths[kind] = export_classifier(
            model, tokenizer, vocabulary, str(root), kind, examples=EXAMPLES
        )
    return tokenizer, vocabulary, root, models, paths


@pytest.fixture
def exported(classifier_export):
    return classifier_export


def test_layout_and_keras_file_beside(exported):
    *_, root, _, paths = exported
    assert os.path.basename(paths["birnn"]) == "1"
    assert next_version(str(root), "birnn") == 2
    assert sorted(os.listdir(root / "textcnn")) == ["1", "1.keras"]


def test_fresh_process_agrees_with_keras_on_bad_input(exported):
    tokenizer, vocabulary, _, models, paths = exported
    got = run_in_fresh_process(
        f"""
        import json, keras, numpy as np, tensorflow as tf
        import garden
        reviews = tf.constant({REVIEWS!r})
        out = {{}}
        for kind, path in {paths!r}.items():
            serve = tf.saved_model.load(path).signatures["serving_default"]
            batch = serve(text=reviews)
            one = serve(text=reviews[:1])
            # The .keras file beside the version takes the same raw text.
            text_model = keras.saving.load_model(path + ".keras")
            texts = np.array({REVIEWS!r}, dtype=object)
            out[kind] = {{
                "probability": batch["probability"].numpy().tolist(),
                "label": [label.decode() for label in batch["label"].numpy()],
                "empty_alone": one["probability"].numpy().tolist(),
                "keras_file": text_model.predict(texts, verbose=0).ravel().tolist(),
            }}
        print(json.dumps(out))
        """
    )
    ids = encode_texts(REVIEWS, tokenizer, vocabulary)
    assert len(ids[1]) == 3_600 and len(ids[0]) == 0
    for kind, model in models.items():
        want = predict_probabilities(model, ids, max_length=500)
        served = got[kind]
        np.testing.assert_allclose(served["probability"], want, rtol=1e-5, atol=1e-6)
        assert served["label"] == [
            "positive" if p >= 0.5 else "negative" for p in served["probability"]
        ]
        np.testing.assert_allclose(served["empty_alone"], want[:1], atol=1e-6)
        np.testing.assert_allclose(served["keras_file"], want, rtol=1e-5, atol=1e-6)


def test_saved_model_cli_runs(exported):
    *_, paths = exported
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run(
        [cli, "run", "--dir", paths["birnn"], "--tag_set", "serve"]
        + ["--signature_def", "serving_default"]
        + ["--input_exprs", "text=['A great film.<br />Loved it!', '']"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "probability" in result.stdout and "label" in result.stdout


def test_warmup_and_rest_requests_replay(exported):
    *_, paths = exported
    for kind, path in paths.items():
        assert_requests_replay(path, kind, [("serving_default", {"text": EXAMPLES})])


def test_examples_must_be_a_list_of_texts(exported, tmp_path):
    tokenizer, vocabulary, _, models, _ = exported
    for examples in ("one review", [], ["a", 3], None):
        with pytest.raises(ValueError, match="argument `examples`"):
            export_classifier(
                models["birnn"],
                tokenizer,
                vocabulary,
                str(tmp_path),
                "birnn",
                examples=examples,
            )
    assert not os.path.exists(tmp_path / "birnn")


def test_exports_trace_the_cells_loops_not_the_fused_kernel(tmp_path, monkeypatch):
    from keras.src import backend as keras_backend

    calls = []

    def fused(*args, **kwargs):  # a backend offering cuDNN would take this path
        calls.append(kwargs)
        raise NotImplementedError

    monkeypatch.setattr(keras_backend, "lstm", fused)
    monkeypatch.setattr(keras_backend, "gru", fused)
    tokenizer = WordTokenizer("review")
    vocabulary = Vocabulary(tokenizer.tokenize(text) for text in CORPUS)
    model = build_classifier("birnn", vocab_size=len(vocabulary), **CONFIGS["birnn"])
    model(np.ones((1, 4), "int32"))
    assert calls, "the layers would take the fused path outside the export"
    calls.clear()
    export_classifier(
        model, tokenizer, vocabulary, str(tmp_path), "fused", examples=EXAMPLES
    )
    assert not calls
