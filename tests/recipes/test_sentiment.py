"""The sentiment recipe end to end on a slice of IMDb, small and fast."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from garden.models.bilm import build_bilm
from recipes import sentiment as recipe
from tests.training.test_plots import logged_images, picture

pytestmark = pytest.mark.skipif(
    not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
)
SMALL = [
    "--max-train-examples", "400", "--validation-size", "100",
    "--max-test-examples", "100", "--epochs", "1", "--verbose", "0",
]  # fmt: skip
# An empty review, 1,990 words (19,900 characters: just within the served
# limit) and non-ASCII text, classified in one batch.
BAD_INPUT = ["", "wonderful " * 1_990, "Très émouvant 😀 ニース"]


def accuracy_of(output):
    line = next(line for line in output.splitlines() if "Test accuracy" in line)
    return float(line.split()[2])


def predicted_lines(output):
    lines = output.split("\nPredictions:\n", 1)[1].splitlines()
    return [line for line in lines if "P(positive)" in line]


def served_and_shown(path, output):
    """The export's P(positive) of `BAD_INPUT`, and those the run printed."""
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    got = served(text=tf.constant(BAD_INPUT))["probability"].numpy()
    shown = [
        float(line.split("= ")[1].split(")")[0]) for line in predicted_lines(output)
    ]
    return got, shown


def test_textcnn_glove_multichannel_reports_predicts_and_exports(tmp_path, capsys):
    predictions = tmp_path / "out" / "predictions.tsv"
    recipe.main(
        [
            *SMALL, "--model", "textcnn", "--embeddings", "glove", "--multichannel",
            "--run-dir", str(tmp_path / "run"), "--predictions", str(predictions),
            "--export", str(tmp_path / "exports"),
            *[flag for text in BAD_INPUT for flag in ("--predict", text)],
        ]
    )  # fmt: skip
    output = capsys.readouterr().out
    assert "GloVe 6B 50d covers" in output and "model textcnn" in output
    assert 0.0 <= accuracy_of(output) <= 1.0
    assert "Confusion matrix" in output
    rows = predictions.read_text().splitlines()
    assert rows[0].split("\t") == [
        "index", "label", "probability_positive", "prediction"
    ]  # fmt: skip
    assert len(rows) == 101 and os.listdir(tmp_path / "out") == ["predictions.tsv"]
    picture(tmp_path / "run" / "confusion.png", panels=1)
    picture(tmp_path / "run" / "learning_curves.png", panels=2)  # loss, accuracy
    assert set(logged_images(tmp_path / "run" / "logs" / "plots")) == {
        "confusion",
        "learning_curves",
    }
    cli_lines = predicted_lines(output)
    assert len(cli_lines) == 3
    path = tmp_path / "exports" / "sentiment" / "1"
    assert os.path.isdir(path) and os.path.exists(f"{path}.keras")
    card = json.loads((path / "assets.extra" / "run.json").read_text())
    assert card["flags"]["model"] == "textcnn" and "accuracy" in card["metrics"]["test"]
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    probabilities = served(text=tf.constant(BAD_INPUT))["probability"].numpy()
    shown = [float(line.split("= ")[1].split(")")[0]) for line in cli_lines]
    np.testing.assert_allclose(probabilities, shown, atol=1e-4)


