"""The one place where the garden chooses its floating-point precision.

Recipes call `set_precision` once at start-up and KerasTuner hypermodels call it
again at the top of every `build`: the tuner clears the Keras session before
each trial, and that resets the global dtype policy to float32.
"""

import keras

from garden.devices import visible_gpus

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def gpu_visible():
    """Whether the Keras backend sees a GPU."""
    return bool(visible_gpus())


def cpu_computes_bfloat16():
    """Whether this CPU has bfloat16 instructions (AVX-512 BF16 or AMX).

    Read from the kernel's CPU flags (Linux); False where they cannot be read.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = next(
                (
                    line.split(":", 1)[1].split()
                    for line in cpuinfo
                    if line.startswith("flags")
                ),
                [],
            )
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def resolve_precision(precision, bfloat16_pays=False):
    """The dtype policy name that `precision` stands for.

    Args:
        precision: One of "auto", "float32", "mixed_float16", "mixed_bfloat16".
            "auto" is mixed_float16 when a GPU is visible; on a CPU it is
            mixed_bfloat16 for a model where that was measured faster at the
            same quality (`bfloat16_pays`) on a CPU with bfloat16
            instructions, float32 otherwise.
        bfloat16_pays: The caller's model is one of those (docs/precision.md
            says which and why).

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
    if precision != "auto":
        return precision
    if gpu_visible():
        return "mixed_float16"
    if bfloat16_pays and cpu_computes_bfloat16():
        return "mixed_bfloat16"
    return "float32"


def set_precision(precision, bfloat16_pays=False):
    """Sets the global Keras dtype policy; returns the policy name it set.

    Under mixed_float16, `Model.compile` wraps the optimizer in a
    `keras.optimizers.LossScaleOptimizer` (dynamic loss scaling), because
    `auto_scale_loss` is on by default; models keep their logits and losses in
    float32 by giving the output layer `dtype="float32"`. `bfloat16_pays` is
    as in `resolve_precision`.
    """
    policy = resolve_precision(precision, bfloat16_pays)
    keras.config.set_dtype_policy(policy)
    return policy


def float32_copy(build, config, weights, weights_into=None):
    """`build(**config)` under the float32 policy, with trained `weights` set.

    The float32 twin that decoding and export use of a model trained under
    any policy; the global policy is restored afterwards, even on error.

    Args:
        build: A model builder, e.g. `garden.models.build_tagger`.
        config: The builder's arguments of the trained model.
        weights: The trained model's `get_weights()`.
        weights_into: Where in what `build` returns the weights go (e.g. a
            `Seq2Seq`'s training model); None: the returned model itself.

    Returns:
        What `build` returned, its weights set.
    """
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        built = build(**config)
    finally:
        keras.config.set_dtype_policy(policy)
    (built if weights_into is None else weights_into(built)).set_weights(weights)
    return built
