"""Sequence taggers: one label for every token, from a (bi)directional RNN.

`build_tagger` returns a functional `keras.Model` from right-padded int32
ids `(batch, steps)` (0 = `<pad>`) to float32 logits `(batch, steps,
num_labels)`; `compile_tagger` adds the cross-entropy and the micro F1 of
the mark classes, both skipping padding (label -1). `float32_tagger` is the
float32 twin that export serves, and `predict_labels` (`predict_logits`)
tags id sequences of any length in windows, as the exported model does;
`add_logit_offsets` moves a decision rule's offsets into the output bias.
"""

import keras
import numpy as np

from garden.checks import check_positive_integer
from garden.data.punctuation import PAD_LABEL
from garden.layers.attention import AdditiveAttention, LateFusion
from garden.layers.deep_rnn import recurrent_layer_class
from garden.models.batched import pad_ids, predict_by_length
from garden.training.metrics import masked_cross_entropy
from garden.training.precision import float32_copy
from garden.training.tagging_metrics import MarkF1


def build_tagger(
    vocab_size,
    num_labels,
    cell="gru",
    units=128,
    num_layers=2,
    embedding_dim=100,
    bidirectional=True,
    dropout=0.0,
    recurrent_dropout=0.0,
    attention_units=0,
    name="tagger",
):
    """A recurrent sequence tagger: a softmax over labels at every step.

        E = embed(x)                                    (mask_zero: padding skipped)
        H^(l) = [forward^(l)(H^(l-1)); backward^(l)(H^(l-1))]     l = 1 .. L
        logits_t = H^(L)_t W + b                        one row per token

    Without `bidirectional` each layer reads left to right only, so a word's
    label depends on the words before it alone: the comparison that shows
    what the right context is worth (a mark mostly depends on the next word).
    The recurrent layers are the garden's (`cell`), inside
    `keras.layers.Bidirectional`; dropout is applied to the embeddings,
    between layers and before the output. The logits are float32 (the one
    float32 island under mixed precision).

    With `attention_units`, the output is Tilk and Alumäe's (2016): a
    left-to-right output layer of the same cell reads the top states,
    attends over all of them and fuses the context into its own state
    before the softmax:

        S_t = forward(H^(L))_t                         the output layer's state
        c_t = AdditiveAttention(S_t, H^(L))            over the window's valid words
        logits_t = LateFusion(S_t, c_t) W + b

    Their query is the previous state S_(t-1) inside the recurrence; here it
    is S_t (Luong et al. 2015), so the attention runs over all steps at once
    rather than inside the loop.

    Args:
        vocab_size: Number of token ids.
        num_labels: Number of labels.
        cell: "gru" (default), "lstm" or "rnn".
        units: Hidden size of each direction.
        num_layers: Number of recurrent layers.
        embedding_dim: Embedding width.
        bidirectional: Whether each layer reads both ways.
        dropout: Dropout rate on embeddings, between layers, before the output.
        recurrent_dropout: Variational dropout on the recurrent state.
        attention_units: Width of the attention's score layer; 0 (default)
            for no attention and no output layer. Only with `bidirectional`.
        name: Model name.

    Returns:
        A `keras.Model` from ids `(batch, steps)` to float32 logits
        `(batch, steps, num_labels)`.

    Example:

    >>> import numpy as np
    >>> model = build_tagger(30, 4, units=4, embedding_dim=6)
    >>> tuple(model(np.array([[5, 6, 0]], "int32")).shape)
    (1, 3, 4)
    """
    layer_class = recurrent_layer_class(cell)
    if attention_units:
        check_positive_integer("attention_units", attention_units)
        if not bidirectional:
            raise ValueError(
                "Received `attention_units` without `bidirectional`: the attention "
                "reads the whole window, so a left-to-right tagger would see the "
                "words to its right."
            )
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True)(ids)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for index in range(num_layers):
        options = dict(return_sequences=True, recurrent_dropout=recurrent_dropout)
        if bidirectional:
            layer = keras.layers.Bidirectional(
                layer_class(units, **options), name=f"bidirectional_{index}"
            )
        else:
            layer = layer_class(units, name=f"recurrent_{index}", **options)
        x = layer(x)
        x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    if attention_units:
        state = layer_class(units, return_sequences=True, name="output_recurrent")(x)
        context = AdditiveAttention(attention_units, name="attention")(
            state, x, mask=keras.ops.not_equal(ids, 0)
        )
        x = LateFusion(name="late_fusion")([state, context])
        x = keras.layers.Dropout(dropout, name="fusion_dropout")(x)
    logits = keras.layers.Dense(num_labels, dtype="float32", name="logits")(x)
    return keras.Model(ids, logits, name=name)


def compile_tagger(model, optimizer):
    """Cross-entropy from logits and the marks' micro F1, padding (-1) skipped."""
    model.compile(
        optimizer=optimizer,
        loss=masked_cross_entropy(pad_id=PAD_LABEL),
        metrics=[MarkF1(ignore=PAD_LABEL, name="mark_f1")],
    )
    return model


