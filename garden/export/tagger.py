"""Export of a punctuation tagger: bare text in, punctuated text out."""

import tensorflow as tf

from garden.data.preprocessors import TextToIds
from garden.data.punctuation import MARKS, PUNCTUATION_LABELS
from garden.export.serving import (
    example_texts,
    limited_texts,
    text_in_model,
    tracking_archive,
    write_version,
)
from garden.layers import cell_loops_only
from garden.models.tagger import window_stride
from garden.training.checkpoints import save_model


def tagger_archive(model, tokenizer, vocabulary, window, stride=None):
    """An `ExportArchive` whose `serving_default` punctuates raw text.

    `serving_default(text)`:
        text: string `(batch,)`, unpunctuated text (punctuation it does
            hold is removed first and restored by the model).
        Returns `punctuated` string `(batch,)`, the lower-cased words each
        followed by its predicted mark and joined by single spaces;
        `words` and `labels` string `(batch, most words)`, every word and
        its label name ("none", "comma", "period", "question"), right-padded
        with "".

    The tokenizer and the vocabulary run in the graph: each text is
    tokenized (lower-cased, punctuation removed) and looked up (unseen
    words are `<unk>`), cut into windows of at most `window` words starting
    every `stride` words, all windows of the batch are tagged as one batch,
    and each word takes its label from the window
    `garden.models.tagger.window_plan` gives it, as `predict_labels` does;
    so a text of any length is tagged whole. A text with no words gives ""
    and no labels. A request past `garden.export.limits` (`MAX_BATCH_SIZE`
    texts, `MAX_TEXT_LENGTH` characters per text) fails with an
    `InvalidArgumentError` naming it.

    Args:
        model: A float32 tagger from `garden.models.tagger`.
        tokenizer: The training tokenizer (`WordTokenizer("unpunctuated")`).
        vocabulary: The training `Vocabulary`.
        window: Most words per window, as in training.
        stride: Words between window starts, from 1 to `window`; None for
            `window` (consecutive windows).

    Returns:
        The `keras.export.ExportArchive`.
    """
    step = window_stride(window, stride)
    margin = (window - step) // 2
    preprocessor = TextToIds(tokenizer, vocabulary)
    archive = tracking_archive(model, preprocessor)
    marks = tf.constant(MARKS)
    label_names = tf.constant(PUNCTUATION_LABELS)

    def serve(text):
        text = limited_texts(text, "text")
        words = preprocessor.tokenize(text)
        ids = preprocessor.ids_of(words)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        # `window_plan` in the graph: windows k = 0 .. last of a text start at
        # k * stride; word p takes window clip((p - margin) // stride, 0, last).
        last = tf.maximum(0, -((window - lengths) // step))
        starts = tf.ragged.range(tf.where(lengths > 0, last + 1, 0)) * step
        pieces = tf.minimum(window, tf.expand_dims(lengths, 1) - starts)
        first = tf.expand_dims(tf.cast(ids.row_starts(), tf.int32), 1)
        begins = (first + starts).flat_values
        batch = tf.gather(
            ids.flat_values, tf.ragged.range(begins, begins + pieces.flat_values)
        )
        # At least one row and one column, so a batch with no words still runs.
        padded = batch.to_tensor(0)
        short = tf.maximum(1 - tf.shape(padded), 0)
        padded = tf.pad(padded, [[0, short[0]], [0, short[1]]])
        logits = model(padded, training=False)[: batch.nrows()]
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        positions = tf.ragged.range(lengths)
        owners = tf.minimum(
            tf.maximum((positions - margin) // step, 0), tf.expand_dims(last, 1)
        )
        rows = owners + tf.expand_dims(tf.cast(starts.row_starts(), tf.int32), 1)
        within = positions - owners * step
        flat = tf.gather_nd(
            predicted, tf.stack([rows.flat_values, within.flat_values], axis=1)
        )
        labels = ids.with_flat_values(flat)
        marked = tf.strings.join([words, tf.gather(marks, labels)])
        return {
            "punctuated": tf.strings.reduce_join(marked, axis=1, separator=" "),
            "words": words.to_tensor(""),
            "labels": tf.gather(label_names, labels).to_tensor(""),
        }

    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec([None], tf.string, name="text")],
    )
    return archive


def export_tagger(
    model, tokenizer, vocabulary, root, model_name, window, stride=None, *, examples
):
    """Writes `root/model_name/<next version>/` and `<version>.keras` beside it.

    Args:
        model, tokenizer, vocabulary, window, stride: As in `tagger_archive`.
        root: The export root.
        model_name: The served model's name (a directory under `root`).
        examples: A few texts: TF Serving's warmup request, one batch of
            them to `serving_default`.

    Returns:
        The version directory.
    """
    warmup = [("serving_default", {"text": example_texts(examples)})]
    # Traced on the cells' loops: a graph with cuDNN's op serves on GPUs only.
    with cell_loops_only(model):
        archive = tagger_archive(model, tokenizer, vocabulary, window, stride)
        path = write_version(root, model_name, archive.write_out, warmup)
    # The .keras file tags a whole text as one window: the label logits of
    # each word, `(batch, words, labels)`.
    save_model(
        text_in_model(TextToIds(tokenizer, vocabulary, pad=True), model),
        f"{path}.keras",
    )
    return path
