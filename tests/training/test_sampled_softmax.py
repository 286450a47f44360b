"""The sampled softmax: its proposal, its loss, and training a biLM on it."""

import keras
import numpy as np
import pytest

from garden.models.bilm import build_bilm, load_bilm
from garden.training.metrics import masked_cross_entropy
from garden.training.sampled_softmax import (
    SampledSoftmaxLoss,
    SampledSoftmaxModel,
    log_uniform_probability,
    log_uniform_sample,
    sampled_softmax_cross_entropy,
)

STATES = {"forward": "forward_states", "backward": "backward_states"}


def test_samples_follow_the_log_uniform_distribution():
    q = keras.ops.convert_to_numpy(log_uniform_probability(np.arange(50), 50))
    assert q.sum() == pytest.approx(1.0, abs=1e-5)
    assert q[0] == pytest.approx(np.log(2) / np.log(51))
    seed = keras.random.SeedGenerator(0)
    ids = keras.ops.convert_to_numpy(log_uniform_sample(200_000, 50, seed=seed))
    assert ids.min() >= 0 and ids.max() <= 49
    frequency = np.bincount(ids, minlength=50) / len(ids)
    np.testing.assert_allclose(frequency, q, atol=0.004)


def test_loss_corrects_by_the_proposal_and_drops_accidental_hits():
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(2, 3, 4)).astype("float32")
    embeddings = rng.normal(size=(10, 4)).astype("float32")
    targets = np.array([[1, 2, 3], [4, 5, 9]])
    sampled = np.array([2, 7, 7, 0])  # hits target 2 once, repeats 7
    got = keras.ops.convert_to_numpy(
        sampled_softmax_cross_entropy(hidden, targets, embeddings, sampled)
    )
    q = np.log((np.arange(10) + 2) / (np.arange(10) + 1)) / np.log(11)
    for index in np.ndindex(targets.shape):
        h, y = hidden[index], targets[index]
        true = h @ embeddings[y] - np.log(4 * q[y])
        others = [h @ embeddings[s] - np.log(4 * q[s]) for s in sampled if s != y]
        expected = np.log(np.exp(true) + np.exp(others).sum()) - true
        assert got[index] == pytest.approx(expected, rel=1e-5)


def test_the_loss_is_the_mean_over_real_tokens_only():
    rng = np.random.default_rng(1)
    hidden = rng.normal(size=(2, 4, 3)).astype("float32")
    embeddings = keras.Variable(rng.normal(size=(12, 3)).astype("float32"))
    targets = np.array([[5, 6, 0, 0], [7, 0, 0, 0]])
    loss = SampledSoftmaxLoss(embeddings, 6, seed=keras.random.SeedGenerator(3))
    got = float(loss(targets, hidden))
    # The same draws again, from a generator in the same state.
    sampled = log_uniform_sample(6, 12, seed=keras.random.SeedGenerator(3))
    each = keras.ops.convert_to_numpy(
        sampled_softmax_cross_entropy(hidden, targets, embeddings, sampled)
    )
    assert got == pytest.approx(each[targets > 0].mean(), rel=1e-5)
    assert got != pytest.approx(each.mean(), rel=1e-2)


def cyclic_corpus(vocab_size, rows=256, steps=20, seed=0):
    """Rows where each word is followed by the next id: a fully predictable LM."""
    start = np.random.default_rng(seed).integers(0, vocab_size, rows)
    ids = (start[:, None] + np.arange(steps + 2)[None]) % vocab_size + 4
    return ids[:, 1:-1], {"forward": ids[:, 2:], "backward": ids[:, :-2]}


def test_a_biLM_trained_on_samples_learns_the_full_softmax(tmp_path):
    keras.utils.set_random_seed(0)
    tokens = ["<pad>", "<unk>", "<bos>", "<eos>"] + [f"w{i}" for i in range(60)]
    bilm = build_bilm(tokens, 16, 32)
    trainer = SampledSoftmaxModel(bilm, STATES, num_samples=16, seed=1)
    trainer.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss={name: masked_cross_entropy(pad_id=0) for name in STATES},
    )
    x, y = cyclic_corpus(60, rows=512)
    valid = (x[:128], {name: targets[:128] for name, targets in y.items()})
    history = trainer.fit(
        x, y, validation_data=valid, epochs=8, batch_size=32, verbose=0
    )
    # Training logs the sampled loss only; validation the full softmax's.
    assert set(history.history) == {
        "loss",
        "val_loss",
        "val_forward_loss",
        "val_backward_loss",
    }
    # 16 samples a batch out of 64 words, and the full softmax learns the
    # next word, if slower than on the full softmax (these words are equally
    # frequent, not Zipfian as the proposal assumes): a uniform guess is
    # log(64) = 4.16 nats a direction.
    assert history.history["val_forward_loss"][-1] < 2.6
    assert history.history["val_backward_loss"][-1] < 2.6
    path = str(tmp_path / "trainer.keras")
    trainer.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, SampledSoftmaxModel)
    # A checkpoint of the wrapper serves downstream as the biLM itself.
    features, vocabulary = load_bilm(path)
    assert vocabulary == tokens and len(features.outputs) == 3
    logits = loaded.model.predict(x[:4], verbose=0)
    np.testing.assert_allclose(
        logits["forward"], bilm.predict(x[:4], verbose=0)["forward"], rtol=1e-5
    )


def test_sample_count_must_be_below_the_vocabulary_and_the_softmax_tied():
    bilm = build_bilm(["<pad>", "<unk>", "a", "b"], 4, 4)
    with pytest.raises(ValueError, match="num_samples"):
        SampledSoftmaxModel(bilm, STATES, num_samples=4)
    ids = keras.Input((None,), dtype="int32")
    untied = keras.layers.ReversibleEmbedding(5, 4, tie_weights=False, name="table")
    model = keras.Model(ids, {"forward": untied(untied(ids), reverse=True)})
    with pytest.raises(ValueError, match="tie_weights"):
        SampledSoftmaxModel(model, {"forward": "table"}, "table", num_samples=2)
