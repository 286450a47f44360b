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


def standard_callbacks(
    run_dir,
    monitor="val_loss",
    mode="min",
    patience=None,
    stateful=False,
    tensorboard=True,
    ema=False,
    history=True,
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

    Returns:
        A list of `keras.callbacks.Callback`.
    """
    os.makedirs(run_dir, exist_ok=True)
    backup = os.path.join(run_dir, "backup")
    callbacks = [
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
    **options)`.

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
            args.run_dir, monitor=monitor, mode=mode, patience=args.patience, **options
        ),
        verbose=args.verbose,
    )


def load_best(run_dir):
    """The best epoch's model (`run_dir/best.keras`), built outside any strategy.

    Call it after leaving the training strategy's scope: the model it returns
    predicts on one device, as evaluation and export expect.
    """
    return keras.saving.load_model(os.path.join(run_dir, "best.keras"))
