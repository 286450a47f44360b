"""Export of a language model: raw text in, generated text or scores out."""

import functools

import keras
import tensorflow as tf

from garden.data.preprocessors import TextToIds
from garden.decoding import generate
from garden.export.limits import (
    MAX_BATCH_TOKENS,
    MAX_LENGTH_LIMIT,
    MAX_PROMPT_TOKENS,
)
from garden.export.serving import (
    example_number,
    example_texts,
    limited_texts,
    nonempty_batch,
    tracking_archive,
    within_limits,
    write_version,
)
from garden.layers import ZeroStates, cell_loops_only
from garden.training.checkpoints import save_model


class _Sampler(keras.layers.Layer):
    """Holds the seed generator of the served sampling loop, so export tracks it."""

    def __init__(self, seed, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        return inputs


def language_model_archive(generator, tokenizer, vocabulary, separator, seed=0):
    """An `ExportArchive` with the two signatures of a served language model.

    `serving_default(prompt, max_length, temperature)`:
        prompt: string `(batch,)`; max_length: int32 scalar, clipped to
        [0, 1000]; temperature: float32 scalar, <= 0 means greedy.
        Returns `generated_text` (batch,): the continuation of each prompt,
        tokens joined by `separator`. A prompt with no tokens gives "".
    `score(text)`:
        text: string `(batch,)`. Returns `mean_nll` (batch,), the mean negative
        log-likelihood in nats of each token given the ones before it, and
        `token_count` (batch,), the tokens scored (all but the first). A
        client's perplexity of a corpus is exp(sum(mean_nll * token_count) /
        sum(token_count)). A text of fewer than two tokens has nothing to
        score: `token_count` 0 and `mean_nll` 0.

    Tokenizer and vocabulary run in the graph: unseen tokens map to <unk>.
    An empty batch gets empty outputs. A request past `garden.export.limits`
    fails with an `InvalidArgumentError` naming the limit: `MAX_BATCH_SIZE`
    texts, `MAX_TEXT_LENGTH` characters and `MAX_PROMPT_TOKENS` tokens per
    text, and `MAX_BATCH_TOKENS` for the texts times the steps of the
    longest (its tokens, plus `max_length` when generating).

    Args:
        generator: A model from `garden.models.language_model.generation_model`.
        tokenizer: The training tokenizer (`garden.data`).
        vocabulary: The training `Vocabulary`.
        separator: "" for characters, " " for words.
        seed: Seed of the sampling.

    Returns:
        The `keras.export.ExportArchive`.
    """
    preprocessor = TextToIds(tokenizer, vocabulary, pad=True)
    inverse = vocabulary.to_string_lookup(invert=True)
    sampler = _Sampler(seed)
    archive = tracking_archive(generator, preprocessor, inverse, sampler)
    ids_of = functools.partial(_text_ids, preprocessor)
    serve = _serve(generator, ids_of, inverse, sampler, separator)
    score = _score(generator, ids_of)
    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[
            tf.TensorSpec([None], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="max_length"),
            tf.TensorSpec([], tf.float32, name="temperature"),
        ],
    )
    archive.add_endpoint(
        "score", score, input_signature=[tf.TensorSpec([None], tf.string, name="text")]
    )
    return archive


def _text_ids(preprocessor, texts, name, extra_steps=0):
    """`(ids, token counts, batch)` of served texts, within the export's limits."""
    texts, batch = nonempty_batch(limited_texts(texts, name))
    # Padded to at least one column, so texts without tokens still run.
    ids = preprocessor(texts)
    lengths = tf.reduce_sum(tf.cast(ids != 0, tf.int64), axis=1)
    longest = tf.cast(tf.reduce_max(lengths), tf.int32)
    ids = within_limits(
        ids,
        (
            longest,
            MAX_PROMPT_TOKENS,
            f"Received a text of {{}} tokens in input `{name}`, expected at "
            f"most MAX_PROMPT_TOKENS = {MAX_PROMPT_TOKENS} per text.",
        ),
        (
            batch * (longest + extra_steps),
            MAX_BATCH_TOKENS,
            f"Received {{}} steps in input `{name}` (texts times the tokens "
            "of the longest, plus max_length when generating), expected at "
            f"most MAX_BATCH_TOKENS = {MAX_BATCH_TOKENS} per request.",
        ),
    )
    return ids, lengths, batch


