"""The biLM: directions, shared softmax, learning, and its features downstream."""

import keras
import numpy as np
import pytest

from garden.data import bidirectional_dataset, bidirectional_windows
from garden.layers import BiLMFeatures, ReverseSequence
from garden.models.bilm import (
    bilm_feature_model,
    build_bilm,
    check_bilm_file,
    compile_bilm,
    elmo_features,
    load_bilm,
    map_vocabulary,
)

TOKENS = ["<pad>", "<unk>", "<bos>", "<eos>"] + [f"w{i}" for i in range(26)]
IDS = np.array([[5, 6, 7, 8, 9, 10, 0, 0], [11, 12, 13, 14, 0, 0, 0, 0]], "int32")
LENGTHS = [6, 4]


def changed_steps(before, after):
    """Per row, the valid steps where any feature differs."""
    diff = np.abs(np.asarray(before) - np.asarray(after)).max(axis=-1) > 1e-6
    return [np.flatnonzero(row[:n]).tolist() for row, n in zip(diff, LENGTHS)]


@pytest.fixture(scope="module")
def bilm():
    return build_bilm(TOKENS, embedding_dim=4, units=6)


@pytest.mark.parametrize("position", [0, 2, 3])
def test_forward_reads_left_to_right_and_backward_right_to_left(bilm, position):
    perturbed = IDS.copy()
    perturbed[:, position] = 29
    features = bilm_feature_model(bilm)
    for j, (before, after) in enumerate(zip(features(IDS), features(perturbed))):
        before, after = np.asarray(before), np.asarray(after)
        forward = changed_steps(before[..., :4], after[..., :4])
        backward = changed_steps(before[..., 4:], after[..., 4:])
        for row, n in enumerate(LENGTHS):
            if j == 0:  # the embedding sees its own token only
                assert forward[row] == backward[row] == [position]
            else:
                assert forward[row] == list(range(position, n)), (j, row)
                assert backward[row] == list(range(position + 1)), (j, row)
    logits = bilm(IDS), bilm(perturbed)
    # Step t scores w_{t+1} forward and w_{t-1} backward: neither sees it.
    assert changed_steps(logits[0]["forward"], logits[1]["forward"])[0] == list(
        range(position, 6)
    )
    assert changed_steps(logits[0]["backward"], logits[1]["backward"])[0] == list(
        range(position + 1)
    )


def test_reverse_sequence_reverses_valid_steps_and_is_an_involution():
    x = np.arange(2 * 8 * 3, dtype="float32").reshape(2, 8, 3)
    once = np.asarray(ReverseSequence()(x, IDS))
    np.testing.assert_array_equal(once[0, :6], x[0, 5::-1])
    np.testing.assert_array_equal(once[1, 4:], x[1, 4:])
    np.testing.assert_array_equal(np.asarray(ReverseSequence()(once, IDS)), x)


def test_one_embedding_variable_is_the_input_and_the_softmax(bilm):
    embeddings = [w for w in bilm.weights if w.path.endswith("embeddings")]
    assert len(embeddings) == 1 and tuple(embeddings[0].shape) == (len(TOKENS), 4)
    # 1 embedding + 2 directions x 2 layers x (LSTM 3 + projection 2).
    assert len(bilm.trainable_weights) == 21
    original = np.asarray(embeddings[0])
    before = bilm(IDS)
    embeddings[0].assign(original * 2.0)
    after = bilm(IDS)
    embeddings[0].assign(original)
    for direction in ("forward", "backward"):
        assert after[direction].dtype == "float32"
        assert not np.allclose(before[direction], after[direction])
    top = bilm_feature_model(bilm)(IDS)[-1]
    np.testing.assert_allclose(
        np.asarray(before["forward"]), np.asarray(top)[..., :4] @ original.T, atol=1e-5
    )


def test_learns_a_tiny_corpus_in_both_directions():
    rng = np.random.default_rng(0)
    # Counting up in one direction and down in the other: each word fixes both
    # of its neighbours, so both perplexities must fall far below uniform (30).
    texts = [np.arange(start, start + 12) % 26 + 4 for start in rng.integers(0, 26, 64)]
    dataset = bidirectional_dataset(texts, 12, 2, 3, batch_size=16, seed=0)
    model = compile_bilm(
        build_bilm(TOKENS, embedding_dim=8, units=16), keras.optimizers.Adam(0.02)
    )
    before = model.evaluate(dataset, verbose=0, return_dict=True)
    # One epoch of 80 steps: a single traced loop, no per-epoch overhead.
    model.fit(dataset.repeat(20), epochs=1, verbose=0)
    after = model.evaluate(dataset, verbose=0, return_dict=True)
    for direction in ("forward", "backward"):
        assert before[f"{direction}_perplexity"] > 20
        assert after[f"{direction}_perplexity"] < 3, after


def test_windows_carry_targets_across_boundaries_and_skip_empty_texts():
    x, forward, backward = bidirectional_windows([[], [5, 6, 7, 8, 9]], 2, 2, 3)
    assert x.tolist() == [[5, 6], [7, 8], [9, 0]]
    assert forward.tolist() == [[6, 7], [8, 9], [3, 0]]
    assert backward.tolist() == [[2, 5], [6, 7], [8, 0]]


def test_features_downstream_map_ids_mask_stay_frozen_and_round_trip(tmp_path):
    bilm = build_bilm(TOKENS, embedding_dim=4, units=6, dropout=0.5)
    downstream = ["<pad>", "<unk>", "w3", "w0", "unseen"]
    id_map, coverage = map_vocabulary(downstream, TOKENS)
    assert id_map.tolist() == [0, 1, 7, 4, 1] and coverage == pytest.approx(2 / 3)
    ids = keras.Input((None,), dtype="int32")
    mixed = elmo_features(ids, bilm_feature_model(bilm), id_map)
    model = keras.Model(ids, mixed)
    assert len(model.trainable_weights) == 2  # s and gamma only
    x = np.array([[2, 3, 4, 0]], "int32")
    # The biLM inside reads its own ids, without dropout even in training.
    direct = np.mean([np.asarray(h) for h in bilm_feature_model(bilm)(id_map[x])], 0)
    np.testing.assert_allclose(np.asarray(model(x, training=True)), direct, atol=1e-6)
    layer = model.get_layer("elmo_bilm")
    assert isinstance(layer, BiLMFeatures)
    mask = layer.compute_mask(keras.ops.convert_to_tensor(x))[0]
    assert np.asarray(mask).tolist() == [[True, True, True, False]]
    path = tmp_path / "downstream.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_load_bilm_returns_features_and_the_training_vocabulary(tmp_path, bilm):
    path = tmp_path / "bilm.keras"
    bilm.save(path)
    features, tokens = load_bilm(str(path))
    assert tokens == TOKENS
    np.testing.assert_allclose(
        np.asarray(features(IDS)[2]), np.asarray(bilm_feature_model(bilm)(IDS)[2])
    )


def test_a_file_that_is_not_a_bilm_is_named_in_the_error(tmp_path):
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)], name="other")
    path = tmp_path / "other.keras"
    other.save(path)
    with pytest.raises(ValueError, match="expected a biLM saved by .*'other'"):
        check_bilm_file(str(path))
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="expected a biLM saved as a .keras file"):
        check_bilm_file(str(text))
