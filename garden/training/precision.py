"""The one place where the garden chooses its floating-point precision.

Recipes call `set_precision` once at start-up and KerasTuner hypermodels call it
again at the top of every `build`: the tuner clears the Keras session before
each trial, and that resets the global dtype policy to float32.
"""

import keras

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def gpu_visible():
    """Whether the Keras backend sees a GPU."""
    return bool(keras.distribution.list_devices("gpu"))


def resolve_precision(precision):
    """The dtype policy name that `precision` stands for.

    Args:
        precision: One of "auto", "float32", "mixed_float16", "mixed_bfloat16".
            "auto" is mixed_float16 when a GPU is visible, float32 otherwise.

    Returns:
        A Keras dtype policy name.

    Example:

    >>> resolve_precision("mixed_bfloat16")
    'mixed_bfloat16'
    """
    if precision not in PRECISIONS:
        raise ValueError(
            "Received an invalid value for argument `precision`, expected one of "
            f"{list(PRECISIONS)}, got {precision!r}."
        )
    if precision == "auto":
        return "mixed_float16" if gpu_visible() else "float32"
    return precision


def set_precision(precision):
    """Sets the global Keras dtype policy; returns the policy name it set.

    Under mixed_float16, `Model.compile` wraps the optimizer in a
    `keras.optimizers.LossScaleOptimizer` (dynamic loss scaling), because
    `auto_scale_loss` is on by default; models keep their logits and losses in
    float32 by giving the output layer `dtype="float32"`.
    """
    policy = resolve_precision(precision)
    keras.config.set_dtype_policy(policy)
    return policy
