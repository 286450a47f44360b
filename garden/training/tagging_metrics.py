"""Scores of a tagger that marks some tokens: precision, recall and F1 per mark.

Punctuation restoration labels every word with the mark after it, and most
words have none. As in Tilk and Alumäe (2016), each mark class is scored on
its own and "overall" is the micro average over the mark classes, the
no-mark class excluded: a word whose mark is right counts once as a true
positive of its class; a wrong mark is a false positive of the predicted
class and a false negative of the true one (when either is a mark).

    precision_c = TP_c / (TP_c + FP_c)
    recall_c    = TP_c / (TP_c + FN_c)
    F1_c        = 2 precision_c recall_c / (precision_c + recall_c)

A ratio with nothing to divide by is 0. Positions whose label is `ignore`
(padding) do not count.
"""

import keras
import numpy as np
from keras import ops


def mark_counts(labels, predictions, num_classes, ignore=-1):
    """True positives, false positives and false negatives of every class.

    Args:
        labels: int array of any shape: the true class ids.
        predictions: int array of the same shape: the predicted ids.
        num_classes: Number of classes.
        ignore: Label of positions that do not count (padding).

    Returns:
        int64 arrays `(tp, fp, fn)`, each `(num_classes,)`.
    """
    labels = np.asarray(labels, "int64").reshape(-1)
    predictions = np.asarray(predictions, "int64").reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(
            "Received an invalid value for argument `predictions`, expected one "
            f"prediction per label ({labels.size}), got {predictions.size}."
        )
    kept = labels != ignore
    labels, predictions = labels[kept], predictions[kept]
    right = labels == predictions
    tp = np.bincount(labels[right], minlength=num_classes)
    fp = np.bincount(predictions[~right], minlength=num_classes)
    fn = np.bincount(labels[~right], minlength=num_classes)
    return tp[:num_classes], fp[:num_classes], fn[:num_classes]


def _ratio(numerator, denominator):
    return float(numerator / denominator) if denominator else 0.0


def _scores(tp, fp, fn):
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "support": int(tp + fn),
    }


def tagging_scores(labels, predictions, class_names, marks=None, ignore=-1):
    """Precision, recall, F1 and support per mark class, and their micro average.

    Args:
        labels: int array of true class ids (any shape).
        predictions: int array of predicted ids, the same shape.
        class_names: The name of every class id.
        marks: The ids of the scored classes; default every class but 0.
        ignore: Label of positions that do not count (padding).

    Returns:
        A dict from each mark's name, then "overall", to a dict with
        `precision`, `recall`, `f1` and `support` (true occurrences).

    Example:

    >>> scores = tagging_scores([0, 1, 1, 2, 0, -1], [1, 1, 0, 2, 0, 2],
    ...                         ["none", "comma", "period"])
    >>> scores["comma"]
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'support': 2}
    >>> round(scores["overall"]["f1"], 4)
    0.6667
    """
    if marks is None:
        marks = range(1, len(class_names))
    marks = list(marks)
    tp, fp, fn = mark_counts(labels, predictions, len(class_names), ignore)
    scores = {class_names[c]: _scores(tp[c], fp[c], fn[c]) for c in marks}
    scores["overall"] = _scores(tp[marks].sum(), fp[marks].sum(), fn[marks].sum())
    return scores


OFFSET_GRID = np.round(np.arange(-3.0, 3.01, 0.1), 2)


