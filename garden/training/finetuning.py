"""ULMFiT's fine-tuning (Howard and Ruder, 2018), as Keras pieces.

- `SlantedTriangular`: the learning rate rises linearly for the first
  `cut_frac` of the steps, then falls linearly to `1/ratio` of its peak
  (their equation 3).
- `LayerwiseAdam`, `LayerwiseSGD`: discriminative fine-tuning, one learning
  rate per group of layers, each group `decay` (2.6) times slower than the
  one above it, and gradual unfreezing: only the top `unfrozen` groups move.
- `GradualUnfreezing`: the callback that unfreezes one more group, from the
  top, at the start of every epoch.

Keras optimizers have one learning rate for all variables and freezing a
layer (`trainable=False`) needs a new compile and a new optimizer, so both
techniques are written here as one optimizer that scales its learning rate
per variable: a frozen group's rate is 0 (on TensorFlow, `GradualUnfreezing`
also skips the frozen layers' gradients for the epoch). The groups are in
the optimizer's config and the number of unfrozen groups is one of its
variables, so a saved and resumed run keeps both.
"""

import keras
from keras import ops

from garden.checks import check_positive_integer


@keras.saving.register_keras_serializable(package="garden")
class SlantedTriangular(keras.optimizers.schedules.LearningRateSchedule):
    """Slanted triangular learning rates (ULMFiT, equation 3).

        cut = floor(total_steps * cut_frac)
        p   = t / cut                                      if t < cut
              1 - (t - cut) / (cut * (1 / cut_frac - 1))    otherwise
        lr  = max_learning_rate * (1 + p * (ratio - 1)) / ratio

    with `t` the step (0-based) and `p` held at 0 after the last step.

    Args:
        max_learning_rate: The peak rate (ULMFiT: 0.01).
        total_steps: Steps of the whole training (epochs x batches).
        cut_frac: Fraction of the steps spent rising (0.1).
        ratio: How much smaller the lowest rate is than the peak (32).

    Example:

    >>> schedule = SlantedTriangular(0.01, total_steps=100)
    >>> [round(float(schedule(t)), 5) for t in (0, 10, 100)]
    [0.00031, 0.01, 0.00031]
    """

    def __init__(self, max_learning_rate, total_steps, cut_frac=0.1, ratio=32.0):
        check_positive_integer("total_steps", total_steps)
        if not 0 < cut_frac < 1:
            raise ValueError(
                "Received an invalid value for argument `cut_frac`, expected a "
                f"number in (0, 1), got {cut_frac!r}."
            )
        if not ratio >= 1:
            raise ValueError(
                "Received an invalid value for argument `ratio`, expected a "
                f"number of at least 1, got {ratio!r}."
            )
        self.max_learning_rate = float(max_learning_rate)
        self.total_steps = int(total_steps)
        self.cut_frac = float(cut_frac)
        self.ratio = float(ratio)

    def __call__(self, step):
        t = ops.cast(step, "float32")
        cut = float(max(1, int(self.total_steps * self.cut_frac)))
        rising = t / cut
        falling = 1.0 - (t - cut) / (cut * (1.0 / self.cut_frac - 1.0))
        p = ops.clip(ops.where(t < cut, rising, falling), 0.0, 1.0)
        return self.max_learning_rate * (1.0 + p * (self.ratio - 1.0)) / self.ratio

    def get_config(self):
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "cut_frac": self.cut_frac,
            "ratio": self.ratio,
        }


class _Layerwise:
    """Scales the learning rate of each variable by its group's factor.

    Groups are lists of the model's top-level layer names, bottom first; a
    variable belongs to the group of the first part of its `path`. Group g of
    G (0 = bottom) trains at `learning_rate / decay ** (G - 1 - g)` once it
    is among the top `unfrozen` groups, and at 0 before.
    """

    def _init_layerwise(self, groups, decay, unfrozen):
        if not groups or any(not group for group in groups):
            raise ValueError(
                "Received an invalid value for argument `groups`, expected a "
                f"non-empty list of non-empty lists of layer names, got {groups!r}."
            )
        names = [name for group in groups for name in group]
        if len(set(names)) != len(names):
            raise ValueError(
                "Received an invalid value for argument `groups`: a layer is in "
                f"more than one group ({groups!r})."
            )
        if not decay >= 1:
            raise ValueError(
                "Received an invalid value for argument `decay`, expected a "
                f"number of at least 1, got {decay!r}."
            )
        if unfrozen is None:
            unfrozen = len(groups)
        check_positive_integer("unfrozen", unfrozen)
        self.groups = [list(group) for group in groups]
        self.decay = float(decay)
        self.initial_unfrozen = min(int(unfrozen), len(groups))

    def build(self, variables):
        super().build(variables)
        group_of = {
            name: index for index, group in enumerate(self.groups) for name in group
        }
        self._group_index = []
        for variable in variables:
            layer = variable.path.split("/")[0]
            if layer not in group_of:
                raise ValueError(
                    f"Received a variable `{variable.path}` of layer `{layer}`, "
                    f"which no group of `groups` names ({self.groups!r})."
                )
            self._group_index.append(group_of[layer])
        self.unfrozen = self.add_variable(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_unfrozen),
            dtype="int32",
            name="unfrozen",
        )

    def group_factor(self, group):
        """The learning-rate factor of a group (0-based from the bottom)."""
        count = len(self.groups)
        frozen = group < count - ops.cast(self.unfrozen, "int32")
        return ops.where(frozen, 0.0, self.decay ** -(count - 1 - group))

    def update_step(self, gradient, variable, learning_rate):
        group = self._group_index[self._get_variable_index(variable)]
        factor = ops.cast(self.group_factor(group), variable.dtype)
        super().update_step(
            gradient, variable, ops.cast(learning_rate, variable.dtype) * factor
        )

    def _layerwise_config(self):
        return {
            "groups": self.groups,
            "decay": self.decay,
            "unfrozen": self.initial_unfrozen,
        }


