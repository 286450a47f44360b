"""Every signature of every export answers the same hostile inputs well.

Each input either gets a well-formed answer (the batch's rows, the right
dtypes, finite numbers, distributions that sum to 1), the same as the Python
path where there is one, in bounded time; or a clear `InvalidArgumentError`
that names the limit of `garden.export.limits` it is past. The exports are
the small random-weight ones of the other modules here, loaded in-process.
"""

import re
import time

import numpy as np
import pytest
import tensorflow as tf

from garden import data
from garden.data import encode_texts
from garden.data import punctuation as P
from garden.export.limits import (
    MAX_BATCH_SIZE,
    MAX_BATCH_TOKENS,
    MAX_PROMPT_TOKENS,
    MAX_REQUEST_CHARACTERS,
    MAX_TEXT_LENGTH,
    MAX_TREE_CHARACTERS,
    MAX_TREE_DEPTH,
)
from garden.models.classifiers import predict_probabilities
from garden.models.tagger import predict_labels
from garden.models.tree import predict_nodes
from tests.export.test_language_model import keras_mean_nll
from tests.export.test_tagger import STRIDE, WINDOW

BATTERY = {
    "empty batch": [],
    "empty string": [""],
    "whitespace only": [" \t\n\u3000 "],
    "NUL inside": ["Great\x00 but boring, terrible and awful"],
    "invalid UTF-8": [b"a \xff\xfe film \xc3"],
    "emoji": ["😀 great film 👍🏽"],
    "100,000 characters": ["film " * 20_000],
    "1,000 texts": ["the time traveller was here"] * 1_000,
}
# Every answer, or clear refusal, comes within this (seconds). A guard against
# work that grows without bound (a 100,000-character prompt once took 41 s),
# not a speed test: the small models here answer in well under a second when
# the machine is idle, and a loaded machine must not fail the test.
SECONDS = 20.0


def python_text(text):
    """A request's text as the Python path reads it (bytes decoded as the graph)."""
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def as_tree(text):
    """An SST tree of `text`'s words, each a leaf, branching to the right."""
    words = [w for w in re.split("[ \t\r\n]+", python_text(text)) if w]
    if not words:
        return text
    tree = f"(2 {words[-1]})"
    for word in reversed(words[:-1]):
        tree = f"(2 (2 {word}) {tree})"
    return tree


@pytest.fixture(scope="module")
def served(
    classifier_export,
    language_model_export,
    translation_export,
    tagger_export,
    sst_export,
    word_vectors_export,
):
    """`{name: (call, python)}`: call(texts) -> outputs; python(texts) -> the
    outputs the Python path gives for the same texts, or None where there is
    no Python path to compare with."""
    tokenizer, vocabulary, _, models, paths = classifier_export
    services = {}

    def signature(path, name="serving_default"):
        return tf.saved_model.load(path).signatures[name]

    def strings(texts):
        return tf.constant(texts, tf.string, shape=[len(texts)])

    for kind in ("birnn", "textcnn"):
        serve = signature(paths[kind])

        def classify(texts, model=models[kind]):
            ids = encode_texts([python_text(t) for t in texts], tokenizer, vocabulary)
            return {"probability": predict_probabilities(model, ids, max_length=500)}

        services[f"sentiment {kind}"] = (
            lambda t, s=serve: s(text=strings(t)),
            classify,
        )

    generator, lm_tokenizer, lm_vocabulary, _, path, _ = language_model_export
    model = tf.saved_model.load(path)
    generate, score = model.signatures["serving_default"], model.signatures["score"]

    def mean_nll(texts):
        out = [
            keras_mean_nll(generator, lm_tokenizer, lm_vocabulary, python_text(t))
            # Fewer than two tokens score nothing: the served answer is 0, 0.
            if len(lm_tokenizer.tokenize(python_text(t))) > 1
            else (0.0, 0)
            for t in texts
        ]
        return {
            "mean_nll": [nll for nll, _ in out],
            "token_count": [count for _, count in out],
        }

    services["language model"] = (
        lambda t: generate(
            prompt=strings(t), max_length=tf.constant(4), temperature=tf.constant(0.0)
        ),
        None,
    )
    services["language model score"] = (lambda t: score(text=strings(t)), mean_nll)

    translator, path = translation_export
    translate = signature(path)

    def translations(texts):
        # One at a time: a batch's longest source caps every output's length.
        want = [translator([python_text(t)], 3)[0] for t in texts]
        return {"translation": want}

    def translate_closed(texts):
        outputs = translate(text=strings(texts), beam_width=tf.constant(3))
        # The recipe closes the space before "," and "."; the export does not.
        closed = tf.strings.regex_replace(outputs["translation"], " ([,.])", r"\1")
        return {**outputs, "translation": closed}

    services["translation"] = (translate_closed, translations)

    tag_tokenizer, tag_vocabulary, tagger, _, path = tagger_export
    punctuate = signature(path)

    def punctuated(texts):
        words = [tag_tokenizer.tokenize(python_text(t)) for t in texts]
        labels = predict_labels(
            tagger, [tag_vocabulary.encode(w) for w in words], WINDOW, stride=STRIDE
        )
        return {
            "punctuated": [P.restore_punctuation(w, y) for w, y in zip(words, labels)]
        }

    services["tagging"] = (lambda t: punctuate(text=strings(t)), punctuated)

    sst_vocabulary, sst_models, sst_paths = sst_export
    trees = signature(sst_paths["treelstm"])

    def root_probabilities(texts):
        parsed = [data.parse_tree(python_text(t)) for t in texts]
        nodes = predict_nodes(sst_models["treelstm"], parsed, sst_vocabulary)
        return {"probabilities": np.reshape([p[-1] for p in nodes], (-1, 5))}

    services["sst tree raw"] = (lambda t: trees(tree=strings(t)), None)
    services["sst tree"] = (
        lambda t: trees(tree=strings([as_tree(x) for x in t])),
        lambda t: root_probabilities([as_tree(x) for x in t]),
    )
    sentences = signature(sst_paths["bilstm"])
    services["sst sentence"] = (lambda t: sentences(sentence=strings(t)), None)

    vectors, path = word_vectors_export
    look_up = signature(path)

    def vector_of(word):
        try:
            return vectors.vector(python_text(word).lower())
        except KeyError:  # no n-grams: the export's zeros
            return np.zeros(vectors.dim, np.float32)

    services["word vectors"] = (
        lambda t: look_up(word=strings(t)),
        lambda t: {"vector": np.reshape([vector_of(w) for w in t], (-1, vectors.dim))},
    )
    return services