def mark_offsets(logits, labels, marks=None, grid=OFFSET_GRID, rounds=10, ignore=-1):
    """Per-class logit offsets that maximize the marks' micro F1 on held-out data.

    A tagger trained on cross-entropy predicts the most probable class,
    which is not what maximizes F1 when the marks are rare: the argmax is
    cautious (the BiGRU's commas: precision 50, recall 32). The decision
    rule `argmax(logits + offsets)` trades precision for recall per class
    (Lipton et al. 2014, "Optimal thresholding of classifiers to maximize
    F1"); the offsets are chosen by coordinate ascent, one mark at a time
    over `grid`, until a round changes none (class 0, no mark, keeps 0).
    Choose them on validation data and score on test data.

    Args:
        logits: float array `(..., num_classes)`.
        labels: int array of the true class ids, `logits.shape[:-1]`.
        marks: The ids of the scored classes; default every class but 0.
        grid: Candidate offsets of each mark.
        rounds: Most passes over the marks.
        ignore: Label of positions that do not count (padding).

    Returns:
        `(offsets, f1)`: float32 offsets `(num_classes,)` (0 where no value
        of the grid did better) and the micro F1 they reach on these data.

    Example:

    >>> import numpy as np
    >>> logits = np.array([[0.0, -1.0], [0.0, -0.5], [0.0, 1.0], [0.0, -2.0]])
    >>> offsets, f1 = mark_offsets(logits, np.array([1, 1, 1, 0]))
    >>> [round(offset, 2) for offset in offsets.tolist()], f1
    ([0.0, 1.1], 1.0)
    """
    logits = np.asarray(logits, "float32")
    num_classes = logits.shape[-1]
    logits = logits.reshape(-1, num_classes)
    labels = np.asarray(labels, "int64").reshape(-1)
    kept = labels != ignore
    logits, labels = logits[kept], labels[kept]
    marks = list(range(1, num_classes) if marks is None else marks)

    def f1(offsets):
        predictions = np.argmax(logits + offsets, -1)
        counts = mark_counts(labels, predictions, num_classes, ignore)
        return _scores(*(count[marks].sum() for count in counts))["f1"]

    offsets = np.zeros(num_classes, "float32")
    best = f1(offsets)
    for _ in range(rounds):
        improved = False
        for mark in marks:
            for value in grid:
                trial = offsets.copy()
                trial[mark] = value
                score = f1(trial)
                if score > best:  # a tie keeps the current offset
                    best, offsets, improved = score, trial, True
        if not improved:
            break
    return offsets, best


def scores_table(scores):
    """A Markdown table of `tagging_scores` (percentages, two decimals)."""
    lines = [
        "| mark | precision | recall | F1 | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in scores.items():
        label = "overall (micro)" if name == "overall" else name
        lines.append(
            f"| {label} | {100 * row['precision']:.2f} | {100 * row['recall']:.2f} "
            f"| {100 * row['f1']:.2f} | {row['support']:,} |"
        )
    return "\n".join(lines)


@keras.saving.register_keras_serializable(package="garden")
class MarkF1(keras.metrics.Metric):
    """Micro F1 over the mark classes (every class but 0), padding skipped.

    The streaming form of `tagging_scores(...)["overall"]["f1"]`, for
    picking the best epoch: predictions are the argmax of `y_pred` and
    positions whose label is `ignore` do not count.

        F1 = 2 TP / (2 TP + FP + FN)      summed over the mark classes

    Args:
        ignore: Label of padding positions.
        name: Metric name.

    Example:

    >>> import numpy as np
    >>> metric = MarkF1()
    >>> logits = np.eye(3, dtype="float32")[[[1, 1, 0], [2, 0, 0]]]
    >>> metric.update_state(np.array([[0, 1, 1], [2, 0, -1]]), logits)
    >>> round(float(metric.result()), 4)
    0.6667
    """

    def __init__(self, ignore=-1, name="mark_f1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.ignore = ignore
        self.true_positives = self.add_variable((), initializer="zeros", name="tp")
        self.false_positives = self.add_variable((), initializer="zeros", name="fp")
        self.false_negatives = self.add_variable((), initializer="zeros", name="fn")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        counted = ops.cast(ops.not_equal(y_true, self.ignore), "float32")
        if sample_weight is not None:
            counted = counted * ops.cast(sample_weight, "float32")
        wrong = ops.cast(ops.not_equal(predicted, y_true), "float32") * counted
        right = counted - wrong
        is_mark = ops.cast(y_true > 0, "float32")
        predicted_mark = ops.cast(predicted > 0, "float32")
        self.true_positives.assign_add(ops.sum(right * is_mark))
        self.false_positives.assign_add(ops.sum(wrong * predicted_mark))
        self.false_negatives.assign_add(ops.sum(wrong * is_mark))

    def result(self):
        tp = self.true_positives
        return ops.divide_no_nan(
            2.0 * tp, 2.0 * tp + self.false_positives + self.false_negatives
        )

    def reset_state(self):
        for variable in self.variables:
            variable.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "ignore": self.ignore}
