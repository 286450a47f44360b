import argparse
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from garden.errors import UserError
from garden.layers import DeepRNN
from garden.training import checkpoints, run_record


def small_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def args_of(run_dir, recipe="sentiment", **flags):
    return argparse.Namespace(run_dir=str(run_dir), recipe=recipe, **flags)


def test_a_save_killed_midway_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "best.keras"
    first = small_model()
    checkpoints.save_model(first, path, epoch=1)

    def die_midway(model, filepath, **kwargs):
        with open(filepath, "wb") as file:
            file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", die_midway)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save_model(small_model(), path, epoch=2)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["best.keras"]  # no temporary file left
    assert checkpoints.read_record(path)["epoch"] == 1
    np.testing.assert_array_equal(
        keras.saving.load_model(path).get_weights()[0], first.get_weights()[0]
    )


def test_a_checkpoint_carries_the_runs_recipe_data_and_flags(tmp_path):
    args = args_of(tmp_path, min_freq=2)
    with run_record.recorded(args):
        run_record.describe_data(vocabulary=["<pad>", "good"], max_length=10)
        checkpoints.save_model(small_model(), tmp_path / "m.keras", epoch=3)
    record = checkpoints.read_record(tmp_path / "m.keras")
    assert record["recipe"] == "sentiment" and record["epoch"] == 3
    assert record["flags"]["min_freq"] == 2
    assert set(record["data"]) == {"vocabulary", "max_length"}
    # Outside a run, a model is saved with only what it is given.
    checkpoints.save_model(small_model(), tmp_path / "plain.keras", epoch=1)
    assert checkpoints.read_record(tmp_path / "plain.keras") == {"epoch": 1}


def evaluation_error(path, args, vocabulary):
    with run_record.recorded(args):
        run_record.describe_data(vocabulary=vocabulary)
        with pytest.raises(UserError) as error:
            checkpoints.load_for_evaluation(str(path), args)
    return str(error.value)


def test_evaluation_refuses_checkpoints_of_other_data_or_none(tmp_path):
    trained = args_of(tmp_path / "a", min_freq=2, seed=0)
    with run_record.recorded(trained):
        run_record.describe_data(vocabulary=["<pad>", "good"])
        checkpoints.save_model(small_model(), tmp_path / "best.keras", epoch=1)
    small_model().save(tmp_path / "bare.keras")
    (tmp_path / "text.keras").write_text("not a zip")
    same = args_of(tmp_path / "b", min_freq=2, seed=0)
    with run_record.recorded(same):
        run_record.describe_data(vocabulary=["<pad>", "good"])
        model, config = checkpoints.load_for_evaluation(
            str(tmp_path / "best.keras"), same
        )
    assert model.count_params() == 3 and config == {}

    other = args_of(tmp_path / "c", min_freq=5, seed=0)
    message = evaluation_error(tmp_path / "best.keras", other, ["<pad>", "bad"])
    assert message.startswith("argument --evaluate: ")
    assert "vocabulary differ" in message and message.endswith("--min-freq 2")
    for name, expected in [
        ("bare.keras", "carries no record of the data"),
        ("text.keras", "is not a .keras file"),
        ("missing.keras", "is not a file"),
    ]:
        assert expected in evaluation_error(tmp_path / name, same, ["<pad>", "good"])
    tagger = args_of(tmp_path / "d", recipe="tagging", min_freq=2, seed=0)
    assert "trained by the sentiment recipe" in evaluation_error(
        tmp_path / "best.keras", tagger, ["<pad>", "good"]
    )


def test_import_garden_alone_lets_keras_load_garden_layers(tmp_path):
    inputs = keras.Input((3, 2))
    model = keras.Model(inputs, DeepRNN(4, num_layers=2)(inputs))
    model.save(tmp_path / "deep.keras")
    code = (
        "import sys, keras, garden; "
        "print(type(keras.saving.load_model(sys.argv[1]).layers[1]).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "deep.keras")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "DeepRNN"


def test_the_resolved_config_rides_along_and_some_flags_must_match(tmp_path):
    trained = args_of(tmp_path / "a", model="birnn", units=8)
    with run_record.recorded(trained):
        run_record.describe_data(vocabulary=["<pad>"])
        run_record.describe_model({"units": 16, "sizes": [3, 4], "idf": np.ones(3)})
        checkpoints.save_model(small_model(), tmp_path / "best.keras")
    again = args_of(tmp_path / "b", model="birnn", units=8)
    with run_record.recorded(again):
        run_record.describe_data(vocabulary=["<pad>"])
        _, config = checkpoints.load_for_evaluation(
            str(tmp_path / "best.keras"), again, same=["model"]
        )
    assert config == {"units": 16, "sizes": [3, 4]}
    other = args_of(tmp_path / "c", model="textcnn", units=8)
    with run_record.recorded(other):
        run_record.describe_data(vocabulary=["<pad>"])
        with pytest.raises(UserError, match="trained with --model birnn, not textcnn"):
            checkpoints.load_for_evaluation(
                str(tmp_path / "best.keras"), other, same=["model"]
            )
