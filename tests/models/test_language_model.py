"""Stream perplexity: every token after the first, state carried across calls."""

import math

import keras
import numpy as np
import pytest

from garden.layers import EmbeddingDropout
from garden.models import (
    build_language_model,
    generation_model,
    language_model_config,
    stream_perplexity,
)

CONFIG = {"vocab_size": 11, "cell": "lstm", "units": 8, "num_layers": 2}
# Every AWD-LSTM regulariser on (Merity et al.'s names: dropoute, dropouti,
# dropouth, dropout, wdrop, alpha, beta).
AWD = {
    "embedding_dim": 8, "tie_weights": True, "embedding_dropout": 0.1,
    "input_dropout": 0.4, "hidden_dropout": 0.25, "dropout": 0.3,
    "locked_dropout": True, "weight_dropout": 0.5,
    "activation_regularization": 2.0, "temporal_activation_regularization": 1.0,
}  # fmt: skip


@pytest.fixture(scope="module")
def weights():
    keras.utils.set_random_seed(3)
    # Large recurrent weights: the state matters from one token to the next.
    model = build_language_model(**CONFIG)
    return [w * 3.0 for w in model.get_weights()]


@pytest.fixture(scope="module")
def stream():
    return np.random.default_rng(0).integers(1, 11, size=103)


def reference_nll(weights, ids):
    """Summed -log p of ids[1:], the whole stream in one call from a zero state."""
    model = build_language_model(**CONFIG)
    model.set_weights(weights)
    logits = keras.ops.convert_to_numpy(model(np.asarray(ids)[None, :-1]))[0]
    logits = logits.astype("float64")
    log_z = np.log(np.exp(logits).sum(-1))
    return float(np.sum(log_z - logits[np.arange(len(ids) - 1), ids[1:]]))


@pytest.mark.parametrize("num_steps", [1, 7, 102, 500])
def test_one_row_scores_every_token_after_the_first(weights, stream, num_steps):
    perplexity, count = stream_perplexity(CONFIG, weights, stream, num_steps=num_steps)
    assert count == len(stream) - 1
    expected = math.exp(reference_nll(weights, stream) / count)
    assert perplexity == pytest.approx(expected, rel=1e-5)


def test_progress_over_the_tokens_only_when_verbose(weights, stream, capsys):
    quiet = stream_perplexity(CONFIG, weights, stream, rows=2, num_steps=20)
    assert capsys.readouterr().out == ""
    assert stream_perplexity(
        CONFIG, weights, stream, rows=2, num_steps=20, verbose=2
    ) == pytest.approx(quiet)
    assert "102/102" in capsys.readouterr().out  # 2 rows of 51 tokens


def test_rows_start_from_zero_states_and_drop_the_remainder(weights, stream):
    # 102 targets in 4 rows of 25: two tokens left over.
    perplexity, count = stream_perplexity(CONFIG, weights, stream, rows=4, num_steps=6)
    assert count == 100
    rows = [stream[i * 25 : i * 25 + 26] for i in range(4)]
    expected = math.exp(sum(reference_nll(weights, row) for row in rows) / 100)
    assert perplexity == pytest.approx(expected, rel=1e-5)
    # Cold starts cost: one row is not the same number.
    assert perplexity != pytest.approx(stream_perplexity(CONFIG, weights, stream)[0])


@pytest.mark.parametrize(
    "ids, options, message",
    [
        ([4], {}, "at least 2 tokens"),
        ([[1, 2, 3]], {}, "1-D stream"),
        ([1, 2, 3], {"rows": 3}, "at least 4 tokens"),
        ([1, 2, 3], {"num_steps": 0}, "positive integers"),
    ],
)
def test_bad_streams_fail_clearly(weights, ids, options, message):
    with pytest.raises(ValueError, match=message):
        stream_perplexity(CONFIG, weights, ids, **options)


