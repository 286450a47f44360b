"""Batched beam search (greedy search is beam width 1), graph-compatible.

Written with `keras.ops` only; `beam_width`, `max_length` and
`length_penalty` may be Python numbers or scalar tensors, so the same code
runs eagerly, inside `tf.function` and in an exported SavedModel's signature.
On JAX, whose shapes are static, pass `batch_size`, `beam_width` and
`max_length` as Python ints (they stay ints, so the loop traces once).

At each step every live hypothesis is extended by every token, and the
`beam_width` best of the `beam_width x vocabulary` extensions (by total log
probability) are kept. A hypothesis that emits `<eos>` is finished: it stays
in the beam with its score and only extends itself by padding. The search
stops when every hypothesis is finished or after `max_length` tokens; the
finished beams are then ranked by the length-normalised score of Wu et al.
(2016):

    score(Y) = log P(Y | X) / lp(Y),    lp(Y) = ((5 + |Y|) / 6) ** alpha

(`alpha = length_penalty`; 0 ranks by raw log probability, which favours
short outputs). With `beam_width=1` this is exactly greedy decoding.
"""

import numbers

from keras import ops

# A log probability that no real hypothesis reaches, finite so that sums of
# them never make inf - inf.
_IMPOSSIBLE = -1.0e9


def tile_beams(x, beam_width):
    """Repeats every batch row `beam_width` times: row b -> rows b*K .. b*K+K-1.

    Example:

    >>> import numpy as np
    >>> tile_beams(np.array([[1, 2], [3, 4]]), 2).numpy().tolist()
    [[1, 2], [1, 2], [3, 4], [3, 4]]
    """
    return ops.repeat(x, beam_width, axis=0)


def _count(value):
    """A Python int stays one (a static shape on every backend), else int32."""
    if isinstance(value, numbers.Integral):
        return int(value)
    return ops.cast(value, "int32")


def _shape(*dims):
    if all(isinstance(dim, int) for dim in dims):
        return dims
    return ops.stack(dims)


def _check(name, value, minimum):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < minimum:
            raise ValueError(
                f"Received an invalid value for argument `{name}`, expected a "
                f"number >= {minimum}, got {value!r}."
            )


def beam_search(
    step_fn,
    initial_states,
    batch_size,
    bos_id,
    eos_id,
    beam_width=4,
    max_length=50,
    length_penalty=1.0,
    pad_id=0,
    banned_ids=(),
):
    """The `beam_width` best continuations of `<bos>`, the best one returned.

    Args:
        step_fn: `step_fn(token_ids, states) -> (logits, new_states)` where
            `token_ids` is `(batch * beam_width, 1)` int32, `states` a list of
            tensors with `batch * beam_width` rows (beam k of example b in
            row `b * beam_width + k`, the order of `tile_beams`), and `logits`
            `(batch * beam_width, 1, vocabulary)` or `(batch * beam_width,
            vocabulary)`. Anything else the step needs (encoder outputs) it
            holds itself, tiled with `tile_beams`.
        initial_states: The states for `<bos>`, already tiled.
        batch_size: Number of examples (a Python int or scalar tensor).
        bos_id: First input token.
        eos_id: The token that ends a hypothesis.
        beam_width: Hypotheses kept per example (1 = greedy).
        max_length: Most tokens generated per hypothesis, `<eos>` included.
        length_penalty: `alpha` of the length normalisation.
        pad_id: Filler after `<eos>` in the returned ids; never generated.
        banned_ids: Further ids never generated (e.g. `<bos>`).

    Returns:
        `(token_ids, lengths, scores)`: int32 `(batch, max_length)` ids of the
        best hypothesis without its `<eos>` and padded with `pad_id`, int32
        `(batch,)` their lengths, and float32 `(batch,)` their normalised
        scores.
    """
    _check("beam_width", beam_width, 1)
    _check("max_length", max_length, 1)
    _check("length_penalty", length_penalty, 0)
    batch_size = _count(batch_size)
    beam_width = _count(beam_width)
    max_length = _count(max_length)
    rows = batch_size * beam_width
    scores, tokens, finished, lengths = _initial_beams(
        batch_size, beam_width, max_length
    )
    last = ops.full(_shape(rows, 1), bos_id, "int32")

    def cond(step, tokens, scores, finished, lengths, last, states):
        return ops.logical_and(step < max_length, ops.logical_not(ops.all(finished)))

    def body(step, tokens, scores, finished, lengths, last, states):
        logits, new_states = step_fn(last, list(states))
        scores, origin, token = _best_extensions(
            logits, scores, finished, rows, batch_size, beam_width, pad_id, banned_ids
        )
        was_finished = ops.take_along_axis(finished, origin, axis=1)
        tokens = ops.take_along_axis(tokens, origin[..., None], axis=1)
        written = ops.where(was_finished, pad_id, token)
        here = ops.arange(max_length) == step
        tokens = ops.where(here, written[..., None], tokens)
        lengths = ops.take_along_axis(lengths, origin, axis=1)
        lengths = lengths + ops.cast(ops.logical_not(was_finished), "int32")
        finished = ops.logical_or(was_finished, token == eos_id)
        states = _follow_origin(new_states, states, origin, batch_size, beam_width)
        last = ops.reshape(written, ops.shape(last))
        return step + 1, tokens, scores, finished, lengths, last, states

    _, tokens, scores, finished, lengths, _, _ = ops.while_loop(
        cond,
        body,
        (
            ops.convert_to_tensor(0, "int32"),
            tokens,
            scores,
            finished,
            lengths,
            last,
            list(initial_states),
        ),
    )
    return _best(tokens, scores, finished, lengths, max_length, length_penalty, pad_id)


