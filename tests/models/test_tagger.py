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
    predict_logits,
    window_plan,
    window_stride,
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


@pytest.mark.parametrize("length", [0, 1, 4, 7, 11, 12, 30])
@pytest.mark.parametrize("window, stride", [(4, 4), (4, 2), (5, 2), (6, 1), (7, 3)])
def test_window_plan_labels_each_item_where_it_has_most_context(length, window, stride):
    starts, owners = window_plan(length, window, stride)
    assert len(owners) == length and np.all(np.diff(owners) >= 0)
    assert len(starts) == (0 if length == 0 else len(set(owners.tolist())))
    if length:
        assert starts[0] == 0 and starts[-1] + window >= length  # reaches the end
        assert np.all(np.diff(starts) == stride)
    context = (window - stride) // 2
    for item, owner in enumerate(owners):
        start = starts[owner]
        end = min(start + window, length)
        assert start <= item < end
        # Only the text's own ends give less context than the margin.
        assert item - start >= context or start == 0
        assert end - 1 - item >= context or end == length
    if stride == window:  # consecutive windows, as training cuts them
        assert [starts[k] for k in owners] == [i - i % window for i in range(length)]


def test_window_plan_refuses_a_stride_past_the_window():
    for stride in (0, 5, 2.0):
        with pytest.raises(ValueError, match="`stride`"):
            window_plan(10, 4, stride)


def test_window_stride_defaults_to_the_window_and_checks_both():
    assert window_stride(4) == 4
    assert window_stride(4, 3) == 3
    with pytest.raises(ValueError, match="`window`"):
        window_stride(0, 1)
    with pytest.raises(ValueError, match="`stride`"):
        window_stride(4, 5)


def test_strided_windows_take_each_words_logits_from_its_window():
    keras.utils.set_random_seed(2)
    model = build_tagger(30, 4, units=5, embedding_dim=6)
    ids = [np.arange(1, 11, dtype="int32"), np.array([8, 3], "int32"), []]
    logits = predict_logits(model, ids, window=4, stride=2)
    assert [len(x) for x in logits] == [10, 2, 0]
    # Windows [0, 4), [2, 6), [4, 8), [6, 10); words 0-2, 3-4, 5-6 and 7-9.
    for start, words in ((0, range(0, 3)), (2, range(3, 5)), (4, range(5, 7)),
                         (6, range(7, 10))):  # fmt: skip
        alone = model(ids[0][None, start : start + 4])[0].numpy()
        for word in words:
            np.testing.assert_allclose(
                logits[0][word], alone[word - start], rtol=1e-5, atol=1e-6
            )
    np.testing.assert_allclose(logits[1], model(ids[1][None])[0], rtol=1e-5, atol=1e-6)
    # Bidirectional: a word's window changes its logits.
    consecutive = predict_logits(model, ids, window=4)
    assert np.abs(consecutive[0][3] - logits[0][3]).max() > 1e-4


def test_tagging_shows_progress_over_the_windows_when_asked(capsys):
    model = build_tagger(30, 4, units=5, embedding_dim=6)
    ids = [np.arange(1, 11, dtype="int32"), np.array([8, 3], "int32")]
    silent = predict_labels(model, ids, window=4)
    assert capsys.readouterr().out == ""
    shown = predict_labels(model, ids, window=4, verbose=2)
    assert "4/4" in capsys.readouterr().out  # 3 windows and 1
    for a, b in zip(silent, shown, strict=True):
        np.testing.assert_array_equal(a, b)


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
