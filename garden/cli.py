"""The flags every recipe shares, with errors that name the flag."""

import argparse
import json
import math
import os
import zipfile

from garden.checks import is_positive_integer

# Literal copies of the names in garden.training (tests/test_command.py checks they
# match): this module parses flags before Keras is imported, so `--help` is quick.
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multi_worker")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam")
TUNERS = ("hyperband", "random")
# What `garden.tuning.optimizer_from_hp` picks in every search that uses it.
SEARCHED_OPTIMIZER_FLAGS = ("--optimizer", "--learning-rate", "--clip-norm")
# The flags that act only in training (`--ema` where a recipe has it):
# evaluation runs outside the strategy's scope.
TRAINING_FLAGS = (
    "--strategy",
    "--epochs",
    "--optimizer",
    "--learning-rate",
    "--lr-decay",
    "--lr-decay-start",
    "--clip-norm",
    "--patience",
    "--ema",
)


def _parse(text, convert, accept, expected):
    """argparse's value: `convert(text)`, if it converts and `accept` takes it."""
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text):
    """argparse type: an integer >= 1."""
    return _parse(text, int, is_positive_integer, "a positive integer")


def non_negative_int(text):
    """argparse type: an integer >= 0 (0 turning something off)."""
    return _parse(text, int, lambda value: value >= 0, "an integer >= 0")


def positive_float(text):
    """argparse type: a finite float > 0."""
    return _parse(
        text, float, lambda value: 0 < value < math.inf, "a positive finite number"
    )


def rate(text):
    """argparse type: a float in [0, 1)."""
    return _parse(text, float, lambda value: 0 <= value < 1, "a number in [0, 1)")


def proper_fraction(text):
    """argparse type: a float in (0, 1): a decay factor, an average's momentum.

    At either end such a flag would be accepted and change nothing: a decay
    by 1, an average of momentum 0 (the weights themselves).
    """
    return _parse(text, float, lambda value: 0 < value < 1, "a number in (0, 1)")


def bounded_int(limit):
    """argparse type: an integer in [1, limit]."""

    def parse(text):
        value = positive_int(text)
        if value > limit:
            raise argparse.ArgumentTypeError(
                f"expected a positive integer of at most {limit}, got {text!r}"
            )
        return value

    return parse


def existing_file(text):
    """argparse type: the path of a file that exists."""
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"expected an existing file, got {text!r}")
    return text


def bilm_file(text):
    """argparse type: a `.keras` biLM from `recipes.bilm` (its config is checked)."""
    from garden.models.bilm import check_bilm_file

    try:
        check_bilm_file(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    return text


def recipe_parser(description, name, **defaults):
    """An ArgumentParser with the shared flags; the recipe adds its own.

    Args:
        description: The recipe's one-line description.
        name: The recipe's name: default run directory `runs/<name>` and
            exported model name.
        **defaults: Overrides of the shared defaults (e.g. `epochs=20`).

    Returns:
        The `argparse.ArgumentParser`.
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    group = parser.add_argument_group("shared by every recipe")
    _add_setup_flags(group)
    _add_training_flags(group)
    _add_run_flags(group, name)
    # Not a flag: the recipe's name, recorded in run.json and in checkpoints.
    parser.set_defaults(recipe=name, **defaults)
    return parser


def _add_setup_flags(group):
    """Where the data is and what the run runs on: --data, --precision, --strategy."""
    group.add_argument(
        "--data",
        default=os.environ.get("GARDEN_DATA"),
        help="data directory laid out like GARDEN_DATA (default: $GARDEN_DATA)",
    )
    group.add_argument("--precision", choices=PRECISIONS, default="auto")
    group.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help="tf.distribute strategy: mirrored (this machine's devices) or "
        "multi_worker (machines named by TF_CONFIG); --batch-size is global",
    )


def _add_training_flags(group):
    """How `fit` trains: epochs, batches, optimizer, schedule, clipping, stopping."""
    group.add_argument("--epochs", type=positive_int, default=10)
    group.add_argument("--batch-size", type=positive_int, default=32)
    group.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    group.add_argument("--learning-rate", type=positive_float, default=1e-3)
    group.add_argument(
        "--lr-decay",
        type=proper_fraction,
        default=None,
        help="multiply the learning rate by this factor after every epoch",
    )
    group.add_argument(
        "--lr-decay-start",
        type=positive_int,
        default=1,
        help="epochs at the initial learning rate (at least 1) before --lr-decay "
        "multiplies it after every epoch",
    )
    group.add_argument(
        "--clip-norm",
        type=positive_float,
        default=None,
        help="clip gradients by their global norm",
    )
    group.add_argument(
        "--patience",
        type=positive_int,
        default=None,
        help="stop after this many epochs without validation improvement",
    )
    group.add_argument("--seed", type=int, default=0)


def _add_run_flags(group, name):
    """Where the run keeps its files, the tuner's search and the export."""
    group.add_argument(
        "--run-dir",
        default=os.path.join("runs", name),
        help="TensorBoard logs, checkpoints and resume state of this run",
    )
    group.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1)
    group.add_argument(
        "--tune", action="store_true", help="run a KerasTuner search first"
    )
    group.add_argument("--tuner", choices=TUNERS, default="hyperband")
    group.add_argument(
        "--tune-dir",
        default=os.path.join("runs", name, "tuning"),
        help="where the search keeps its trials (an existing search resumes)",
    )
    group.add_argument("--max-trials", type=positive_int, default=20)
    group.add_argument(
        "--export",
        metavar="DIR",
        default=None,
        help="export a SavedModel to DIR/<model-name>/<version>/ and a .keras file",
    )
    group.add_argument("--model-name", default=name)


