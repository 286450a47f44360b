"""ULMFiT's classifier: the biLM's weights, each direction pooled in its order."""

import keras
import numpy as np
import pytest

from garden.models.bilm import bilm_feature_model, build_bilm, map_vocabulary
from garden.models.classifiers import compile_classifier
from garden.models.ulmfit import build_ulmfit_classifier, ulmfit_groups
from garden.training.finetuning import GradualUnfreezing, LayerwiseAdam

BILM_TOKENS = ["<pad>", "<unk>", "<bos>", "<eos>"] + [f"w{i}" for i in range(20)]
# The downstream vocabulary: biLM words in another order, and one it lacks.
TOKENS = ["<pad>", "<unk>", "w3", "w1", "w0", "zz"] + [f"w{i}" for i in range(4, 20)]
IDS = np.array([[2, 3, 4, 5, 6, 7, 0, 0], [8, 9, 10, 11, 0, 0, 0, 0]], "int32")
LENGTHS = [6, 4]
WIDTH = 4  # the biLM's embedding width, and so each direction's state width


@pytest.fixture(scope="module")
def bilm():
    keras.utils.set_random_seed(0)
    return build_bilm(BILM_TOKENS, embedding_dim=WIDTH, units=6)


@pytest.fixture(scope="module")
def bilm_ids():
    return map_vocabulary(TOKENS, BILM_TOKENS)[0]


def _outputs(model, names, ids):
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    outputs = probe(ids, training=False)
    return [np.asarray(x) for x in (outputs if len(names) > 1 else [outputs])]


def test_each_direction_is_pooled_where_it_has_read_the_whole_review(bilm, bilm_ids):
    model = build_ulmfit_classifier(bilm, bilm_ids)
    # The biLM's own top states for the same words, both in reading order.
    states = np.asarray(bilm_feature_model(bilm)(bilm_ids[IDS], training=False)[-1])
    forward, backward = states[..., :WIDTH], states[..., WIDTH:]
    pooled_forward, pooled_backward = _outputs(
        model, ["forward_pooling", "backward_pooling"], IDS
    )
    for row, n in enumerate(LENGTHS):
        # [H_T; max; mean]: forward's T is the last word, backward's the first.
        np.testing.assert_allclose(pooled_forward[row, :WIDTH], forward[row, n - 1])
        np.testing.assert_allclose(pooled_backward[row, :WIDTH], backward[row, 0])
        for pooled, h in ((pooled_forward, forward), (pooled_backward, backward)):
            np.testing.assert_allclose(
                pooled[row, WIDTH : 2 * WIDTH], h[row, :n].max(0), rtol=1e-6
            )
            np.testing.assert_allclose(
                pooled[row, 2 * WIDTH :], h[row, :n].mean(0), rtol=1e-5, atol=1e-7
            )


def test_padding_changes_nothing_and_the_ids_are_mapped(bilm, bilm_ids):
    model = build_ulmfit_classifier(bilm, bilm_ids)
    longer = np.pad(IDS, ((0, 0), (0, 5)))
    np.testing.assert_allclose(
        model(IDS, training=False), model(longer, training=False), rtol=1e-5
    )
    (mapped,) = _outputs(model, ["bilm_ids"], IDS)
    assert mapped[0, :4].tolist() == [
        BILM_TOKENS.index("w3"), BILM_TOKENS.index("w1"), BILM_TOKENS.index("w0"), 1
    ]  # fmt: skip