def test_bucketed_birnn_trains_and_its_checkpoint_evaluates_alike(tmp_path, capsys):
    flags = [
        *SMALL, "--model", "birnn", "--cell", "gru", "--units", "8",
        "--embedding-dim", "16", "--max-length", "100", "--bucket",
        "--num-layers", "1",
    ]  # fmt: skip
    recipe.main([*flags, "--run-dir", str(tmp_path)])
    accuracy = accuracy_of(capsys.readouterr().out)
    assert os.path.exists(tmp_path / "best.keras") and os.listdir(tmp_path / "logs")
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "finished" and record["flags"]["bucket"] is True
    assert record["metrics"]["test"]["reviews"] == 100
    assert record["metrics"]["test"]["accuracy"] == pytest.approx(accuracy, abs=5e-5)
    assert record["history"][0]["learning_rate"] == pytest.approx(1e-3)
    assert any(path.endswith("aclImdb.tar.gz") for path in record["data_files"])
    recipe.main(
        [*flags, "--run-dir", str(tmp_path / "again")]
        + ["--evaluate", str(tmp_path / "best.keras"), "--predict", "Awful."]
    )
    output = capsys.readouterr().out
    assert accuracy_of(output) == pytest.approx(accuracy)
    assert len(predicted_lines(output)) == 1
    # Other data flags build another vocabulary: refused, not scored (0.53).
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(
            [*flags, "--min-freq", "2", "--run-dir", str(tmp_path / "other")]
            + ["--evaluate", str(tmp_path / "best.keras")]
        )
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "error: argument --evaluate: " in err and "Traceback" not in err
    assert "vocabulary differs" in err and err.rstrip().endswith("--min-freq 5")


def test_tuning_searches_then_retrains(tmp_path, capsys):
    recipe.main(
        [
            *SMALL, "--model", "textcnn", "--max-length", "200",
            "--tune", "--tuner", "random", "--max-trials", "2",
            "--tune-dir", str(tmp_path / "search"),
            "--run-dir", str(tmp_path / "run"),
        ]
    )  # fmt: skip
    output = capsys.readouterr().out
    trials = [
        name
        for name in os.listdir(tmp_path / "search" / "textcnn_random")
        if name.startswith("trial_")
    ]
    assert len(trials) == 2
    assert "Best val_accuracy" in output or "Score:" in output
    assert 0.0 <= accuracy_of(output) <= 1.0


def test_bag_of_words_baseline_learns_from_tf_idf(tmp_path, capsys):
    recipe.main(
        [*SMALL, "--model", "bow", "--bag", "tf_idf", "--epochs", "3"]
        + ["--learning-rate", "0.1", "--run-dir", str(tmp_path)]
    )
    output = capsys.readouterr().out
    assert "model bow" in output
    # 300 training reviews already put logistic regression above chance.
    assert accuracy_of(output) > 0.55


def test_naive_bayes_bigrams_learn_and_export_with_their_lookup(tmp_path, capsys):
    recipe.main(
        [*SMALL, "--model", "nbsvm", "--epochs", "2", "--run-dir", str(tmp_path)]
        + ["--export", str(tmp_path / "exports")]
        + [flag for text in BAD_INPUT for flag in ("--predict", text)]
    )
    output = capsys.readouterr().out
    assert "model nbsvm" in output
    assert accuracy_of(output) > 0.6
    served = tf.saved_model.load(str(tmp_path / "exports" / "sentiment" / "1"))
    got = served.signatures["serving_default"](text=tf.constant(BAD_INPUT))
    shown = [
        float(line.split("= ")[1].split(")")[0]) for line in predicted_lines(output)
    ]
    np.testing.assert_allclose(got["probability"].numpy(), shown, atol=1e-4)


def validation_of(output):
    line = next(line for line in output.splitlines() if "Validation accuracy" in line)
    return float(line.split()[2])


def probabilities_in(path):
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    return np.array([float(row[2]) for row in rows])


