"""The language-model recipe end to end on The Time Machine, small and fast."""

import os

import keras
import numpy as np
import pytest

from garden.models import language_model_config
from garden.training.averaging import AveragedSGD
from recipes import language_model as recipe
from tests.recipes.conftest import fix_search_space, without

pytestmark = pytest.mark.skipif(
    not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
)
SMALL = [
    "--corpus", "timemachine", "--units", "16", "--num-layers", "1",
    "--epochs", "1", "--batch-size", "32", "--num-steps", "16", "--verbose", "0",
]  # fmt: skip


def perplexities(output):
    lines = [line for line in output.splitlines() if line.strip().startswith("valid:")]
    return [float(line.split()[1]) for line in lines]


@pytest.mark.parametrize("bptt", recipe.BPTT_MODES)
def test_each_bptt_mode_trains_and_reports(bptt, tmp_path, capsys):
    recipe.main([*SMALL, "--bptt", bptt, "--run-dir", str(tmp_path)])
    output = capsys.readouterr().out
    (valid,) = perplexities(output)
    # 27 letters and a space: one epoch of a tiny model already beats uniform.
    assert 1.0 < valid < 27.0
    assert f"BPTT {bptt}" in output
    assert os.path.exists(tmp_path / "best.keras") and os.listdir(tmp_path / "logs")
    # The one-epoch checkpoint, evaluated alone, gives the same perplexity;
    # its architecture comes from the checkpoint, and model flags that say
    # otherwise are refused.
    checkpoint = str(tmp_path / "best.keras")
    scored = [*SMALL, "--bptt", bptt, "--evaluate", checkpoint]
    for other_model in (["--units", "24"], ["--cell", "gru"]):
        with pytest.raises(SystemExit) as exit_info:
            recipe.parse_args([*without(scored, "--units"), *other_model])
        assert exit_info.value.code == 2
        assert f"argument {other_model[0]}: " in capsys.readouterr().err
    recipe.main(
        [*scored, "--run-dir", str(tmp_path / "again"), "--prompt", "the time",
         "--max-output-length", "5"]
    )  # fmt: skip
    output = capsys.readouterr().out
    assert perplexities(output) == [pytest.approx(valid, rel=1e-4)]
    assert "Continuations of 'the time':" in output  # --prompt acts on it too


def test_mode_decides_state_carrying_and_truncation():
    full = recipe.parse_args([*SMALL, "--bptt", "full"])
    truncated = recipe.parse_args([*SMALL, "--bptt", "truncated"])
    randomized = recipe.parse_args(
        [*SMALL, "--bptt", "randomized", "--truncation-probability", "0.2"]
    )
    assert recipe.training_options(full) == {"mask_zero": True}
    assert recipe.training_options(truncated) == {"stateful": True, "batch_size": 32}
    assert recipe.training_options(randomized)["random_truncation"] == 0.2
    model = recipe.build_language_model(
        vocab_size=31, units=8, num_layers=2, **recipe.training_options(randomized)
    )
    layers = model.get_layer("rnn").recurrent_layers
    assert all(layer.stateful and layer.random_truncation == 0.2 for layer in layers)


def test_ngram_baselines_samples_and_export(tmp_path, capsys):
    recipe.main(
        [
            *SMALL,
            "--run-dir", str(tmp_path / "run"),
            "--ngram-orders", "2", "3",
            "--prompt", "the time traveller",
            "--max-output-length", "12",
            "--export", str(tmp_path / "exports"),
        ]
    )  # fmt: skip
    output = capsys.readouterr().out
    assert "| 3 |" in output and "Continuations of 'the time traveller'" in output
    for label in ("greedy", "temperature 0.8", "top-k 10", "top-p 0.9"):
        line = next(line for line in output.splitlines() if f"{label}:" in line)
        assert len(line.split(":", 1)[1].strip("\n")) == 13  # space + 12 characters
    assert os.path.isdir(tmp_path / "exports" / "language_model" / "1")


