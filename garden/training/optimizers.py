"""The optimizers the lectures name, with clipping and weight averaging.

The learning rate's decay over epochs is `garden.training.callbacks.EpochLearningRate`,
so that one path serves every recipe, every KerasTuner trial and every resume.
"""

import keras

from garden.training.averaging import AveragedSGD

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam")


def ema_options(ema_momentum):
    """Keras's optimizer arguments for a weight average with this momentum.

    One reading of `--ema` for `make_optimizer` and the optimizers a recipe
    builds itself (ULMFiT's layer-wise ones): `{}` for None.

    Example:

    >>> ema_options(0.999)
    {'use_ema': True, 'ema_momentum': 0.999}
    """
    if ema_momentum is None:
        return {}
    if not 0 < ema_momentum < 1:
        raise ValueError(
            "Received an invalid value for argument `ema_momentum`, expected a "
            f"float in (0, 1) or None, got {ema_momentum!r}."
        )
    return {"use_ema": True, "ema_momentum": ema_momentum}


def make_optimizer(
    name="adam",
    learning_rate=1e-3,
    clip_norm=None,
    momentum=0.9,
    ema_momentum=None,
    averaged=False,
):
    """A Keras optimizer by its lecture name.

    Args:
        name: "sgd", "momentum" (SGD with momentum), "adagrad", "rmsprop",
            "adadelta" or "adam".
        learning_rate: Positive float, the initial learning rate.
        clip_norm: Clip the gradients by their global norm to this value
            (Pascanu et al., 2013); None for no clipping.
        momentum: The momentum of "momentum".
        ema_momentum: Keep an exponential moving average of the weights
            with this momentum (Keras's `use_ema`); the model ends training
            with the averaged weights. None for no averaging.
        averaged: "sgd" only: a `garden.training.averaging.AveragedSGD`,
            whose running mean of the iterates NT-ASGD's trigger starts.

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
    options = {
        "learning_rate": learning_rate,
        "global_clipnorm": clip_norm,
        **ema_options(ema_momentum),
    }
    if averaged:
        if name != "sgd" or ema_momentum is not None:
            raise ValueError(
                "Received an invalid value for argument `averaged`: the "
                "average of the iterates is SGD's (ASGD), without an "
                f"exponential average; got optimizer {name!r}, ema_momentum "
                f"{ema_momentum!r}."
            )
        return AveragedSGD(**options)
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


def optimizer_from_flags(args, **overrides):
    """The optimizer of `--optimizer`, `--learning-rate`, `--clip-norm` and `--ema`.

    Every recipe builds its optimizer here (the per-epoch `--lr-decay` is a
    callback of `fit_from_flags`); `overrides` replace `make_optimizer`
    arguments the recipe decides itself (e.g. `averaged`). `--ema` is read
    only where the recipe lists it (`garden.cli.add_ema_flag`).
    """
    options = {
        "name": args.optimizer,
        "learning_rate": args.learning_rate,
        "clip_norm": args.clip_norm,
        "ema_momentum": getattr(args, "ema", None) or None,
        **overrides,
    }
    return make_optimizer(**options)
