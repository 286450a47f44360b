"""Losses and metrics for token-level prediction: masked cross-entropy, perplexity."""

import keras
from keras import ops


def masked_cross_entropy(pad_id=0):
    """Sparse categorical cross-entropy from logits that ignores `pad_id` targets.

    Keras averages it over the real tokens only, so padding changes nothing;
    `pad_id=None` counts every target.
    """
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=pad_id, name="masked_cross_entropy"
    )


@keras.saving.register_keras_serializable(package="garden")
class Perplexity(keras.metrics.Metric):
    """Perplexity = exp(token-weighted mean cross-entropy), padding excluded.

        PPL = exp( - sum_t w_t log p(y_t | y_<t) / sum_t w_t )

    with w_t = 0 where the target is `pad_id` (and times `sample_weight`).
    Accumulated over all batches of an epoch, so a short last batch counts for
    its tokens only. (KerasHub has a metric of the same name; this one keeps
    the garden free of that dependency and follows Keras's `ignore_class`.)

    Args:
        pad_id: Target id that does not count; None to count every token.
        name: Metric name.

    Example:

    >>> import numpy as np
    >>> metric = Perplexity(pad_id=0)
    >>> logits = np.zeros((1, 3, 4), "float32")          # uniform over 4 tokens
    >>> metric.update_state(np.array([[2, 3, 0]]), logits)
    >>> round(float(metric.result()), 4)
    4.0
    """

    def __init__(self, pad_id=0, name="perplexity", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = pad_id
        self.total_nll = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="total_nll"
        )
        self.token_count = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="token_count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        nll = keras.losses.sparse_categorical_crossentropy(
            y_true, ops.cast(y_pred, "float32"), from_logits=True
        )
        weights = ops.ones_like(nll)
        if self.pad_id is not None:
            weights = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        if sample_weight is not None:
            weights = weights * ops.cast(sample_weight, "float32")
        self.total_nll.assign_add(ops.sum(nll * weights))
        self.token_count.assign_add(ops.sum(weights))

    def result(self):
        return ops.exp(self.total_nll / ops.maximum(self.token_count, 1.0))

    def reset_state(self):
        self.total_nll.assign(0.0)
        self.token_count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}