def test_tuning_searches_then_retrains(tmp_path, capsys, monkeypatch):
    fix_search_space(monkeypatch, recipe, units=16, num_layers=1, embedding_dim=16)
    recipe.main(
        [
            *without(SMALL, "--units", "--num-layers"),
            "--level", "word",  # 6 times fewer steps than characters
            "--tune", "--tuner", "random", "--max-trials", "1",
            "--tune-dir", str(tmp_path / "search"),
            "--run-dir", str(tmp_path / "run"),
        ]
    )  # fmt: skip
    output = capsys.readouterr().out
    assert "Best val_perplexity" in output or "Score:" in output
    trials = [
        d
        for d in os.listdir(tmp_path / "search" / "timemachine_word_truncated")
        if d.startswith("trial_")
    ]
    assert len(trials) == 1
    assert np.isfinite(perplexities(output)[0])


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--prompt", "  "], "--prompt"),
        (["--max-output-length", "0"], "--max-output-length"),
        (["--max-output-length", "1000000000"], "--max-output-length"),
        (["--temperature", "0"], "--temperature"),
        (["--temperature", "-1"], "--temperature"),
        (["--corpus", "ptb", "--level", "char"], "--level"),
        (["--data", "/no/such/dir"], "--data"),
        (["--hidden-dropout", "0.2"], "--hidden-dropout: applies only with --num"),
        (["--nt-asgd", "5"], "--nt-asgd: applies only with --optimizer sgd"),
        # The earliest trigger is after epoch N + 2: none left to average.
        (["--optimizer", "sgd", "--nt-asgd", "1", "--epochs", "3"], "--nt-asgd: would"),
        (["--locked-dropout"], "--locked-dropout: applies only with a dropout"),
        (
            ["--bptt", "randomized", "--truncation-probability", "0"],
            "--truncation-probability: expected a probability above 0",
        ),
        (["--embedding-dropout", "0.1"], "--embedding-dropout: needs --embedding"),
        (
            ["--embedding-dim", "0"],
            "--embedding-dim: expected a positive integer (--one-hot",
        ),
        (["--one-hot", "--embedding-dim", "8"], "--embedding-dim: not with --one-hot"),
        (["--level", "word", "--one-hot", "--tie-weights"], "--tie-weights: needs"),
        (["--weight-dropout", "0.2", "--tune"], "--weight-dropout: not with --tune"),
        (["--ar", "2", "--tune"], "--ar: not with --tune"),
        (["--optimizer", "sgd", "--nt-asgd", "5", "--tune"], "--nt-asgd: not with"),
        (
            ["--optimizer", "sgd", "--nt-asgd", "5", "--epochs", "8", "--ema", "0.9"],
            "--ema: not with",
        ),
    ],
)
def test_bad_flags_fail_clearly(flags, message, capsys):
    argv = [*SMALL, *flags]
    if "--tune" in flags:  # the search picks the size SMALL sets
        argv = without(argv, "--units", "--num-layers")
    with pytest.raises(SystemExit) as exit_info:
        recipe.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_one_hot_inputs_are_chosen_by_flag_or_by_level():
    words = recipe.parse_args([*SMALL, "--level", "word", "--one-hot"])
    assert words.one_hot and recipe.model_config(words, 10)["embedding_dim"] is None
    characters = recipe.parse_args(SMALL)
    assert characters.one_hot and characters.embedding_dim is None
    embedded = recipe.parse_args([*SMALL, "--embedding-dim", "8"])
    assert not embedded.one_hot and embedded.embedding_dim == 8
    assert recipe.parse_args([*SMALL, "--level", "word"]).embedding_dim == 200


def test_awd_regularisers_and_nt_asgd_train_and_are_read_back(tmp_path, capsys):
    awd = {
        "--dropout": "0.3", "--input-dropout": "0.4", "--hidden-dropout": "0.2",
        "--embedding-dropout": "0.1", "--weight-dropout": "0.3", "--ar": "2",
        "--tar": "1", "--nt-asgd": "1",
        # Epochs enough for NT-ASGD to act, in batches four times SMALL's.
        "--epochs": "4", "--batch-size": "128",
    }  # fmt: skip
    recipe.main(
        [*SMALL, "--level", "word", "--embedding-dim", "16", "--tie-weights",
         "--num-layers", "2", "--locked-dropout", "--optimizer", "sgd",
         "--learning-rate", "1", "--clip-norm", "0.25", "--eval-rows", "4",
         "--run-dir", str(tmp_path), *[item for pair in awd.items() for item in pair]]
    )  # fmt: skip
    (valid,) = perplexities(capsys.readouterr().out)
    assert np.isfinite(valid)
    best = keras.saving.load_model(tmp_path / "best.keras")
    assert isinstance(best.optimizer, AveragedSGD)
    config = language_model_config(best)
    assert config["tie_weights"] and config["locked_dropout"]
    assert [config[name] for name in (
        "dropout", "input_dropout", "hidden_dropout", "embedding_dropout",
        "weight_dropout", "activation_regularization",
        "temporal_activation_regularization",
    )] == [0.3, 0.4, 0.2, 0.1, 0.3, 2.0, 1.0]  # fmt: skip


