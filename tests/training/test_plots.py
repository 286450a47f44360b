"""The pictures of a run, read back as a person would see them: the PNG files.

`picture` and `logged_images` are the checks the recipe tests use on the
files their runs write.
"""

import os

import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest
import tensorflow as tf

from garden.models.seq2seq import build_seq2seq
from garden.training import plots


def _regions(mask):
    """Number of 8-connected regions of True in `mask` (a small flood fill)."""
    seen = np.zeros_like(mask)
    count = 0
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        count += 1
        seen[start] = True
        stack = [start]
        while stack:
            y, x = stack.pop()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    near = (y + dy, x + dx)
                    if (
                        0 <= near[0] < mask.shape[0]
                        and 0 <= near[1] < mask.shape[1]
                        and mask[near]
                        and not seen[near]
                    ):
                        seen[near] = True
                        stack.append(near)
    return count


def picture(path, panels, min_size=(200, 200)):
    """Checks the PNG at `path`: its size, that it shows something, its panels.

    Every panel is framed in `plots.FRAME_COLOR` and nothing else has that
    colour, so the frames are the connected regions of it.

    Returns:
        The pixels, `(height, width, 3)` floats in [0, 1].
    """
    pixels = matplotlib.image.imread(path)[..., :3]
    height, width, _ = pixels.shape
    assert height >= min_size[0] and width >= min_size[1], (path, pixels.shape)
    assert pixels.var() > 1e-3, f"{path} is blank"
    frame = np.array(matplotlib.colors.to_rgb(plots.FRAME_COLOR))
    frames = _regions(np.abs(pixels - frame).max(axis=-1) < 0.04)
    assert frames == panels, f"{path}: {frames} panels, expected {panels}"
    return pixels


def logged_images(log_dir):
    """Tag -> (height, width) of each image in the TensorBoard events of `log_dir`."""
    images = {}
    for name in sorted(os.listdir(log_dir)):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(log_dir, name)):
            for value in event.summary.value:
                png = tf.make_ndarray(value.tensor)[2]  # width, height, PNG
                images[value.tag] = tuple(tf.io.decode_png(png).shape[:2])
    return images


HISTORY = [
    {"epoch": 0, "loss": 2.0, "val_loss": 2.2, "perplexity": 7.4,
     "val_perplexity": 9.0, "learning_rate": 0.1},
    {"epoch": 1, "loss": 1.5, "val_loss": 1.9, "perplexity": 4.5,
     "val_perplexity": 6.7, "learning_rate": 0.05},
    {"epoch": 2, "loss": 1.2, "val_loss": float("nan"), "perplexity": 3.3,
     "val_perplexity": None, "learning_rate": 0.025},
]  # fmt: skip


def test_learning_curves_one_panel_a_quantity_train_and_validation():
    figure = plots.learning_curves(HISTORY, title="a run")
    assert [axes.get_title() for axes in figure.axes] == ["loss", "perplexity"]
    loss = figure.axes[0]
    assert [line.get_label() for line in loss.lines] == ["train", "validation"]
    train, valid = (line.get_ydata() for line in loss.lines)
    assert list(loss.lines[0].get_xdata()) == [1, 2, 3]  # epochs from 1
    np.testing.assert_allclose(train, [2.0, 1.5, 1.2])
    np.testing.assert_allclose(valid, [2.2, 1.9, np.nan])  # a gap, not a zero
    only_train = plots.learning_curves([{"epoch": 0, "loss": 1.0}])
    assert [line.get_label() for line in only_train.axes[0].lines] == ["train"]
    with pytest.raises(ValueError, match="`rows`"):
        plots.learning_curves([])


def test_learning_curves_of_a_resumed_run_start_at_its_first_epoch(tmp_path):
    # history.csv as a killed run (epochs 0, 1) and its resumption (2) leave it.
    (tmp_path / "history.csv").write_text(
        "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\n"
        "0,0.5,0.1,0.9,0.55,0.8\n1,0.6,0.1,0.7,0.6,0.7\n2,0.7,0.1,0.5,0.65,0.6\n"
    )
    path = plots.write_learning_curves(str(tmp_path), title="resumed")
    assert path == str(tmp_path / "learning_curves.png")
    picture(path, panels=2)
    assert logged_images(tmp_path / "logs" / "plots") == {
        "learning_curves": matplotlib.image.imread(path).shape[:2]
    }
    (event,) = [
        event
        for name in os.listdir(tmp_path / "logs" / "plots")
        for event in tf.compat.v1.train.summary_iterator(
            str(tmp_path / "logs" / "plots" / name)
        )
        if event.summary.value
    ]
    assert event.step == 3  # the epochs drawn
    assert plots.write_learning_curves(str(tmp_path / "untrained")) is None