def _zero_states(generator, batch):
    return [tf.zeros((batch, state.shape[-1])) for state in generator.inputs[1:]]


def _serve(generator, ids_of, inverse, sampler, separator):
    """The `serving_default` function: prompts in, generated text out."""

    def step(ids, states):
        logits, *states = generator([ids, *states], training=False)
        return logits, states

    def serve(prompt, max_length, temperature):
        steps = tf.clip_by_value(max_length, 0, MAX_LENGTH_LIMIT)
        ids, lengths, batch = ids_of(prompt, "prompt", steps)
        generated, length = generate(
            step,
            ids,
            _zero_states(generator, tf.shape(ids)[0]),
            max_length,
            temperature=temperature,
            seed=sampler.seed_generator,
            max_length_limit=MAX_LENGTH_LIMIT,
        )
        words = inverse(generated[:, :length])
        text = tf.strings.reduce_join(words, axis=-1, separator=separator)
        return {"generated_text": tf.where(lengths > 0, text, "")[:batch]}

    return serve


def _score(generator, ids_of):
    """The `score` function: texts in, mean NLL and token count out."""

    def score(text):
        ids, _, batch = ids_of(text, "text")
        states = _zero_states(generator, tf.shape(ids)[0])
        logits, *_ = generator([ids, *states], training=False)
        targets = ids[:, 1:]
        nll = keras.losses.sparse_categorical_crossentropy(
            targets, logits[:, :-1], from_logits=True
        )
        weights = tf.cast(targets != 0, nll.dtype)
        count = tf.reduce_sum(weights, axis=-1)
        mean = tf.math.divide_no_nan(tf.reduce_sum(nll * weights, axis=-1), count)
        return {
            "mean_nll": mean[:batch],
            "token_count": tf.cast(count, tf.int32)[:batch],
        }

    return score


def export_language_model(
    generator,
    tokenizer,
    vocabulary,
    root,
    model_name,
    separator,
    seed=0,
    *,
    examples,
    example_max_length=20,
    example_temperature=1.0,
):
    """Writes `root/model_name/<next version>/` and `<version>.keras` beside it.

    Args:
        generator, tokenizer, vocabulary, separator, seed: As in
            `language_model_archive`.
        root: The export root.
        model_name: The served model's name (a directory under `root`).
        examples: A few texts from the corpus: TF Serving's warmup requests
            send them as the prompts of `serving_default` and the texts of
            `score`.
        example_max_length: `max_length` of the warmup `serving_default`
            request (an integer in [0, 1000]).
        example_temperature: `temperature` of that request (a finite number,
            <= 0 for greedy).

    Returns:
        The version directory.
    """
    texts = example_texts(examples)
    generation = {
        "prompt": texts,
        "max_length": example_number(
            example_max_length, "example_max_length", 0, MAX_LENGTH_LIMIT, integer=True
        ),
        "temperature": example_number(example_temperature, "example_temperature"),
    }
    warmup = [("serving_default", generation), ("score", {"text": texts})]
    # Traced on the cells' loops: a graph with cuDNN's op serves on GPUs only.
    with cell_loops_only(generator):
        archive = language_model_archive(
            generator, tokenizer, vocabulary, separator, seed
        )
        path = write_version(root, model_name, archive.write_out, warmup)
    save_model(_text_scorer(generator, tokenizer, vocabulary), f"{path}.keras")
    return path


def _text_scorer(generator, tokenizer, vocabulary):
    """The `.keras` file's model: raw text in, next-token logits at every step.

    The generator reads each text's ids from zero states; its layer is
    `model.get_layer("generator")` for stepping with states.
    """
    text = keras.Input(shape=(), dtype="string", name="text")
    ids = TextToIds(tokenizer, vocabulary, pad=True)(text)
    states = ZeroStates([state.shape[-1] for state in generator.inputs[1:]])(ids)
    logits = generator([ids, *states])[0]
    return keras.Model(text, logits, name="text_language_model")