def test_evaluate_refuses_a_checkpoint_that_does_not_fit(tmp_path, capsys):
    # A model saved outside a recipe's run carries no record of its data, and
    # a word-level run's checkpoint was trained on another vocabulary: each
    # fails in one line naming the flag, before any scoring.
    words = recipe.build_language_model(vocab_size=500, units=8, embedding_dim=4)
    words.save(tmp_path / "bare.keras")
    recipe.main(
        [*SMALL, "--level", "word", "--run-dir", str(tmp_path / "words")]
    )  # fmt: skip
    capsys.readouterr()
    for path, message in [
        (tmp_path / "bare.keras", "carries no record of the data"),
        (tmp_path / "words" / "best.keras", "vocabulary differ"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            recipe.main([*SMALL, "--run-dir", str(tmp_path), "--evaluate", str(path)])
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert f"error: argument --evaluate: {str(path)!r}" in err and message in err
        assert "Traceback" not in err
    assert "--level word" in err


class KillAfterSecondEpoch(keras.callbacks.Callback):
    """A kill after epoch 2 is backed up (its history row not yet written)."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_a_killed_run_resumes_and_reports_its_best_epoch(tmp_path, capsys, monkeypatch):
    from garden.training import checkpoints, fitting

    flags = [*SMALL, "--epochs", "4", "--learning-rate", "0.05",
             "--run-dir", str(tmp_path)]  # fmt: skip
    original = fitting.standard_callbacks

    def killed(*args, **kwargs):
        return [*original(*args, **kwargs)[:-1], KillAfterSecondEpoch()]

    monkeypatch.setattr(fitting, "standard_callbacks", killed)
    with pytest.raises(KeyboardInterrupt):
        recipe.main(flags)
    monkeypatch.undo()
    recipe.main(flags)
    (valid,) = perplexities(capsys.readouterr().out)
    rows = [
        line.split(",") for line in (tmp_path / "history.csv").read_text().splitlines()
    ]
    epochs = [int(row[0]) for row in rows[1:]]
    column = rows[0].index("val_perplexity")
    scores = [float(row[column]) for row in rows[1:]]
    assert epochs == [0, 2, 3] or epochs == [0, 1, 2, 3]
    record = checkpoints.read_record(tmp_path / "best.keras")
    assert record["value"] == pytest.approx(min(scores), rel=1e-6)
    # The reported figure is the best checkpoint's, scored on the stream.
    recipe.main([*without(SMALL, "--epochs"), "--run-dir", str(tmp_path / "again"),
                 "--evaluate", str(tmp_path / "best.keras")])  # fmt: skip
    assert perplexities(capsys.readouterr().out) == [pytest.approx(valid, rel=1e-5)]


def test_a_diverging_run_exits_non_zero_and_exports_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(
            [*SMALL, "--optimizer", "sgd", "--learning-rate", "1e6",
             "--run-dir", str(tmp_path), "--export", str(tmp_path / "exports")]
        )  # fmt: skip
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "(nothing was exported)" in err
    assert not os.path.exists(tmp_path / "exports")


def test_a_batch_larger_than_the_stream_names_the_flags(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main([*SMALL, "--batch-size", "100000", "--run-dir", str(tmp_path)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "error: argument --batch-size: the train stream has" in err
    assert "--num-steps 16 need" in err and "Traceback" not in err


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_stateful_training_under_mixed_precision(precision, tmp_path, capsys):
    recipe.main(
        [*SMALL, "--precision", precision, "--run-dir", str(tmp_path),
         "--prompt", "time", "--max-output-length", "5"]
    )  # fmt: skip
    output = capsys.readouterr().out
    assert f"precision {precision}" in output
    (valid,) = perplexities(output)
    assert np.isfinite(valid) and valid < 27.0


def test_missing_or_corrupt_data_is_one_line_naming_the_file(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("GARDEN_DATA", os.environ["GARDEN_DATA"])  # --data sets it
    monkeypatch.setenv("GARDEN_OFFLINE", "1")
    corrupt = tmp_path / "corrupt" / "timemachine"
    corrupt.mkdir(parents=True)
    (corrupt / "timemachine.txt").write_bytes(b"\xff not the novel")
    (tmp_path / "empty").mkdir()
    for directory, message in [("empty", "GARDEN_DATA"), ("corrupt", "sha256")]:
        with pytest.raises(SystemExit) as exit_info:
            recipe.main(
                [*SMALL, "--data", str(tmp_path / directory),
                 "--run-dir", str(tmp_path / "run")]
            )  # fmt: skip
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.count("\n") == 1
        assert "timemachine.txt" in err and message in err


class _PrecisionChosen(Exception):
    """Stops a run once it has chosen its precision, before any data is read."""


@pytest.mark.parametrize(
    "level, cell, expected",
    [
        ("char", "lstm", "mixed_bfloat16"),
        ("char", "gru", "float32"),
        ("word", "lstm", "float32"),
    ],
)
def test_auto_precision_takes_bfloat16_only_for_the_character_lstm(
    level, cell, expected, tmp_path, monkeypatch
):
    # As on a CPU with native bfloat16 (AVX-512 BF16 or AMX), where the
    # character LSTM was measured faster at the same quality.
    monkeypatch.setattr("garden.training.precision.cpu_computes_bfloat16", lambda: True)

    def stop(args):
        raise _PrecisionChosen(keras.config.dtype_policy().name)

    monkeypatch.setattr(recipe, "load_corpus", stop)
    args = recipe.parse_args(
        [*SMALL, "--level", level, "--cell", cell, "--run-dir", str(tmp_path)]
    )
    with pytest.raises(_PrecisionChosen) as chosen:
        recipe.run(args)
    assert str(chosen.value) == expected
