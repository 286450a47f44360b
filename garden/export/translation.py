"""Export of a translation model: source text in, translated text out."""

import tensorflow as tf

from garden.export.limits import MAX_BEAM_WIDTH, MAX_OUTPUT_LENGTH
from garden.export.serving import (
    example_number,
    example_texts,
    limited_texts,
    nonempty_batch,
    tracking_archive,
    write_version,
)
from garden.layers import cell_loops_only
from garden.models.seq2seq import translate_ids
from garden.training.checkpoints import save_model


def output_length_limit(source_length):
    """Most target tokens for a source of this many tokens: 2 n + 10, at most 200."""
    return min(2 * source_length + 10, MAX_OUTPUT_LENGTH)


def translation_archive(
    models, tokenizer, source_vocabulary, target_vocabulary, length_penalty=1.0
):
    """An `ExportArchive` whose `serving_default` translates raw text.

    `serving_default(text, beam_width)`:
        text: string `(batch,)`, raw source sentences.
        beam_width: int32 scalar, 1 for greedy decoding; values below 1 are
            taken as 1, above 16 as 16.
        Returns `translation` string `(batch,)` (lower-case tokens joined by
        spaces) and `length` int32 `(batch,)`, its number of tokens.

    The tokenizer and both vocabularies run in the graph: unseen words and
    characters become `<unk>`, `<eos>` is appended, and decoding stops at
    `<eos>` or after `2 n + 10` tokens for the batch's longest source of n
    tokens (at most `MAX_OUTPUT_LENGTH`), so every input gets a bounded
    output, an empty one included; an empty batch gets empty outputs. A
    request past `garden.export.limits` (`MAX_BATCH_SIZE` texts,
    `MAX_TEXT_LENGTH` characters per text) fails with an
    `InvalidArgumentError` naming it.

    Args:
        models: A float32 `Seq2Seq` (`garden.models.seq2seq.float32_seq2seq`).
        tokenizer: The training tokenizer.
        source_vocabulary, target_vocabulary: The training vocabularies.
        length_penalty: `alpha` of the beam search's length normalisation.

    Returns:
        The `keras.export.ExportArchive`.
    """

    source_lookup = source_vocabulary.to_string_lookup()
    target_words = target_vocabulary.to_string_lookup(invert=True)
    archive = tracking_archive(models.training, source_lookup, target_words)
    eos_id = target_vocabulary.eos_id

    def serve(text, beam_width):
        text, batch = nonempty_batch(limited_texts(text, "text"))
        tokens = tokenizer.tokenize_graph(text)
        ids = tf.cast(source_lookup(tokens), tf.int32)
        eos = tf.fill([tf.shape(text)[0], 1], source_vocabulary.eos_id)
        ids = tf.concat([ids, tf.RaggedTensor.from_tensor(eos)], axis=1).to_tensor(0)
        longest = tf.shape(ids)[1] - 1
        max_length = tf.minimum(2 * longest + 10, MAX_OUTPUT_LENGTH)
        beam_width = tf.clip_by_value(beam_width, 1, MAX_BEAM_WIDTH)
        output, lengths = translate_ids(
            models,
            ids,
            beam_width=beam_width,
            max_length=max_length,
            length_penalty=length_penalty,
            bos_id=target_vocabulary.bos_id,
            eos_id=eos_id,
        )
        words = tf.RaggedTensor.from_tensor(target_words(output), lengths=lengths)
        return {
            "translation": tf.strings.reduce_join(words, axis=1, separator=" ")[:batch],
            "length": lengths[:batch],
        }

    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[
            tf.TensorSpec([None], tf.string, name="text"),
            tf.TensorSpec([], tf.int32, name="beam_width"),
        ],
    )
    return archive


def export_translation_model(
    models,
    tokenizer,
    source_vocabulary,
    target_vocabulary,
    root,
    model_name,
    length_penalty=1.0,
    *,
    examples,
    example_beam_width=1,
):
    """Writes `root/model_name/<next version>/` and `<version>.keras` beside it.

    Args:
        models, tokenizer, source_vocabulary, target_vocabulary,
            length_penalty: As in `translation_archive`.
        root: The export root.
        model_name: The served model's name (a directory under `root`).
        examples: A few source sentences: TF Serving's warmup request, one
            batch of them to `serving_default`.
        example_beam_width: `beam_width` of that request (1 to 16).

    Returns:
        The version directory.
    """
    inputs = {
        "text": example_texts(examples),
        "beam_width": example_number(
            example_beam_width, "example_beam_width", 1, MAX_BEAM_WIDTH, integer=True
        ),
    }
    warmup = [("serving_default", inputs)]
    # Traced on the cells' loops: a graph with cuDNN's op serves on GPUs only.
    # The encoder and decoder share the training model's layers.
    with cell_loops_only(models.training):
        archive = translation_archive(
            models, tokenizer, source_vocabulary, target_vocabulary, length_penalty
        )
        path = write_version(root, model_name, archive.write_out, warmup)
    save_model(models.training, f"{path}.keras")
    return path