@keras.saving.register_keras_serializable(package="garden")
class LayerwiseAdam(_Layerwise, keras.optimizers.Adam):
    """Adam with ULMFiT's discriminative rates and gradual unfreezing.

    Args:
        groups: Lists of the model's top-level layer names, bottom first.
        decay: Each group's rate is this much smaller than the one above
            (ULMFiT: 2.6).
        unfrozen: How many top groups train at first (default: all).
        **kwargs: `keras.optimizers.Adam`'s arguments (ULMFiT: beta_1 0.7,
            beta_2 0.99).
    """

    def __init__(self, groups, decay=2.6, unfrozen=None, **kwargs):
        super().__init__(**kwargs)
        self._init_layerwise(groups, decay, unfrozen)

    def get_config(self):
        return {**super().get_config(), **self._layerwise_config()}


@keras.saving.register_keras_serializable(package="garden")
class LayerwiseSGD(_Layerwise, keras.optimizers.SGD):
    """SGD with ULMFiT's discriminative rates and gradual unfreezing.

    Args: as `LayerwiseAdam`, with `keras.optimizers.SGD`'s arguments.
    """

    def __init__(self, groups, decay=2.6, unfrozen=None, **kwargs):
        super().__init__(**kwargs)
        self._init_layerwise(groups, decay, unfrozen)

    def get_config(self):
        return {**super().get_config(), **self._layerwise_config()}


class GradualUnfreezing(keras.callbacks.Callback):
    """Unfreezes one more group, from the top, at the start of every epoch.

    Epoch e (0-based) trains the top `first + e` groups of the model's
    `LayerwiseAdam` or `LayerwiseSGD` (ULMFiT: first 1, then all after as
    many epochs as there are groups). The optimizer's rate of a frozen group
    is 0 on every backend; on TensorFlow its layers are also set
    `trainable=False` for the epoch (and the training step traced again), so
    no gradient is computed for them, as `requires_grad=False` does in
    ULMFiT's code: the first epochs cost little more than the forward pass
    below the head, and Adam's moments of a frozen weight do not move. Every
    layer is trainable again at the end of each epoch, so checkpoints and a
    resumed run see the model as it was built.

    Args:
        first: Groups that train in the first epoch.
    """

    def __init__(self, first=1):
        super().__init__()
        check_positive_integer("first", first)
        self.first = first
        self._frozen = []

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not isinstance(optimizer, _Layerwise):
            raise ValueError(
                "GradualUnfreezing needs a LayerwiseAdam or LayerwiseSGD "
                f"optimizer, got {type(optimizer).__name__}."
            )
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        unfrozen = min(self.first + epoch, len(optimizer.groups))
        optimizer.unfrozen.assign(unfrozen)
        if keras.backend.backend() == "tensorflow":
            names = optimizer.groups[: len(optimizer.groups) - unfrozen]
            layers = [self.model.get_layer(name) for group in names for name in group]
            self._frozen = [layer for layer in layers if layer.trainable]
            self._set_trainable(False)

    def on_epoch_end(self, epoch, logs=None):
        self._set_trainable(True)
        self._frozen = []

    def on_train_end(self, logs=None):
        self._set_trainable(True)  # a run stopped inside an epoch
        self._frozen = []

    def _set_trainable(self, trainable):
        if not self._frozen or self._frozen[0].trainable == trainable:
            return
        for layer in self._frozen:
            layer.trainable = trainable
        # The step reads the trainable weights when traced: trace it again.
        self.model.make_train_function(force=True)
