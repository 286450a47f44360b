"""Export of a translation model: source text in, translated text out.

`Translator` does the same in Python, batch by batch, for the recipe's test
translations; it sits here beside the export because both stop decoding at
`output_length_limit`, the served limit.
"""

import re

import keras
import numpy as np
import tensorflow as tf

from garden.data.preprocessors import TextToIds
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
from garden.models.batched import pad_ids, predict_by_length
from garden.models.seq2seq import translate_ids
from garden.training.checkpoints import save_model


def output_length_limit(source_length):
    """Most target tokens for a source of this many tokens: 2 n + 10, at most 200."""
    return min(2 * source_length + 10, MAX_OUTPUT_LENGTH)


def detokenize(tokens):
    """Joins tokens, closing the space before a comma or a full stop."""
    return re.sub(r" ([,.])", r"\1", " ".join(tokens))


class Translator:
    """Batched translation of Python strings with a trained model."""

    def __init__(self, models, tokenizer, vocabularies, length_penalty):
        self.models = models
        self.tokenizer = tokenizer
        self.source_vocabulary, self.target_vocabulary = vocabularies
        self.length_penalty = length_penalty
        self._preprocessor = TextToIds(
            tokenizer, self.source_vocabulary, append_eos=True
        )
        self._decode = tf.function(self._decode_graph, reduce_retracing=True)

    def _decode_graph(self, ids, beam_width, max_length):
        return translate_ids(
            self.models,
            ids,
            beam_width=beam_width,
            max_length=max_length,
            length_penalty=self.length_penalty,
            bos_id=self.target_vocabulary.bos_id,
            eos_id=self.target_vocabulary.eos_id,
        )

    def _source_ids(self, texts):
        return self._preprocessor.encode(list(texts))

    def __call__(self, texts, beam_width, batch_size=128, verbose=0):
        """The translations of `texts`, in order (sources sorted by length);
        `verbose` as Keras's: a progress bar over the sentences."""
        sources = self._source_ids(texts)
        progress = keras.utils.Progbar(len(texts), verbose=verbose, unit_name="text")

        def translate(rows):
            batch = pad_ids(rows)
            ids, lengths = self._decode(
                tf.constant(batch),
                tf.constant(beam_width, tf.int32),
                tf.constant(output_length_limit(batch.shape[1] - 1), tf.int32),
            )
            progress.add(len(rows))
            return [
                detokenize(self.target_vocabulary.decode(row[:length].tolist()))
                for row, length in zip(ids.numpy(), lengths.numpy(), strict=True)
            ]

        return predict_by_length(translate, sources, batch_size)

    def attention(self, texts):
        """Greedy translations of `texts` with the attention that made them.

        Returns:
            One `(weights, source_tokens, target_tokens)` a text, for
            `garden.training.plots.attention_heatmaps`: the tokens as the
            model saw and wrote them, `<eos>` included (the target's only
            when its translation ended before the length limit).
        """
        sources = self._source_ids(texts)
        batch = np.zeros((len(texts), max(map(len, sources))), "int32")
        for line, source in enumerate(sources):
            batch[line, : len(source)] = source
        limit = output_length_limit(batch.shape[1] - 1)
        ids, lengths = self._decode(
            tf.constant(batch), tf.constant(1), tf.constant(limit)
        )
        targets = []
        for row, length in zip(ids.numpy(), lengths.numpy()):
            targets.append(row[:length].tolist())
            if length < limit:  # it ended: <eos> was its last step
                targets[-1].append(self.target_vocabulary.eos_id)
        # Teacher forcing on its own output replays the greedy decoder's steps.
        read = np.zeros((len(texts), max(map(len, targets))), "int32")
        for line, target in enumerate(targets):
            read[line, : len(target)] = [self.target_vocabulary.bos_id, *target[:-1]]
        weights = self.models.alignment((batch, read), training=False)
        return [
            (
                matrix[: len(target), : len(source)],
                self.source_vocabulary.decode(source),
                self.target_vocabulary.decode(target),
            )
            for matrix, source, target in zip(
                keras.ops.convert_to_numpy(weights), sources, targets
            )
        ]


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

    preprocessor = TextToIds(tokenizer, source_vocabulary, append_eos=True, pad=True)
    target_words = target_vocabulary.to_string_lookup(invert=True)
    archive = tracking_archive(models.training, preprocessor, target_words)
    eos_id = target_vocabulary.eos_id

    def serve(text, beam_width):
        text, batch = nonempty_batch(limited_texts(text, "text"))
        ids = preprocessor(text)
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
