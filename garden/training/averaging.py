"""Non-monotonically triggered averaged SGD (NT-ASGD, Merity et al., 2017).

Plain SGD runs until the validation score stops improving; from then on the
optimizer also keeps the running mean of the iterates, and validation,
checkpoints and the end of training use that mean (Polyak and Juditsky,
1992). Merity et al.'s Algorithm 1, as their code runs it: after epoch t,
with v_t its validation loss and v_1 .. v_{t-1} those of the earlier epochs,
averaging starts when

    t - 1 > n  and  v_t > min(v_1, ..., v_{t-1-n})

that is, when the epoch is worse than the best of those more than `n`
checks ago (n = 5 in the paper).

Two pieces, Keras's own machinery under both: `AveragedSGD` keeps the mean
in the slots of Keras's weight average (`use_ema`), so
`keras.callbacks.SwapEMAWeights` swaps it in for validation and
checkpoints; `NonMonotonicTrigger` applies the rule above at each epoch's
end and starts the averaging.
"""

import math

import keras
from keras import ops

from garden.checks import check_positive_integer
from garden.training.monitoring import monitored_value


@keras.saving.register_keras_serializable(package="garden")
class AveragedSGD(keras.optimizers.SGD):
    """SGD that averages its iterates once `start_averaging()` is called.

    After the k-th step since the start (k = 1, 2, ...), with w_j the
    weights after step j of the averaging,

        average_k = (w_1 + ... + w_k) / k = average_{k-1} + (w_k - average_{k-1}) / k

    Before the start the average is the weights themselves, so swapping it
    in changes nothing. The average lives in the slots of Keras's
    exponential weight average (the optimizer is made with `use_ema=True`):
    `keras.callbacks.SwapEMAWeights` swaps it in for validation, `fit` ends
    on it, and the optimizer's saved variables hold it and the step it
    started at (`averaging_start`, -1 before), so a resumed run goes on
    averaging from where it was.

    Args:
        learning_rate: The SGD learning rate.
        momentum: The SGD momentum (0 in ASGD).
        nesterov: Nesterov momentum.
        **kwargs: The other `keras.optimizers.SGD` arguments
            (`global_clipnorm`, ...); `use_ema`, `ema_momentum` and
            `ema_overwrite_frequency` are set here.

    Example:

    >>> optimizer = AveragedSGD(0.1)
    >>> optimizer.use_ema
    True
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        # Set here (and present in a saved config, which comes back here).
        for name in ("use_ema", "ema_momentum", "ema_overwrite_frequency"):
            kwargs.pop(name, None)
        super().__init__(
            learning_rate=learning_rate,
            momentum=momentum,
            nesterov=nesterov,
            use_ema=True,
            **kwargs,
        )

    def build(self, variables):
        super().build(variables)
        self.averaging_start = self.add_variable(
            shape=(),
            initializer=keras.initializers.Constant(-1),
            dtype="int64",
            aggregation="only_first_replica",
            name="averaging_start",
        )

    @property
    def averaging(self):
        """Whether the iterates are being averaged."""
        return self.built and int(ops.convert_to_numpy(self.averaging_start)) >= 0

    def start_averaging(self):
        """Averages from the next step on (its weights are w_1 above)."""
        if not self.built:
            raise ValueError(
                "`start_averaging()` needs a built optimizer: call it after the "
                "first training step."
            )
        self.averaging_start.assign(ops.cast(self.iterations, "int64"))

    def _update_model_variables_moving_average(self, trainable_variables):
        # Keras calls this after every step on every backend when `use_ema`
        # is set, with `iterations` not yet counting the step: k - 1 steps
        # since the start are already in the average.
        start = self.averaging_start
        previous = ops.cast(ops.cast(self.iterations, "int64") - start, "float32")
        share = ops.where(start >= 0, 1.0 / (previous + 1.0), 1.0)
        for variable, average in zip(
            trainable_variables, self._model_variables_moving_average
        ):
            if average is not None:
                step = ops.cast(share, variable.dtype)
                average.assign(average + step * (variable - average))


class NonMonotonicTrigger(keras.callbacks.Callback):
    """Starts `AveragedSGD`'s averaging when `monitor` stops improving.

    At each epoch's end, before averaging, the epoch's value v_t is compared
    with the earlier ones (the module docstring gives the rule): averaging
    starts when `len(earlier) > interval` and v_t is worse than the best of
    `earlier[:-interval]`. Its record of values survives a resume
    (`garden.training.callbacks.Resume`), and the optimizer remembers
    whether it averages.

    Args:
        monitor: The logged validation quantity (`val_loss`, `val_perplexity`).
        mode: "min" or "max".
        interval: The non-monotone interval n, a positive integer.

    Attributes:
        started_epoch: The epoch (from 0) after which averaging started, or
            None.
    """

    def __init__(self, monitor="val_loss", mode="min", interval=5):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(
                "Received an invalid value for argument `mode`, expected "
                f'"min" or "max", got {mode!r}.'
            )
        check_positive_integer("interval", interval)
        self.monitor = monitor
        self.mode = mode
        self.interval = interval
        self.values = []
        self.started_epoch = None

    def on_train_begin(self, logs=None):
        if not isinstance(self.model.optimizer, AveragedSGD):
            raise ValueError(
                "NonMonotonicTrigger needs an AveragedSGD optimizer, got "
                f"{type(self.model.optimizer).__name__}."
            )
        self.values = []
        self.started_epoch = None

    def triggers(self, value):
        """Whether `value`, after `self.values`, starts the averaging."""
        if len(self.values) <= self.interval or not math.isfinite(value):
            return False
        earlier = self.values[: -self.interval]
        if self.mode == "min":
            return value > min(earlier)
        return value < max(earlier)

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if optimizer.averaging:
            return
        value = monitored_value(
            logs, self.monitor, epoch, "the averaging trigger skips it"
        )
        if value is None:
            return
        if self.triggers(value):
            optimizer.start_averaging()
            self.started_epoch = epoch
        self.values.append(value)

    def resume_state(self):
        return {"values": self.values, "started_epoch": self.started_epoch}

    def restore(self, state):
        self.values = list(state["values"])
        self.started_epoch = state["started_epoch"]


def averages_weights(optimizer):
    """Whether `optimizer` keeps a moving average of the weights (`use_ema`).

    Looks through a mixed-precision `LossScaleOptimizer` to the optimizer
    it wraps. `AveragedSGD` counts: its mean lives in the same slots.

    >>> averages_weights(keras.optimizers.Adam(use_ema=True))
    True
    >>> averages_weights(keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam()))
    False
    """
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    return bool(getattr(optimizer, "use_ema", False))


class SwapAveragedWeights(keras.callbacks.SwapEMAWeights):
    """`keras.callbacks.SwapEMAWeights` that knows, after a resume, which is which.

    With `swap_on_epoch=True` the model holds the average from an epoch's
    end to the next epoch's start, so the backup of a killed run holds the
    average as the model's weights and the raw weights in the optimizer's
    slots. Keras's callback starts a resumed run believing the model holds
    the raw weights, and would train on from the average; this one keeps
    its belief in the resume state (`garden.training.callbacks.Resume`), and
    swaps back at the next epoch's start.

    A model whose optimizer keeps no average is left alone (Keras's callback
    raises): a search's trials share one list of callbacks, and only some
    of them average (`garden.tuning.optimizer_from_hp`).
    """

    def _apply_to_ema_optimizers(self, tf_fn, backend_fn):
        # Every swap and the end-of-training copy go through this method.
        if averages_weights(self.model.optimizer):
            super()._apply_to_ema_optimizers(tf_fn, backend_fn)

    def resume_state(self):
        return {"averaged_in_model": self._ema_weights_in_model}

    def restore(self, state):
        self._ema_weights_in_model = state["averaged_in_model"]
