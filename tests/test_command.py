"""The `garden` command: quick help, the recipes' own flags, predict, quiet runs."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import garden
from garden import cli
from garden.data import embeddings, punctuation
from garden.export import limits
from garden.export.word_vectors import export_word_vectors
from garden.layers import bag_of_words
from garden.models import classifiers, tree
from garden.models.word2vec import WordVectors
from garden.training import distribute, optimizers, precision
from recipes import __main__ as command
from recipes import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_command(*args, timeout=60, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "recipes", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        **kwargs,
    )


def test_the_light_copies_match_the_names_the_garden_owns():
    assert cli.PRECISIONS == precision.PRECISIONS
    assert cli.STRATEGIES == distribute.STRATEGIES
    assert cli.OPTIMIZERS == optimizers.OPTIMIZERS
    assert flags.MAX_LENGTH_LIMIT == limits.MAX_LENGTH_LIMIT
    assert flags.CLASSIFIERS == classifiers.CLASSIFIERS
    assert flags.BAG_OF_WORDS_MODES == bag_of_words.BAG_OF_WORDS_MODES
    assert flags.TREE_MODELS == tuple(tree.TREE_MODELS)
    assert flags.SST_MODELS == tree.SST_MODELS
    assert flags.GLOVE_DIMENSION == embeddings.GLOVE_DIMENSION
    assert flags.PUNCTUATION_WINDOW == punctuation.PUNCTUATION_WINDOW
    assert command.DEFER_KERAS_ENV == garden.DEFER_KERAS_ENV


# Parses every recipe's --help through the command, then says what was imported.
HELP_ONLY = """
import sys
from recipes.__main__ import RECIPES, main
for name in [None, *RECIPES]:
    try:
        main([name, "--help"] if name else ["--help"])
    except SystemExit as exit:
        assert exit.code == 0, name
print("IMPORTED", *sorted({"tensorflow", "keras"} & set(sys.modules)))
"""


def test_help_answers_without_importing_tensorflow_or_keras():
    result = subprocess.run(
        [sys.executable, "-c", HELP_ONLY],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1] == "IMPORTED"
    for name in command.RECIPES:
        assert f"usage: garden {name} [-h]" in result.stdout
    assert "language-model (lm)" in result.stdout
    assert "predict" in result.stdout


def test_the_installed_garden_command_is_this_main():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as file:
        scripts = tomllib.load(file)["project"]["scripts"]
    assert scripts == {"garden": "recipes.__main__:main"}


@pytest.mark.parametrize("name", ["lm", "language-model", "language_model"])
def test_aliases_reach_the_recipe_and_its_own_flag_errors(name, capsys):
    program = sys.argv[0]
    with pytest.raises(SystemExit) as exit_info:
        command.main([name, "--corpus", "nowhere"])
    assert exit_info.value.code == 2
    assert sys.argv[0] == program
    error = capsys.readouterr().err
    assert f"usage: garden {name}" in error
    assert "argument --corpus: invalid choice: 'nowhere'" in error


def test_unknown_command_and_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        command.main(["translate"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'translate'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        command.main(["--version"])
    assert capsys.readouterr().out.strip() == garden.__version__


@pytest.fixture(scope="module")
def word_vectors_export(tmp_path_factory):
    rng = np.random.default_rng(0)
    vectors = WordVectors(
        ["great", "film"],
        rng.normal(size=(2, 4)),
        rng.normal(size=(16, 4)).astype("float32"),
    )
    root = str(tmp_path_factory.mktemp("exports"))
    export_word_vectors(vectors, root, "wv", examples=["film"])
    return os.path.join(root, "wv")


def test_predict_prints_the_exports_outputs_per_text(
    word_vectors_export, capsys, monkeypatch
):
    expected = garden.load(word_vectors_export)(["great", "film", "été"])["vector"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("film\n\nété\n"))
    command.main(["predict", word_vectors_export, "great", "-", "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["input"] for row in rows] == ["great", "film", "été"]
    np.testing.assert_allclose([row["vector"] for row in rows], expected, rtol=1e-6)

    command.main(["predict", word_vectors_export, "great"])
    line = capsys.readouterr().out.strip()
    vector = np.array2string(expected[0], precision=4)
    assert line == f"great\tknown=True  vector={vector}"


STARTUP_NOISE = ("I0000", "E0000", "W0000", "absl::InitializeLog", "Warning", "oneDNN")


@pytest.mark.skipif(
    not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
)
def test_a_recipe_run_through_the_command_is_quiet(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    result = run_command(
        "lm", "--corpus", "timemachine", "--units", "8", "--num-layers", "1",
        "--epochs", "1", "--batch-size", "512", "--num-steps", "8",
        "--verbose", "0", "--precision", "float32", "--eval-rows", "256",
        "--run-dir", str(tmp_path),
        timeout=180,
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "valid:" in result.stdout
    noisy = [line for line in result.stderr.splitlines() if line.strip()]
    assert not [line for line in noisy if any(n in line for n in STARTUP_NOISE)], (
        result.stderr[-2000:]
    )
    assert noisy == []
