"""Classification and sequence-to-sequence batches, on small and real data."""

import numpy as np
import pytest

from garden import data

TEXTS = ["one", "one two", "one two three four five six", "", "!!!", "two two"]
LABELS = [1, 2, 6, 0, 3, 2]  # the label is the number of tokens (0 for empty)


def small_vocabulary():
    tokenizer = data.WordTokenizer("review")
    return data.Vocabulary(tokenizer.tokenize(text) for text in TEXTS)


def collect(dataset):
    return [tuple(part.numpy() for part in batch) for batch in dataset]


def test_truncates_pads_right_and_drops_empty_texts():
    vocabulary = small_vocabulary()
    dataset = data.classification_dataset(
        TEXTS, LABELS, vocabulary, max_length=4, batch_size=10, shuffle=False
    )
    ((ids, labels),) = collect(dataset)
    assert ids.shape == (5, 4) and ids.dtype == np.int32
    assert labels.tolist() == [1, 2, 6, 3, 2]  # "" dropped, order kept
    mask = ids != 0
    assert mask.sum(axis=1).tolist() == [1, 2, 4, 3, 2]  # six words cut to four
    assert all(
        row[:n].all() and not row[n:].any() for row, n in zip(mask, [1, 2, 4, 3, 2])
    )
    assert vocabulary.decode(ids[2]) == ["one", "two", "three", "four"]


def test_bucketing_pads_each_batch_to_its_longest_text():
    texts = [" ".join(["w"] * n) for n in range(1, 101)]
    vocabulary = data.Vocabulary(["w"])
    dataset = data.classification_dataset(
        texts,
        list(range(100)),
        vocabulary,
        max_length=80,
        batch_size=8,
        seed=0,
        bucket_boundaries=[10, 30],
    )
    batches = collect(dataset)
    assert sum(len(labels) for _, labels in batches) == 100
    for ids, labels in batches:
        lengths = np.minimum(labels + 1, 80)
        assert ids.shape[1] == lengths.max()  # padded to the batch, not to 80
        assert (
            (lengths < 10).all()
            or (lengths >= 30).all()
            or ((lengths >= 10) & (lengths < 30)).all()
        )
    assert min(ids.shape[1] for ids, _ in batches) < 10


def test_seeded_shuffle_is_deterministic_and_reshuffles_each_epoch():
    texts = [f"w{i}" for i in range(200)]
    vocabulary = data.Vocabulary(texts)
    make = lambda: data.classification_dataset(  # noqa: E731
        texts, list(range(200)), vocabulary, max_length=3, batch_size=50, seed=7
    )
    dataset = make()
    first = np.concatenate([labels for _, labels in collect(dataset)])
    second = np.concatenate([labels for _, labels in collect(dataset)])
    again = np.concatenate([labels for _, labels in collect(make())])
    assert sorted(first) == list(range(200))
    assert first.tolist() == again.tolist()
    assert first.tolist() != second.tolist()


def test_classification_arguments_are_checked():
    vocabulary = small_vocabulary()
    with pytest.raises(ValueError, match="argument `max_length`"):
        data.classification_dataset(TEXTS, LABELS, vocabulary, max_length=0)
    with pytest.raises(ValueError, match="argument `labels`"):
        data.classification_dataset(TEXTS, LABELS[:2], vocabulary)
    with pytest.raises(ValueError, match="argument `bucket_boundaries`"):
        data.classification_dataset(TEXTS, LABELS, vocabulary, bucket_boundaries=[5, 5])


def test_imdb_counts_and_default_batches(imdb_train, imdb_test, imdb_vocabulary):
    for texts, labels in (imdb_train, imdb_test):
        assert len(texts) == 25_000
        assert np.bincount(labels).tolist() == [12_500, 12_500]
    assert imdb_train[0][12_500].startswith("Bromwell High is a cartoon comedy.")
    assert imdb_test[0][0].startswith("Once again Mr. Costner has dragged out a movie")
    texts, labels = imdb_test
    dataset = data.classification_dataset(
        texts[::50], labels[::50], imdb_vocabulary, seed=0
    )
    ids, batch_labels = next(iter(dataset))
    assert ids.shape == (64, 500)
    assert set(np.unique(batch_labels)) <= {0, 1}
    assert (ids.numpy() != 0).sum(axis=1).max() == 500  # long reviews are cut


PAIRS = [
    ("Go.", "Va !"),
    ("I won!", "J'ai gagné\u202f!"),
    ("Run!", "Cours\u202f!"),
    (
        "This sentence is far too long to keep.",
        "Cette phrase est beaucoup trop longue.",
    ),
]


def test_teacher_forcing_layout():
    source_vocabulary, target_vocabulary = data.build_translation_vocabularies(
        PAIRS, min_freq=1
    )
    dataset = data.translation_dataset(
        PAIRS,
        source_vocabulary,
        target_vocabulary,
        batch_size=8,
        max_length=6,
        shuffle=False,
        return_valid_lengths=True,
    )
    ((encoder, decoder, lengths), targets) = next(iter(dataset))
    encoder, decoder, targets = encoder.numpy(), decoder.numpy(), targets.numpy()
    assert (
        encoder.shape == decoder.shape == targets.shape == (3, 6)
    )  # long pair filtered
    assert source_vocabulary.decode(encoder[1][:4]) == ["i", "won", "!", "<eos>"]
    assert lengths.numpy().tolist() == [3, 4, 3]
    bos, eos = target_vocabulary.bos_id, target_vocabulary.eos_id
    for inputs, outputs in zip(decoder, targets):
        n = int((outputs != 0).sum())
        assert inputs[0] == bos and outputs[n - 1] == eos
        np.testing.assert_array_equal(inputs[1:n], outputs[: n - 1])  # shifted right
        assert not inputs[n:].any() and not outputs[n:].any()
    assert target_vocabulary.decode(targets[1][:4]) == ["j'ai", "gagné", "!", "<eos>"]


def test_translation_bucketing_and_real_pairs(english_french):
    assert len(english_french) == 165_130
    assert english_french[:2] == [("Go.", "Va !"), ("Hi.", "Salut !")]
    pairs = english_french[:20_000]
    source_vocabulary, target_vocabulary = data.build_translation_vocabularies(pairs)
    dataset = data.translation_dataset(
        pairs,
        source_vocabulary,
        target_vocabulary,
        batch_size=32,
        max_length=12,
        bucket_boundaries=[5, 8],
        seed=0,
    )
    total = 0
    for (encoder, decoder), targets in dataset.take(40):
        assert decoder.shape == targets.shape
        assert max(encoder.shape[1], decoder.shape[1]) <= 12
        total += encoder.shape[0]
    assert total > 0
    fixed = data.translation_dataset(
        pairs,
        source_vocabulary,
        target_vocabulary,
        batch_size=32,
        max_length=12,
        seed=0,
    )
    (encoder, decoder), targets = next(iter(fixed))
    assert encoder.shape == decoder.shape == (32, 12)
