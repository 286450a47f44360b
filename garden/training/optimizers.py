"""The optimizers the lectures name, with clipping and learning-rate decay."""

import keras

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam")


def make_optimizer(
    name="adam",
    learning_rate=1e-3,
    clip_norm=None,
    decay_rate=None,
    decay_steps=1000,
    decay_start=0,
    momentum=0.9,
    ema_momentum=None,
):
    """A Keras optimizer by its lecture name.

    Args:
        name: "sgd", "momentum" (SGD with momentum), "adagrad", "rmsprop",
            "adadelta" or "adam".
        learning_rate: Positive float, the initial learning rate.
        clip_norm: Clip the gradients by their global norm to this value
            (Pascanu et al., 2013); None for no clipping.
        decay_rate: Multiply the learning rate by this factor every
            `decay_steps` steps (exponential decay, staircase); None for a
            constant rate.
        decay_steps: Steps between decays.
        decay_start: Steps at the initial rate before the first decay (e.g.
            Zaremba et al. halve the rate after each epoch from the 5th on).
        momentum: The momentum of "momentum".
        ema_momentum: Keep an exponential moving average of the weights
            with this momentum (Keras's `use_ema`); the model ends training
            with the averaged weights. None for no averaging.

    Returns:
        A `keras.optimizers.Optimizer`.

    Example:

    >>> make_optimizer("momentum", 0.1, clip_norm=0.25).global_clipnorm
    0.25
    """
    if name not in OPTIMIZERS:
        raise ValueError(
            "Received an invalid value for argument `optimizer`, expected one of "
            f"{list(OPTIMIZERS)}, got {name!r}."
        )
    if not learning_rate > 0:
        raise ValueError(
            "Received an invalid value for argument `learning_rate`, expected a "
            f"positive float, got {learning_rate!r}."
        )
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(
            "Received an invalid value for argument `clip_norm`, expected a "
            f"positive float or None, got {clip_norm!r}."
        )
    if decay_rate is not None:
        if not 0 < decay_rate <= 1:
            raise ValueError(
                "Received an invalid value for argument `decay_rate`, expected a "
                f"float in (0, 1] or None, got {decay_rate!r}."
            )
        if decay_start:
            # Constant, then one step down every `decay_steps` (100 steps down
            # take the rate below any use when decay_rate < 1).
            learning_rate = keras.optimizers.schedules.PiecewiseConstantDecay(
                [decay_start + i * decay_steps for i in range(100)],
                [learning_rate * decay_rate**i for i in range(101)],
            )
        else:
            learning_rate = keras.optimizers.schedules.ExponentialDecay(
                learning_rate,
                decay_steps=decay_steps,
                decay_rate=decay_rate,
                staircase=True,
            )
    options = {"learning_rate": learning_rate, "global_clipnorm": clip_norm}
    if ema_momentum is not None:
        if not 0 < ema_momentum < 1:
            raise ValueError(
                "Received an invalid value for argument `ema_momentum`, expected a "
                f"float in (0, 1) or None, got {ema_momentum!r}."
            )
        options.update(use_ema=True, ema_momentum=ema_momentum)
    if name == "sgd":
        return keras.optimizers.SGD(**options)
    if name == "momentum":
        return keras.optimizers.SGD(momentum=momentum, **options)
    if name == "adagrad":
        return keras.optimizers.Adagrad(**options)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(**options)
    if name == "adadelta":
        return keras.optimizers.Adadelta(**options)
    return keras.optimizers.Adam(**options)
