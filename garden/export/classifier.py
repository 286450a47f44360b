"""Export of a text classifier: a raw review in, P(positive) and the label out."""

import tensorflow as tf

from garden.data.preprocessors import TextToIds
from garden.export.serving import (
    example_texts,
    limited_texts,
    nonempty_batch,
    text_in_model,
    tracking_archive,
    write_version,
)
from garden.layers import cell_loops_only
from garden.training.checkpoints import save_model

CLASS_NAMES = ("negative", "positive")


def classifier_archive(model, tokenizer, vocabulary, max_length=500):
    """An `ExportArchive` whose `serving_default` classifies raw text.

    `serving_default(text)`:
        text: string `(batch,)`, raw reviews (HTML `<br />` and all).
        Returns `probability` float32 `(batch,)`, P(positive), and `label`
        string `(batch,)`, "positive" where the probability is at least 0.5,
        else "negative".

    The tokenizer and the vocabulary run in the graph: each text is
    tokenized, looked up (unseen words are `<unk>`), cut to its first
    `max_length` tokens and right-padded with `<pad>` to the longest text of
    the batch, as in training. A text with no tokens gets the model's
    prediction for no words; an empty batch gets empty outputs. A request
    past `garden.export.limits` (`MAX_BATCH_SIZE` texts, `MAX_TEXT_LENGTH`
    characters per text) fails with an `InvalidArgumentError` naming it.

    Args:
        model: A float32 classifier from `garden.models.classifiers`.
        tokenizer: The training tokenizer.
        vocabulary: The training `Vocabulary`.
        max_length: Tokens kept per text.

    Returns:
        The `keras.export.ExportArchive`.
    """
    preprocessor = TextToIds(tokenizer, vocabulary, max_length=max_length, pad=True)
    archive = tracking_archive(model, preprocessor)
    class_names = tf.constant(CLASS_NAMES)

    def serve(text):
        text, batch = nonempty_batch(limited_texts(text, "text"))
        ids = preprocessor(text)
        probability = tf.reshape(model(ids, training=False), [-1])[:batch]
        label = tf.gather(class_names, tf.cast(probability >= 0.5, tf.int32))
        return {"probability": probability, "label": label}

    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec([None], tf.string, name="text")],
    )
    return archive


def export_classifier(
    model, tokenizer, vocabulary, root, model_name, max_length=500, *, examples
):
    """Writes `root/model_name/<next version>/` and `<version>.keras` beside it.

    Args:
        model, tokenizer, vocabulary, max_length: As in `classifier_archive`.
        root: The export root.
        model_name: The served model's name (a directory under `root`).
        examples: A few raw reviews: TF Serving's warmup request, one batch
            of them to `serving_default`.

    Returns:
        The version directory.
    """
    warmup = [("serving_default", {"text": example_texts(examples)})]
    # Traced on the cells' loops: a graph with cuDNN's op serves on GPUs only.
    with cell_loops_only(model):
        archive = classifier_archive(model, tokenizer, vocabulary, max_length)
        path = write_version(root, model_name, archive.write_out, warmup)
    text_model = text_in_model(
        TextToIds(tokenizer, vocabulary, max_length=max_length, pad=True), model
    )
    save_model(text_model, f"{path}.keras")
    return path