def parse(parser, argv=None):
    """Parses the flags; `--data DIR` then acts as `GARDEN_DATA=DIR` for loaders.

    A directory that does not exist is an error here, before any work starts.
    """
    args = parser.parse_args(argv)
    only_with(
        parser, args, ["--lr-decay-start"], args.lr_decay is not None, "--lr-decay"
    )
    only_with(
        parser, args, ["--tuner", "--tune-dir", "--max-trials"], args.tune, "--tune"
    )
    only_with(parser, args, ["--model-name"], args.export, "--export")
    refuse_idle_schedule(parser, args)
    if getattr(args, "ema", None) and args.tune:
        # The search compiles its own optimizers and searches the average too.
        parser.error(
            "argument --ema: not with --tune (the search picks the optimizer "
            "and its weight average)"
        )
    if args.data:
        if not os.path.isdir(args.data):
            parser.error(f"argument --data: {args.data!r} is not a directory")
        os.environ["GARDEN_DATA"] = os.path.abspath(args.data)
    return args


def refuse_idle_schedule(parser, args):
    """Refuses `--lr-decay` and `--patience` at values that cannot act in `--epochs`.

    The decay first lowers the rate for the epoch after `--lr-decay-start`
    epochs, and early stopping (Keras's `EarlyStopping`: the first epoch
    sets the best) stops at the earliest after `--patience` + 1 epochs,
    which must leave an epoch unrun. Otherwise the flag would be read and
    change nothing. As in `only_with`, a flag counts as given when its value
    differs from its default.
    """
    if args.lr_decay is not None and args.lr_decay_start >= args.epochs:
        flag = (
            "--lr-decay-start"
            if _is_set(parser, args, "--lr-decay-start")
            else "--lr-decay"
        )
        parser.error(
            f"argument {flag}: would never act: the rate first falls after "
            f"--lr-decay-start {args.lr_decay_start} epochs, and --epochs is "
            f"{args.epochs}"
        )
    # A recipe's own default patience (sst's) is not refused for a short run.
    if _is_set(parser, args, "--patience") and args.patience + 1 >= args.epochs:
        parser.error(
            f"argument --patience: would never act: early stopping can end a run "
            f"after {args.patience + 1} epochs at the earliest, and --epochs is "
            f"{args.epochs}"
        )


