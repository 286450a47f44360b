"""The sentiment classifiers: padding never changes a prediction, weights stay put."""

import keras
import numpy as np
import pytest

from garden.layers import BagOfWords, NaiveBayesLogit, NGramIds
from garden.models.classifiers import (
    build_bag_of_words_classifier,
    build_birnn_classifier,
    build_classifier,
    build_text_cnn_classifier,
    compile_classifier,
    float32_classifier,
    frequent_bigrams,
    inverse_document_frequency,
    naive_bayes_ratios,
    ngram_feature_ids,
    predict_probabilities,
    set_embeddings,
)

VOCAB_SIZE = 40
REVIEWS = [[5, 9, 12, 7, 30, 4], [8, 3], [17, 22, 35, 6, 11, 2, 19, 25, 14]]
# Bigrams of REVIEWS kept by the naive-Bayes model: (5, 9), (8, 3), (6, 11).
BIGRAMS = np.array([5 * VOCAB_SIZE + 9, 8 * VOCAB_SIZE + 3, 6 * VOCAB_SIZE + 11])
CONFIGS = {
    "bow": dict(vocab_size=VOCAB_SIZE),
    "nbsvm": dict(
        vocab_size=VOCAB_SIZE,
        bigrams=np.sort(BIGRAMS),
        ratios=np.linspace(-2.0, 2.0, VOCAB_SIZE + 3),
    ),
    "birnn": dict(vocab_size=VOCAB_SIZE, units=6, embedding_dim=5),
    "textcnn": dict(vocab_size=VOCAB_SIZE, embedding_dim=5, filters=4),
}


def padded(rows, width):
    batch = np.zeros((len(rows), width), "int32")
    for index, row in enumerate(rows):
        batch[index, : len(row)] = row
    return batch


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_birnn_reads_first_and_last_valid_step(cell):
    model = build_birnn_classifier(VOCAB_SIZE, cell=cell, units=6, embedding_dim=5)
    alone = [float(model(padded([row], len(row)))[0, 0]) for row in REVIEWS]
    batched = np.asarray(model(padded(REVIEWS, 20)))[:, 0]
    np.testing.assert_allclose(batched, alone, rtol=1e-5, atol=1e-6)
    features = keras.Model(model.input, model.get_layer("first_and_last").output)
    assert features(padded(REVIEWS, 20)).shape == (3, 4 * 6)


@pytest.mark.parametrize("kind", ["bow", "nbsvm", "textcnn"])
def test_padding_does_not_change_predictions(kind):
    model = build_classifier(kind, **CONFIGS[kind])
    if kind == "nbsvm":
        kernel = model.get_layer("naive_bayes_logit").kernel
        kernel.assign(np.linspace(0.5, 1.5, VOCAB_SIZE + 3))
    alone = [float(model(padded([row], len(row)))[0, 0]) for row in REVIEWS]
    np.testing.assert_allclose(
        np.asarray(model(padded(REVIEWS, 30)))[:, 0], alone, rtol=1e-5, atol=1e-6
    )


def test_multichannel_keeps_one_channel_frozen():
    model = build_text_cnn_classifier(
        VOCAB_SIZE, embedding_dim=5, filters=4, multichannel=True
    )
    vectors = np.random.default_rng(0).normal(size=(VOCAB_SIZE, 5)).astype("float32")
    set_embeddings(model, vectors)
    compile_classifier(model, keras.optimizers.SGD(1.0))
    model.train_on_batch(padded(REVIEWS, 10), np.array([1, 0, 1]))
    static = model.get_layer("embedding_static").embeddings.numpy()
    tuned = model.get_layer("embedding").embeddings.numpy()
    np.testing.assert_array_equal(static, vectors)
    assert not np.allclose(tuned, vectors)
    with pytest.raises(ValueError, match="expected shape"):
        set_embeddings(model, vectors[:, :3])


def test_bag_of_words_matches_numpy():
    ids = padded(REVIEWS + [[5, 5, 5, 9]], 12)
    counts = np.zeros((len(ids), VOCAB_SIZE))
    for row, line in enumerate(ids):
        for token in line[line > 0]:
            counts[row, token] += 1
    multi_hot = BagOfWords(VOCAB_SIZE)(ids)
    np.testing.assert_array_equal(multi_hot, np.minimum(counts, 1))
    idf = inverse_document_frequency([line[line > 0] for line in ids], VOCAB_SIZE)
    tf_idf = counts * idf
    tf_idf /= np.linalg.norm(tf_idf, axis=1, keepdims=True)
    got = BagOfWords(VOCAB_SIZE, "tf_idf", idf)(ids)
    np.testing.assert_allclose(got, tf_idf, rtol=1e-5)
    with pytest.raises(ValueError, match="output_mode"):
        BagOfWords(VOCAB_SIZE, "counts")


