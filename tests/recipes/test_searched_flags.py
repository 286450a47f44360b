"""With `--tune`, a flag of what the search picks is refused, in every recipe.

The retrained best trial takes the searched value, so such a flag would be
accepted and ignored. The hyperparameters come from each recipe's own search
space, drawn on an empty `keras_tuner.HyperParameters` as its trials draw
them: a new hyperparameter whose flag the recipe still accepts with `--tune`
fails here.
"""

import keras_tuner
import pytest

from garden.tuning import optimizer_from_hp
from recipes import language_model, sentiment, sst, tagging, translation, word_vectors

# Hyperparameters named otherwise than their flags.
FLAG_OF = {
    "clip_gradients": "--clip-norm",
    "clip_norm": "--clip-norm",
    "average_weights": "--ema",
    "ema_momentum": "--ema",
    "activation_regularization": "--ar",
    "temporal_activation_regularization": "--tar",
}
# A value no recipe has as its default ([] for a switch).
VALUES = {
    "--optimizer": ["adagrad"],
    "--learning-rate": ["0.3"],
    "--clip-norm": ["0.3"],
    "--ema": ["0.99"],
    "--cell": ["rnn"],
    "--units": ["7"],
    "--num-layers": ["3"],
    "--dropout": ["0.15"],
    "--embedding-dim": ["48"],
    "--filters": ["7"],
    "--attention-units": ["16"],
    "--locked-dropout": [],
    "--tie-weights": [],
    "--weight-dropout": ["0.1"],
    "--embedding-dropout": ["0.1"],
    "--ar": ["1.5"],
    "--tar": ["1.5"],
    "--dim": ["7"],
}
# What a flag needs to act at all (an unsearched flag).
NEEDS = {"--locked-dropout": ["--hidden-dropout", "0.1"]}


def _with_optimizer(space):
    """The recipe's space and `optimizer_from_hp`, as its searches draw them."""

    def draw(hp, averaging):
        space(hp)
        optimizer_from_hp(hp, averaging=averaging)

    return draw


# (recipe, its flags, the space its search draws, a flag the space leaves be)
CASES = {
    "language_model_words": (
        language_model,
        ["--corpus", "ptb"],
        _with_optimizer(
            lambda hp: language_model.config_from_hp(hp, {"embedding_dim": 200})
        ),
        ["--recurrent-dropout", "0.1"],
    ),
    "language_model_one_hot_characters": (
        language_model,
        ["--corpus", "timemachine"],
        _with_optimizer(
            lambda hp: language_model.config_from_hp(hp, {"embedding_dim": None})
        ),
        ["--recurrent-dropout", "0.1"],
    ),
    **{
        f"sentiment_{model}": (
            sentiment,
            ["--model", model],
            _with_optimizer(
                lambda hp, model=model: sentiment.config_from_hp(hp, model, {})
            ),
            unsearched,
        )
        for model, unsearched in (
            ("birnn", ["--cell", "gru"]),
            ("textcnn", ["--multichannel"]),
            ("nbsvm", ["--bigram-min-count", "3"]),
            ("bow", ["--bag", "tf_idf"]),
        )
    },
    "sst": (
        sst,
        ["--model", "treelstm"],
        _with_optimizer(lambda hp: sst.config_from_hp(hp, {})),
        ["--schedule", "dense"],
    ),
    **{
        f"tagging_{name}": (
            tagging,
            flags,
            _with_optimizer(
                lambda hp, flags=flags: tagging.config_from_hp(
                    hp, {"bidirectional": not flags}
                )
            ),
            ["--recurrent-dropout", "0.1"],
        )
        for name, flags in (
            ("bidirectional", []),
            ("unidirectional", ["--unidirectional"]),
        )
    },
    "translation": (
        translation,
        [],
        _with_optimizer(lambda hp: translation.config_from_hp(hp, {})),
        ["--beam-width", "2"],
    ),
    "word_vectors": (
        word_vectors,
        [],
        lambda hp, averaging: word_vectors.config_from_hp(hp, {}),
        ["--window", "3"],
    ),
}


def _searched_flags(name):
    recipe, flags, draw, _ = CASES[name]
    averaging = "ema" in vars(recipe.parse_args(flags))
    hp = keras_tuner.HyperParameters()
    draw(hp, averaging)
    names = [parameter.name for parameter in hp.space]
    return sorted(
        {
            "--learning-rate"
            if name.startswith("learning_rate")
            else FLAG_OF.get(name, "--" + name.replace("_", "-"))
            for name in names
        }
    )


def _refusal(recipe, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.parse_args(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "name, flag", [(name, flag) for name in CASES for flag in _searched_flags(name)]
)
def test_a_searched_flag_is_refused_with_tune(name, flag, capsys):
    recipe, flags, _, _ = CASES[name]
    argv = [*flags, *NEEDS.get(flag, []), flag, *VALUES[flag]]
    recipe.parse_args(argv)  # accepted without a search
    err = _refusal(recipe, [*argv, "--tune"], capsys)
    assert f"error: argument {flag}: not with --tune" in err


@pytest.mark.parametrize("name", list(CASES))
def test_a_flag_the_search_leaves_be_still_acts_with_tune(name):
    recipe, flags, _, unsearched = CASES[name]
    assert unsearched[0] not in _searched_flags(name)
    args = recipe.parse_args([*flags, *unsearched, "--tune"])
    assert args.tune


def test_the_spaces_hold_what_the_recipes_search():
    # Guards the table above against drawing less than the recipes do.
    assert _searched_flags("language_model_words") == sorted(
        {
            "--ar", "--cell", "--clip-norm", "--dropout", "--ema",
            "--embedding-dim", "--embedding-dropout", "--learning-rate",
            "--locked-dropout", "--num-layers", "--optimizer", "--tar",
            "--tie-weights", "--units", "--weight-dropout",
        }
    )  # fmt: skip
    assert "--embedding-dim" not in _searched_flags("language_model_one_hot_characters")
    assert "--attention-units" in _searched_flags("tagging_bidirectional")
    assert "--attention-units" not in _searched_flags("tagging_unidirectional")
    assert _searched_flags("word_vectors") == ["--dim", "--learning-rate"]