def only_with(parser, args, flags, applies, needs):
    """Refuses `flags` set away from their defaults where they would not act.

    A flag that would be accepted and ignored (`--tuner` without `--tune`) is
    a usage error naming it and what it needs.

    Args:
        parser: The recipe's parser.
        args: Its parsed flags.
        flags: The flags that act only when `applies`.
        applies: Whether they act in this run.
        needs: What makes them act, for the message (e.g. "--tune").
    """
    if not applies:
        _refuse_set(parser, args, flags, f"applies only with {needs}")


def _dest(flag):
    """The `args` attribute of a flag: `--lr-decay` -> `lr_decay`."""
    return flag[2:].replace("-", "_")


def _is_set(parser, args, flag):
    """Whether `flag` is away from its default (how a given flag is told)."""
    return getattr(args, _dest(flag)) != parser.get_default(_dest(flag))


def _refuse_set(parser, args, flags, reason):
    """A usage error for the first of `flags` set away from its default."""
    for flag in flags:
        if _is_set(parser, args, flag):
            parser.error(f"argument {flag}: {reason}")


def refuse_searched(parser, args, flags):
    """Refuses, with `--tune`, the flags whose values the search picks itself.

    The retrained best trial takes the searched value, so such a flag would
    be accepted and ignored. As in `only_with`, a flag counts as given
    when its value differs from its default.

    Args:
        parser: The recipe's parser.
        args: Its parsed flags.
        flags: The flags of what this run's search space holds.
    """
    if args.tune:
        _refuse_set(parser, args, flags, "not with --tune (the search picks it)")


def refuse_with_evaluate(parser, args, model_flags):
    """With `--evaluate`, refuses flags of training and of the model it ignores.

    `--evaluate` scores a checkpoint as it was trained: nothing trains and
    the model is the checkpoint's. A shared training flag or one of the
    recipe's `model_flags` set (away from its default) to another value than
    the checkpoint was trained with would be accepted and ignored, and is
    refused; set to the same value (the training command with `--evaluate`
    added) it says what the checkpoint is, and passes. `--tune` is refused:
    nothing is searched. The model's configuration in the checkpoint's
    record (a search's choices included) counts before its flags.

    Args:
        parser: The recipe's parser.
        args: Its parsed flags.
        model_flags: The recipe's flags of what the checkpoint fixes (its
            architecture, its training-only settings).
    """
    if not getattr(args, "evaluate", None):
        return
    if args.tune:
        parser.error("argument --tune: not with --evaluate (nothing is searched)")
    # Keras comes in with the checkpoint's reader: only where one is given.
    from garden.training.checkpoints import read_record

    try:
        record = read_record(args.evaluate)
    except (OSError, ValueError, zipfile.BadZipFile):
        record = None
    if record is None:
        return  # the recipe's `load_for_evaluation` says what is wrong
    trained = {**record.get("flags", {}), **record.get("config", {})}
    shared = [flag for flag in TRAINING_FLAGS if hasattr(args, _dest(flag))]
    for flag in [*shared, *model_flags]:
        if not _is_set(parser, args, flag):
            continue
        dest, value = _dest(flag), getattr(args, _dest(flag))
        if dest not in trained:
            parser.error(
                f"argument {flag}: not with --evaluate, whose checkpoint does not "
                "record it (the checkpoint is scored as it was trained)"
            )
        if json.loads(json.dumps(value)) != trained[dest]:
            parser.error(
                f"argument {flag}: {value}, but the checkpoint --evaluate scores "
                f"was trained with {trained[dest]} (it is scored as it was trained)"
            )


IMDB_TRAIN_REVIEWS = 25_000


def add_evaluate_flag(
    group, action="evaluate this .keras checkpoint (same data flags)"
):
    """`--evaluate CHECKPOINT`: skip training and score saved weights instead."""
    group.add_argument(
        "--evaluate",
        metavar="CHECKPOINT",
        type=existing_file,
        default=None,
        help=f"skip training: {action}",
    )