def test_an_ensemble_scores_the_mean_of_its_checkpoints(tmp_path, capsys):
    flags = [*SMALL, "--model", "bow", "--max-length", "100"]
    recipe.main([*flags, "--run-dir", str(tmp_path / "a")])
    # Another seed, the same hold-out: --split-seed keeps --seed's default.
    recipe.main(
        [*flags, "--seed", "1", "--split-seed", "0"]
        + ["--run-dir", str(tmp_path / "b")]
    )
    capsys.readouterr()
    a, b = (str(tmp_path / name / "best.keras") for name in "ab")

    def evaluate(name, *checkpoints, data=flags):
        predictions = tmp_path / f"{name}.tsv"
        recipe.main(
            [*data, "--run-dir", str(tmp_path / name)]
            + ["--predictions", str(predictions), "--evaluate", *checkpoints]
        )
        return capsys.readouterr().out, probabilities_in(predictions)

    alone, p_a = evaluate("a_alone", a)
    _, p_b = evaluate("b_alone", b)
    both, p_both = evaluate("both", a, "--ensemble", b)
    # The validation accuracy of a checkpoint is its epoch's in training:
    # the hold-out is the one it was chosen on.
    trained = json.loads((tmp_path / "a" / "run.json").read_text())
    assert validation_of(alone) == pytest.approx(
        trained["history"][0]["val_accuracy"], abs=5e-5
    )
    assert "Ensemble: the mean P(positive) of 2 checkpoints, reading" in both
    assert not np.allclose(p_a, p_b, atol=1e-3)
    np.testing.assert_allclose(p_both, (p_a + p_b) / 2, atol=2e-6)
    record = json.loads((tmp_path / "both" / "evaluation.json").read_text())
    assert record["metrics"]["valid"]["accuracy"] == pytest.approx(
        validation_of(both), abs=5e-5
    )
    assert record["metrics"]["valid"]["reviews"] == 100
    # A member trained on shorter reviews reads them as short as it was
    # trained on: its first 20 tokens, not the run's 100.
    short = [*SMALL, "--model", "bow", "--max-length", "20"]
    recipe.main([*short, "--run-dir", str(tmp_path / "e")])
    capsys.readouterr()
    e = str(tmp_path / "e" / "best.keras")
    _, p_e = evaluate("e_alone", e, data=short)
    mixed, p_mixed = evaluate("a_and_e", a, "--ensemble", e)
    assert "of 2 checkpoints, reading up to 100, 20 tokens." in mixed
    np.testing.assert_allclose(p_mixed, (p_a + p_e) / 2, atol=2e-6)
    # A checkpoint that trained on this hold-out's reviews would inflate its
    # score. (Another hold-out mostly builds another vocabulary, refused
    # before this; only "the" is seen 3,000 times in either training split.)
    frequent = [*flags, "--min-freq", "3000"]
    recipe.main(
        [*frequent, "--validation-size", "50", "--run-dir", str(tmp_path / "c")]
    )
    recipe.main([*frequent, "--run-dir", str(tmp_path / "d")])
    c, d = (str(tmp_path / name / "best.keras") for name in "cd")
    for flag, checkpoints in (
        ("--evaluate", [c]),
        ("--ensemble", [d, "--ensemble", c]),
    ):
        with pytest.raises(SystemExit) as exit_info:
            evaluate("mixed", *checkpoints, data=frequent)
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert f"error: argument {flag}: {c!r} held out other reviews" in err
        assert err.rstrip().endswith("trained with --validation-size 50, not 100")
        assert "Traceback" not in err