def float32_tagger(config, weights):
    """The float32 twin of a trained tagger (what export serves).

    Args:
        config: The `build_tagger` arguments of the trained model.
        weights: Its `get_weights()`.

    Returns:
        The same model under the float32 policy, with those weights.
    """
    return float32_copy(build_tagger, config, weights)


def window_stride(window, stride=None):
    """The stride of `window_plan`, checked: `window` for None, else `stride`.

    Raises:
        ValueError: If `window` or `stride` is not a positive integer, or
            `stride` is longer than `window`.
    """
    check_positive_integer("window", window)
    stride = window if stride is None else stride
    check_positive_integer("stride", stride)
    if stride > window:
        raise ValueError(
            f"Received `stride` {stride} longer than `window` {window}: the items "
            "between windows would get no label."
        )
    return stride


def window_plan(length, window, stride=None):
    """Where the windows of a sequence start, and which window labels each item.

    Windows of at most `window` items start every `stride` items, until one
    reaches the sequence's end. Each item takes its label from the window
    it sits most centrally in: past its first `(window - stride) // 2`
    items, unless that is the sequence's first window, and before the last
    as many, unless the last; so every item has at least that much context
    on each side that the sequence has. A `stride` equal to `window` (the
    default) gives consecutive windows, each labelling its own items, as
    training cuts them; half the window gives every item a quarter window
    of context either side, where consecutive windows leave the items at a
    cut with none on one side.

    Args:
        length: The sequence's length.
        window: Most items per window.
        stride: Items from one window's start to the next's, from 1 to
            `window`; None for `window`.

    Returns:
        `(starts, owners)`: int arrays, the start of each window (none for an
        empty sequence) and the window of each of the `length` items.

    Example:

    >>> starts, owners = window_plan(7, 4, stride=2)
    >>> starts.tolist(), owners.tolist()
    ([0, 2, 4], [0, 0, 0, 1, 1, 2, 2])
    >>> [x.tolist() for x in window_plan(7, 4)]
    [[0, 4], [0, 0, 0, 0, 1, 1, 1]]
    """
    stride = window_stride(window, stride)
    if length == 0:
        return np.zeros(0, "int64"), np.zeros(0, "int64")
    last = max(0, -(-(length - window) // stride))  # ceil, the last window's index
    margin = (window - stride) // 2
    owners = np.clip((np.arange(length) - margin) // stride, 0, last)
    return stride * np.arange(last + 1), owners


def predict_logits(model, token_ids, window, batch_size=64, stride=None, verbose=0):
    """The label logits of every id of every sequence, tagged in windows.

    Each sequence is cut into windows of at most `window` ids starting
    every `stride` ids (consecutive by default), each window tagged on its
    own, and each id takes its logits from the window `window_plan` gives
    it, as the exported model does. Windows are sorted by length and
    batched with padding to the longest (rounded up to a multiple of 50,
    so few shapes are traced).

    Args:
        model: A tagger from `build_tagger`.
        token_ids: A list of 1-D id sequences (an empty one gets no rows).
        window: Most ids per window.
        batch_size: Windows per batch.
        stride: Ids between window starts, from 1 to `window`; None for
            `window`.
        verbose: 0 silent, 1 a progress bar over the windows, 2 one line.

    Returns:
        A list of float32 arrays `(length, num_labels)`, one per sequence.
    """
    plans, windows = [], []
    for ids in token_ids:
        ids = np.asarray(ids, "int32")
        starts, owners = window_plan(len(ids), window, stride)
        plans.append((len(windows), starts, owners))
        windows += [ids[start : start + window] for start in starts]

    def predict(batch):
        logits = np.asarray(model.predict_on_batch(pad_ids(batch, multiple=50)))
        return [logits[line, : len(ids)] for line, ids in enumerate(batch)]

    num_labels = model.output_shape[-1]
    predicted = predict_by_length(
        predict, windows, batch_size, verbose=verbose, unit_name="window"
    )
    logits = []
    for first, starts, owners in plans:
        # Owners never decrease: window k labels the items [ends[k-1], ends[k]).
        ends = np.searchsorted(owners, np.arange(len(starts)), side="right")
        pieces = [
            predicted[first + k][begin - start : end - start]
            for k, (start, begin, end) in enumerate(zip(starts, [0, *ends], ends))
        ]
        logits.append(np.concatenate([np.zeros((0, num_labels), "float32"), *pieces]))
    return logits


def predict_labels(model, token_ids, window, batch_size=64, stride=None, verbose=0):
    """The argmax label of every id of every sequence, tagged in windows.

    As `predict_logits`, which gives the logits.

    Returns:
        A list of int32 label arrays, one per sequence, of its length.
    """
    return [
        np.argmax(logits, axis=-1).astype("int32")
        for logits in predict_logits(
            model, token_ids, window, batch_size, stride, verbose
        )
    ]


def add_logit_offsets(model, offsets):
    """Adds `offsets` to the tagger's output bias: argmax(logits + offsets).

    How `garden.training.tagging_metrics.mark_offsets`' decision rule
    becomes part of the model (and of anything exported from it).

    Args:
        model: A tagger from `build_tagger`.
        offsets: float `(num_labels,)`.
    """
    bias = model.get_layer("logits").bias
    bias.assign(bias + np.asarray(offsets, bias.dtype))