def add_ema_flag(group):
    """`--ema MOMENTUM`: validate, checkpoint and keep the weights' moving average.

    `garden.training.optimizer_from_flags` gives the optimizer Keras's
    `use_ema` and `fit_from_flags` swaps the average in for validation and
    checkpoints (`SwapAveragedWeights`); a recipe lists the flag only where
    it builds its optimizer and trains through both. `parse` refuses it with
    `--tune`.
    """
    group.add_argument(
        "--ema",
        metavar="MOMENTUM",
        # Momentum 0 would average nothing: the weights themselves.
        type=proper_fraction,
        default=None,
        help="validate, checkpoint and keep an exponential moving average of "
        "the weights with this momentum (e.g. 0.999)",
    )


def add_embedding_flags(
    group,
    random_dim,
    embeddings="random",
    word2vec_files=False,
    bilm_model="birnn",
    bilm_use="its mixed layers (ELMo) join the word vectors",
):
    """`--embedding-dim`, `--embeddings`, `--freeze-embeddings` and `--bilm`.

    The word-vector flags of the classifiers (`recipes.sentiment`,
    `recipes.sst`): random or GloVe embeddings, frozen or fine-tuned, and the
    mixed layers of a biLM (ELMo) beside them.

    Args:
        group: The argument group of the recipe.
        random_dim: The default dimension of random embeddings, for the help.
        embeddings: The default of `--embeddings`.
        word2vec_files: Whether `--embeddings` also takes a word2vec text file.
        bilm_model: The `--model` that takes `--bilm`, for the help.
        bilm_use: What that model does with the biLM, for the help.
    """
    group.add_argument(
        "--embedding-dim",
        type=positive_int,
        default=None,
        help=f"default: {random_dim} for random embeddings, 50 (the only choice) "
        "for GloVe",
    )
    if word2vec_files:
        group.add_argument(
            "--embeddings",
            default=embeddings,
            metavar="{random,glove,FILE}",
            help="random initialisation, GloVe 6B 50d vectors, or a word2vec text "
            "file (e.g. from recipes.word_vectors)",
        )
    else:
        group.add_argument(
            "--embeddings", choices=("random", "glove"), default=embeddings
        )
    group.add_argument("--freeze-embeddings", action="store_true")
    group.add_argument(
        "--bilm",
        metavar="PATH",
        type=bilm_file,
        default=None,
        help=f"{bilm_model}: a biLM .keras file from recipes.bilm; {bilm_use}",
    )


def embedding_matrix(args, vocabulary):
    """The `--embeddings` matrix over `vocabulary`, or None for `random`.

    GloVe 6B 50d or a word2vec text file, matched as
    `garden.data.load_glove_embeddings` does; prints how much of the
    vocabulary the vectors cover, seeded by `--seed` for the rest.
    """
    from garden import data  # here, not at the top: `--help` stays quick

    if args.embeddings == "random":
        return None
    if args.embeddings == "glove":
        found = data.load_glove_embeddings(vocabulary, seed=args.seed)
        source = "GloVe 6B 50d covers"
    else:
        found = data.load_word_vectors_embeddings(
            vocabulary, args.embeddings, seed=args.seed
        )
        source = f"The vectors of {args.embeddings} cover"
    print(f"{source} {found.coverage:.1%} of the vocabulary.")
    return found.matrix


def add_review_sample_flags(group, validation_size, test=True):
    """`--validation-size`, `--max-train-examples` (and `--max-test-examples`).

    The flags of the recipes that train on IMDb reviews: a seeded hold-out of
    the training reviews, and seeded samples for quick runs. Check them with
    `check_review_sample` after parsing.
    """
    group.add_argument(
        "--validation-size",
        type=positive_int,
        default=validation_size,
        help="training reviews held out for validation",
    )
    group.add_argument(
        "--max-train-examples",
        type=positive_int,
        default=None,
        help="use a seeded sample of this many training reviews (hold-out included)",
    )
    if test:
        group.add_argument(
            "--max-test-examples",
            type=positive_int,
            default=None,
            help="evaluate on a seeded sample of this many test reviews",
        )


def check_review_sample(parser, args):
    """The hold-out must leave training reviews: an error naming the flag if not."""
    limit = args.max_train_examples or IMDB_TRAIN_REVIEWS
    if args.validation_size >= limit:
        parser.error(
            f"argument --validation-size: expected fewer than the {limit} "
            f"training reviews, got {args.validation_size}"
        )