def _initial_beams(batch_size, beam_width, max_length):
    """`(scores, tokens, finished, lengths)` of the beams before the first step."""
    first = ops.cast(ops.arange(beam_width) == 0, "float32")
    # Only beam 0 is live at first, so the first step does not pick K copies.
    scores = ops.broadcast_to(
        ops.expand_dims((1.0 - first) * _IMPOSSIBLE, 0),
        _shape(batch_size, beam_width),
    )
    tokens = ops.zeros(_shape(batch_size, beam_width, max_length), "int32")
    finished = ops.zeros(_shape(batch_size, beam_width), "bool")
    lengths = ops.zeros(_shape(batch_size, beam_width), "int32")
    return scores, tokens, finished, lengths


def _best_extensions(
    logits, scores, finished, rows, batch_size, beam_width, pad_id, banned_ids
):
    """`(scores, origin, token)` of the `beam_width` best extensions per example.

    `origin` is the beam each extension continues and `token` the id it adds,
    both `(batch, beam_width)`.
    """
    logits = ops.cast(logits, "float32")
    vocabulary = ops.shape(logits)[-1]
    log_probs = ops.log_softmax(ops.reshape(logits, (rows, -1)), axis=-1)
    log_probs = ops.reshape(log_probs, _shape(batch_size, beam_width, -1))
    log_probs = _allowed(log_probs, vocabulary, finished, pad_id, banned_ids)
    candidates = ops.reshape(scores[..., None] + log_probs, _shape(batch_size, -1))
    scores, best = ops.top_k(candidates, beam_width)
    origin = best // vocabulary
    token = ops.cast(best % vocabulary, "int32")
    return scores, origin, token


def _follow_origin(new_states, states, origin, batch_size, beam_width):
    """The step's `new_states` with every row taken from the beam it continues."""
    origin_rows = ops.reshape(
        origin + ops.arange(batch_size)[:, None] * beam_width, (-1,)
    )
    return [
        ops.reshape(ops.take(state, origin_rows, axis=0), ops.shape(before))
        for state, before in zip(new_states, states)
    ]


def _allowed(log_probs, vocabulary, finished, pad_id, banned_ids):
    """`log_probs` `(batch, beams, vocab)` with what may not come next ruled out."""
    ids = ops.arange(vocabulary)
    banned = ids == pad_id
    for banned_id in banned_ids:
        banned = ops.logical_or(banned, ids == banned_id)
    log_probs = ops.where(banned, _IMPOSSIBLE, log_probs)
    # A finished hypothesis extends itself by padding, at no cost.
    only_pad = ops.where(ids == pad_id, 0.0, _IMPOSSIBLE)
    return ops.where(finished[..., None], only_pad, log_probs)


def _best(tokens, scores, finished, lengths, max_length, length_penalty, pad_id):
    """`(token_ids, lengths, scores)` of each example's best finished beam."""
    penalty = ops.power(
        (5.0 + ops.cast(lengths, "float32")) / 6.0,
        ops.cast(length_penalty, "float32"),
    )
    normalised = scores / penalty
    best = ops.argmax(normalised, axis=1)[:, None]
    best_tokens = ops.take_along_axis(tokens, best[..., None], axis=1)[:, 0]
    best_finished = ops.take_along_axis(finished, best, axis=1)[:, 0]
    best_lengths = ops.take_along_axis(lengths, best, axis=1)[:, 0]
    # The count includes <eos> for finished hypotheses; drop it from the ids.
    best_lengths = best_lengths - ops.cast(best_finished, "int32")
    keep = ops.arange(max_length)[None, :] < best_lengths[:, None]
    best_tokens = ops.where(keep, best_tokens, pad_id)
    best_scores = ops.take_along_axis(normalised, best, axis=1)[:, 0]
    return best_tokens, best_lengths, best_scores
