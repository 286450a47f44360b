"""The callbacks every recipe trains with: progress, logs, checkpoints, resume."""

import json
import math
import os

import keras

from garden.checks import check_positive_integer
from garden.reports import atomic_write
from garden.training.checkpoints import save_model
from garden.training.monitoring import monitored_value


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
        check_positive_integer("start", start)
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


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model whenever `monitor` improves on its best so far.

    As `keras.callbacks.ModelCheckpoint(save_best_only=True)`, but the file
    is written whole (`garden.training.checkpoints.save_model`: a kill
    leaves the previous best, never half a file) and carries its epoch and
    score beside the run's record; an epoch whose score is not finite is
    never the best. Its best survives a resume (`Resume`).

    Args:
        path: The `.keras` file.
        monitor: The logged quantity that decides.
        mode: "min" or "max".
    """

    def __init__(self, path, monitor="val_loss", mode="min"):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(
                "Received an invalid value for argument `mode`, expected "
                f'"min" or "max", got {mode!r}.'
            )
        self.path = path
        self.monitor = monitor
        self.mode = mode
        self.best = None
        self.best_epoch = None

    def on_train_begin(self, logs=None):
        self.best = None
        self.best_epoch = None

    def improves(self, value):
        """Whether `value` beats the best so far (a first finite value does)."""
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch, logs=None):
        value = monitored_value(logs, self.monitor, epoch, "no checkpoint saved")
        if value is None:
            return
        if self.improves(value):
            self.best, self.best_epoch = value, epoch
            save_model(
                self.model,
                self.path,
                epoch=epoch + 1,
                monitor=self.monitor,
                value=value,
            )

    def resume_state(self):
        return {"best": self.best, "best_epoch": self.best_epoch}

    def restore(self, state):
        self.best, self.best_epoch = state["best"], state["best_epoch"]


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`keras.callbacks.EarlyStopping` whose count survives a resume (`Resume`)."""

    def resume_state(self):
        best = None if self.best is None else float(self.best)
        return {"wait": self.wait, "best": best, "best_epoch": self.best_epoch}

    def restore(self, state):
        self.wait = state["wait"]
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]


class Resume(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that brings back the callbacks deciding the best epoch.

    Keras restores the weights, the optimizer and the epoch of a killed run,
    but not the best score of the checkpoint nor the patience count of early
    stopping, so the first epoch after a resume would always overwrite the
    best checkpoint. This backup also keeps `resume_state()` of each callback
    in `keep` (`callbacks.json` beside Keras's files) and gives it back with
    `restore(state)` when a run resumes. Put it after those callbacks: it
    saves their state of an epoch after they have seen it, and restores it
    after their `on_train_begin` has reset them.

    Args:
        backup_dir: Where the backup lives while the run is unfinished.
        keep: Callbacks with `resume_state()` and `restore(state)`.
    """

    def __init__(self, backup_dir, keep=()):
        super().__init__(backup_dir)
        self.keep = list(keep)
        self._state_path = os.path.join(backup_dir, "callbacks.json")

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if os.path.isfile(self._state_path):
            with open(self._state_path, encoding="utf-8") as file:
                states = json.load(file)
            for callback, state in zip(self.keep, states):
                callback.restore(state)

    def _save_model(self):
        super()._save_model()
        with atomic_write(self._state_path) as temporary:
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump([callback.resume_state() for callback in self.keep], file)


class TerminateOnNaN(keras.callbacks.TerminateOnNaN):
    """`keras.callbacks.TerminateOnNaN` that remembers where the loss diverged.

    `diverged` is None, or `(epoch, batch, loss)` (from 1) of the first
    batch whose loss was not finite; `garden.training.fitting.fit_from_flags`
    then fails the run.
    """

    def on_train_begin(self, logs=None):
        self.diverged = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and self.diverged is None:
            loss = float(keras.ops.convert_to_numpy(loss))
            if not math.isfinite(loss):
                self.diverged = (self._epoch + 1, batch + 1, loss)
        super().on_batch_end(batch, logs)
