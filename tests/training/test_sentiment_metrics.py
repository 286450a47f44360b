"""SST scores: fine-grained and binary accuracy, at the root of padded trees."""

import numpy as np
import pytest

from garden.training.sentiment_metrics import (
    RootAccuracy,
    binary_predictions,
    sentiment_scores,
)


def one_hot(classes):
    return np.eye(5, dtype="float32")[classes]


def test_binary_drops_neutral_and_compares_both_sides():
    labels = [0, 1, 2, 3, 4, 4]
    # P(0)+P(1) = 0.5 against P(3)+P(4) = 0.4: negative, though class 4 is the argmax.
    split = [0.25, 0.25, 0.1, 0.0, 0.4]
    p = np.array([one_hot(1), one_hot(3), one_hot(2), one_hot(4), one_hot(4), split])
    scores = sentiment_scores(labels, p)
    assert scores["binary_count"] == 5 and scores["count"] == 6
    assert scores["binary"] == pytest.approx(3 / 5)
    assert scores["fine_grained"] == pytest.approx(3 / 6)


@pytest.mark.parametrize("binary", [False, True])
def test_root_accuracy_reads_the_last_real_node(binary):
    rng = np.random.default_rng(0)
    lengths = [5, 1, 3, 7]
    labels = rng.integers(0, 5, size=(4, 7))
    p = rng.dirichlet(np.ones(5), size=(4, 7)).astype("float32")
    mask = np.arange(7)[None, :] < np.array(lengths)[:, None]
    metric = RootAccuracy(binary=binary)
    metric.update_state(labels, p, sample_weight=mask.astype("float32"))
    rows = np.arange(4), np.array(lengths) - 1
    want = sentiment_scores(labels[rows], p[rows])[
        "binary" if binary else "fine_grained"
    ]
    if np.isnan(want):
        want = 0.0
    assert float(metric.result()) == pytest.approx(want)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    assert RootAccuracy.from_config(metric.get_config()).binary == binary


def test_a_tie_between_positive_and_negative_mass_is_negative():
    # Positive needs P(3) + P(4) to exceed P(0) + P(1): all mass on neutral
    # (0 against 0) and an exact tie (0.25 against 0.25) are negative.
    tie = [0.25, 0.0, 0.5, 0.0, 0.25]
    p = np.array([one_hot(2), tie, tie], "float32")
    np.testing.assert_array_equal(binary_predictions(p), [False, False, False])
    scores = sentiment_scores([4, 4, 0], p)
    assert scores["binary"] == pytest.approx(1 / 3)
    metric = RootAccuracy(binary=True)
    metric.update_state(np.array([[4], [4], [0]]), p[:, None, :])
    assert float(metric.result()) == pytest.approx(1 / 3)


@pytest.mark.parametrize("binary", [False, True])
def test_root_accuracy_without_a_mask_reads_the_last_node(binary):
    # Root labels 4, 0, 2 (neutral, skipped by the binary task); the first
    # nodes are predicted wrong, the roots right but for the middle tree.
    labels = np.array([[0, 1, 4], [4, 3, 0], [1, 1, 2]])
    p = one_hot(np.array([[3, 4, 4], [0, 4, 4], [0, 0, 2]]))
    metric = RootAccuracy(binary=binary)
    metric.update_state(labels, p)
    assert float(metric.result()) == pytest.approx(1 / 2 if binary else 2 / 3)
