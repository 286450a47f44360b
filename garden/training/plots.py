"""Pictures of a run: learning curves, attention heatmaps, confusion matrices.

Each drawing function returns a matplotlib `Figure` on the non-interactive
Agg canvas (no display, no pyplot state shared between runs); `write_figure`
saves it as `RUN_DIR/NAME.png` and as an image of the run's TensorBoard logs
(`RUN_DIR/logs/plots`, beside the `train` and `validation` logs that Keras
writes). Every panel has a frame of `FRAME_COLOR`, so a reader of the PNG
(a test) can count the panels. matplotlib is imported inside the functions:
`import garden` does not pay for it.

    fit_from_flags        -> learning_curves.png   every run that trains
    recipes.translation   -> attention.png         attention models only
    recipes.sentiment, recipes.sst, recipes.tagging -> confusion*.png
"""

import io
import math
import os

import numpy as np

from garden.reports import atomic_write
from garden.training.run_record import history_rows

# Drawn on no data line, image or text, so the frames alone have this colour.
FRAME_COLOR = "#6a3d9a"
DPI = 100
# Logged columns of history.csv that are not a quantity trained or validated.
_NOT_CURVES = ("epoch", "learning_rate")


def _figure(width, height, layout="constrained"):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def _frame(axes):
    for spine in axes.spines.values():
        spine.set_edgecolor(FRAME_COLOR)
        spine.set_linewidth(1.5)


def _invalid(argument, expected, got):
    return ValueError(
        f"Received an invalid value for argument `{argument}`, expected "
        f"{expected}, got {got}."
    )


def learning_curves(rows, title=None):
    """Loss and metrics per epoch, train and validation: one panel a quantity.

    Args:
        rows: One dict a epoch, as `garden.training.run_record.history_rows`
            reads `history.csv` (epochs of a resumed run included): `epoch`
            (from 0), `loss`, `val_loss`, and any metric `m` with `val_m`.
            The learning rate is not drawn. Missing and non-finite values
            leave a gap.
        title: The figure's title.

    Returns:
        A `matplotlib.figure.Figure`.

    Example:

    >>> rows = [{"epoch": 0, "loss": 2.0, "val_loss": 2.2, "accuracy": 0.5,
    ...          "val_accuracy": 0.4, "learning_rate": 0.1},
    ...         {"epoch": 1, "loss": 1.0, "val_loss": 1.9, "accuracy": 0.7,
    ...          "val_accuracy": 0.6, "learning_rate": 0.1}]
    >>> [axes.get_title() for axes in learning_curves(rows).axes]
    ['loss', 'accuracy']
    """
    from matplotlib.ticker import MaxNLocator

    rows = list(rows)
    if not rows:
        raise _invalid("rows", "at least one epoch", "none")
    names = []
    for row in rows:
        for name in row:
            quantity = name.removeprefix("val_")
            if quantity not in _NOT_CURVES and quantity not in names:
                names.append(quantity)
    # Loss first: every task has it, so the first panel reads alike.
    names.sort(key=lambda name: name != "loss")
    epochs = [
        int(row["epoch"]) + 1 if row.get("epoch") is not None else index + 1
        for index, row in enumerate(rows)
    ]
    columns = min(len(names), 3)
    lines = math.ceil(len(names) / columns)
    width, height = 3.6 * columns, 2.8 * lines + (0.3 if title else 0)
    # Fixed margins (inches): every training run draws this figure, and
    # constrained layout would double its cost.
    figure = _figure(width, height, layout=None)
    figure.subplots_adjust(
        left=0.6 / width,
        right=1 - 0.15 / width,
        bottom=0.5 / height,
        top=1 - (0.35 + (0.3 if title else 0)) / height,
        wspace=0.2,
        hspace=0.55,
    )
    for index, name in enumerate(names):
        axes = figure.add_subplot(lines, columns, index + 1)
        for key, label, style in (
            (name, "train", "-"),
            (f"val_{name}", "validation", "--"),
        ):
            values = np.array(
                [np.nan if row.get(key) is None else row[key] for row in rows],
                "float64",
            )
            if np.any(np.isfinite(values)):
                values[~np.isfinite(values)] = np.nan
                axes.plot(epochs, values, style, marker="o", markersize=3, label=label)
        axes.set_title(name)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
        _frame(axes)
    if title:
        figure.suptitle(title)
    return figure


