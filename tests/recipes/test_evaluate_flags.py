"""With `--evaluate`, a flag of training or of the model acts only as a record.

`--evaluate` scores a checkpoint as it was trained, so every flag a recipe
lists either acts in that run (data, reports, export: `ACTING` below) or is
refused unless its value is the one the checkpoint was trained with: the
training command with `--evaluate` added passes, another value would be
ignored and is refused. A new flag in neither group fails here.

The checkpoints are `.keras` archives holding only the record the recipes
write into theirs (`garden.training.checkpoints`): parsing reads no more.
"""

import contextlib
import io
import json
import zipfile

import pytest

from garden.models.bilm import build_bilm
from garden.training.checkpoints import RECORD_NAME
from recipes import bilm, language_model, sentiment, sst, tagging, translation

SHARED_ACTING = {
    "--data", "--seed", "--run-dir", "--verbose", "--export", "--model-name",
    "--evaluate",
    # Refused without --tune, which --evaluate refuses.
    "--tuner", "--tune-dir", "--max-trials",
}  # fmt: skip
# (recipe, the flags that act when scoring a checkpoint)
RECIPES = {
    "language_model": (
        language_model,
        {
            "--precision",  # the scoring model is rebuilt in the run's policy
            "--corpus", "--level", "--ngram-orders", "--eval-rows", "--prompt",
            "--max-output-length", "--temperature", "--top-k", "--top-p",
        },
    ),
    "sentiment": (
        sentiment,
        {
            "--model", "--batch-size", "--min-freq", "--max-length",
            "--validation-size", "--max-train-examples", "--max-test-examples",
            "--split-seed", "--predictions", "--predict", "--ensemble",
        },
    ),
    "sst": (
        sst,
        {"--model", "--batch-size", "--max-train-trees", "--max-test-trees"},
    ),
    "tagging": (
        tagging,
        {
            "--batch-size", "--min-freq", "--window", "--stride", "--mark-offsets",
            "--validation-size", "--max-train-examples", "--max-test-examples",
            "--punctuate",
        },
    ),
    "translation": (
        translation,
        {
            "--min-freq", "--test-size", "--validation-size", "--split-seed",
            "--max-train-pairs", "--beam-width", "--length-penalty",
            "--translations", "--translate",
        },
    ),
    "bilm": (
        bilm,
        {
            "--batch-size", "--max-tokens", "--num-steps", "--validation-size",
            "--max-train-examples",
        },
    ),
}  # fmt: skip
# A flag set away from every recipe's default, with what it needs to act.
SET = {
    "--strategy": ["--strategy", "mirrored"],
    "--precision": ["--precision", "mixed_bfloat16"],
    "--max-length": ["--max-length", "20"],
    "--epochs": ["--epochs", "7"],
    "--batch-size": ["--batch-size", "7"],
    "--optimizer": ["--optimizer", "adagrad"],
    "--learning-rate": ["--learning-rate", "0.3"],
    # Epochs enough for them to act (the tagger's default is 3, the biLM's 1).
    "--lr-decay": ["--epochs", "7", "--lr-decay", "0.5"],
    "--lr-decay-start": ["--epochs", "7", "--lr-decay", "0.5", "--lr-decay-start", "3"],
    "--clip-norm": ["--clip-norm", "0.3"],
    "--patience": ["--epochs", "7", "--patience", "2"],
    "--tune": ["--tune"],
    "--ema": ["--ema", "0.99"],
    "--cell": ["--cell", "rnn"],
    "--units": ["--units", "7"],
    "--num-layers": ["--num-layers", "3"],
    "--embedding-dim": ["--embedding-dim", "48"],
    "--one-hot": ["--level", "word", "--one-hot"],
    "--dropout": ["--dropout", "0.15"],
    "--recurrent-dropout": ["--recurrent-dropout", "0.1"],
    "--input-dropout": ["--input-dropout", "0.1"],
    "--hidden-dropout": ["--hidden-dropout", "0.1"],
    "--locked-dropout": ["--dropout", "0.15", "--locked-dropout"],
    "--embedding-dropout": ["--level", "word", "--embedding-dropout", "0.1"],
    "--weight-dropout": ["--weight-dropout", "0.1"],
    "--ar": ["--ar", "1.5"],
    "--tar": ["--tar", "1.5"],
    "--nt-asgd": ["--optimizer", "sgd", "--nt-asgd", "3"],
    "--tie-weights": ["--level", "word", "--tie-weights"],
    "--residual": ["--residual"],
    "--bptt": ["--bptt", "full"],
    "--num-steps": ["--num-steps", "7"],
    "--truncation-probability": [
        "--bptt", "randomized", "--truncation-probability", "0.2"
    ],
    "--freeze-embeddings": ["--freeze-embeddings"],
    "--multichannel": ["--model", "textcnn", "--multichannel"],
    "--filters": ["--model", "textcnn", "--filters", "7"],
    "--bag": ["--model", "bow", "--bag", "tf_idf"],
    "--bigram-min-count": ["--model", "nbsvm", "--bigram-min-count", "3"],
    "--bucket": ["--bucket"],
    "--unidirectional": ["--unidirectional"],
    "--attention-units": ["--attention-units", "16"],
    "--attention": ["--no-attention"],
    "--reverse-source": ["--reverse-source"],
    "--schedule": ["--schedule", "dense"],
    "--sampled-softmax": ["--sampled-softmax", "50"],
    "--steps-per-epoch": ["--steps-per-epoch", "5"],
}  # fmt: skip
ULMFIT = ["--model", "ulmfit", "--bilm", "<bilm>"]
# Where a flag needs more, or other values, in one recipe.
SET_IN = {
    ("sentiment", "--embeddings"): ["--embeddings", "glove"],
    ("sentiment", "--bilm"): ["--bilm", "<bilm>"],
    ("sentiment", "--weight-dropout"): [*ULMFIT, "--weight-dropout", "0.1"],
    ("sentiment", "--discriminative-decay"): [*ULMFIT, "--discriminative-decay", "2"],
    ("sentiment", "--gradual-unfreezing"): [*ULMFIT, "--no-gradual-unfreezing"],
    ("sentiment", "--pretraining"): [*ULMFIT, "--no-pretraining"],
    ("sst", "--embeddings"): ["--embeddings", "random"],
    ("sst", "--bilm"): ["--model", "bilstm", "--bilm", "<bilm>"],
    ("sst", "--embedding-dim"): ["--embeddings", "random", "--embedding-dim", "48"],
    ("tagging", "--embeddings"): ["--embeddings", "glove"],
    ("tagging", "--ema"): ["--ema", "0.99"],
}