def test_confusion_figure_counts_in_cells_shading_by_row():
    figure = plots.confusion_figure([[3, 1], [0, 5]], ["neg", "pos"], "test")
    (axes,) = figure.axes
    assert [text.get_text() for text in axes.texts] == ["3", "1", "0", "5"]
    assert [text.get_position() for text in axes.texts][1] == (1, 0)  # column, row
    np.testing.assert_allclose(axes.images[0].get_array(), [[0.75, 0.25], [0, 1]])
    assert [label.get_text() for label in axes.get_yticklabels()] == ["neg", "pos"]
    assert axes.get_xlabel() == "predicted" and axes.get_ylabel() == "true"
    # A class never seen in the labels shades nothing (no division by zero).
    empty = plots.confusion_figure([[0, 0], [2, 2]], ["a", "b"]).axes[0]
    np.testing.assert_allclose(empty.images[0].get_array(), [[0, 0], [0.5, 0.5]])
    with pytest.raises(ValueError, match="`matrix`.*got \\(2, 2\\)"):
        plots.confusion_figure([[1, 2], [3, 4]], ["a", "b", "c"])


def test_confusion_matrix_counts_true_by_predicted():
    matrix = plots.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 2, 1, 2, 2, 0], 3)
    assert matrix.tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 2]]
    with pytest.raises(ValueError, match="`predictions`.*one prediction per label"):
        plots.confusion_matrix([0, 1], [0], 2)
    with pytest.raises(ValueError, match="`labels`.*\\[0, 2\\)"):
        plots.confusion_matrix([0, 2], [0, 1], 2)


def test_attention_heatmaps_one_panel_a_sentence(tmp_path):
    weights = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]])
    figure = plots.attention_heatmaps(
        [(weights, ["a", "b", "<eos>"], ["x", "<eos>"]), (np.eye(4), "wxyz", "WXYZ")]
    )
    first, second = figure.axes
    np.testing.assert_allclose(first.images[0].get_array(), weights)
    assert [label.get_text() for label in first.get_xticklabels()] == [
        "a",
        "b",
        "<eos>",
    ]
    assert [label.get_text() for label in first.get_yticklabels()] == ["x", "<eos>"]
    assert second.images[0].get_array().shape == (4, 4)
    picture(plots.write_figure(figure, str(tmp_path), "attention"), panels=2)
    with pytest.raises(ValueError, match="`examples`.*\\(2, 3\\) in example 0"):
        plots.attention_heatmaps([(weights.T, ["a", "b", "<eos>"], ["x", "<eos>"])])


def test_the_panel_count_sees_a_missing_panel(tmp_path):
    path = plots.write_figure(plots.learning_curves(HISTORY), str(tmp_path), "two")
    with pytest.raises(AssertionError, match="2 panels, expected 3"):
        picture(path, panels=3)


def test_alignment_reads_the_attention_in_source_order():
    source = np.array([[5, 6, 7, 3, 0], [8, 3, 0, 0, 0]], "int32")
    reversed_source = np.array([[3, 7, 6, 5, 0], [3, 8, 0, 0, 0]], "int32")
    target = np.array([[2, 7, 8], [2, 9, 0]], "int32")
    small = dict(units=8, embedding_dim=6, dropout=0.0)
    plain = build_seq2seq(20, 30, **small)
    backwards = build_seq2seq(20, 30, reverse_source=True, **small)
    # Sharper scores than at initialisation, so each column's weight differs.
    score = plain.training.get_layer("attention").score_vector
    score.assign(score * 30.0)
    backwards.training.set_weights(plain.training.get_weights())
    weights = plain.alignment((reversed_source, target), training=False).numpy()
    assert weights.shape == (2, 3, 5)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert np.all(weights[1, :, 2:] == 0)  # padding gets none
    # The reversing model reads `source` as the plain one reads it reversed;
    # its alignment gives the same weights, each under its own source token.
    got = backwards.alignment((source, target), training=False).numpy()
    assert np.ptp(got[0], axis=-1).min() > 0.05
    np.testing.assert_allclose(got[0], weights[0][:, [3, 2, 1, 0, 4]], rtol=1e-5)
    np.testing.assert_allclose(got[1], weights[1][:, [1, 0, 2, 3, 4]], rtol=1e-5)
    assert build_seq2seq(20, 30, attention=False, **small).alignment is None
