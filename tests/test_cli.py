import argparse

import numpy as np
import pytest

from garden import cli, data


def parse(*flags):
    return cli.parse(cli.recipe_parser("a recipe", "recipe"), list(flags))


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--lr-decay-start", "3"], "--lr-decay-start: applies only with --lr-decay"),
        (["--tuner", "random"], "--tuner: applies only with --tune"),
        (["--max-trials", "3"], "--max-trials: applies only with --tune"),
        (["--tune-dir", "elsewhere"], "--tune-dir: applies only with --tune"),
        (["--model-name", "other"], "--model-name: applies only with --export"),
        (["--lr-decay-start", "0", "--lr-decay", "0.5"], "positive integer"),
        (["--lr-decay", "0"], "--lr-decay"),
        (["--learning-rate", "inf"], "--learning-rate: expected a positive finite"),
        (["--learning-rate", "nan"], "--learning-rate: expected a positive finite"),
        (["--clip-norm", "-1"], "--clip-norm: expected a positive finite"),
        (["--lr-decay-start", "-5", "--lr-decay", "0.5"], "--lr-decay-start"),
        (["--lr-decay", "1"], "--lr-decay: expected a number in (0, 1)"),
        # Values that cannot act within --epochs (the default is 10).
        (["--lr-decay", "0.5", "--epochs", "1"], "--lr-decay: would never act"),
        (
            ["--lr-decay", "0.5", "--lr-decay-start", "10"],
            "--lr-decay-start: would never act",
        ),
        (["--patience", "9"], "--patience: would never act"),
        (["--patience", "1", "--epochs", "2"], "--patience: would never act"),
    ],
)
def test_a_flag_that_would_not_act_is_refused_by_name(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(*flags)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_ema_takes_a_momentum_that_averages(capsys):
    parser = cli.recipe_parser("a recipe", "recipe")
    cli.add_ema_flag(parser)
    for momentum in ("0", "1"):  # the weights themselves; never moving
        with pytest.raises(SystemExit):
            cli.parse(parser, ["--ema", momentum])
        assert "--ema: expected a number in (0, 1)" in capsys.readouterr().err
    assert cli.parse(parser, ["--ema", "0.5"]).ema == 0.5


def test_the_same_flags_act_beside_what_they_need():
    args = parse("--lr-decay", "0.5", "--lr-decay-start", "3")
    assert (args.lr_decay, args.lr_decay_start) == (0.5, 3)
    # The last values that still act: the tenth epoch decays; stopping after
    # nine epochs leaves the tenth unrun.
    assert parse("--lr-decay", "0.5", "--lr-decay-start", "9").lr_decay_start == 9
    assert parse("--lr-decay", "0.5", "--epochs", "2").lr_decay == 0.5
    assert parse("--patience", "8").patience == 8
    # A recipe's own default patience is not refused in a shorter run.
    parser = cli.recipe_parser("a recipe", "recipe", patience=4)
    assert cli.parse(parser, ["--epochs", "2"]).patience == 4
    args = parse("--tune", "--tuner", "random", "--max-trials", "3")
    assert (args.tuner, args.max_trials) == ("random", 3)
    assert parse("--export", "out", "--model-name", "other").model_name == "other"
    # The default given explicitly changes nothing, so it is not refused.
    assert parse("--tuner", "hyperband").tuner == "hyperband"


def test_evaluate_names_a_file_that_exists(tmp_path, capsys):
    parser = cli.recipe_parser("a recipe", "recipe")
    cli.add_evaluate_flag(parser)
    (tmp_path / "best.keras").write_bytes(b"")
    assert cli.parse(parser, ["--evaluate", str(tmp_path / "best.keras")]).evaluate
    with pytest.raises(SystemExit):
        cli.parse(parser, ["--evaluate", str(tmp_path / "missing.keras")])
    assert "--evaluate: expected an existing file" in capsys.readouterr().err


def test_embedding_matrix_reads_the_flag_and_says_what_it_covers(tmp_path, capsys):
    vocabulary = data.Vocabulary(["good", "Bad", "unseen"], reserved_tokens=())
    path = tmp_path / "vectors.txt"
    path.write_text("2 3\ngood 1 2 3\nbad 4 5 6\n")
    args = argparse.Namespace(embeddings="random", seed=0)
    assert cli.embedding_matrix(args, vocabulary) is None
    args.embeddings = str(path)
    matrix = cli.embedding_matrix(args, vocabulary)
    assert matrix.shape == (len(vocabulary), 3)
    np.testing.assert_array_equal(matrix[vocabulary["good"]], [1, 2, 3])
    np.testing.assert_array_equal(matrix[vocabulary["Bad"]], [4, 5, 6])  # lower-cased
    np.testing.assert_array_equal(matrix[vocabulary["<pad>"]], 0)
    assert 0 < np.abs(matrix[vocabulary["unseen"]]).max() < 0.1  # N(0, 0.01^2)
    assert f"The vectors of {path} cover" in capsys.readouterr().out
