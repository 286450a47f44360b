"""The tagger learns a punctuation rule (with its backward half) and ignores padding."""

import keras
import numpy as np
import pytest

from garden.data import Vocabulary
from garden.data import punctuation as P
from garden.models.tagger import (
    build_tagger,
    compile_tagger,
    float32_tagger,
    predict_labels,
)
from garden.training.tagging_metrics import tagging_scores

QUESTION_STARTS = ["what", "who", "why"]
STATEMENT_STARTS = ["the", "a", "my"]
FILLERS = ["cat", "dog", "runs", "sees", "big", "old", "red", "fast"]


def sentence(rng):
    """A question starts with a question word; "Well" always takes a comma.

    A sentence has 1 to 4 filler words, so its last word is known only by
    the next word (a start word): a left-to-right tagger cannot place the
    end marks, a bidirectional one can, and must remember the start word
    to choose between "?" and ".".
    """
    question = rng.random() < 0.4
    words = [rng.choice(QUESTION_STARTS if question else STATEMENT_STARTS)]
    words += list(rng.choice(FILLERS, rng.integers(1, 5)))
    text = " ".join(words) + ("?" if question else ".")
    return "Well, " + text if rng.random() < 0.3 else text


def corpus(size, seed):
    rng = np.random.default_rng(seed)
    return [
        " ".join(sentence(rng) for _ in range(rng.integers(2, 6))) for _ in range(size)
    ]


def learned_scores(bidirectional, attention_units=0):
    keras.utils.set_random_seed(1)
    train, test = corpus(300, seed=0), corpus(50, seed=1)
    vocabulary = Vocabulary(P.tokenizer().tokenize(text) for text in train)
    model = build_tagger(
        len(vocabulary),
        len(P.PUNCTUATION_LABELS),
        units=16,
        num_layers=1,
        embedding_dim=8,
        bidirectional=bidirectional,
        attention_units=attention_units,
    )
    compile_tagger(model, keras.optimizers.Adam(0.02))
    model.fit(
        P.punctuation_dataset(train, vocabulary, window=64, batch_size=32, seed=0),
        epochs=8,
        verbose=0,
    )
    examples = [P.punctuation_labels(text) for text in test]
    ids = [vocabulary.encode(words) for words, _ in examples]
    predicted = np.concatenate(predict_labels(model, ids, window=64))
    labels = np.concatenate([labels for _, labels in examples])
    return tagging_scores(labels, predicted, P.PUNCTUATION_LABELS)


def test_bigru_learns_the_rule_and_a_left_to_right_gru_cannot():
    scores = learned_scores(bidirectional=True)
    assert scores["overall"]["f1"] > 0.97, scores
    assert min(scores[mark]["f1"] for mark in ("comma", "period", "question")) > 0.95
    left_to_right = learned_scores(bidirectional=False)
    # The comma after "well" needs no right context; the sentence ends do.
    assert left_to_right["comma"]["f1"] > 0.95, left_to_right
    assert left_to_right["period"]["recall"] < 0.8, left_to_right


def test_the_attention_tagger_learns_the_rule():
    scores = learned_scores(bidirectional=True, attention_units=8)
    assert scores["overall"]["f1"] > 0.97, scores
    assert min(scores[mark]["f1"] for mark in ("comma", "period", "question")) > 0.95


@pytest.mark.parametrize(
    "cell, bidirectional, attention_units",
    [("gru", True, 0), ("lstm", False, 0), ("gru", True, 3)],
)
def test_padding_and_windows_change_nothing(cell, bidirectional, attention_units):
    model = build_tagger(30, 4, cell=cell, units=5, embedding_dim=6,
                         bidirectional=bidirectional,
                         attention_units=attention_units)  # fmt: skip
    ids = [np.array([5, 9, 12, 7, 29, 4], "int32"), np.array([8, 3], "int32")]
    alone = model.predict_on_batch(ids[0][None])
    padded = model.predict_on_batch(np.pad(ids[0], (0, 5))[None])
    np.testing.assert_allclose(padded[0, :6], alone[0], rtol=1e-5, atol=1e-6)
    labels = predict_labels(model, [*ids, []], window=4)
    assert [len(y) for y in labels] == [6, 2, 0]
    np.testing.assert_array_equal(
        labels[0][:4], model(ids[0][None, :4])[0].numpy().argmax(-1)
    )
    np.testing.assert_array_equal(
        labels[0][4:], model(ids[0][None, 4:])[0].numpy().argmax(-1)
    )
    kind = "Bidirectional" if bidirectional else cell.upper()
    assert [type(layer).__name__ for layer in model.layers].count(kind) == 2
    assert ("attention" in [layer.name for layer in model.layers]) == bool(
        attention_units
    )


def test_mixed_precision_keeps_float32_logits_and_its_twin_is_float32():
    keras.config.set_dtype_policy("mixed_bfloat16")
    config = dict(
        vocab_size=30, num_labels=4, units=4, embedding_dim=6, attention_units=3
    )
    model = build_tagger(**config)
    assert model.get_layer("bidirectional_0").compute_dtype == "bfloat16"
    assert model.outputs[0].dtype == "float32"
    twin = float32_tagger(config, model.get_weights())
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert {layer.compute_dtype for layer in twin.layers[1:]} == {"float32"}


@pytest.mark.parametrize("attention_units", [0, 3])
def test_saved_tagger_loads_and_predicts_alike(tmp_path, attention_units):
    model = build_tagger(
        30, 4, units=4, embedding_dim=6, attention_units=attention_units
    )
    compile_tagger(model, "adam")
    x = np.array([[5, 9, 12, 0]], "int32")
    model.save(tmp_path / "tagger.keras")
    loaded = keras.saving.load_model(tmp_path / "tagger.keras")
    np.testing.assert_allclose(loaded(x), model(x))
    assert [m.name for m in loaded.metrics] == ["loss", "compile_metrics"]


def test_unknown_cell_and_bad_attention_units_are_rejected():
    with pytest.raises(ValueError, match="argument `cell`"):
        build_tagger(30, 4, cell="transformer")
    with pytest.raises(ValueError, match="argument `attention_units`"):
        build_tagger(30, 4, attention_units=-1)
    with pytest.raises(ValueError, match="`attention_units` without `bidirectional`"):
        build_tagger(30, 4, attention_units=8, bidirectional=False)