def test_ensemble_members_add_up_over_repeated_flags():
    args = recipe.parse_args(
        [*SMALL, "--evaluate", __file__, "--ensemble", os.__file__]
        + ["--ensemble", json.__file__]
    )
    assert args.ensemble == [os.__file__, json.__file__]
    assert args.split_seed == args.seed == 0


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--ensemble", __file__], "--ensemble: applies only with --evaluate"),
        (
            ["--evaluate", __file__, "--ensemble", __file__],
            "--ensemble: " + repr(__file__) + " is given twice",
        ),
        (
            ["--evaluate", __file__, "--ensemble", os.__file__, "--export", "out"],
            "--ensemble: not with --export",
        ),
        (["--model", "bow", "--embeddings", "glove"], "--embeddings"),
        (["--model", "nbsvm", "--embeddings", "glove"], "--embeddings"),
        (["--model", "birnn", "--multichannel"], "--multichannel"),
        (
            ["--model", "textcnn", "--multichannel", "--freeze-embeddings"],
            "--freeze-embeddings: not with --multichannel",
        ),
        (["--embeddings", "glove", "--embedding-dim", "100"], "--embedding-dim"),
        (["--validation-size", "400"], "--validation-size"),
        (["--model", "bow", "--freeze-embeddings"], "--freeze-embeddings"),
        (["--dropout", "1.0"], "--dropout"),
        (["--max-length", "0"], "--max-length"),
        (["--cell", "transformer"], "--cell"),
        (["--embeddings", "/nonexistent/vectors.txt"], "--embeddings"),
        (["--model", "ulmfit"], "--bilm"),
        (["--discriminative-decay", "2"], "--discriminative-decay"),
        (["--no-gradual-unfreezing"], "--gradual-unfreezing"),
        (["--no-pretraining"], "--pretraining"),
        (["--weight-dropout", "0.2"], "--weight-dropout"),
    ],
)
def test_bad_flags_fail_clearly(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.parse_args([*SMALL, *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def tiny_bilm(path):
    """An untrained biLM with a few review words: the recipe's wiring, fast."""
    words = ["the", "film", "was", "good", "bad", "not", ".", ",", "i", "it"]
    build_bilm(["<pad>", "<unk>", "<bos>", "<eos>", *words], 4, 6).save(path)
    return str(path)


def test_birnn_with_bilm_features_trains_and_serves_raw_text(tmp_path, capsys):
    recipe.main(
        [*SMALL, "--model", "birnn", "--units", "4", "--embedding-dim", "8"]
        + ["--max-length", "40", "--bilm", tiny_bilm(tmp_path / "bilm.keras")]
        + ["--run-dir", str(tmp_path / "run"), "--export", str(tmp_path / "exports")]
        + [flag for text in BAD_INPUT for flag in ("--predict", text)]
    )
    output = capsys.readouterr().out
    assert "The biLM's vocabulary covers" in output
    assert 0.0 <= accuracy_of(output) <= 1.0
    path = tmp_path / "exports" / "sentiment" / "1"
    got, shown = served_and_shown(path, output)
    np.testing.assert_allclose(got, shown, atol=1e-4)
    # The .keras file: the classifier, biLM features and all, behind its
    # preprocessor, on the same raw text.
    text_model = keras.saving.load_model(f"{path}.keras")
    assert text_model.layers[-1].get_layer("elmo_mix")
    texts = np.array(BAD_INPUT, dtype=object)
    np.testing.assert_allclose(
        text_model.predict(texts, verbose=0).ravel(), shown, atol=1e-4
    )


def test_a_bilm_flag_that_is_no_bilm_fails_naming_the_flag(tmp_path, capsys):
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    other.save(tmp_path / "other.keras")
    for path in (tmp_path / "missing.keras", tmp_path / "other.keras"):
        with pytest.raises(SystemExit):
            recipe.parse_args([*SMALL, "--bilm", str(path)])
        assert "argument --bilm: expected a biLM" in capsys.readouterr().err
    bilm = tiny_bilm(tmp_path / "bilm.keras")
    with pytest.raises(SystemExit):
        recipe.parse_args([*SMALL, "--model", "textcnn", "--bilm", bilm])
    assert "argument --bilm: only for --model birnn" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--discriminative-decay", "0.5"], "--discriminative-decay: expected"),
        (["--optimizer", "rmsprop"], "--optimizer: ulmfit trains with"),
        (["--epochs", "2", "--lr-decay", "0.5"], "--lr-decay: not with --model ulmfit"),
        (["--tune"], "--tune: not with --model ulmfit"),
        (["--units", "8"], "--units: applies only with --model birnn"),
    ],
)
def test_ulmfit_refuses_what_its_fine_tuning_cannot_honour(
    flags, message, tmp_path, capsys
):
    bilm = tiny_bilm(tmp_path / "bilm.keras")
    with pytest.raises(SystemExit):
        recipe.parse_args([*SMALL, "--model", "ulmfit", "--bilm", bilm, *flags])
    assert message in capsys.readouterr().err


def test_ulmfit_fine_tunes_the_bilm_on_its_schedule_and_serves_raw_text(
    tmp_path, capsys
):
    recipe.main(
        [*SMALL, "--model", "ulmfit", "--max-length", "40", "--epochs", "2"]
        + ["--learning-rate", "0.004", "--bilm", tiny_bilm(tmp_path / "bilm.keras")]
        + ["--weight-dropout", "0.25", "--ema", "0.5"]
        + ["--run-dir", str(tmp_path / "run"), "--export", str(tmp_path / "exports")]
        + [flag for text in BAD_INPUT for flag in ("--predict", text)]
    )
    output = capsys.readouterr().out
    assert "model ulmfit" in output and "The biLM's vocabulary covers" in output
    assert 0.0 <= accuracy_of(output) <= 1.0
    checkpoint = keras.saving.load_model(tmp_path / "run" / "best.keras")
    optimizer = checkpoint.optimizer
    assert type(optimizer).__name__ == "LayerwiseAdam"
    assert optimizer.decay == 2.6 and len(optimizer.groups) == 4
    assert optimizer.initial_unfrozen == 1  # gradual unfreezing: the head first
    # --ema reaches ULMFiT's own optimizer (fit_from_flags then validates and
    # checkpoints its average: tests/training/test_fitting.py).
    assert optimizer.use_ema and optimizer.ema_momentum == 0.5
    assert checkpoint.get_layer("backward_lstm_1").cell.weight_dropout == 0.25
    # Slanted triangular: 300 reviews in batches of 64, 5 a epoch; the rate
    # peaks at step 1 of 10 and ends each epoch on its way down.
    rates = [
        float(row.split(",")[2])
        for row in (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]
    ]
    assert rates[0] > rates[1] and np.isclose(rates[1], 0.004 / 32, rtol=1e-4)
    path = tmp_path / "exports" / "sentiment" / "1"
    got, shown = served_and_shown(path, output)
    np.testing.assert_allclose(got, shown, atol=1e-4)


def encoder_weights_kept(bilm_path, checkpoint):
    """Whether each biLM layer in the classifier still has the biLM's weights."""
    bilm = keras.saving.load_model(bilm_path)
    classifier = keras.saving.load_model(checkpoint)
    names = {layer.name for layer in classifier.layers}
    kept = [
        all(
            np.array_equal(a, b)
            for a, b in zip(
                layer.get_weights(), classifier.get_layer(layer.name).get_weights()
            )
        )
        for layer in bilm.layers
        if layer.weights and layer.name in names
    ]
    assert kept  # the classifier reuses the biLM's layers by name
    return kept


@pytest.mark.parametrize("pretraining", [True, False])
def test_ulmfit_without_pretraining_starts_the_bilm_layers_afresh(
    pretraining, tmp_path, capsys
):
    # One epoch with gradual unfreezing trains the head alone, so the biLM's
    # layers leave it as they started: as trained, or drawn afresh.
    bilm = tiny_bilm(tmp_path / "bilm.keras")
    recipe.main(
        [*SMALL, "--model", "ulmfit", "--max-length", "40", "--bilm", bilm]
        + ["--run-dir", str(tmp_path / "run")]
        + ([] if pretraining else ["--no-pretraining"])
    )
    kept = encoder_weights_kept(bilm, tmp_path / "run" / "best.keras")
    assert all(kept) if pretraining else not any(kept)


def test_birnn_takes_word2vec_text_vectors(tmp_path, capsys):
    from garden.models.word2vec import WordVectors

    words = ["the", "film", "movie", "good", "bad", "great", "awful"]
    vectors = WordVectors(words, np.random.default_rng(0).normal(size=(7, 12)))
    path = tmp_path / "vectors.txt"
    vectors.save_word2vec_format(path)
    with pytest.raises(SystemExit):
        recipe.parse_args([*SMALL, "--embeddings", str(path), "--embedding-dim", "8"])
    assert "have 12" in capsys.readouterr().err
    recipe.main(
        [*SMALL, "--model", "birnn", "--units", "4", "--max-length", "40"]
        + ["--embeddings", str(path), "--num-layers", "1"]
        + ["--run-dir", str(tmp_path / "run")]
    )
    output = capsys.readouterr().out
    assert f"The vectors of {path} cover" in output
    model = keras.saving.load_model(tmp_path / "run" / "best.keras")
    embedding = next(w for w in model.weights if "embeddings" in w.path)
    assert embedding.shape[1] == 12
