"""The hypermodel, the shared search spaces and the tuners every recipe uses."""

import os

import keras
import keras_tuner
import tensorflow as tf

from garden.training.distribute import fit_across_workers
from garden.training.fitting import (
    epochs_of_unknown_length,
    schedule_from_flags,
    standard_callbacks,
)
from garden.training.optimizers import make_optimizer, optimizer_from_flags
from garden.training.precision import set_precision

# Learning-rate ranges by optimizer family (a conditional hyperparameter):
# plain and accumulated-gradient methods want large steps, adaptive ones small.
LEARNING_RATE_RANGES = {
    ("sgd", "momentum", "adagrad", "adadelta"): (1e-2, 2.0),
    ("rmsprop", "adam"): (1e-4, 1e-2),
}


class RecipeHyperModel(keras_tuner.HyperModel):
    """Builds one trial's model from a recipe's `build_model(hp)`.

    KerasTuner clears the Keras session before every trial, which resets the
    global dtype policy to float32; `build` sets the recipe's precision again
    first, so every trial trains in the precision the user chose.

    Args:
        build_model: `hp -> compiled keras.Model`.
        precision: One of `garden.training.PRECISIONS`.
        name: The hypermodel's name.
    """

    def __init__(self, build_model, precision, name=None):
        super().__init__(name=name)
        self.build_model = build_model
        self.precision = precision

    def build(self, hp):
        set_precision(self.precision)
        # Trials train with the tuner's own `fit`: let it run across workers.
        return fit_across_workers(self.build_model(hp))


def optimizer_from_hp(
    hp, optimizers=("sgd", "momentum", "adagrad", "adam"), averaging=False
):
    """An optimizer, its learning rate and its clip norm from hyperparameters.

    The learning-rate range depends on the optimizer chosen, and the clip norm
    exists only when clipping is on (conditional hyperparameters). With
    `averaging`, whether to keep an exponential moving average of the
    weights (Keras's `use_ema`, as `--ema` does), and its momentum when on:
    0.99 or 0.999, an average over about the last 100 or 1,000 steps.

    Args:
        hp: `keras_tuner.HyperParameters`.
        optimizers: The optimizer names to choose from.
        averaging: Search the weight average too (recipes with `--ema`,
            whose training validates and checkpoints the average).

    Returns:
        A `keras.optimizers.Optimizer`.
    """
    name = hp.Choice("optimizer", list(optimizers))
    learning_rate = None
    for family, (low, high) in LEARNING_RATE_RANGES.items():
        members = [member for member in family if member in optimizers]
        if name in members:
            with hp.conditional_scope("optimizer", members):
                learning_rate = hp.Float(
                    f"learning_rate_{members[0]}", low, high, sampling="log"
                )
    clip_norm = None
    if hp.Boolean("clip_gradients", default=True):
        with hp.conditional_scope("clip_gradients", [True]):
            clip_norm = hp.Float("clip_norm", 0.25, 5.0, sampling="log")
    ema_momentum = None
    if averaging and hp.Boolean("average_weights", default=False):
        with hp.conditional_scope("average_weights", [True]):
            ema_momentum = hp.Choice("ema_momentum", [0.99, 0.999])
    return make_optimizer(
        name, learning_rate, clip_norm=clip_norm, ema_momentum=ema_momentum
    )


def recurrent_from_hp(hp, cells=("rnn", "gru", "lstm"), max_layers=3):
    """The recurrent part of a model from hyperparameters.

    Returns:
        A dict with `cell`, `units`, `num_layers` and `dropout`.
    """
    return {
        "cell": hp.Choice("cell", list(cells)),
        "units": hp.Int("units", 64, 512, step=64),
        "num_layers": hp.Int("num_layers", 1, max_layers),
        "dropout": hp.Float("dropout", 0.0, 0.5, step=0.1),
    }