def attention_heatmaps(examples, title=None):
    """Attention weights of translated sentences: one panel a sentence.

    Args:
        examples: `(weights, source_tokens, target_tokens)` triples;
            `weights[t, s]` is the attention of target token `t` (a row) on
            source token `s` (a column), shape `(len(target_tokens),
            len(source_tokens))`.
        title: The figure's title.

    Returns:
        A `matplotlib.figure.Figure`; darker cells weigh more.

    Example:

    >>> import numpy as np
    >>> figure = attention_heatmaps(
    ...     [(np.full((3, 2), 0.5), ["hi", "<eos>"], ["salut", "!", "<eos>"])])
    >>> figure.axes[0].images[0].get_array().shape
    (3, 2)
    """
    examples = list(examples)
    if not examples:
        raise _invalid("examples", "at least one sentence", "none")
    checked = []
    for index, (weights, source, target) in enumerate(examples):
        weights = np.asarray(weights, "float32")
        if weights.shape != (len(target), len(source)):
            raise _invalid(
                "examples",
                "weights of shape (target tokens, source tokens) = "
                f"{(len(target), len(source))} in example {index}",
                weights.shape,
            )
        checked.append((weights, list(source), list(target)))
    # Cells about 0.28 inches square, so the token labels fit beside them.
    width = sum(0.28 * len(source) + 1.2 for _, source, _ in checked)
    height = max(0.28 * len(target) for _, _, target in checked) + 1.4
    figure = _figure(max(width, 3.0), height + (0.3 if title else 0))
    grid = figure.add_gridspec(
        1, len(checked), width_ratios=[len(s) for _, s, _ in checked]
    )
    for index, (weights, source, target) in enumerate(checked):
        axes = figure.add_subplot(grid[0, index])
        axes.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="equal")
        axes.set_xticks(range(len(source)), source, rotation=90, fontsize="small")
        axes.set_yticks(range(len(target)), target, fontsize="small")
        axes.tick_params(length=0)
        _frame(axes)
    if title:
        figure.suptitle(title)
    return figure


def confusion_matrix(labels, predictions, num_classes):
    """Counts of (true class, predicted class): rows true, columns predicted.

    Example:

    >>> confusion_matrix([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], 2).tolist()
    [[1, 1], [1, 2]]
    """
    labels = np.asarray(labels, "int64").reshape(-1)
    predictions = np.asarray(predictions, "int64").reshape(-1)
    if labels.shape != predictions.shape:
        raise _invalid(
            "predictions", f"one prediction per label ({labels.size})", predictions.size
        )
    for name, ids in (("labels", labels), ("predictions", predictions)):
        if ids.size and not 0 <= ids.min() <= ids.max() < num_classes:
            raise _invalid(name, f"class ids in [0, {num_classes})", ids.tolist()[:10])
    matrix = np.zeros((num_classes, num_classes), "int64")
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def confusion_figure(matrix, class_names, title=None):
    """A confusion matrix: counts in the cells, shading by share of the true class.

    Args:
        matrix: int `(classes, classes)`, rows the true class, columns the
            predicted one (`confusion_matrix`).
        class_names: One name a class.
        title: The panel's title.

    Returns:
        A `matplotlib.figure.Figure`: each row's shading is its counts over
        the row's total (recall on the diagonal), so a rare class reads as
        clearly as a frequent one.

    Example:

    >>> figure = confusion_figure([[3, 1], [0, 5]], ["neg", "pos"])
    >>> [text.get_text() for text in figure.axes[0].texts]
    ['3', '1', '0', '5']
    """
    matrix = np.asarray(matrix)
    classes = len(class_names)
    if matrix.shape != (classes, classes):
        raise _invalid(
            "matrix", f"shape {(classes, classes)} (one row a class name)", matrix.shape
        )
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(
        matrix, totals, out=np.zeros(matrix.shape, "float64"), where=totals > 0
    )
    side = 1.0 + 0.8 * classes
    figure = _figure(side + 0.6, side + 0.3)
    axes = figure.add_subplot()
    axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(
            column,
            row,
            f"{int(count):,}",
            ha="center",
            va="center",
            color="white" if shares[row, column] > 0.5 else "black",
            fontsize="small",
        )
    axes.set_xticks(range(classes), class_names, rotation=30 if classes > 2 else 0)
    axes.set_yticks(range(classes), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title or "share of each true class", fontsize="medium")
    _frame(axes)
    return figure


def png_bytes(figure):
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def write_figure(figure, run_dir, name, step=0):
    """Writes `figure` as `run_dir/name.png` and as TensorBoard image `name`.

    The image goes to `run_dir/logs/plots` at `step` (the epochs trained,
    for learning curves). The PNG is written whole or not at all.

    Returns:
        The PNG's path.
    """
    png = png_bytes(figure)
    path = os.path.join(run_dir, f"{name}.png")
    with atomic_write(path) as temporary:
        with open(temporary, "wb") as file:
            file.write(png)
    # TensorFlow only here: the pictures themselves need none.
    import tensorflow as tf

    writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs", "plots"))
    with writer.as_default():
        tf.summary.image(name, tf.io.decode_png(png, channels=3)[None], step=step)
    writer.close()
    return path


def write_learning_curves(run_dir, title=None):
    """Draws `run_dir/history.csv` (`learning_curves`); None without history.

    Returns:
        The PNG's path, or None when the run has no epoch in its history.
    """
    rows = history_rows(run_dir)
    if not rows:
        return None
    return write_figure(
        learning_curves(rows, title), run_dir, "learning_curves", step=len(rows)
    )
