"""Sentiment Treebank scores: fine-grained and binary accuracy of 5-way predictions.

SST labels a phrase 0 (very negative) to 4 (very positive). Fine-grained
accuracy is the argmax over the five classes; binary accuracy drops the
neutral phrases (label 2) and calls a prediction positive when
P(3) + P(4) > P(0) + P(1) (Socher et al., 2013, score the binary task on
the same 5-way model this way).
"""

import keras
import numpy as np
from keras import ops

NEUTRAL = 2


def binary_predictions(probabilities):
    """True where P(positive) = P(3) + P(4) exceeds P(negative) = P(0) + P(1)."""
    p = np.asarray(probabilities)
    return p[..., 3] + p[..., 4] > p[..., 0] + p[..., 1]


def sentiment_scores(labels, probabilities):
    """Fine-grained and binary accuracy of 5-way probabilities.

    Args:
        labels: int `(n,)`, 0..4.
        probabilities: `(n, 5)`.

    Returns:
        A dict: `fine_grained` (accuracy over all n), `binary` (accuracy over
        the non-neutral ones), `count` and `binary_count`.

    Example:

    >>> scores = sentiment_scores([0, 2, 4], [[.6, .1, .1, .1, .1],
    ...                                       [.1, .1, .3, .3, .2],
    ...                                       [.3, .3, .2, .1, .1]])
    >>> scores["fine_grained"], scores["binary"]
    (0.6666666666666666, 0.5)
    """
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities)
    fine = np.argmax(probabilities, axis=-1) == labels
    polar = labels != NEUTRAL
    binary = binary_predictions(probabilities[polar]) == (labels[polar] > NEUTRAL)
    return {
        "fine_grained": float(np.mean(fine)) if len(labels) else float("nan"),
        "binary": float(np.mean(binary)) if len(binary) else float("nan"),
        "count": int(len(labels)),
        "binary_count": int(len(binary)),
    }


@keras.saving.register_keras_serializable(package="garden")
class RootAccuracy(keras.metrics.Metric):
    """Accuracy at the root of every tree, from per-node predictions.

    Trees are right-padded post-order node arrays, so the root of a tree is
    its last real node: position `sum(sample_weight) - 1` when the node mask
    is passed as `sample_weight` (as `compile(weighted_metrics=...)` does),
    else the last position.

    Args:
        binary: Score the binary task instead of the fine-grained one (neutral
            roots skipped, P(3) + P(4) against P(0) + P(1)).
        name: Metric name.

    Example:

    >>> import numpy as np
    >>> metric = RootAccuracy()
    >>> p = np.eye(5, dtype="float32")[[[1, 4, 0], [3, 0, 0]]]
    >>> metric.update_state(np.array([[1, 4, 0], [3, 1, 0]]), p,
    ...                     sample_weight=np.array([[1, 1, 0], [1, 1, 0]]))
    >>> float(metric.result())
    0.5
    """

    def __init__(self, binary=False, name="root_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.binary = bool(binary)
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        nodes = ops.shape(y_true)[1]
        if sample_weight is None:
            roots = ops.full((ops.shape(y_true)[0],), nodes - 1, "int32")
        else:
            real = ops.cast(ops.cast(sample_weight, "float32") > 0, "int32")
            roots = ops.maximum(ops.sum(real, axis=1) - 1, 0)
        label = ops.take_along_axis(y_true, roots[:, None], axis=1)[:, 0]
        p = ops.take_along_axis(
            ops.cast(y_pred, "float32"), roots[:, None, None], axis=1
        )[:, 0]
        if self.binary:
            counted = ops.cast(label != NEUTRAL, "float32")
            positive = p[:, 3] + p[:, 4] > p[:, 0] + p[:, 1]
            hit = ops.cast(positive == (label > NEUTRAL), "float32") * counted
        else:
            counted = ops.ones_like(ops.cast(label, "float32"))
            hit = ops.cast(
                ops.cast(ops.argmax(p, axis=-1), "int32") == label, "float32"
            )
        self.correct.assign_add(ops.sum(hit))
        self.count.assign_add(ops.sum(counted))

    def result(self):
        return ops.divide_no_nan(self.correct, self.count)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "binary": self.binary}
