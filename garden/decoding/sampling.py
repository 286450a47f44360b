"""Decoding for language models: greedy, temperature, top-k and nucleus sampling.

Everything here is written with `keras.ops` and `keras.random`, and takes its
knobs (`temperature`, `top_k`, `top_p`, `max_length`) either as Python numbers
or as scalar tensors, so the same code runs eagerly, inside `tf.function` and
in the serving signature of an exported SavedModel. Python numbers are
validated and raise `ValueError`; tensors cannot be checked inside a graph,
so they are given a meaning instead (a temperature <= 0 is greedy, a length is
clipped), as each function documents.
"""

import keras
import ml_dtypes
import numpy as np
from keras import ops

# Nucleus membership is decided on float32 cumulative sums; a token whose
# predecessors already sum to within this of `p` counts as having reached it,
# so `p=0.8` over probabilities [0.5, 0.3, ...] keeps two tokens, not three.
_TOP_P_TOLERANCE = 1e-6


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool
    )


def _is_integer(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _invalid(name, expected, value):
    return ValueError(
        f"Received an invalid value for argument `{name}`, expected {expected}, "
        f"got {value!r}."
    )


def _check_temperature(temperature):
    if _is_number(temperature) and not temperature >= 0:
        raise _invalid("temperature", "a number >= 0 (0 means greedy)", temperature)


def _check_top_k(top_k):
    if _is_number(top_k) and (not _is_integer(top_k) or top_k < 0):
        raise _invalid("top_k", "an integer >= 0 (0 means no filtering)", top_k)


def _check_top_p(top_p):
    if _is_number(top_p) and not 0 < top_p <= 1:
        raise _invalid("top_p", "a number in (0, 1] (1 means no filtering)", top_p)


def _lowest(dtype):
    """The most negative finite value of `dtype`: exp() of it minus any max is 0."""
    name = keras.backend.standardize_dtype(dtype)
    return float(ml_dtypes.finfo(getattr(ml_dtypes, name, None) or np.dtype(name)).min)


def _last_position(logits):
    """`(batch, vocab)` logits of the last position of `(batch, t, vocab)` ones."""
    return logits[:, -1] if len(logits.shape) == 3 else logits


def filter_top_k(logits, k):
    """Keeps the `k` largest logits of each row (Fan et al., 2018).

        keep_i = z_i >= z_(k)      z_(k): the k-th largest logit of the row
        z'_i = z_i if keep_i else lowest finite value of the dtype

    so that softmax(z') is the model's distribution renormalised over its `k`
    most probable tokens. Logits tied with the k-th largest are all kept.

    Args:
        logits: `(batch, vocab)` float logits, any float dtype (the fill value
            is the dtype's finite minimum, so float16 and bfloat16 stay finite).
        k: Python int or scalar integer tensor. `k <= 0` or `k >= vocab` means
            no filtering.

    Returns:
        Logits of the same shape and dtype as `logits`.

    Example:

    >>> import numpy as np
    >>> z = np.array([[1.0, 3.0, 2.0, 0.0]], "float32")
    >>> kept = np.asarray(filter_top_k(z, 2)) > -1e30
    >>> kept.tolist()
    [[False, True, True, False]]
    """
    logits = ops.convert_to_tensor(logits)
    if _is_integer(k) and k <= 0:
        return logits
    vocab = ops.shape(logits)[-1]
    k = ops.cast(k, "int32")
    descending = ops.flip(ops.sort(logits, axis=-1), axis=-1)
    kth_index = ops.clip(k - 1, 0, vocab - 1)
    kth_largest = ops.take(descending, kth_index, axis=-1)[:, None]
    filtered = ops.where(
        logits >= kth_largest, logits, ops.cast(_lowest(logits.dtype), logits.dtype)
    )
    return ops.where(ops.logical_and(k > 0, k < vocab), filtered, logits)


def filter_top_p(logits, p):
    """Keeps the nucleus of each row (Holtzman et al., 2020).

    With the tokens sorted by probability, pi_(1) >= pi_(2) >= ..., where
    pi = softmax(z), the nucleus is the smallest prefix V_p whose mass reaches p:

        V_p = {(1), ..., (m)},   m = min{m : sum_{j<=m} pi_(j) >= p}
        z'_i = z_i if i in V_p else lowest finite value of the dtype

    The most probable token is always kept. Mass is summed in float32 and a
    prefix within 1e-6 of `p` counts as reaching it. Tokens tied with the
    least probable member of the nucleus are kept too.

    Args:
        logits: `(batch, vocab)` float logits, any float dtype.
        p: Python float in (0, 1] or scalar float tensor. `p >= 1` means no
            filtering; a tensor `p <= 0` keeps only the most probable token.

    Returns:
        Logits of the same shape and dtype as `logits`.

    Raises:
        ValueError: If `p` is a Python number outside (0, 1].

    Example:

    >>> import numpy as np
    >>> z = np.log(np.array([[0.5, 0.3, 0.15, 0.05]], "float32"))
    >>> (np.asarray(filter_top_p(z, 0.8)) > -1e30).tolist()
    [[True, True, False, False]]
    """
    logits = ops.convert_to_tensor(logits)
    if _is_number(p):
        if not 0 < p <= 1:
            raise _invalid("p", "a number in (0, 1] (1 means no filtering)", p)
        if p >= 1:
            return logits
    p = ops.cast(p, "float32")
    descending = ops.flip(ops.sort(ops.cast(logits, "float32"), axis=-1), axis=-1)
    sorted_probs = ops.softmax(descending, axis=-1)
    # A token belongs to the nucleus when the tokens above it have not yet
    # reached p: the exclusive cumulative sum is below p.
    mass_before = ops.cumsum(sorted_probs, axis=-1) - sorted_probs
    in_nucleus = mass_before < p - _TOP_P_TOLERANCE
    size = ops.maximum(ops.sum(ops.cast(in_nucleus, "int32"), axis=-1), 1)
    smallest_kept = ops.take_along_axis(descending, size[:, None] - 1, axis=-1)
    filtered = ops.where(
        ops.cast(logits, "float32") >= smallest_kept,
        logits,
        ops.cast(_lowest(logits.dtype), logits.dtype),
    )
    return ops.where(p >= 1, logits, filtered)


def greedy(logits):
    """The most probable token of each row: argmax_i z_i, as int32.

    Args:
        logits: `(batch, vocab)` logits.

    Returns:
        `(batch,)` int32 token ids (the first one where logits tie).

    Example:

    >>> import numpy as np
    >>> np.asarray(greedy(np.array([[0.1, 2.0, -1.0]], "float32"))).tolist()
    [1]
    """
    return ops.cast(ops.argmax(ops.convert_to_tensor(logits), axis=-1), "int32")


def _sampling_logits(logits, temperature, top_k, top_p):
    """float32 logits z / T, filtered by top-k then top-p, and whether T > 0.

    A temperature <= 0 is replaced by 1 here so that nothing divides by zero;
    the caller picks the greedy token for those rows instead.
    """
    logits = ops.cast(logits, "float32")
    temperature = ops.cast(temperature, "float32")
    sampling = temperature > 0
    scaled = logits / ops.where(sampling, temperature, 1.0)
    # A tiny positive temperature could overflow z / T to +-inf; inf - inf in
    # the softmax would be NaN.
    lowest = _lowest("float32")
    scaled = ops.clip(scaled, lowest, -lowest)
    if not (_is_integer(top_k) and top_k == 0):
        scaled = filter_top_k(scaled, top_k)
    if not (_is_number(top_p) and top_p >= 1):
        scaled = filter_top_p(scaled, top_p)
    return scaled, sampling


def next_token(logits, temperature=1.0, top_k=0, top_p=1.0, seed=None):
    """Samples the next token of each row.

        pi = softmax(z / T)

    restricted to the `top_k` most probable tokens, then to the nucleus of
    mass `top_p` (see `filter_top_k`, `filter_top_p`), and renormalised. T -> 0
    concentrates pi on the argmax, T = 1 is the model's distribution, T > 1
    flattens it. `temperature <= 0` is greedy decoding, argmax_i z_i; with a
    tensor temperature the choice is made per call without a Python branch
    (both the greedy and the sampled token are computed), so one traced graph
    serves both. Logits are cast to float32 before anything else.

    Args:
        logits: `(batch, vocab)` logits, or `(batch, t, vocab)` of which the
            last position is used.
        temperature: Python number >= 0 or scalar tensor; `<= 0` is greedy.
        top_k: Python int >= 0 or scalar int tensor; 0 (or >= vocab) keeps
            every token.
        top_p: Python number in (0, 1] or scalar tensor; 1 keeps every token.
        seed: A `keras.random.SeedGenerator` (a new draw at each call), a
            Python int (the same draw at each call, for reproducibility) or
            None (Keras's global generator; avoid it inside a traced
            function). Unused when `temperature` is a Python 0.

    Returns:
        `(batch,)` int32 token ids.

    Raises:
        ValueError: If `temperature`, `top_k` or `top_p` is a Python number
            out of its range.

    Example:

    >>> import numpy as np
    >>> z = np.array([[0.0, 5.0, 1.0], [2.0, 0.0, 0.0]], "float32")
    >>> np.asarray(next_token(z, temperature=0.0)).tolist()
    [1, 0]
    >>> np.asarray(next_token(z, top_k=1, seed=7)).tolist()
    [1, 0]
    """
    _check_temperature(temperature)
    _check_top_k(top_k)
    _check_top_p(top_p)
    logits = _last_position(ops.convert_to_tensor(logits))
    argmax = greedy(ops.cast(logits, "float32"))
    if _is_number(temperature) and temperature == 0:
        return argmax
    scaled, sampling = _sampling_logits(logits, temperature, top_k, top_p)
    sampled = keras.random.categorical(scaled, 1, dtype="int32", seed=seed)[:, 0]
    return ops.where(sampling, sampled, argmax)


def _sample_from_uniform(scaled, uniform):
    """Inverse-CDF sampling: the token whose CDF interval holds `uniform`.

    Exact categorical sampling from softmax(scaled) with one uniform per row,
    which lets `generate` draw all its randomness once, before the loop.
    """
    probs = ops.softmax(scaled, axis=-1)
    cdf = ops.cumsum(probs, axis=-1)
    u = ops.cast(uniform, "float32")[:, None] * cdf[:, -1:]
    ids = ops.sum(ops.cast(cdf <= u, "int32"), axis=-1)
    # Rounding can leave u at the very top of the CDF; stay on a token with mass.
    vocab = ops.shape(scaled)[-1]
    has_mass = ops.cast(probs > 0, "int32")
    last_with_mass = vocab - 1 - ops.argmax(ops.flip(has_mass, axis=-1), axis=-1)
    return ops.minimum(ids, ops.cast(last_with_mass, "int32"))


def _length_limit(max_length, max_length_limit):
    """The output buffer's size (a Python int) after checking both arguments."""
    if _is_number(max_length) and (not _is_integer(max_length) or max_length <= 0):
        raise _invalid("max_length", "a positive integer", max_length)
    if max_length_limit is None:
        if not _is_integer(max_length):
            raise _invalid(
                "max_length_limit",
                "a positive integer when `max_length` is a tensor",
                max_length_limit,
            )
        max_length_limit = int(max_length)
    if not _is_integer(max_length_limit) or max_length_limit <= 0:
        raise _invalid("max_length_limit", "a positive integer", max_length_limit)
    if _is_integer(max_length) and max_length > max_length_limit:
        raise _invalid(
            "max_length", f"at most max_length_limit={max_length_limit}", max_length
        )
    return int(max_length_limit)


def generate(
    step_fn,
    prompt_ids,
    initial_states,
    max_length,
    temperature=1.0,
    top_k=0,
    top_p=1.0,
    seed=None,
    max_length_limit=None,
):
    """Autoregressive generation in one graph-friendly loop.

    The prompt goes through the model once, then each new token is drawn from
    the last logits (as in `next_token`) and fed back:

        z_0, s_0 = step_fn(prompt, initial_states)
        y_i ~ softmax(filter(z_i / T)),  z_{i+1}, s_{i+1} = step_fn(y_i, s_i)

    for i = 0 .. max_length - 1. The loop is a `keras.ops.while_loop` writing
    into a fixed `(batch, max_length_limit)` buffer, so `max_length` and the
    sampling knobs may be tensors (e.g. the inputs of a serving signature).

    Randomness: one uniform per row and step is drawn before the loop from
    `seed` and each token is sampled by inverse CDF from it, which is exact
    sampling from the same distribution as `next_token`. The loop body is
    therefore stateless: an int seed gives the same sequence on every call
    (and different draws at different steps); a `SeedGenerator` advances once
    per call. Nothing is drawn when `temperature` is a Python 0.

    Args:
        step_fn: `step_fn(token_ids, states) -> (logits, new_states)`, with
            `token_ids` `(batch, t)` int32 (the prompt, then `(batch, 1)`),
            `states` a list of tensors whose shapes do not change from call
            to call, and logits `(batch, t, vocab)` or `(batch, vocab)` (the
            last position is used).
        prompt_ids: `(batch, t)` int token ids, t >= 1.
        initial_states: List of state tensors for the first call.
        max_length: Number of tokens to generate. A Python int must be in
            [1, max_length_limit]; a tensor is clipped to
            [0, max_length_limit].
        temperature, top_k, top_p: As in `next_token` (Python numbers are
            validated, tensors are not; a temperature tensor <= 0 is greedy).
        seed: A Python int, a `keras.random.SeedGenerator` or None, see above.
        max_length_limit: Python int, the size of the output buffer (a static
            shape for graphs). Required when `max_length` is a tensor;
            defaults to `max_length` when that is a Python int.

    Returns:
        `(ids, length)`: `ids` is `(batch, max_length_limit)` int32 whose
        first `length` columns are the generated tokens (the prompt is not
        included) and whose remaining columns are 0 (`<pad>`); `length` is the
        int32 scalar `clip(max_length, 0, max_length_limit)`. With a Python
        `max_length` and no limit, `ids` is exactly `(batch, max_length)`.

    Raises:
        ValueError: If `max_length`, `max_length_limit`, `temperature`,
            `top_k` or `top_p` is a Python number out of its range, or if
            `max_length` is a tensor and `max_length_limit` is missing.

    Example: a model that always predicts "previous token + 1".

    >>> import numpy as np
    >>> from keras import ops
    >>> def step_fn(token_ids, states):
    ...     return ops.one_hot((token_ids[:, -1] + 1) % 5, 5), states
    >>> ids, length = generate(step_fn, np.array([[3]]), [], max_length=4,
    ...                        temperature=0.0)
    >>> np.asarray(ids).tolist(), int(length)
    ([[4, 0, 1, 2]], 4)
    """
    limit = _length_limit(max_length, max_length_limit)
    _check_temperature(temperature)
    _check_top_k(top_k)
    _check_top_p(top_p)

    prompt_ids = ops.cast(ops.convert_to_tensor(prompt_ids), "int32")
    if len(prompt_ids.shape) != 2:
        raise _invalid("prompt_ids", "a (batch, length) tensor", prompt_ids.shape)
    length = ops.clip(ops.cast(max_length, "int32"), 0, limit)
    batch = ops.shape(prompt_ids)[0]
    always_greedy = _is_number(temperature) and temperature == 0
    if always_greedy:
        uniforms = ops.zeros((limit, batch), "float32")
    else:
        uniforms = keras.random.uniform((limit, batch), dtype="float32", seed=seed)

    logits, states = step_fn(prompt_ids, list(initial_states))
    logits = ops.cast(_last_position(logits), "float32")
    buffer = ops.zeros((batch, limit), "int32")

    def cond(i, buffer, logits, states):
        return i < length

    def body(i, buffer, logits, states):
        token = greedy(logits)
        if not always_greedy:
            scaled, sampling = _sampling_logits(logits, temperature, top_k, top_p)
            sampled = _sample_from_uniform(scaled, ops.take(uniforms, i, axis=0))
            token = ops.where(sampling, sampled, token)
        buffer = ops.slice_update(buffer, (0, i), token[:, None])
        logits, states = step_fn(token[:, None], list(states))
        return i + 1, buffer, ops.cast(_last_position(logits), "float32"), states

    _, buffer, _, _ = ops.while_loop(
        cond, body, (ops.convert_to_tensor(0, "int32"), buffer, logits, states)
    )
    return buffer, length
