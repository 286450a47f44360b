"""The sentiment classifiers: padding never changes a prediction, weights stay put."""

import keras
import numpy as np
import pytest

from garden.models.classifiers import (
    BagOfWords,
    build_bag_of_words_classifier,
    build_birnn_classifier,
    build_classifier,
    build_text_cnn_classifier,
    compile_classifier,
    float32_classifier,
    inverse_document_frequency,
    predict_probabilities,
    set_embeddings,
)

VOCAB_SIZE = 40
REVIEWS = [[5, 9, 12, 7, 30, 4], [8, 3], [17, 22, 35, 6, 11, 2, 19, 25, 14]]
CONFIGS = {
    "bow": dict(vocab_size=VOCAB_SIZE),
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


@pytest.mark.parametrize("kind", ["bow", "textcnn"])
def test_padding_does_not_change_predictions(kind):
    model = build_classifier(kind, **CONFIGS[kind])
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


@pytest.mark.parametrize("kind", ["bow", "birnn", "textcnn"])
def test_keras_file_round_trip(kind, tmp_path):
    config = dict(CONFIGS[kind])
    if kind == "bow":
        config["output_mode"] = "tf_idf"
        config["idf_weights"] = np.linspace(1.0, 3.0, VOCAB_SIZE)
    model = build_classifier(kind, **config)
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


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="`kind`.*'cnn'"):
        build_classifier("cnn", vocab_size=3)