@pytest.mark.parametrize(
    "config",
    [
        {"vocab_size": 30, "units": 8, "num_layers": 2, "dropout": 0.2},
        {"vocab_size": 30, "cell": "gru", "units": 8, "embedding_dim": 5,
         "recurrent_dropout": 0.1, "residual": True, "num_layers": 3},
        {"vocab_size": 30, "cell": "rnn", "units": 8, "embedding_dim": 5,
         "tie_weights": True, "num_layers": 1},
        {**AWD, "vocab_size": 30, "units": 8, "num_layers": 2},
        {**AWD, "vocab_size": 30, "units": 8, "num_layers": 1,
         "tie_weights": False, "locked_dropout": False},
    ],
)  # fmt: skip
def test_config_is_read_back_from_a_saved_model(config, tmp_path):
    dropout = config.get("dropout", 0.0)
    defaults = {
        "cell": "lstm", "embedding_dim": None, "dropout": 0.0,
        "recurrent_dropout": 0.0, "tie_weights": False, "residual": False,
        "input_dropout": dropout, "hidden_dropout": dropout,
        "locked_dropout": False, "embedding_dropout": 0.0, "weight_dropout": 0.0,
        "activation_regularization": 0.0,
        "temporal_activation_regularization": 0.0,
    }  # fmt: skip
    build_language_model(**config, stateful=True, batch_size=4).save(
        tmp_path / "model.keras"
    )
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert language_model_config(loaded) == {**defaults, **config}


def test_awd_regularisers_act_in_training_only_on_the_same_weights():
    ids = np.random.default_rng(1).integers(1, 30, size=(3, 9))
    plain_config = {"vocab_size": 30, "units": 8, "num_layers": 2, "embedding_dim": 8}
    plain = build_language_model(**plain_config, tie_weights=True)
    awd = build_language_model(**{**AWD, **plain_config})
    # The regularisers add no weights and move none: one layout.
    awd.set_weights(plain.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(awd(ids)), keras.ops.convert_to_numpy(plain(ids))
    )
    training = keras.ops.convert_to_numpy(awd(ids, training=True))
    assert not np.allclose(training, keras.ops.convert_to_numpy(plain(ids)))
    assert len(awd.losses) == 2  # AR and TAR
    # Each argument reaches the layer that does it.
    rnn = awd.get_layer("rnn")
    assert isinstance(awd.get_layer("embedding"), EmbeddingDropout)
    assert awd.get_layer("embedding").rate == 0.1
    assert all(layer.cell.weight_dropout == 0.5 for layer in rnn.recurrent_layers)
    assert rnn.locked_dropout and rnn.dropout == 0.25
    for name, rate in (("embedding_dropout", 0.4), ("output_dropout", 0.3)):
        layer = awd.get_layer(name)
        assert isinstance(layer, keras.layers.SpatialDropout1D) and layer.rate == rate
    penalty = awd.get_layer("activation_regularization")
    assert (penalty.alpha, penalty.beta) == (2.0, 1.0)


def test_awd_model_generates_and_streams_as_without_its_regularisers():
    config = {**AWD, "vocab_size": 11, "units": 8, "num_layers": 2}
    weights = build_language_model(**config).get_weights()
    generator = generation_model(config, weights)
    rnn = generator.get_layer("rnn")
    assert all(layer.cell.weight_dropout == 0.0 for layer in rnn.recurrent_layers)
    stream = np.random.default_rng(0).integers(1, 11, size=40)
    plain = {**config, "weight_dropout": 0.0}
    assert stream_perplexity(config, weights, stream, num_steps=8) == (
        stream_perplexity(plain, weights, stream, num_steps=8)
    )


def test_one_hot_inputs_have_no_embedding_to_drop():
    with pytest.raises(ValueError, match="`embedding_dropout`"):
        build_language_model(10, units=4, embedding_dropout=0.1)
    with pytest.raises(ValueError, match="`hidden_dropout`"):
        build_language_model(10, units=4, hidden_dropout=1.5)


def test_config_of_another_model_is_refused():
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="other")
    with pytest.raises(ValueError, match="build_language_model.*'other'"):
        language_model_config(other)
