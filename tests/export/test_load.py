"""`garden.load` opens every export and answers as its signatures do."""

import os

import numpy as np
import pytest
import tensorflow as tf

import garden
from garden.export import load as load_module
from tests.export.test_language_model import run_in_fresh_process

TEXTS = ["A wonderful film, moving and funny.", "", "Terrible\x00 acting."]


def direct(model, name="serving_default", **inputs):
    """The outputs of the signature itself, as TF Serving would run it."""
    signature = model.signatures[name]
    return {key: value.numpy() for key, value in signature(**inputs).items()}


def strings(texts):
    return tf.constant(texts, tf.string)


def test_each_export_opens_as_its_task(
    classifier_export,
    language_model_export,
    translation_export,
    tagger_export,
    sst_export,
    word_vectors_export,
):
    *_, paths = classifier_export
    model = garden.load(paths["birnn"])
    assert isinstance(model, load_module.ServedClassifier)
    got = model(TEXTS)
    want = direct(model, text=strings(TEXTS))
    np.testing.assert_array_equal(got["probability"], want["probability"])
    assert list(got["label"]) == [label.decode() for label in want["label"]]

    *_, path, _ = language_model_export
    model = garden.load(path)
    assert isinstance(model, load_module.ServedLanguageModel)
    want = direct(
        model,
        prompt=strings(TEXTS[:1]),
        max_length=tf.constant(5),
        temperature=tf.constant(0.0),
    )
    assert model.generate(TEXTS[:1], max_length=5) == [
        text.decode() for text in want["generated_text"]
    ]
    scores = model.score(TEXTS)
    want = direct(model, "score", text=strings(TEXTS))
    np.testing.assert_array_equal(scores["mean_nll"], want["mean_nll"])
    np.testing.assert_allclose(scores["perplexity"], np.exp(want["mean_nll"]))

    _, path = translation_export
    model = garden.load(path)
    want = direct(model, text=strings(TEXTS), beam_width=tf.constant(3))
    assert model.translate(TEXTS, beam_width=3) == [
        text.decode() for text in want["translation"]
    ]

    *_, path = tagger_export
    model = garden.load(path)
    want = direct(model, text=strings(TEXTS))
    assert model.punctuate(TEXTS) == [text.decode() for text in want["punctuated"]]

    _, _, paths = sst_export
    tree = "(3 (2 a) (4 (3 wonderful) (2 film)))"
    for kind, text in [("treelstm", tree), ("bilstm", "a wonderful film")]:
        model = garden.load(paths[kind])
        assert isinstance(model, load_module.ServedTreeClassifier)
        name = "tree" if kind == "treelstm" else "sentence"
        want = direct(model, **{name: strings([text])})
        np.testing.assert_array_equal(
            model([text])["probabilities"], want["probabilities"]
        )

    _, path = word_vectors_export
    model = garden.load(path)
    want = direct(model, word=strings(["film", "films"]))
    np.testing.assert_array_equal(model.vector("films"), want["vector"][1])


def test_a_model_directory_opens_its_latest_version(classifier_export, tmp_path):
    *_, root, _, paths = classifier_export
    model = garden.load(os.path.join(root, "birnn"))
    assert model.path == os.path.normpath(paths["birnn"])
    assert model.card is None  # exported outside a recipe's run: no record
    with pytest.raises(ValueError, match="expected a garden export"):
        garden.load(str(tmp_path))
    with pytest.raises(TypeError, match="expected a list of strings"):
        model("one text")


def test_import_garden_then_load_in_a_fresh_process(classifier_export):
    *_, paths = classifier_export
    got = run_in_fresh_process(
        f"""
        import json, garden
        model = garden.load({paths["birnn"]!r})
        out = model({TEXTS!r})
        print(json.dumps([out["probability"].tolist(), list(out["label"])]))
        """
    )
    want = direct(garden.load(paths["birnn"]), text=strings(TEXTS))
    np.testing.assert_allclose(got[0], want["probability"], rtol=1e-6)
    assert got[1] == [label.decode() for label in want["label"]]
