"""`TextToIds`: the one text-to-ids step, equal to the Python tokenizer's ids."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from garden import data
from garden.data import (
    CharacterTokenizer,
    TextToIds,
    Vocabulary,
    WordTokenizer,
    batching,
)
from garden.data.punctuation import tokenizer as punctuation_tokenizer

TEXTS = ["A wonderful film!<br />Loved it.", "", "Très émouvant 😀", "dull dull"]


def _python_ids(tokenizer, vocabulary, texts):
    return [vocabulary.encode(tokenizer.tokenize(text)) for text in texts]


def _small():
    tokenizer = WordTokenizer("review")
    vocabulary = Vocabulary(tokenizer.tokenize(text) for text in TEXTS[:1])
    return tokenizer, vocabulary


def test_ids_equal_the_python_tokenizer_on_real_reviews(imdb_train, imdb_vocabulary):
    texts = imdb_train[0][:600]  # more than one encoding block
    tokenizer = WordTokenizer("review")
    got = TextToIds(tokenizer, imdb_vocabulary).encode(texts)
    want = _python_ids(tokenizer, imdb_vocabulary, texts)
    assert [ids.tolist() for ids in got] == want
    assert all(ids.dtype == np.int32 for ids in got)


@pytest.mark.parametrize(
    "tokenizer",
    [CharacterTokenizer(), punctuation_tokenizer(), WordTokenizer("translation")],
)
def test_ids_equal_the_python_tokenizer_for_every_task(tokenizer, english_french):
    texts = [english for english, _ in english_french[:300]] + TEXTS
    vocabulary = Vocabulary(tokenizer.tokenize(text) for text in texts[::2])
    got = TextToIds(tokenizer, vocabulary)(tf.constant(texts)).to_list()
    assert got == _python_ids(tokenizer, vocabulary, texts)


def test_max_length_eos_and_padding():
    tokenizer, vocabulary = _small()
    want = _python_ids(tokenizer, vocabulary, TEXTS)
    cut = TextToIds(tokenizer, vocabulary, max_length=3, append_eos=True)
    eos = vocabulary.eos_id
    assert cut(tf.constant(TEXTS)).to_list() == [ids[:3] + [eos] for ids in want]
    tokens = cut.tokenize(tf.constant(TEXTS))
    assert tokens.to_list() == [
        [t.encode() for t in tokenizer.tokenize(text)[:3]] for text in TEXTS
    ]
    assert cut.ids_of(tokens).to_list() == cut(tf.constant(TEXTS)).to_list()
    padded = TextToIds(tokenizer, vocabulary, pad=True)(tf.constant(TEXTS)).numpy()
    longest = max(map(len, want))
    assert padded.tolist() == [ids + [0] * (longest - len(ids)) for ids in want]
    # Texts without tokens still give one column of <pad>.
    empty = TextToIds(tokenizer, vocabulary, pad=True)(tf.constant(["", "?"]))
    assert empty.numpy().tolist() == [[0], [vocabulary.encode(["?"])[0]]]


def test_runs_in_tf_data_as_in_eager():
    tokenizer, vocabulary = _small()
    preprocessor = TextToIds(tokenizer, vocabulary, append_eos=True)
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS).batch(3).map(preprocessor)
    rows = [row for batch in dataset for row in batch.to_list()]
    assert rows == preprocessor(tf.constant(TEXTS)).to_list()


def test_a_keras_file_that_starts_with_it_takes_text(tmp_path):
    tokenizer, vocabulary = _small()
    keras.utils.set_random_seed(0)
    text = keras.Input(shape=(), dtype="string")
    ids = TextToIds(tokenizer, vocabulary, max_length=4, pad=True)(text)
    x = keras.layers.Embedding(len(vocabulary), 3)(ids)
    model = keras.Model(text, keras.layers.GlobalAveragePooling1D()(x))
    texts = np.array(TEXTS, dtype=object)
    want = model.predict(texts, verbose=0)
    model.save(tmp_path / "text.keras")
    loaded = keras.saving.load_model(tmp_path / "text.keras")
    np.testing.assert_allclose(loaded.predict(texts, verbose=0), want, atol=1e-6)
    config = loaded.layers[1].get_config()
    assert config["vocabulary"] == vocabulary.tokens and config["max_length"] == 4
    assert config["tokenizer"] == {"class": "WordTokenizer", "standardize": "review"}


def test_bad_arguments_are_named():
    tokenizer, vocabulary = _small()
    with pytest.raises(ValueError, match="argument `max_length`"):
        TextToIds(tokenizer, vocabulary, max_length=0)
    no_eos = Vocabulary(["a"], reserved_tokens=())
    with pytest.raises(ValueError, match="argument `append_eos`"):
        TextToIds(tokenizer, no_eos, append_eos=True)
    with pytest.raises(ValueError, match="argument `tokenizer`"):
        TextToIds({"class": "Nope", "standardize": "review"}, vocabulary)
    with pytest.raises(ValueError, match="argument `tokens`"):
        TextToIds(tokenizer, ["a", "b"])
    with pytest.raises(ValueError, match="pad=False"):
        TextToIds(tokenizer, vocabulary, pad=True).encode(TEXTS)


def test_encode_texts_is_the_layer(imdb_vocabulary):
    tokenizer = WordTokenizer("review")
    got = data.encode_texts(TEXTS, tokenizer, imdb_vocabulary)
    assert [ids.tolist() for ids in got] == _python_ids(
        tokenizer, imdb_vocabulary, TEXTS
    )


def test_the_shared_encoder_is_one_per_tokenizer_vocabulary_and_eos():
    tokenizer, vocabulary = _small()
    shared = data.shared_encoder(tokenizer, vocabulary)
    # Equal, not identical, tokenizers and vocabularies share it.
    again = Vocabulary(tokenizer.tokenize(text) for text in TEXTS[:1])
    assert data.shared_encoder(WordTokenizer("review"), again) is shared
    assert shared.graph_function() is shared.graph_function()
    others = [
        data.shared_encoder(tokenizer, vocabulary, append_eos=True),
        data.shared_encoder(WordTokenizer("whitespace"), vocabulary),
        data.shared_encoder(CharacterTokenizer("review"), vocabulary),
        data.shared_encoder(tokenizer, Vocabulary(vocabulary.tokens[4:] + ["é"])),
    ]
    assert len({id(shared), *map(id, others)}) == 5
    for encoder in (shared, *others):
        want = TextToIds(
            encoder.tokenizer, encoder.vocabulary, append_eos=encoder.append_eos
        ).encode(TEXTS)
        ids = batching.encode_dataset(
            tf.data.Dataset.from_tensor_slices(TEXTS),
            encoder.tokenizer,
            encoder.vocabulary,
            encoder.append_eos,
        )
        assert [list(row) for row in ids.as_numpy_iterator()] == [
            row.tolist() for row in want
        ]


def test_a_language_model_stream_is_every_line_then_eos(data_dir):
    lines = data.load_ptb("valid")[:700]  # more than one encoding block
    tokenizer = WordTokenizer("whitespace")
    vocabulary = Vocabulary(tokenizer.tokenize(line) for line in lines[::2])
    want = [i for ids in _python_ids(tokenizer, vocabulary, lines) for i in ids + [3]]
    stream = data.token_stream(lines, tokenizer, vocabulary, append_eos=True)
    assert stream.dtype == np.int32 and stream.tolist() == want
    assert data.token_stream([], tokenizer, vocabulary).shape == (0,)
