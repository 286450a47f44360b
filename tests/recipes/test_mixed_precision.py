"""Every recipe under mixed_float16 and mixed_bfloat16, on tiny slices of real data.

Each test builds and trains a recipe's model from the recipe's own flags, model
builder and search space, in one policy, and checks what mixed precision
promises: the variables stay float32, every layer but the float32 output island
computes in the policy's dtype, the outputs at the model's edge are float32 and
the losses finite. The search tests run one KerasTuner trial of the recipe's
search space through `garden.tuning.search`: the tuner clears the Keras session
before every trial, which resets the global policy to float32, so the trial's
model shows whether the chosen policy was set again. The trained trial model
then goes on to the recipe's own checks (carried states, decoding, reports), so
that every model is trained once.
"""

import os

import keras
import numpy as np
import pytest

from garden import data
from garden.models.language_model import build_language_model, compile_language_model
from garden.models.seq2seq import build_seq2seq, translate_ids
from garden.training import make_optimizer, set_precision
from garden.tuning import optimizer_from_hp, search, searched_or_flagged_model
from recipes import language_model, sentiment, sst, translation
from tests.recipes.conftest import fix_search_space, without
from tests.recipes.test_language_model import SMALL as LANGUAGE_MODEL_SMALL
from tests.recipes.test_sentiment import SMALL as SENTIMENT_SMALL
from tests.recipes.test_sst import SMALL as SST_SMALL
from tests.recipes.test_translation import SMALL as TRANSLATION_SMALL

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
    ),
    pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"]),
]


@pytest.fixture
def fits(monkeypatch):
    """Every `Model.fit` of a test: global policy, model, losses, trial or not."""
    records = []
    original = keras.Model.fit

    def fit(model, *args, callbacks=None, **kwargs):
        callbacks = list(callbacks or [])
        # A KerasTuner trial trains with the tuner's own callbacks added.
        trial = any(type(c).__module__.startswith("keras_tuner") for c in callbacks)
        policy = keras.config.dtype_policy().name
        history = original(model, *args, callbacks=callbacks, **kwargs)
        records.append(
            {"trial": trial, "policy": policy, "model": model}
            | {"loss": history.history["loss"]}
        )
        return history

    monkeypatch.setattr(keras.Model, "fit", fit)
    return records


def assert_trained_in(policy, record, float32_layers, trial=False):
    """Float32 weights and edge, the policy's compute dtype everywhere else."""
    assert record["trial"] == trial and record["policy"] == policy
    assert record["loss"] and np.all(np.isfinite(record["loss"]))
    model = record["model"]
    layers = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    compute = {layer.name: layer.compute_dtype for layer in layers}
    assert {name for name, dtype in compute.items() if dtype == "float32"} == set(
        float32_layers
    )
    assert set(compute.values()) == {policy.split("_")[1], "float32"}
    assert {v.dtype for v in model.weights if "float" in v.dtype} == {"float32"}
    assert {output.dtype for output in model.outputs} == {"float32"}
    scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16")


def search_flags(tmp_path):
    return ["--tune", "--tuner", "random", "--max-trials", "1"] + [
        "--tune-dir", str(tmp_path / "search"), "--run-dir", str(tmp_path / "run")
    ]  # fmt: skip


# Language model: stateful truncated BPTT on The Time Machine's characters.


@pytest.fixture(scope="module")
def time_machine():
    args = language_model.parse_args(LANGUAGE_MODEL_SMALL)
    texts, tokenizer, append_eos = language_model.load_corpus(args)
    vocabulary = data.Vocabulary(tokenizer.tokenize(text) for text in texts["train"])
    streams = data.token_streams(texts, tokenizer, vocabulary, append_eos)
    return texts, tokenizer, vocabulary, streams


