"""How every recipe fits: its flags, the standard callbacks, the best epoch back."""

import contextlib
import os
import warnings

import keras

from garden.errors import UserError
from garden.training import plots, run_record
from garden.training.averaging import (
    NonMonotonicTrigger,
    SwapAveragedWeights,
    averages_weights,
)
from garden.training.callbacks import (
    BestCheckpoint,
    EpochLearningRate,
    ResetStatesEachEpoch,
    ResumableEarlyStopping,
    Resume,
    TerminateOnNaN,
)
from garden.training.distribute import fit_across_workers


class TrainingDiverged(UserError):
    """The training loss became NaN or infinite."""


@contextlib.contextmanager
def epochs_of_unknown_length():
    """Silences Keras's "Your input ran out of data" at the end of epoch 1.

    The recipes' datasets do not declare their number of batches (filtering
    and bucketing make it unknown until read), so Keras learns it from where
    the first epoch's data ends and warns there, although nothing is wrong
    and no batch is lost. Declaring the count would silence it too, but
    Keras then opens one more iterator between epochs, which moves every
    later epoch's seeded shuffle and so every figure in the docs. Only that
    message is filtered, only around `fit` and the search.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Your input ran out of data", category=UserWarning
        )
        yield


def standard_callbacks(
    run_dir,
    monitor="val_loss",
    mode="min",
    patience=None,
    stateful=False,
    tensorboard=True,
    ema=False,
    history=True,
    lr_decay=None,
    lr_decay_start=1,
    nt_asgd=None,
    callbacks=(),
):
    """TensorBoard logs, best-model checkpoint, resume after a kill, early stop.

    A loss that becomes NaN or infinite stops the training (`TerminateOnNaN`,
    whose `diverged` says where).

    Args:
        run_dir: Directory of this run: `logs/` (TensorBoard), `backup/`
            (`Resume`: a killed run started again with the same `run_dir`
            resumes from its last finished epoch, with the best score and the
            patience count it had), `best.keras` (`BestCheckpoint`) and
            `history.csv` (one row of metrics per epoch).
        monitor: The quantity that decides the best checkpoint and early stop.
        mode: "min" (losses, perplexity) or "max" (accuracy, BLEU).
        patience: Epochs without improvement before stopping; None never stops
            early.
        stateful: Add `ResetStatesEachEpoch` (truncated BPTT).
        tensorboard: Whether to write TensorBoard logs.
        ema: The optimizer averages the weights (`use_ema`): validate and
            checkpoint the averaged weights (`SwapAveragedWeights`, which a
            resumed run continues correctly). In a search, some trials'
            optimizers: the others are left alone.
        history: Whether to write `history.csv`; a resumed run appends to it,
            a new one starts it afresh.
        lr_decay, lr_decay_start: The per-epoch decay of the learning rate
            (`EpochLearningRate`); with None the rate is only logged.
        nt_asgd: The non-monotone interval n of NT-ASGD, or None: the
            optimizer is a `garden.training.averaging.AveragedSGD`, whose
            averaging `NonMonotonicTrigger` starts on `monitor`; from then on
            validation and checkpoints use the average (as with `ema`).
        callbacks: More callbacks the recipe's training needs (e.g.
            `garden.training.finetuning.GradualUnfreezing`), run after the
            learning rate is set and before the checkpoint.

    Returns:
        A list of `keras.callbacks.Callback`.
    """
    os.makedirs(run_dir, exist_ok=True)
    backup = os.path.join(run_dir, "backup")
    best = BestCheckpoint(os.path.join(run_dir, "best.keras"), monitor, mode)
    decisive = [best]
    if nt_asgd is not None:
        decisive.append(NonMonotonicTrigger(monitor, mode, interval=nt_asgd))
    if patience is not None:
        # The best weights come from best.keras (`fit_from_flags`), which a
        # resumed run has too; Keras's restore_best_weights would not.
        decisive.append(
            ResumableEarlyStopping(monitor=monitor, mode=mode, patience=patience)
        )
    swap = []
    if ema or nt_asgd is not None:
        # First, so that the checkpoint after it saves the averaged weights.
        swap = [SwapAveragedWeights(swap_on_epoch=True)]
    extra = list(callbacks)
    callbacks = [
        *swap,
        # Before Resume: it reads the initial rate before a restore.
        EpochLearningRate(lr_decay, lr_decay_start),
        *extra,
        *decisive,
        TerminateOnNaN(),
        Resume(backup, keep=[*swap, *decisive]),
    ]
    if stateful:
        callbacks.insert(0, ResetStatesEachEpoch())
    if history:
        # Resume removes `backup` when training ends, so it exists only when
        # this run resumes a killed one. After Resume: a kill between the
        # two loses the row of an epoch that the resumed run repeats.
        callbacks.append(
            keras.callbacks.CSVLogger(
                os.path.join(run_dir, "history.csv"), append=os.path.isdir(backup)
            )
        )
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")))
    return callbacks


def fit_from_flags(
    model, args, train, valid, monitor, mode="min", config=None, **options
):
    """`model.fit` as every recipe runs it: its flags and the standard callbacks.

    Prints the model summary (unless `--verbose 0`), then trains for
    `--epochs` with `standard_callbacks(--run-dir, monitor, mode, --patience,
    --lr-decay, --lr-decay-start, **options)` and draws the learning curves
    of its `history.csv` (`garden.training.plots`). The model comes back with
    the weights of its best epoch (`--run-dir/best.keras`), whether training
    ran its epochs, stopped early or resumed a killed run.

    Args:
        model: The compiled model.
        args: The parsed recipe flags (`garden.cli.recipe_parser`).
        train, valid: The datasets.
        monitor, mode: The validation quantity that picks the best epoch.
        config: The model's builder arguments as resolved (after `--tune`),
            recorded in the run and in its checkpoints (`describe_model`) so
            `--evaluate` rebuilds what was trained.
        **options: More `standard_callbacks` arguments (`stateful`,
            `nt_asgd`, `callbacks`); `ema` is whether the model's optimizer
            averages the weights (`--ema`, or the best trial's choice).

    Returns:
        The `keras.callbacks.History`.

    Raises:
        TrainingDiverged: the loss became NaN or infinite; the run stops
            there and exports nothing.
    """
    if config is not None:
        run_record.describe_model(config)
    model.summary(print_fn=lambda line, **_: print(line) if args.verbose else None)
    fit_across_workers(model)
    callbacks = standard_callbacks(
        args.run_dir,
        monitor=monitor,
        mode=mode,
        patience=args.patience,
        # Under `--ema` (optimizer_from_flags), or a searched trial's choice.
        ema=averages_weights(model.optimizer),
        **schedule_from_flags(args),
        **options,
    )
    with epochs_of_unknown_length():
        history = model.fit(
            train,
            validation_data=valid,
            epochs=args.epochs,
            callbacks=callbacks,
            verbose=args.verbose,
            # The recipes' datasets shuffle themselves, seeded, every epoch;
            # Keras would only warn that it cannot shuffle a tf.data.Dataset.
            shuffle=False,
        )
    # Before the divergence checks: a diverged run's curves show where.
    plots.write_learning_curves(args.run_dir, title=getattr(args, "recipe", None))
    (nan_guard,) = [c for c in callbacks if isinstance(c, TerminateOnNaN)]
    (best,) = [c for c in callbacks if isinstance(c, BestCheckpoint)]
    if nan_guard.diverged:
        epoch, batch, loss = nan_guard.diverged
        raise TrainingDiverged(
            f"training diverged: the loss was {loss} at epoch {epoch}, batch "
            f"{batch}; lower --learning-rate or set --clip-norm (nothing was "
            "exported)"
        )
    if best.best_epoch is None:
        raise TrainingDiverged(
            f"no epoch had a finite {monitor}; lower --learning-rate or set "
            "--clip-norm (nothing was exported)"
        )
    model.load_weights(best.path)
    return history


def schedule_from_flags(args):
    """The `standard_callbacks` arguments of `--lr-decay` and `--lr-decay-start`."""
    return {"lr_decay": args.lr_decay, "lr_decay_start": args.lr_decay_start}


def load_best(run_dir):
    """The best epoch's model (`run_dir/best.keras`), built outside any strategy.

    Call it after leaving the training strategy's scope: the model it returns
    predicts on one device, as evaluation and export expect.
    """
    return keras.saving.load_model(os.path.join(run_dir, "best.keras"))