def awd_regularization_from_hp(hp, embeddings=True):
    """AWD-LSTM's regularisers of a recurrent model from hyperparameters.

    Locked dropout masks, DropConnect on the hidden-to-hidden weights,
    whole-word embedding dropout (where there is an embedding matrix), and
    the AR and TAR penalties, in ranges around Merity et al.'s settings
    (weight dropout 0.5, embedding dropout 0.1, alpha 2, beta 1).

    Args:
        hp: `keras_tuner.HyperParameters`.
        embeddings: Whether the model has an embedding matrix to drop from.

    Returns:
        A dict of `garden.models.build_language_model` arguments.
    """
    config = {
        "locked_dropout": hp.Boolean("locked_dropout"),
        "weight_dropout": hp.Float("weight_dropout", 0.0, 0.6, step=0.1),
        "activation_regularization": hp.Choice(
            "activation_regularization", [0.0, 1.0, 2.0]
        ),
        "temporal_activation_regularization": hp.Choice(
            "temporal_activation_regularization", [0.0, 1.0, 2.0]
        ),
    }
    if embeddings:
        config["embedding_dropout"] = hp.Float("embedding_dropout", 0.0, 0.3, step=0.1)
    return config


def make_tuner(
    kind,
    hypermodel,
    objective,
    directory,
    project_name,
    max_trials=20,
    max_epochs=10,
    seed=0,
    distribution_strategy=None,
):
    """A KerasTuner tuner whose results live in `directory/project_name`.

    An existing search in that directory is resumed, not overwritten.

    Args:
        kind: "hyperband" (Li et al., 2018) or "random".
        hypermodel: A `RecipeHyperModel`.
        objective: A `keras_tuner.Objective` (e.g. validation perplexity, min).
        directory: The directory the user names for the search.
        project_name: Sub-directory of this search.
        max_trials: Trials of the random search.
        max_epochs: Most epochs one Hyperband model trains.
        seed: Seed of the search.
        distribution_strategy: A `tf.distribute.Strategy` every trial builds
            and trains its model under, or None.

    Returns:
        The tuner.
    """
    common = dict(
        objective=objective,
        directory=directory,
        project_name=project_name,
        seed=seed,
        overwrite=False,
        distribution_strategy=distribution_strategy,
    )
    if kind == "hyperband":
        return keras_tuner.Hyperband(
            hypermodel, max_epochs=max_epochs, factor=3, **common
        )
    if kind == "random":
        return keras_tuner.RandomSearch(hypermodel, max_trials=max_trials, **common)
    raise ValueError(
        "Received an invalid value for argument `kind`, expected one of "
        f"['hyperband', 'random'], got {kind!r}."
    )