def test_language_model_search_trial_carries_states(
    policy, time_machine, fits, tmp_path
):
    texts, tokenizer, vocabulary, streams = time_machine
    args = language_model.parse_args(
        [*without(LANGUAGE_MODEL_SMALL, "--units", "--num-layers")]
        + ["--bptt", "truncated", "--precision", policy, *search_flags(tmp_path)]
    )
    set_precision(args.precision)
    train, valid = language_model.datasets(args, texts, tokenizer, vocabulary, streams)
    config = language_model.model_config(args, len(vocabulary))

    def build(hp):  # as the recipe's `tuned_config` builds its trials
        # The test's choices: a small model, fast to trace and to run in
        # float16, which this CPU only emulates.
        hp.Fixed("num_layers", 1)
        hp.Fixed("units", 64)
        hp.Fixed("embedding_dim", 64)
        options = language_model.training_options(args)
        model = build_language_model(
            **language_model.config_from_hp(hp, config), **options
        )
        return compile_language_model(model, optimizer_from_hp(hp))

    best, _ = search(
        args, build, "val_perplexity", "min", "lm", train.take(2), valid.take(1)
    )
    config = language_model.config_from_hp(best, config)
    (trial,) = fits
    assert_trained_in(policy, trial, ["logits"], trial=True)

    # Two windows read by the trained stateful model, one after the other,
    # give the logits of the two read in one go from a zero state.
    model = trial["model"]
    rnn = model.get_layer("rnn")
    assert rnn.stateful
    (first, _), (second, _) = valid.take(2)
    rnn.reset_state()
    model.predict_on_batch(first)
    carried = [np.asarray(state) for state in rnn.recurrent_layers[0].states]
    assert all(
        np.isfinite(state).all() and np.abs(state).max() > 0 for state in carried
    )
    carried_logits = model.predict_on_batch(second)
    assert carried_logits.dtype == np.float32
    rnn.reset_state()
    fresh_logits = model.predict_on_batch(second)
    stateless = build_language_model(**config)
    stateless.set_weights(model.get_weights())
    whole = stateless.predict_on_batch(np.concatenate([first, second], axis=1))
    whole = whole[:, args.num_steps :]
    # Equal up to rounding, and far closer than the same window read afresh.
    gap = np.abs(carried_logits - whole).max()
    assert gap <= 1e-2 and gap <= 0.05 * np.abs(fresh_logits - whole).max()


# Sentiment: BiRNN and TextCNN on short movie reviews.


@pytest.fixture(scope="module")
def reviews():
    # The Sentiment Treebank's sentences are movie reviews too, and read in
    # milliseconds where IMDb's archive takes seconds: 48 negative (root 0, 1)
    # and 48 positive (root 3, 4), alternating.
    by_label = {0: [], 1: []}
    for line in data.load_sst("train")[:1000]:
        tree = data.parse_tree(line)
        if tree.root_label != 2:
            by_label[int(tree.root_label > 2)].append(" ".join(tree.leaves))
    texts = [text for pair in zip(by_label[0][:48], by_label[1][:48]) for text in pair]
    labels = [0, 1] * 48
    tokenizer = data.WordTokenizer("review")
    splits = {"train": (texts[:64], labels[:64]), "valid": (texts[64:], labels[64:])}
    vocabulary = data.build_review_vocabulary(splits["train"][0], tokenizer, 2)
    train, valid = (
        data.classification_dataset(
            *splits[split], vocabulary, tokenizer, max_length=50, batch_size=32
        )
        for split in ("train", "valid")
    )
    return splits, tokenizer, vocabulary, train, valid


def sentiment_setup(policy, reviews, flags):
    splits, tokenizer, vocabulary, _, _ = reviews
    args = sentiment.parse_args(
        [*SENTIMENT_SMALL, "--precision", policy, "--max-length", "50", *flags]
    )
    set_precision(args.precision)
    config = sentiment.model_config(args, vocabulary, tokenizer, *splits["train"])
    return args, config


def assert_probabilities_of_reviews(model, reviews):
    splits, tokenizer, vocabulary, _, _ = reviews
    ids = data.encode_texts(splits["valid"][0], tokenizer, vocabulary)
    probabilities = sentiment.predict_probabilities(
        model, ids, batch_size=len(ids), max_length=50
    )
    assert probabilities.dtype == np.float32
    assert np.all((probabilities > 0) & (probabilities < 1))


