"""A tagger export, loaded in a fresh process, punctuates raw text as Keras does."""

import os
import re

import keras
import numpy as np
import pytest

from garden.data import Vocabulary
from garden.data import punctuation as P
from garden.export import next_version
from garden.export.tagger import export_tagger
from garden.models.tagger import build_tagger, predict_labels
from tests.export.replay import assert_requests_replay
from tests.export.test_language_model import run_in_fresh_process

CORPUS = [
    "Is it a good film? Yes, a very good film.",
    "I loved it; the cast was great, the story too!",
]
# Empty text, 3,800 words (just within the served limit), unseen and
# non-ASCII words, punctuation the model must ignore, HTML, and text that is
# only marks.
TEXTS = [
    "",
    "good film " * 1_900,
    "Très émouvant 😀 zzyzx film",
    "is it good? yes, it is.<br /><br />I LOVED it",
    "?!...",
    "the cast was great the story too",
]
EXAMPLES = [CORPUS[0], TEXTS[2], TEXTS[5]]
WINDOW = 7
# Windows start every 3 words; each word is labelled by the one it is most
# central in (`window_plan`), in the graph as in `predict_labels`.
STRIDE = 3


def build_export(tmp_path_factory):
    """The export the tests of this module read (shared, see conftest.py)."""
    keras.utils.set_random_seed(5)
    tokenizer = P.tokenizer()
    vocabulary = Vocabulary(tokenizer.tokenize(text) for text in CORPUS)
    model = build_tagger(len(vocabulary), 4, units=6, embedding_dim=5)
    root = tmp_path_factory.mktemp("exports")
    path = export_tagger(
        model,
        tokenizer,
        vocabulary,
        str(root),
        "tagging",
        WINDOW,
        STRIDE,
        examples=EXAMPLES,
    )
    return tokenizer, vocabulary, model, root, path


@pytest.fixture
def exported(tagger_export):
    return tagger_export


def test_layout_and_keras_file_beside(exported):
    *_, root, path = exported
    assert os.path.basename(path) == "1" and next_version(str(root), "tagging") == 2
    assert sorted(os.listdir(root / "tagging")) == ["1", "1.keras"]


def test_fresh_process_agrees_with_keras_on_any_text(exported):
    tokenizer, vocabulary, model, _, path = exported
    got = run_in_fresh_process(
        f"""
        import json, keras, numpy as np, tensorflow as tf
        import garden
        serve = tf.saved_model.load({path!r}).signatures["serving_default"]
        # The .keras file beside the version tags raw text as one window.
        text_model = keras.saving.load_model({path!r} + ".keras")
        logits = text_model.predict(np.array({TEXTS[2:4]!r}, dtype=object), verbose=0)
        batch = serve(text=tf.constant({TEXTS!r}))
        empty = serve(text=tf.constant(["", "?!"]))
        text = lambda values: [v.decode() for v in values]
        print(json.dumps({{
            "punctuated": text(batch["punctuated"].numpy()),
            "words": [text(row) for row in batch["words"].numpy()],
            "labels": [text(row) for row in batch["labels"].numpy()],
        }} | {{
            "empty": [v.decode() for v in empty["punctuated"].numpy()],
            "empty_shape": empty["words"].shape.as_list(),
            "keras_file": logits.tolist(),
        }}))
        """
    )
    words = [tokenizer.tokenize(text) for text in TEXTS]
    assert [len(w) for w in words] == [0, 3_800, 5, 9, 0, 7]
    ids = [vocabulary.encode(w) for w in words]
    labels = predict_labels(model, ids, WINDOW, stride=STRIDE)
    # The stride matters to these labels: consecutive windows give others.
    consecutive = predict_labels(model, ids, WINDOW)
    assert not all(np.array_equal(a, b) for a, b in zip(labels, consecutive))
    want = [P.restore_punctuation(w, y) for w, y in zip(words, labels)]
    assert got["punctuated"] == want
    assert got["punctuated"][0] == "" and got["punctuated"][4] == ""
    # Punctuation given is dropped first; every word comes back, lower-cased.
    assert re.sub("[,.?]", "", want[3]) == "is it good yes it is i loved it"
    # Random weights, yet several labels in play: the comparison means something.
    assert len(set(np.concatenate(labels).tolist())) >= 3
    for row, w, y in zip(range(len(TEXTS)), words, labels):
        assert got["words"][row] == w + [""] * (3_800 - len(w))
        names = [P.PUNCTUATION_LABELS[label] for label in y]
        assert got["labels"][row] == names + [""] * (3_800 - len(w))
    assert got["empty"] == ["", ""] and got["empty_shape"] == [2, 0]
    ids = keras.utils.pad_sequences(
        [vocabulary.encode(w) for w in words[2:4]], padding="post"
    )
    want_logits = model.predict(ids, verbose=0)
    np.testing.assert_allclose(got["keras_file"], want_logits, rtol=1e-5, atol=1e-5)


def test_warmup_and_rest_requests_replay(exported):
    *_, path = exported
    assert_requests_replay(path, "tagging", [("serving_default", {"text": EXAMPLES})])


@pytest.mark.parametrize(
    "stride, examples, message",
    [
        (None, "one text", "argument `examples`"),
        (None, [], "argument `examples`"),
        (None, [None], "argument `examples`"),
        (0, EXAMPLES, "`stride`"),
        (WINDOW + 1, EXAMPLES, "`stride`"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    exported, tmp_path, stride, examples, message
):
    tokenizer, vocabulary, model, _, _ = exported
    with pytest.raises(ValueError, match=message):
        export_tagger(
            model,
            tokenizer,
            vocabulary,
            str(tmp_path),
            "tagging",
            WINDOW,
            stride,
            examples=examples,
        )
    assert not os.path.exists(tmp_path / "tagging")