SERVICES = [
    "sentiment birnn",
    "sentiment textcnn",
    "language model",
    "language model score",
    "translation",
    "tagging",
    "sst tree",
    "sst sentence",
    "word vectors",
]
# The limits an input of the battery is past, by service; any other refusal fails.
REFUSED = {
    ("sst tree", "empty string"): "Empty tree",
    **{(name, "100,000 characters"): "MAX_TEXT_LENGTH" for name in SERVICES},
    ("sst tree", "1,000 texts"): "MAX_TREE_CHARACTERS",
}


def assert_well_formed(outputs, rows, case):
    for name, value in outputs.items():
        value = value.numpy()
        assert value.shape[:1] == (rows,), (case, name)
        if value.dtype.kind == "f":
            assert np.isfinite(value).all(), (case, name)
    for name in ("probability", "probabilities"):
        if name in outputs:
            p = outputs[name].numpy()
            assert ((p >= 0) & (p <= 1)).all(), case
            if p.ndim == 2:
                np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5, err_msg=case)
    if "label" in outputs and outputs["label"].dtype == tf.int32:
        p = outputs["probabilities"].numpy()
        assert outputs["label"].numpy().tolist() == p.argmax(-1).tolist(), case


def assert_agrees(got, want, context):
    if isinstance(got, bytes):
        assert got.decode() == want, context
    else:
        np.testing.assert_allclose(
            got, want, rtol=1e-4, atol=1e-5, err_msg=str(context)
        )


@pytest.mark.parametrize("service", SERVICES)
def test_every_signature_answers_the_battery(served, service):
    call, python = served[service]
    compared = []
    for case, texts in BATTERY.items():
        start = time.perf_counter()
        refusal = REFUSED.get((service, case))
        if refusal:
            with pytest.raises(tf.errors.InvalidArgumentError, match=refusal):
                call(texts)
        else:
            outputs = call(texts)
        assert time.perf_counter() - start < SECONDS, case
        if not refusal:
            assert_well_formed(outputs, len(texts), case)
            if texts:
                # One row of a uniform batch is enough to compare.
                compared.append((case, texts[0], outputs))
    if python is not None:
        # One call of the Python path for every case: it traces per shape.
        want = python([text for _, text, _ in compared])
        for row, (case, _, outputs) in enumerate(compared):
            for name, value in want.items():
                assert_agrees(outputs[name][0].numpy(), value[row], (case, name))


def test_the_limits_name_themselves_and_pass_at_the_limit(served):
    """Just within each limit answers; one past it fails, naming the limit."""
    classify, _ = served["sentiment birnn"]
    at = ["a" * MAX_TEXT_LENGTH] + ["b"] * (MAX_BATCH_SIZE - 1)
    assert classify(at)["probability"].shape == (MAX_BATCH_SIZE,)
    full = MAX_REQUEST_CHARACTERS // MAX_TEXT_LENGTH
    assert classify(["a" * MAX_TEXT_LENGTH] * full)["label"].shape == (full,)
    for past, value in (
        (at + ["c"], f"Received {MAX_BATCH_SIZE + 1} texts"),
        (["é" * (MAX_TEXT_LENGTH + 1)], f"{MAX_TEXT_LENGTH + 1} characters"),
        (["a" * MAX_TEXT_LENGTH] * full + ["b"], "MAX_REQUEST_CHARACTERS"),
    ):
        with pytest.raises(tf.errors.InvalidArgumentError, match=value):
            classify(past)

    score, _ = served["language model score"]
    at = ["a " * MAX_PROMPT_TOKENS]
    assert score(at)["token_count"].numpy().tolist() == [MAX_PROMPT_TOKENS - 1]
    with pytest.raises(tf.errors.InvalidArgumentError, match="MAX_PROMPT_TOKENS"):
        score(["a " * (MAX_PROMPT_TOKENS + 1)])
    texts = MAX_BATCH_TOKENS // 100
    assert score(["a " * 100] * texts)["mean_nll"].shape == (texts,)
    with pytest.raises(tf.errors.InvalidArgumentError, match="MAX_BATCH_TOKENS"):
        score(["a " * 100] * (texts + 1))

    tree, _ = served["sst tree raw"]
    deep = "(2 " * MAX_TREE_DEPTH + "(2 a)" + " (2 b))" * MAX_TREE_DEPTH
    assert tree([deep])["label"].shape == (1,)
    with pytest.raises(tf.errors.InvalidArgumentError, match="MAX_TREE_DEPTH"):
        tree(["(2 " + deep + " (2 c))"])
    many = MAX_TREE_CHARACTERS // len(deep) + 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="MAX_TREE_CHARACTERS"):
        tree([deep] * many)