def test_sentiment_birnn_trains(policy, reviews, fits):
    _, _, _, train, _ = reviews
    flags = ["--model", "birnn", "--units", "8", "--num-layers", "1"]
    args, config = sentiment_setup(policy, reviews, [*flags, "--embedding-dim", "16"])
    model = sentiment.new_model(args.model, config, make_optimizer("adam", 1e-3), None)
    model.fit(train, verbose=0)
    (record,) = fits
    assert_trained_in(policy, record, ["probability"])
    assert model.get_layer("bidirectional_0").compute_dtype == policy.split("_")[1]
    assert_probabilities_of_reviews(model, reviews)


def test_sentiment_textcnn_search_trial(policy, reviews, fits, tmp_path, monkeypatch):
    _, _, _, train, valid = reviews
    flags = ["--model", "textcnn", *search_flags(tmp_path)]
    args, config = sentiment_setup(policy, reviews, flags)
    # A small model: this CPU only emulates float16.
    fix_search_space(monkeypatch, sentiment, embedding_dim=50, filters=50)
    searched_or_flagged_model(  # as the recipe's `fit` builds its trials
        args,
        lambda config, optimizer: sentiment.new_model(
            args.model, config, optimizer, None
        ),
        config,
        lambda hp, config: sentiment.config_from_hp(hp, args.model, config),
        ("adam", "rmsprop", "momentum"),
        "val_accuracy",
        "max",
        "textcnn_random",
        train,
        valid,
    )
    (trial,) = fits
    assert_trained_in(policy, trial, ["probability"], trial=True)
    assert_probabilities_of_reviews(trial["model"], reviews)


# Translation: an encoder-decoder with attention; greedy and beam search.


@pytest.fixture(scope="module")
def sentence_pairs():
    splits = translation.split_pairs(data.load_english_french()[:2000], 40, 40, seed=0)
    tokenizer = data.WordTokenizer("translation")
    vocabularies = data.build_translation_vocabularies(
        splits["train"][:64], tokenizer, min_freq=1
    )
    train, valid = (
        data.translation_dataset(
            pairs, *vocabularies, tokenizer, batch_size=32, max_length=12
        )
        for pairs in (splits["train"][:64], splits["valid"][:32])
    )
    return vocabularies, train, valid


def assert_valid_translations(ids, lengths, limit, target_vocabulary):
    """Right-padded ids of real words: no `<pad>`, `<bos>` or `<eos>` inside."""
    assert ids.shape[1] == limit and np.all((lengths >= 0) & (lengths <= limit))
    for row, length in zip(ids, lengths):
        words = row[:length]
        assert np.all(
            (words > target_vocabulary.eos_id) & (words < len(target_vocabulary))
        )
        assert not np.any(row[length:])


