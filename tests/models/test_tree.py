"""Tree models: a softmax at every node, node-weighted loss, root metrics, phrases."""

import keras
import numpy as np
import pytest

from garden import data
from garden.data.sst_batches import (
    TREE_INPUTS,
    encode_phrases,
    node_dataset,
    phrase_dataset,
    phrase_spans,
)
from garden.models.tree import (
    build_sst_model,
    compile_sst_model,
    predict_nodes,
    predict_phrases,
)
from garden.training.sentiment_metrics import sentiment_scores

TEXTS = [
    "(3 (2 The) (4 (3 Rock) (2 rules)))",
    "(0 (1 (2 an) (0 awful)) (2 film))",
    "(4 great)",
    "(1 (2 (2 a) (2 (2 dull) (2 ,))) (1 (2 boring) (1 film)))",
]


@pytest.fixture(scope="module")
def trees():
    parsed = [data.parse_tree(text) for text in TEXTS]
    return parsed, data.build_tree_vocabulary(parsed)


def test_phrases_are_the_spans_of_every_node(trees):
    parsed, vocabulary = trees
    assert phrase_spans(parsed[0]) == [
        ["The"], ["Rock"], ["rules"], ["Rock", "rules"], ["The", "Rock", "rules"]
    ]  # fmt: skip
    ids, labels = encode_phrases(parsed, vocabulary)
    assert len(ids) == sum(tree.num_nodes for tree in parsed)
    assert labels.tolist()[:5] == [2, 3, 2, 4, 3]
    roots, root_labels = encode_phrases(parsed, vocabulary, roots_only=True)
    assert vocabulary.decode(roots[2]) == ["great"] and root_labels.tolist() == [
        3,
        0,
        4,
        1,
    ]
    batches = list(phrase_dataset(ids, labels, batch_size=4, seed=0))
    assert sum(len(y) for _, y in batches) == len(labels)


def test_tree_model_learns_every_node_and_saves(
    tmp_path, capsys, trees, kind="treelstm"
):
    parsed, vocabulary = trees
    model = build_sst_model(
        kind, vocab_size=len(vocabulary), units=8, embedding_dim=6, dropout=0.1
    )
    assert model.output.dtype == "float32"
    compile_sst_model(model, keras.optimizers.Adam(0.05))
    dataset = node_dataset(parsed, vocabulary, batch_size=2, seed=0)
    # The dataset shuffles itself; Keras would warn that it cannot.
    history = model.fit(dataset, epochs=6, verbose=0, shuffle=False).history
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    scores = model.evaluate(
        node_dataset(parsed, vocabulary, shuffle=False), return_dict=True, verbose=0
    )
    capsys.readouterr()
    nodes = predict_nodes(model, parsed, vocabulary, batch_size=3, verbose=2)
    # A line of progress over the trees, as Keras's `verbose=2`.
    assert "4/4" in capsys.readouterr().out
    assert [p.shape for p in nodes] == [(t.num_nodes, 5) for t in parsed]
    # The in-graph metrics agree with the NumPy scores of the predictions.
    roots = sentiment_scores([t.root_label for t in parsed], [p[-1] for p in nodes])
    every = sentiment_scores(
        np.concatenate([t.labels for t in parsed]), np.concatenate(nodes)
    )
    assert scores["root_accuracy"] == pytest.approx(roots["fine_grained"])
    assert scores["root_binary_accuracy"] == pytest.approx(roots["binary"])
    assert scores["node_accuracy"] == pytest.approx(every["fine_grained"])
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    batch = data.encode_trees(parsed, vocabulary)
    feed = {name: batch[name] for name in TREE_INPUTS}
    np.testing.assert_allclose(
        loaded.predict_on_batch(feed), model.predict_on_batch(feed), atol=1e-6
    )


def test_padding_nodes_carry_no_loss(trees):
    parsed, vocabulary = trees
    model = compile_sst_model(
        build_sst_model("treelstm", vocab_size=len(vocabulary), units=4),
        keras.optimizers.Adam(),
    )
    alone = model.evaluate(
        node_dataset(parsed[2:3], vocabulary, shuffle=False),
        return_dict=True,
        verbose=0,
    )
    # "(4 great)" padded to the largest tree of the batch, weighted by its mask.
    batch = data.encode_trees([parsed[2], parsed[3]], vocabulary)
    feed = {name: batch[name][:1] for name in TREE_INPUTS}
    p = model.predict_on_batch(feed)[0, 0]
    assert alone["loss"] == pytest.approx(-np.log(p[4]), rel=1e-5)


def test_bilstm_classifies_phrases(capsys, trees):
    parsed, vocabulary = trees
    model = build_sst_model(
        "bilstm", vocab_size=len(vocabulary), units=6, embedding_dim=5, schedule="dense"
    )
    compile_sst_model(model, keras.optimizers.Adam(0.05))
    ids, labels = encode_phrases(parsed, vocabulary)
    history = model.fit(
        phrase_dataset(ids, labels, batch_size=16, seed=0),
        epochs=2,
        verbose=0,
        shuffle=False,
    ).history
    assert history["loss"][-1] < history["loss"][0]
    capsys.readouterr()
    p = predict_phrases(model, ids, batch_size=7)
    assert capsys.readouterr().out == ""  # quiet unless asked
    assert p.shape == (len(ids), 5)
    predict_phrases(model, ids, batch_size=7, verbose=2)
    assert f"{len(ids)}/{len(ids)}" in capsys.readouterr().out
    np.testing.assert_allclose(p[:1], model.predict_on_batch(ids[0][None]), atol=1e-6)


def test_unknown_kind_is_named(trees):
    with pytest.raises(ValueError, match="argument `kind`"):
        build_sst_model("rntn", vocab_size=5)