def test_naive_bayes_model_matches_numpy():
    bigrams = frequent_bigrams(REVIEWS + [[5, 9, 5, 9], [8, 3]], VOCAB_SIZE, 2)
    assert sorted(bigrams.tolist()) == sorted(BIGRAMS[:2].tolist())
    texts = REVIEWS + [[5, 9, 5, 9, 9]]
    labels = [1, 0, 1, 0]
    features = [ngram_feature_ids(text, VOCAB_SIZE, bigrams) for text in texts]
    # Repeated words and bigrams count once; kept bigrams follow the vocabulary.
    assert features[3].tolist() == [5, 9, VOCAB_SIZE + 0]
    ratios = naive_bayes_ratios(features, labels, VOCAB_SIZE + 2, alpha=0.5)
    positive = 0.5 + np.bincount(np.concatenate(features[::2]), minlength=42)
    negative = 0.5 + np.bincount(np.concatenate(features[1::2]), minlength=42)
    want = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
    np.testing.assert_allclose(ratios[1:], want[1:], rtol=1e-5)
    model = build_classifier(
        "nbsvm", vocab_size=VOCAB_SIZE, bigrams=bigrams, ratios=ratios
    )
    kernel = np.random.default_rng(0).normal(size=VOCAB_SIZE + 2)
    model.get_layer("naive_bayes_logit").kernel.assign(kernel)
    got = np.asarray(model(padded(texts, 12)))[:, 0]
    logits = [np.sum(kernel[f] * ratios[f]) for f in features]
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-np.array(logits))), rtol=1e-5)
    ids = NGramIds(VOCAB_SIZE, bigrams)(padded([[8, 3, 0]], 3))
    assert ids.numpy().tolist() == [[8, 3, 0, VOCAB_SIZE + 1, 0]]


def test_naive_bayes_dropout_only_in_training():
    layer = NaiveBayesLogit(VOCAB_SIZE, dropout=0.5)
    layer.build((None, 6))
    layer.kernel.assign(np.ones(VOCAB_SIZE))
    ids = np.tile(np.arange(1, 31), (64, 1))
    assert np.all(np.asarray(layer(ids)) == 30.0)
    trained = np.asarray(layer(ids, training=True))[:, 0]
    assert len(np.unique(trained)) > 1 and abs(trained.mean() - 30.0) < 3.0


@pytest.mark.parametrize("kind", ["bow", "nbsvm", "birnn", "textcnn"])
def test_keras_file_round_trip(kind, tmp_path):
    config = dict(CONFIGS[kind])
    if kind == "bow":
        config["output_mode"] = "tf_idf"
        config["idf_weights"] = np.linspace(1.0, 3.0, VOCAB_SIZE)
    model = build_classifier(kind, **config)
    if kind == "nbsvm":
        kernel = model.get_layer("naive_bayes_logit").kernel
        kernel.assign(np.linspace(-1.0, 1.0, VOCAB_SIZE + 3))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    batch = padded(REVIEWS, 9)
    np.testing.assert_allclose(loaded(batch), model(batch), rtol=1e-6)


def test_mixed_precision_output_and_float32_twin():
    keras.config.set_dtype_policy("mixed_float16")
    model = build_birnn_classifier(**{**CONFIGS["birnn"], "vocab_size": VOCAB_SIZE})
    assert model.get_layer("bidirectional_0").compute_dtype == "float16"
    assert model.output.dtype == "float32"
    twin = float32_classifier("birnn", CONFIGS["birnn"], model.get_weights())
    assert twin.get_layer("bidirectional_0").compute_dtype == "float32"
    np.testing.assert_allclose(
        twin(padded(REVIEWS, 9)), model(padded(REVIEWS, 9)), atol=1e-2
    )


def test_predict_probabilities_keeps_order_and_handles_empty():
    model = build_bag_of_words_classifier(VOCAB_SIZE)
    texts = [*REVIEWS, [], list(range(1, 40)) * 30]
    got = predict_probabilities(model, texts, batch_size=2, max_length=500)
    want = [
        float(model(padded([row[:500] or [0]], max(1, len(row[:500]))))[0, 0])
        for row in texts
    ]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_predict_probabilities_shows_progress_when_asked(capsys):
    model = build_bag_of_words_classifier(VOCAB_SIZE)
    silent = predict_probabilities(model, REVIEWS, batch_size=2)
    assert capsys.readouterr().out == ""
    shown = predict_probabilities(model, REVIEWS, batch_size=2, verbose=2)
    assert f"{len(REVIEWS)}/{len(REVIEWS)}" in capsys.readouterr().out
    np.testing.assert_array_equal(silent, shown)


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="`kind`.*'cnn'"):
        build_classifier("cnn", vocab_size=3)
