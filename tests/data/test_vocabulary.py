"""Tokenizers and vocabularies: reserved ids, round trips, Python = in-graph."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from garden import data


def graph_tokens(tokenizer, texts):
    ragged = tokenizer.tokenize_graph(tf.constant(texts))
    return [[token.decode("utf-8") for token in row] for row in ragged.to_list()]


HANDMADE = [
    "A <i>great</i> film!<br /><br />Loved it... (9/10)",
    "Café naïve — «très» bien; ÉTÉ İstanbul\u00a0tab\there",
    "Cours\u202f! Il a dit\u00a0: « non ».",
    "",
    "   ",
    "don't stop-believing, 3.5 stars?!",
    # Python strings hold NUL like any character; the graph must not stop there.
    "Good\x00 AWFUL,\x00Terrible\x00",
]


@pytest.mark.parametrize("standardize", sorted(data.tokenizers.STANDARDIZATIONS))
def test_in_graph_tokens_equal_python_tokens_on_handmade_text(standardize):
    for tokenizer in (
        data.WordTokenizer(standardize),
        data.CharacterTokenizer(standardize),
    ):
        expected = [tokenizer.tokenize(text) for text in HANDMADE]
        assert graph_tokens(tokenizer, HANDMADE) == expected


def test_review_tokenizer_handles_breaks_and_punctuation():
    tokens = data.WordTokenizer("review").tokenize("Great!<br /><br />Don't.")
    assert tokens == ["great", "!", "don", "'", "t", "."]


def test_translation_tokenizer_matches_d2l_preprocessing():
    tokenizer = data.WordTokenizer("translation")
    assert tokenizer.tokenize("Cours\u202f!") == ["cours", "!"]
    assert tokenizer.tokenize("J'ai faim.") == ["j'ai", "faim", "."]
    assert tokenizer.tokenize("Va\u00a0!") == ["va", "!"]


def test_unknown_standardize_is_rejected():
    with pytest.raises(ValueError, match="argument `standardize`"):
        data.WordTokenizer("lower_and_strip_punctuation")


def test_reserved_ids_and_frequency_order():
    vocabulary = data.Vocabulary(
        [["b", "a", "b", "c"], ["a", "b", "d", "d"]], min_freq=2
    )
    assert vocabulary.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert (vocabulary.pad_id, vocabulary.unk_id) == (0, 1)
    assert (vocabulary.bos_id, vocabulary.eos_id) == (2, 3)
    # b: 3, then a and d: 2 each, alphabetically; c (1) is below min_freq.
    assert vocabulary.tokens[4:] == ["b", "a", "d"]
    assert vocabulary.encode(["a", "c", "<pad>"]) == [5, 1, 0]


def test_corpus_tokens_equal_to_reserved_ones_keep_reserved_ids():
    vocabulary = data.Vocabulary(["<unk>", "<unk>", "x"])
    assert vocabulary.tokens == ["<pad>", "<unk>", "<bos>", "<eos>", "x"]


@pytest.mark.parametrize("min_freq", [0, -1, 1.5, True])
def test_invalid_min_freq_message(min_freq):
    with pytest.raises(ValueError) as error:
        data.Vocabulary(["a"], min_freq=min_freq)
    assert str(error.value) == (
        "Received an invalid value for argument `min_freq`, expected a positive "
        f"integer, got {min_freq!r}."
    )


def test_max_tokens_and_counter_input():
    vocabulary = data.Vocabulary(
        collections.Counter({"x": 5, "y": 3, "z": 1}), max_tokens=5
    )
    assert vocabulary.tokens == ["<pad>", "<unk>", "<bos>", "<eos>", "x"]
    with pytest.raises(ValueError, match="argument `max_tokens`"):
        data.Vocabulary(["x"], max_tokens=3)


def test_save_and_load_keep_every_id(tmp_path):
    vocabulary = data.Vocabulary(["é", "a", "é", "<x>"])
    vocabulary.save(tmp_path / "vocabulary.txt")
    loaded = data.Vocabulary.load(tmp_path / "vocabulary.txt")
    assert loaded.tokens == vocabulary.tokens
    assert loaded.encode(["é", "?"]) == vocabulary.encode(["é", "?"])
    assert loaded.eos_id == 3


def test_keras_lookup_layers_reproduce_ids_on_real_reviews(imdb_test, imdb_vocabulary):
    texts = imdb_test[0][::250]  # 100 reviews of both classes
    assert any("<br />" in text for text in texts)
    tokenizer = data.WordTokenizer("review")
    expected = [imdb_vocabulary.encode(tokenizer.tokenize(text)) for text in texts]
    assert any(imdb_vocabulary.unk_id in ids for ids in expected)

    assert graph_tokens(tokenizer, texts) == [tokenizer.tokenize(t) for t in texts]

    preprocessor = data.TextToIds(tokenizer, imdb_vocabulary)
    assert preprocessor(tf.constant(texts)).to_list() == expected

    lookup = imdb_vocabulary.to_string_lookup()
    inverse = imdb_vocabulary.to_string_lookup(invert=True)
    for text, ids in zip(texts[:20], expected):
        tokens = tokenizer.tokenize(text)
        assert lookup(tf.constant(tokens)).numpy().tolist() == ids
        assert [t.decode() for t in inverse(tf.constant(ids)).numpy()] == (
            imdb_vocabulary.decode(ids)
        )
    assert lookup.vocabulary_size() == len(imdb_vocabulary)


def test_imdb_vocabulary_defaults(imdb_vocabulary):
    assert imdb_vocabulary.tokens[4:8] == ["the", ".", ",", "and"]
    assert "<br" not in imdb_vocabulary and "br" not in imdb_vocabulary
    counts = imdb_vocabulary.token_counts
    assert min(counts[t] for t in imdb_vocabulary.tokens[4:]) == 5


def test_french_side_in_graph_equals_python(english_french):
    tokenizer = data.WordTokenizer("translation")
    sample = [pair[1] for pair in english_french[::1650]]
    assert any("\u202f" in text or "\u00a0" in text for text in sample)
    tokens = [tokenizer.tokenize(text) for text in sample]
    assert graph_tokens(tokenizer, sample) == tokens
    assert all(
        "\u202f" not in token and "\u00a0" not in token for t in tokens for token in t
    )


def test_ptb_round_trip_and_unk(data_dir):
    lines = data.load_ptb("valid")
    tokenizer = data.WordTokenizer("whitespace")
    vocabulary = data.Vocabulary(
        tokenizer.tokenize(line) for line in data.load_ptb("train")
    )
    # Mikolov's 10k vocabulary counts <unk> and <eos>: 9,998 words + 4 reserved.
    assert len(vocabulary) == 10_002
    for line in lines[:500]:
        ids = vocabulary.encode(tokenizer.tokenize(line))
        assert tokenizer.detokenize(vocabulary.decode(ids)) == " ".join(line.split())
    assert vocabulary["<unk>"] == vocabulary.unk_id


def test_time_machine_characters_round_trip(data_dir):
    text = data.load_time_machine()
    tokenizer = data.CharacterTokenizer("letters_only")
    characters = tokenizer.tokenize(text)
    vocabulary = data.Vocabulary(characters)
    assert len(vocabulary) == 4 + 27  # reserved, 26 letters and the space
    ids = np.asarray(vocabulary.encode(characters))
    assert tokenizer.detokenize(vocabulary.decode(ids)) == tokenizer.standardize(text)
    lines = text.splitlines()[:200]
    assert graph_tokens(tokenizer, lines) == [
        tokenizer.tokenize(line) for line in lines
    ]
