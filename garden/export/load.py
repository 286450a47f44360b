"""Any garden export, opened from Python and called on raw strings.

    import garden

    model = garden.load("saved_models/sentiment")      # the latest version
    model(["A wonderful film.", "Dull."])["label"]     # ['positive', 'negative']

`load` reads the SavedModel's signatures (the same ones TF Serving serves)
and returns the object of its task: every one is called on a list of
strings and answers with NumPy arrays (text decoded to `str`); the task's
own methods read as what they do:

    task (recipe)          object                  methods
    sentiment              `ServedClassifier`      `__call__(texts)`
    language model         `ServedLanguageModel`   `generate`, `score`
    translation            `ServedTranslator`      `translate(texts, beam_width)`
    punctuation            `ServedTagger`          `punctuate(texts)`
    SST (trees)            `ServedTreeClassifier`  `__call__(trees)`
    SST (BiLSTM)           `ServedTreeClassifier`  `__call__(sentences)`
    word vectors           `ServedWordVectors`     `vector(word)`

Requests follow the export's limits (`garden.export.limits`).
"""

import json
import os

import numpy as np
import tensorflow as tf

from garden.export.serving import next_version


def _version_dir(path):
    """`path` if it is a SavedModel, else its highest numeric version."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    latest = next_version(os.path.dirname(path) or ".", os.path.basename(path)) - 1
    candidate = os.path.join(path, str(latest))
    if latest < 1 or not os.path.isfile(os.path.join(candidate, "saved_model.pb")):
        raise ValueError(
            "Received an invalid value for argument `path`, expected a garden "
            "export: a SavedModel directory or a directory of numbered versions, "
            f"got {path!r}."
        )
    return candidate


def _numpy(outputs):
    """Signature outputs as NumPy; string tensors as arrays of `str`."""
    result = {}
    for name, value in outputs.items():
        value = value.numpy()
        if value.dtype == object:
            value = np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(value)
        result[name] = value
    return result


def _strings(texts, argument):
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"Received a single string for argument `{argument}`, expected a "
            f"list of strings: [{texts!r:.40}]."
        )
    return tf.constant(list(texts), tf.string, shape=[len(texts)])


class Served:
    """A garden SavedModel opened for Python calls.

    Attributes:
        path: The version directory loaded.
        card: The run record the export carries (`assets.extra/run.json`:
            command, flags, metrics), or None.
        signatures: The SavedModel's signatures, as TF Serving sees them.
    """

    input_name = "text"

    def __init__(self, path, loaded):
        self.path = path
        self._loaded = loaded  # the signatures' functions live as long as it
        self.signatures = loaded.signatures
        card = os.path.join(path, "assets.extra", "run.json")
        self.card = None
        if os.path.isfile(card):
            with open(card, encoding="utf-8") as file:
                self.card = json.load(file)

    def __call__(self, texts):
        """The `serving_default` outputs for `texts` (a list of strings)."""
        serve = self.signatures["serving_default"]
        return _numpy(serve(**{self.input_name: _strings(texts, self.input_name)}))

    def __repr__(self):
        return f"{type(self).__name__}({self.path!r})"


class ServedClassifier(Served):
    """A sentiment export: `model(texts)` gives `probability` and `label`."""


class ServedTagger(Served):
    """A punctuation export: `punctuate(texts)` restores the marks."""

    def punctuate(self, texts):
        """The texts with punctuation restored (lower-cased words), as `str`."""
        return list(self(texts)["punctuated"])


class ServedTranslator(Served):
    """A translation export: `translate(texts, beam_width)`."""

    def __call__(self, texts, beam_width=1):
        serve = self.signatures["serving_default"]
        return _numpy(
            serve(
                text=_strings(texts, "text"),
                beam_width=tf.constant(beam_width, tf.int32),
            )
        )

    def translate(self, texts, beam_width=1):
        """The translations (lower-case tokens joined by spaces), as `str`."""
        return list(self(texts, beam_width)["translation"])


class ServedTreeClassifier(Served):
    """An SST export: `model(trees)` (or sentences, for the BiLSTM) gives the
    root's `probabilities` over the five classes and its `label`."""

    def __init__(self, path, loaded):
        super().__init__(path, loaded)
        inputs = loaded.signatures["serving_default"].structured_input_signature
        self.input_name = next(iter(inputs[1]))


class ServedWordVectors(Served):
    """A word-vectors export: `vector(word)`, or `model(words)`."""

    input_name = "word"

    def vector(self, word):
        """The vector of `word` (composed from its n-grams when unseen)."""
        return self([word])["vector"][0]


class ServedLanguageModel(Served):
    """A language-model export: `generate(prompts, ...)` and `score(texts)`."""

    input_name = "prompt"

    def __call__(self, prompts, max_length=50, temperature=0.0):
        serve = self.signatures["serving_default"]
        return _numpy(
            serve(
                prompt=_strings(prompts, "prompts"),
                max_length=tf.constant(max_length, tf.int32),
                temperature=tf.constant(temperature, tf.float32),
            )
        )

    def generate(self, prompts, max_length=50, temperature=0.0):
        """Continuations of `prompts` (0 temperature: greedy), as `str`."""
        return list(self(prompts, max_length, temperature)["generated_text"])

    def score(self, texts):
        """`mean_nll` (nats per token after the first), `token_count` and
        `perplexity` (exp of `mean_nll`) of each text."""
        outputs = _numpy(self.signatures["score"](text=_strings(texts, "texts")))
        outputs["perplexity"] = np.exp(outputs["mean_nll"])
        return outputs


def _kind(signatures):
    if "score" in signatures:
        return ServedLanguageModel
    serving = signatures["serving_default"]
    inputs = set(serving.structured_input_signature[1])
    outputs = set(serving.structured_outputs)
    if "beam_width" in inputs:
        return ServedTranslator
    if "word" in inputs:
        return ServedWordVectors
    if inputs & {"tree", "sentence"}:
        return ServedTreeClassifier
    if "punctuated" in outputs:
        return ServedTagger
    if "probability" in outputs:
        return ServedClassifier
    raise ValueError(
        f"Received a SavedModel with inputs {sorted(inputs)} and outputs "
        f"{sorted(outputs)}, expected a garden export."
    )


def load(path):
    """Opens a garden export for calls on raw strings.

    Args:
        path: An export's version directory (`saved_models/sentiment/3`) or
            its model directory (`saved_models/sentiment`: the latest version).

    Returns:
        The task's `Served` object (see the module docstring).
    """
    version = _version_dir(os.path.normpath(os.fspath(path)))
    loaded = tf.saved_model.load(version)
    return _kind(loaded.signatures)(version, loaded)