def search(
    args,
    build_model,
    monitor,
    mode,
    project_name,
    train,
    valid,
    stateful=False,
    averaging=False,
):
    """Runs a recipe's search from its flags; returns the best hyperparameters.

    The tuner is chosen by `--tuner`, keeps its trials in
    `--tune-dir/project_name` (a search there resumes) and trains each model
    for at most `--epochs`, in `--precision`, with the standard callbacks
    (checkpoints and resume state in `--run-dir/search`, early stopping after
    `--patience` epochs, the learning rate decayed by `--lr-decay` from the
    trial's own initial rate, no TensorBoard). Called inside a
    `tf.distribute.Strategy`'s scope, every trial trains under that strategy.

    Distributed search (KerasTuner's chief and workers): start the same
    command once with `KERASTUNER_TUNER_ID=chief` and once per worker with
    `KERASTUNER_TUNER_ID=tuner0`, `tuner1`, ..., all with
    `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` naming the chief's
    address. The chief hands out trials and collects their scores; the workers
    train them, and a worker's process ends when the search is done
    (`SystemExit(0)`), while the chief goes on with the best hyperparameters.

    Args:
        args: The parsed recipe flags (`garden.cli.recipe_parser`).
        build_model: `hp -> compiled keras.Model`.
        monitor: The validation metric the search optimises (`val_loss`, ...).
        mode: "min" or "max".
        project_name: The search's sub-directory.
        train, valid: The datasets.
        stateful: The models carry states across batches (truncated BPTT).
        averaging: Some trials' optimizers average the weights
            (`optimizer_from_hp(averaging=True)`): those validate and
            checkpoint the average.

    Returns:
        `(best_hyperparameters, hypermodel)`; `hypermodel.build(best)` gives a
        fresh model of the best trial to retrain.
    """
    role = search_role()
    # The policy the recipe set (what `--precision auto` resolved to for it).
    precision = keras.config.dtype_policy().name
    hypermodel = RecipeHyperModel(build_model, precision, name=project_name)
    strategy = tf.distribute.get_strategy() if tf.distribute.has_strategy() else None
    callbacks = standard_callbacks(
        os.path.join(args.run_dir, "search"),
        monitor=monitor,
        mode=mode,
        patience=args.patience,
        stateful=stateful,
        tensorboard=False,
        ema=averaging,
        history=False,
        **schedule_from_flags(args),
    )
    tuner = make_tuner(
        args.tuner,
        hypermodel,
        keras_tuner.Objective(monitor, mode),
        directory=args.tune_dir,
        project_name=project_name,
        max_trials=args.max_trials,
        max_epochs=args.epochs,
        seed=args.seed,
        distribution_strategy=strategy,
    )
    with epochs_of_unknown_length():
        tuner.search(
            train,
            validation_data=valid,
            epochs=args.epochs,
            callbacks=callbacks,
            verbose=args.verbose,
            shuffle=False,  # the recipes' datasets shuffle themselves, seeded
        )
    if role == "worker":
        print(f"Tuner {os.environ['KERASTUNER_TUNER_ID']}: the search is done.")
        raise SystemExit(0)
    tuner.results_summary(num_trials=3)
    return tuner.get_best_hyperparameters(1)[0], hypermodel


def search_role():
    """This process's part in a search: "single", "chief" or "worker".

    KerasTuner runs a distributed search when `KERASTUNER_ORACLE_IP` is set;
    the process whose `KERASTUNER_TUNER_ID` contains "chief" runs the oracle.
    """
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    missing = [
        name
        for name in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID")
        if not os.environ.get(name)
    ]
    if missing:
        raise ValueError(
            "KERASTUNER_ORACLE_IP is set for a distributed search, but "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not."
        )
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


def searched_or_flagged_model(
    args,
    new_model,
    config,
    config_from_hp,
    optimizers,
    monitor,
    mode,
    project_name,
    train,
    valid,
):
    """The model a recipe trains: the best trial's with `--tune`, else the flags'.

    Without `--tune`: `config` and a model compiled with `--optimizer`,
    `--learning-rate`, `--clip-norm` and `--ema`. With it: a search (see
    `search`) over the recipe's space and `optimizer_from_hp(optimizers)`,
    with the weight average searched where the recipe lists `--ema`, then
    the best trial's config and a fresh model of it to retrain.

    Args:
        args: The parsed recipe flags (`garden.cli.recipe_parser`).
        new_model: `(config, optimizer) -> compiled keras.Model`.
        config: The model config from the flags.
        config_from_hp: `(hp, config) -> config`, the recipe's search space.
        optimizers: The optimizer names the search chooses from.
        monitor, mode, project_name, train, valid: As for `search`.

    Returns:
        `(config, model)`.
    """
    if not args.tune:
        return config, new_model(config, optimizer_from_flags(args))

    # A recipe lists `--ema` where its training swaps the average in.
    averaging = "ema" in vars(args)

    def build(hp):
        optimizer = optimizer_from_hp(hp, optimizers=optimizers, averaging=averaging)
        return new_model(config_from_hp(hp, config), optimizer)

    best, hypermodel = search(
        args, build, monitor, mode, project_name, train, valid, averaging=averaging
    )
    return config_from_hp(best, config), hypermodel.build(best)
