import math

import keras
import numpy as np

from garden.training import Perplexity, masked_cross_entropy

# Two steps, each with p = 0.5 for class 0 and 0.25 for classes 1 and 2.
HALF_QUARTER_LOGITS = np.log(
    np.array([[[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]]], "float32")
)


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_perplexity_is_exp_of_token_weighted_mean_cross_entropy():
    rng = np.random.default_rng(0)
    logits = [rng.normal(size=(2, 4, 6)).astype("float32") for _ in range(2)]
    targets = [np.array([[1, 2, 3, 0], [4, 0, 0, 0]]), np.array([[5, 5, 5, 5]] * 2)]
    metric = Perplexity(pad_id=0)
    nll, count = 0.0, 0
    for z, y in zip(logits, targets):
        metric.update_state(y, z)
        log_p = np.take_along_axis(log_softmax(z), y[..., None], -1)[..., 0]
        nll -= log_p[y != 0].sum()
        count += int((y != 0).sum())
    # Batch 1 has 4 real tokens, batch 2 has 8: a mean of batch means is wrong.
    assert count == 12
    np.testing.assert_allclose(float(metric.result()), math.exp(nll / count), rtol=1e-5)
    metric.reset_state()
    assert float(metric.result()) == 1.0


def test_pad_id_none_counts_every_token_and_sample_weight_applies():
    metric = Perplexity(pad_id=None)
    metric.update_state(np.array([[0, 1]]), HALF_QUARTER_LOGITS)
    np.testing.assert_allclose(float(metric.result()), math.sqrt(2 * 4), rtol=1e-5)
    weighted = Perplexity(pad_id=None)
    weighted.update_state(
        np.array([[0, 1]]), HALF_QUARTER_LOGITS, sample_weight=np.array([[1, 0]])
    )
    np.testing.assert_allclose(float(weighted.result()), 2.0, rtol=1e-5)


def test_masked_cross_entropy_ignores_padding():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(1, 3, 5)).astype("float32")
    loss = masked_cross_entropy(pad_id=0)
    padded = float(loss(np.array([[2, 3, 0]]), logits))
    alone = float(loss(np.array([[2, 3]]), logits[:, :2]))
    np.testing.assert_allclose(padded, alone, rtol=1e-6)


def test_perplexity_in_fit_logs_and_serializes():
    model = keras.Sequential(
        [keras.Input((3,), dtype="int32"), keras.layers.Embedding(5, 5)]
    )
    model.compile(loss=masked_cross_entropy(), metrics=[Perplexity()])
    ids = np.array([[1, 2, 3], [4, 1, 0]])
    logs = model.evaluate(ids, ids, verbose=0, return_dict=True)
    assert "perplexity" in logs and logs["perplexity"] > 1.0
    clone = Perplexity.from_config(Perplexity(pad_id=7).get_config())
    assert clone.pad_id == 7


def test_the_pad_id_given_is_the_one_left_out():
    # Targets [[0, 2]] with p = 0.5 for class 0 and 0.25 for class 2: a pad id
    # of 2 keeps the first token only (perplexity 2, loss ln 2), where 0 would
    # keep the second (4, ln 4).
    metric = Perplexity(pad_id=2)
    metric.update_state(np.array([[0, 2]]), HALF_QUARTER_LOGITS)
    np.testing.assert_allclose(float(metric.result()), 2.0, rtol=1e-5)
    loss = masked_cross_entropy(pad_id=2)
    np.testing.assert_allclose(
        float(loss(np.array([[0, 2]]), HALF_QUARTER_LOGITS)), math.log(2), rtol=1e-5
    )
    # None counts target 0 too; -1 (the tagger's padding label) keeps class 0.
    every = masked_cross_entropy(pad_id=None)
    expected = (math.log(2) + math.log(4)) / 2
    np.testing.assert_allclose(
        float(every(np.array([[0, 1]]), HALF_QUARTER_LOGITS)), expected, rtol=1e-5
    )
    tagger = masked_cross_entropy(pad_id=-1)
    np.testing.assert_allclose(
        float(tagger(np.array([[0, -1]]), HALF_QUARTER_LOGITS)), math.log(2), rtol=1e-5
    )