@pytest.fixture(scope="module")
def small_bilm(tmp_path_factory):
    path = tmp_path_factory.mktemp("bilm") / "bilm.keras"
    build_bilm(["<pad>", "<unk>", "<bos>", "<eos>", "a", "b"], 4, 6).save(path)
    return str(path)


def _checkpoint(path, flags=None, config=None):
    """A `.keras` archive holding only a training record."""
    record = {"recipe": "any", "flags": flags or {}, "config": config or {}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(RECORD_NAME, json.dumps(record, default=str))
    return str(path)


# Refused in every run (the biLM has no search space and no export).
NEVER = {("bilm", "--tune"), ("bilm", "--export"), ("bilm", "--model-name")}


def _cases():
    for name, (recipe, acting) in RECIPES.items():
        for flag in _recipe_flags(recipe):
            if flag not in acting | SHARED_ACTING and (name, flag) not in NEVER:
                yield name, flag


def _recipe_flags(recipe):
    """Every flag of the recipe's `--help` (the first spelling of each)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        recipe.parse_args(["--help"])
    flags = []
    for line in out.getvalue().splitlines():
        words = line.split()
        if words and words[0].startswith("--") and words[0] != "--help":
            flag = words[0].rstrip(",")
            if flag not in flags:
                flags.append(flag)
    return flags


def _argv(name, flag, bilm_path):
    tokens = SET_IN.get((name, flag)) or SET[flag]
    return [bilm_path if token == "<bilm>" else token for token in tokens]


def _error(recipe, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.parse_args(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("name, flag", list(_cases()))
def test_a_flag_of_training_or_the_model_must_match_the_checkpoint(
    name, flag, small_bilm, tmp_path, capsys
):
    recipe, _ = RECIPES[name]
    argv = _argv(name, flag, small_bilm)
    trained = vars(recipe.parse_args(argv))  # the training run's flags
    same = _checkpoint(tmp_path / "same.keras", json.loads(json.dumps(trained)))
    if flag != "--tune":
        # The training command with --evaluate added: the flag says what
        # the checkpoint is.
        recipe.parse_args([*argv, "--evaluate", same])
    else:
        err = _error(recipe, [*argv, "--evaluate", same], capsys)
        assert "argument --tune: not with --evaluate" in err
        return
    # The same run without the flag: what it needs, at the flag's default.
    start = next(i for i, token in enumerate(argv) if token.endswith(flag[2:]))
    defaults = vars(recipe.parse_args(argv[:start]))
    other = _checkpoint(tmp_path / "other.keras", json.loads(json.dumps(defaults)))
    err = _error(recipe, [*argv, "--evaluate", other], capsys)
    assert f"error: argument {flag}: " in err and "was trained with" in err
    dest = flag[2:].replace("-", "_")
    del defaults[dest]
    unrecorded = _checkpoint(
        tmp_path / "unrecorded.keras", json.loads(json.dumps(defaults))
    )
    err = _error(recipe, [*argv, "--evaluate", unrecorded], capsys)
    assert f"error: argument {flag}: not with --evaluate" in err


def test_the_model_config_counts_before_the_flags(tmp_path, capsys):
    # A searched checkpoint: the flags say 256 units, the model has 128.
    flags = vars(tagging.parse_args([]))
    path = _checkpoint(tmp_path / "searched.keras", flags, {"units": 128})
    tagging.parse_args(["--units", "128", "--evaluate", path])
    err = _error(tagging, ["--units", "64", "--evaluate", path], capsys)
    assert "argument --units: 64, but the checkpoint" in err
    assert "was trained with 128" in err
