"""Per-mark precision, recall and F1, against counts done by hand."""

import numpy as np
import pytest

from garden.training.tagging_metrics import (
    OFFSET_GRID,
    MarkF1,
    mark_counts,
    mark_offsets,
    scores_table,
    tagging_scores,
)

NAMES = ("none", "comma", "period", "question")


def test_scores_match_a_hand_count():
    # Pairs (true, predicted), padding (-1) last:
    #   comma:    right twice, predicted for a none and for a period, missed once
    #   period:   right once, missed once (as comma)
    #   question: never predicted, true once (predicted none)
    labels = [1, 1, 0, 2, 1, 2, 3, 0, 0, -1, -1]
    predicted = [1, 1, 1, 1, 0, 2, 0, 0, 0, 3, 2]
    scores = tagging_scores(labels, predicted, NAMES)
    assert list(scores) == ["comma", "period", "question", "overall"]
    # comma: TP 2, FP 2, FN 1.
    assert scores["comma"]["precision"] == pytest.approx(2 / 4)
    assert scores["comma"]["recall"] == pytest.approx(2 / 3)
    assert scores["comma"]["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert scores["comma"]["support"] == 3
    # period: TP 1, FP 0, FN 1.
    assert scores["period"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    )
    # question: nothing predicted: 0, not a division by zero.
    assert scores["question"] == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1
    }  # fmt: skip
    # overall, micro over the marks: TP 3, FP 2, FN 3; none never counts.
    overall = scores["overall"]
    assert overall["precision"] == pytest.approx(3 / 5)
    assert overall["recall"] == pytest.approx(3 / 6)
    assert overall["f1"] == pytest.approx(2 * 0.6 * 0.5 / 1.1)
    assert overall["support"] == 6


def test_perfect_and_empty_predictions():
    labels = np.array([[0, 2, 1], [3, 0, -1]])
    perfect = tagging_scores(labels, np.where(labels < 0, 0, labels), NAMES)
    assert all(row["f1"] == 1.0 for row in perfect.values())
    silent = tagging_scores(labels, np.zeros_like(labels), NAMES)
    assert silent["overall"] == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 3
    }  # fmt: skip
    assert tagging_scores([], [], NAMES)["overall"]["support"] == 0


def test_counts_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="argument `predictions`"):
        mark_counts([0, 1], [0], 4)


def test_keras_metric_streams_the_overall_f1():
    rng = np.random.default_rng(0)
    labels = rng.integers(-1, 4, size=(3, 6, 7))
    logits = rng.normal(size=(3, 6, 7, 4)).astype("float32")
    metric = MarkF1()
    for y, p in zip(labels, logits):
        metric.update_state(y, p)
    want = tagging_scores(labels, logits.argmax(-1), NAMES)["overall"]["f1"]
    assert float(metric.result()) == pytest.approx(want, rel=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    assert MarkF1.from_config(metric.get_config()).ignore == -1


def test_table_is_markdown():
    table = scores_table(tagging_scores([1, 0], [1, 0], NAMES))
    lines = table.splitlines()
    assert lines[0] == "| mark | precision | recall | F1 | support |"
    assert lines[2] == "| comma | 100.00 | 100.00 | 100.00 | 1 |"
    assert lines[-1].startswith("| overall (micro) | 100.00 |")


def test_keras_metric_skips_positions_of_zero_sample_weight():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=(4, 9))
    logits = rng.normal(size=(4, 9, 4)).astype("float32")
    weights = rng.integers(0, 2, size=(4, 9))
    metric = MarkF1()
    metric.update_state(labels, logits, sample_weight=weights.astype("float32"))
    masked = np.where(weights == 0, -1, labels)
    want = tagging_scores(masked, logits.argmax(-1), NAMES)["overall"]["f1"]
    unweighted = tagging_scores(labels, logits.argmax(-1), NAMES)["overall"]["f1"]
    assert want != pytest.approx(unweighted)
    assert float(metric.result()) == pytest.approx(want, rel=1e-6)


def test_offsets_undo_a_shift_of_the_mark_logits():
    # Perfect scores, then each mark's logit lowered: plain argmax misses
    # every comma (shift 2.5) and some periods (1.8); the offsets give it back.
    rng = np.random.default_rng(0)
    labels = rng.choice(4, size=2000, p=[0.8, 0.1, 0.08, 0.02])
    labels[:5] = -1  # padding does not count
    logits = np.eye(4)[labels] * 2.0 + rng.uniform(-0.4, 0.4, (2000, 4))
    shifted = logits - np.array([0.0, 2.5, 1.8, 0.0])
    before = tagging_scores(labels, np.argmax(shifted, -1), NAMES)["overall"]["f1"]
    assert before < 0.7
    offsets, f1 = mark_offsets(shifted, labels)
    assert f1 == 1.0 and offsets[0] == 0.0
    predicted = np.argmax(shifted + offsets, -1)
    assert tagging_scores(labels, predicted, NAMES)["overall"]["f1"] == 1.0
    # Raised past the gap the shift left (2.0 between a right logit and 0).
    assert offsets[1] > 2.5 - 2.0 and offsets[2] > 0.0 and offsets[3] == 0.0
    # A right model keeps its argmax.
    assert not mark_offsets(logits, labels)[0].any()


def test_offsets_reach_the_best_pair_of_an_exhaustive_search():
    rng = np.random.default_rng(3)
    labels = rng.choice(3, size=3000, p=[0.85, 0.1, 0.05])
    logits = np.eye(3)[labels] + rng.normal(0.0, 0.9, (3000, 3))
    grid = OFFSET_GRID[::5]  # steps of 0.5
    offsets, f1 = mark_offsets(logits, labels, grid=grid)
    names = NAMES[:3]

    def score(a, b):
        predicted = np.argmax(logits + [0.0, a, b], -1)
        return tagging_scores(labels, predicted, names)["overall"]["f1"]

    best = max(score(a, b) for a in grid for b in grid)
    plain = score(0.0, 0.0)
    assert f1 == pytest.approx(score(*offsets[1:])) and f1 > plain + 0.02
    assert f1 == pytest.approx(best, abs=0.005)
