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
from garden.training.checkpoints import save_model


def tagger_archive(model, tokenizer, vocabulary, window):
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
    words are `<unk>`), cut into consecutive windows of at most `window`
    words, and all windows of the batch are tagged as one batch, as
    `garden.models.tagger.predict_labels` does; so a text of any length is
    tagged whole. A text with no words gives "" and no labels. A request
    past `garden.export.limits` (`MAX_BATCH_SIZE` texts, `MAX_TEXT_LENGTH`
    characters per text) fails with an `InvalidArgumentError` naming it.

    Args:
        model: A float32 tagger from `garden.models.tagger`.
        tokenizer: The training tokenizer (`WordTokenizer("unpunctuated")`).
        vocabulary: The training `Vocabulary`.
        window: Most words per window, as in training.

    Returns:
        The `keras.export.ExportArchive`.
    """
    preprocessor = TextToIds(tokenizer, vocabulary)
    archive = tracking_archive(model, preprocessor)
    marks = tf.constant(MARKS)
    label_names = tf.constant(PUNCTUATION_LABELS)

    def serve(text):
        text = limited_texts(text, "text")
        words = preprocessor.tokenize(text)
        ids = preprocessor.ids_of(words)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        # Window j of a text of n words holds min(window, n - j * window) words.
        starts = tf.ragged.range(0, lengths, window)
        pieces = tf.minimum(window, tf.expand_dims(lengths, 1) - starts)
        batch = tf.RaggedTensor.from_row_lengths(ids.flat_values, pieces.flat_values)
        # At least one row and one column, so a batch with no words still runs.
        padded = batch.to_tensor(0)
        short = tf.maximum(1 - tf.shape(padded), 0)
        padded = tf.pad(padded, [[0, short[0]], [0, short[1]]])
        logits = model(padded, training=False)[: batch.nrows()]
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        flat = tf.RaggedTensor.from_tensor(predicted, lengths=pieces.flat_values)
        labels = ids.with_flat_values(flat.flat_values)
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


def export_tagger(model, tokenizer, vocabulary, root, model_name, window, *, examples):
    """Writes `root/model_name/<next version>/` and `<version>.keras` beside it.

    Args:
        model, tokenizer, vocabulary, window: As in `tagger_archive`.
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
        archive = tagger_archive(model, tokenizer, vocabulary, window)
        path = write_version(root, model_name, archive.write_out, warmup)
    # The .keras file tags a whole text as one window: the label logits of
    # each word, `(batch, words, labels)`.
    save_model(
        text_in_model(TextToIds(tokenizer, vocabulary, pad=True), model),
        f"{path}.keras",
    )
    return path