def test_translation_search_trial_then_greedy_and_beam_search(
    policy, sentence_pairs, fits, tmp_path
):
    vocabularies, train, valid = sentence_pairs
    args = translation.parse_args(
        [*without(TRANSLATION_SMALL, "--units", "--embedding-dim", "--num-layers")]
        + ["--precision", policy, *search_flags(tmp_path)]
    )
    set_precision(args.precision)
    config = translation.model_config(args, *vocabularies)
    assert config["attention"]

    def build(hp):  # as the recipe's `fit` builds its trials
        # The test's choices: a small model, fast to trace and to run in
        # float16, which this CPU only emulates.
        hp.Fixed("num_layers", 1)
        hp.Fixed("units", 64)
        hp.Fixed("embedding_dim", 64)
        optimizer = optimizer_from_hp(hp, optimizers=("adam", "rmsprop"))
        return translation.new_model(translation.config_from_hp(hp, config), optimizer)

    best, _ = search(args, build, "val_loss", "min", "seq2seq", train, valid)
    (trial,) = fits
    assert_trained_in(policy, trial, ["logits"], trial=True)

    # Greedy and beam search with the trained weights, in the policy.
    config = translation.config_from_hp(best, config)
    models = build_seq2seq(**config)
    models.training.set_weights(trial["model"].get_weights())
    assert models.decoder.get_layer("attention").compute_dtype == policy.split("_")[1]
    target = vocabularies[1]
    (source, _), _ = next(iter(valid))
    source = np.asarray(source[:8])
    decoded = {}
    for beam_width in (1, 3):
        ids, lengths = translate_ids(
            models,
            source,
            beam_width=beam_width,
            max_length=10,
            bos_id=target.bos_id,
            eos_id=target.eos_id,
        )
        decoded[beam_width] = np.asarray(ids), np.asarray(lengths)
        assert_valid_translations(*decoded[beam_width], 10, target)
    # Greedy decoding starts with the model's most likely first word (`<eos>`
    # for an empty translation; `<pad>` and `<bos>` are never chosen).
    bos = np.full((len(source), 1), target.bos_id, "int32")
    first = np.array(models.training((source, bos), training=False))[:, 0]
    assert first.dtype == np.float32
    first[:, [0, target.bos_id]] = -np.inf
    ids, lengths = decoded[1]
    np.testing.assert_array_equal(
        np.where(lengths > 0, ids[:, 0], target.eos_id), first.argmax(axis=-1)
    )


# Sentiment Treebank: TreeRNN and Tree-LSTM over batches of parse trees.


@pytest.fixture(scope="module")
def treebank():
    args = sst.parse_args(SST_SMALL)
    trees = sst.load_trees(args)
    vocabulary = data.build_tree_vocabulary(trees["train"])
    return trees, vocabulary, *sst.datasets(args, trees, vocabulary)


def sst_setup(policy, treebank, flags):
    _, vocabulary, _, _ = treebank
    # A search picks the units (its trials pin them).
    small = without(SST_SMALL, "--units") if "--tune" in flags else SST_SMALL
    args = sst.parse_args(
        [*small, "--embeddings", "random", "--precision", policy, *flags]
    )
    set_precision(args.precision)
    config = sst.model_config(args, vocabulary)
    return args, config


def assert_sst_report(args, model, treebank, capsys):
    trees, vocabulary, _, _ = treebank
    roots, nodes = sst.report_test(args, model, trees["test"], vocabulary)
    assert roots["count"] == len(trees["test"])
    assert 0.0 <= roots["fine_grained"] <= 1.0 and 0.0 <= nodes["fine_grained"] <= 1.0
    assert "all-node accuracy" in capsys.readouterr().out


def test_sst_treernn_trains_and_reports(policy, treebank, fits, capsys):
    _, _, train, _ = treebank
    args, config = sst_setup(policy, treebank, ["--model", "treernn"])
    model = sst.new_model(args, config, make_optimizer("adam", 2e-3), None)
    model.fit(train, verbose=0)
    (record,) = fits
    assert_trained_in(policy, record, ["probabilities"])
    assert model.get_layer("treernn").compute_dtype == policy.split("_")[1]
    assert_sst_report(args, model, treebank, capsys)


def test_sst_treelstm_search_trial_and_report(policy, treebank, fits, tmp_path, capsys):
    _, _, train, dev = treebank
    flags = ["--model", "treelstm", *search_flags(tmp_path)]
    args, config = sst_setup(policy, treebank, flags)

    def build(hp):  # as the recipe's `fit` builds its trials
        hp.Fixed("units", 50)  # small: this CPU only emulates float16
        optimizer = optimizer_from_hp(hp, optimizers=("adagrad", "adam"))
        return sst.new_model(args, sst.config_from_hp(hp, config), optimizer, None)

    search(args, build, "val_root_accuracy", "max", "treelstm", train, dev)
    (trial,) = fits
    assert_trained_in(policy, trial, ["probabilities"], trial=True)
    assert trial["model"].get_layer("treelstm").compute_dtype == policy.split("_")[1]
    assert_sst_report(args, trial["model"], treebank, capsys)
