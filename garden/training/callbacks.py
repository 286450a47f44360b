"""The callbacks every recipe trains with: progress, logs, checkpoints, resume."""

import os

import keras

from garden.training.distribute import fit_across_workers


class ResetStatesEachEpoch(keras.callbacks.Callback):
    """Zeroes the states of stateful recurrent layers at each epoch's start.

    Truncated BPTT carries the state from batch to batch within an epoch; a
    new epoch starts a new pass over the stream, and evaluation starts from
    zeros too, so the training state never leaks into validation.
    """

    def _reset(self):
        for layer in self.model.layers:
            # Garden sequence layers and DeepRNN both answer to reset_state().
            if getattr(layer, "stateful", False) and hasattr(layer, "reset_state"):
                layer.reset_state()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()

    def on_test_begin(self, logs=None):
        self._reset()

    def on_test_end(self, logs=None):
        self._reset()


class EpochLearningRate(keras.callbacks.Callback):
    """Decays the learning rate once an epoch, and logs the rate of every epoch.

    Epoch `e` (from 0) trains at `initial * decay ** max(0, e + 1 - start)`:
    the first `start` epochs at the initial rate, then one multiplication by
    `decay` after every epoch (Zaremba et al. halve the rate after each epoch
    from the 5th on: `decay=0.5, start=4`). The initial rate is the
    optimizer's when training begins, read before `BackupAndRestore` restores
    a killed run, so a resumed run and every KerasTuner trial decay from their
    own start. Each epoch's logs get `learning_rate` (the rate at its end), so
    `history.csv` and TensorBoard show the schedule that ran.

    Args:
        decay: Factor in (0, 1], or None to only log the rate.
        start: Epochs at the initial rate, at least 1.
    """

    def __init__(self, decay=None, start=1):
        super().__init__()
        if decay is not None and not 0 < decay <= 1:
            raise ValueError(
                "Received an invalid value for argument `decay`, expected a "
                f"number in (0, 1] or None, got {decay!r}."
            )
        if not (isinstance(start, int) and start >= 1):
            raise ValueError(
                "Received an invalid value for argument `start`, expected a "
                f"positive integer, got {start!r}."
            )
        self.decay = decay
        self.start = start
        self.initial = None

    def rate(self, epoch):
        """The learning rate of epoch `epoch` (from 0)."""
        return self.initial * self.decay ** max(0, epoch + 1 - self.start)

    def _current(self):
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_train_begin(self, logs=None):
        if self.decay is not None:
            self.initial = self._current()

    def on_epoch_begin(self, epoch, logs=None):
        if self.decay is not None:
            self.model.optimizer.learning_rate = self.rate(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self._current()


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
):
    """TensorBoard logs, best-model checkpoint, resume after a kill, early stop.

    Args:
        run_dir: Directory of this run: `logs/` (TensorBoard), `backup/`
            (`BackupAndRestore`: a killed run started again with the same
            `run_dir` resumes from its last finished epoch), `best.keras` and
            `history.csv` (one row of metrics per epoch).
        monitor: The quantity that decides the best checkpoint and early stop.
        mode: "min" (losses, perplexity) or "max" (accuracy, BLEU).
        patience: Epochs without improvement before stopping; None never stops
            early. The best weights are restored when it stops.
        stateful: Add `ResetStatesEachEpoch` (truncated BPTT).
        tensorboard: Whether to write TensorBoard logs.
        ema: The optimizer averages the weights (`use_ema`): validate and
            checkpoint the averaged weights (`keras.callbacks.SwapEMAWeights`).
        history: Whether to write `history.csv`; a resumed run appends to it,
            a new one starts it afresh.
        lr_decay, lr_decay_start: The per-epoch decay of the learning rate
            (`EpochLearningRate`); with None the rate is only logged.

    Returns:
        A list of `keras.callbacks.Callback`.
    """
    os.makedirs(run_dir, exist_ok=True)
    backup = os.path.join(run_dir, "backup")
    callbacks = [
        # Before BackupAndRestore: it reads the initial rate before a restore.
        EpochLearningRate(lr_decay, lr_decay_start),
        keras.callbacks.BackupAndRestore(backup),
        keras.callbacks.ModelCheckpoint(
            os.path.join(run_dir, "best.keras"),
            monitor=monitor,
            mode=mode,
            save_best_only=True,
        ),
    ]
    if ema:
        # First, so that the checkpoint after it saves the averaged weights.
        callbacks.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    if stateful:
        callbacks.insert(0, ResetStatesEachEpoch())
    if history:
        # BackupAndRestore removes `backup` when training ends, so it exists
        # only when this run resumes a killed one.
        callbacks.append(
            keras.callbacks.CSVLogger(
                os.path.join(run_dir, "history.csv"), append=os.path.isdir(backup)
            )
        )
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(run_dir, "logs")))
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                mode=mode,
                patience=patience,
                restore_best_weights=True,
            )
        )
    return callbacks


def fit_from_flags(model, args, train, valid, monitor, mode="min", **options):
    """`model.fit` as every recipe runs it: its flags and the standard callbacks.

    Prints the model summary (unless `--verbose 0`), then trains for
    `--epochs` with `standard_callbacks(--run-dir, monitor, mode, --patience,
    --lr-decay, --lr-decay-start, **options)`.

    Args:
        model: The compiled model.
        args: The parsed recipe flags (`garden.cli.recipe_parser`).
        train, valid: The datasets.
        monitor, mode: The validation quantity that picks the best epoch.
        **options: More `standard_callbacks` arguments (`stateful`, `ema`).

    Returns:
        The `keras.callbacks.History`.
    """
    model.summary(print_fn=lambda line, **_: print(line) if args.verbose else None)
    fit_across_workers(model)
    return model.fit(
        train,
        validation_data=valid,
        epochs=args.epochs,
        callbacks=standard_callbacks(
            args.run_dir,
            monitor=monitor,
            mode=mode,
            patience=args.patience,
            **schedule_from_flags(args),
            **options,
        ),
        verbose=args.verbose,
    )


def schedule_from_flags(args):
    """The `standard_callbacks` arguments of `--lr-decay` and `--lr-decay-start`."""
    return {"lr_decay": args.lr_decay, "lr_decay_start": args.lr_decay_start}


def load_best(run_dir):
    """The best epoch's model (`run_dir/best.keras`), built outside any strategy.

    Call it after leaving the training strategy's scope: the model it returns
    predicts on one device, as evaluation and export expect.
    """
    return keras.saving.load_model(os.path.join(run_dir, "best.keras"))