def test_the_encoder_starts_as_the_bilm_and_leaves_it_unchanged(bilm, bilm_ids):
    before = [w.copy() for w in bilm.get_weights()]
    model = build_ulmfit_classifier(bilm, bilm_ids)
    for name in ("embedding", "forward_lstm_2", "backward_projection_1"):
        for ours, theirs in zip(
            model.get_layer(name).get_weights(), bilm.get_layer(name).get_weights()
        ):
            np.testing.assert_array_equal(ours, theirs)
        assert model.get_layer(name) is not bilm.get_layer(name)
    compile_classifier(model, "adam")
    model.fit(IDS, np.array([[1.0], [0.0]]), epochs=2, verbose=0)
    assert not np.array_equal(model.get_layer("embedding").get_weights()[0], before[0])
    for got, want in zip(bilm.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_groups_are_embedding_each_depth_and_head_covering_every_weight(bilm, bilm_ids):
    model = build_ulmfit_classifier(bilm, bilm_ids)
    groups = ulmfit_groups(model)
    assert groups[0] == ["embedding"]
    assert sorted(groups[1]) == sorted(
        f"{d}_{p}_1" for d in ("forward", "backward") for p in ("lstm", "projection")
    )
    assert all(name.endswith("_2") for name in groups[2])
    assert "probability" in groups[3] and "head_hidden" in groups[3]
    named = [name for group in groups for name in group]
    owners = {v.path.split("/")[0] for v in model.trainable_variables}
    assert len(named) == len(set(named)) and set(named) == owners


def test_gradual_unfreezing_trains_the_head_alone_first(bilm, bilm_ids):
    keras.utils.set_random_seed(1)
    model = build_ulmfit_classifier(bilm, bilm_ids)
    optimizer = LayerwiseAdam(ulmfit_groups(model), unfrozen=1, learning_rate=0.01)
    compile_classifier(model, optimizer)
    labels = np.array([[1.0], [0.0]])

    def weights():
        return {layer.name: layer.get_weights() for layer in model.layers}

    start = weights()
    model.fit(IDS, labels, epochs=1, verbose=0, callbacks=[GradualUnfreezing()])
    after = weights()
    moved = {
        name
        for name, values in after.items()
        if values and not all(np.array_equal(a, b) for a, b in zip(values, start[name]))
    }
    assert moved == {"head_norm_1", "head_hidden", "head_norm_2", "probability"}
    assert all(layer.trainable for layer in model.layers if layer.name != "bilm_ids")
    if keras.backend.backend() == "tensorflow":
        # Frozen layers had no gradient at all: Adam's moments never moved.
        frozen = model.get_layer("forward_lstm_1").trainable_variables[0]
        index = optimizer._get_variable_index(frozen)
        assert not np.any(optimizer._momentums[index].numpy())
        head = model.get_layer("head_hidden").trainable_variables[0]
        assert np.any(optimizer._momentums[optimizer._get_variable_index(head)])
    # The second epoch adds the top depth of both directions.
    model.fit(
        IDS, labels, epochs=2, initial_epoch=1, verbose=0,
        callbacks=[GradualUnfreezing()],
    )  # fmt: skip
    moved_now = {
        name
        for name, values in weights().items()
        if values and not all(np.array_equal(a, b) for a, b in zip(values, after[name]))
    }
    assert {"forward_lstm_2", "backward_projection_2"} <= moved_now
    assert not moved_now & {"embedding", "forward_lstm_1", "backward_lstm_1"}


def test_it_saves_and_loads_whole(bilm, bilm_ids, tmp_path):
    model = build_ulmfit_classifier(bilm, bilm_ids)
    model.save(tmp_path / "ulmfit.keras")
    loaded = keras.saving.load_model(tmp_path / "ulmfit.keras")
    np.testing.assert_allclose(
        loaded(IDS, training=False), model(IDS, training=False), rtol=1e-6
    )
    assert ulmfit_groups(loaded) == ulmfit_groups(model)


def test_weight_dropout_drops_the_lstms_recurrent_weights_in_training_only(
    bilm, bilm_ids, tmp_path
):
    keras.utils.set_random_seed(2)
    model = build_ulmfit_classifier(bilm, bilm_ids, dropout=0.0, weight_dropout=0.5)
    lstms = [layer for layer in model.layers if "_lstm_" in layer.name]
    assert len(lstms) == 4 and all(x.cell.weight_dropout == 0.5 for x in lstms)
    assert bilm.get_layer("forward_lstm_1").cell.weight_dropout == 0.0
    names = ["forward_pooling", "backward_pooling"]
    plain = _outputs(build_ulmfit_classifier(bilm, bilm_ids, dropout=0.0), names, IDS)
    # Inference runs on W_hh itself: the states of the classifier without it.
    for got, want in zip(_outputs(model, names, IDS), plain):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    # Training runs on a dropped W_hh (the only dropout left at these rates).
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    for got, want in zip(probe(IDS, training=True), plain):
        assert np.abs(np.asarray(got) - want).max() > 1e-3
    model.save(tmp_path / "dropped.keras")
    loaded = keras.saving.load_model(tmp_path / "dropped.keras")
    assert loaded.get_layer("backward_lstm_2").cell.weight_dropout == 0.5
