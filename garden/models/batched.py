"""Prediction in batches of similar length, results back in the caller's order.

Sorting by length before batching keeps padding (and so wasted steps) small;
`predict_by_length` undoes the sort, so callers never see it.
"""

import keras
import numpy as np


def pad_ids(sequences, multiple=1):
    """Right-pads id sequences with 0 (`<pad>`) into one int32 batch.

    The width is the longest length, at least 1 (an empty sequence becomes
    one `<pad>`), rounded up to a multiple of `multiple` so that fewer
    shapes are traced.

    Example:

    >>> pad_ids([[5, 6, 7], [8]]).tolist()
    [[5, 6, 7], [8, 0, 0]]
    >>> pad_ids([[5]], multiple=4).tolist()
    [[5, 0, 0, 0]]
    """
    longest = max(1, max(len(ids) for ids in sequences))
    batch = np.zeros((len(sequences), -(-longest // multiple) * multiple), "int32")
    for line, ids in enumerate(sequences):
        batch[line, : len(ids)] = ids
    return batch


def predict_by_length(
    predict, items, batch_size, length=len, verbose=0, unit_name="item"
):
    """`predict` on batches of items sorted by length, results in `items`' order.

    Args:
        predict: `predict(batch_items) -> results`, one result per item of the
            list it gets, in its order.
        items: The things to predict (id sequences, trees, ...).
        batch_size: Items per batch.
        length: `length(item)`, the key of the (stable) sort.
        verbose: As Keras's: 0 is silent, 1 a progress bar over the items,
            2 one line when they are done.
        unit_name: What the progress bar counts.

    Returns:
        A list, the result of each item at its position in `items`.

    Example:

    >>> predict_by_length(lambda b: [len(x) for x in b], ["abc", "", "ab"], 2)
    [3, 0, 2]
    """
    order = np.argsort([length(item) for item in items], kind="stable")
    results = [None] * len(items)
    progress = keras.utils.Progbar(len(items), verbose=verbose, unit_name=unit_name)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = [items[row] for row in rows]
        for row, result in zip(rows, predict(batch), strict=True):
            results[row] = result
        progress.add(len(rows))
    return results
