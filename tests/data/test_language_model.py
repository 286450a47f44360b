"""Language-model partitions: shapes, coverage, stateful continuity, seeds."""

import numpy as np
import pytest

from garden import data
from garden.data.language_model import tokens_needed

STREAM = np.arange(1000, dtype="int32")  # token i has id i: positions are visible


def epochs(dataset, count):
    return [[(x.numpy(), y.numpy()) for x, y in dataset] for _ in range(count)]


@pytest.mark.parametrize("partition", ["random", "sequential"])
def test_shapes_and_targets_shifted_by_one(partition):
    dataset = data.language_model_dataset(STREAM, 4, 7, partition=partition, seed=3)
    batches = epochs(dataset, 1)[0]
    assert len(batches) >= (1000 - 7 - 1) // (4 * 7) - 1
    for x, y in batches:
        assert x.shape == y.shape == (4, 7) and x.dtype == np.int32
        np.testing.assert_array_equal(y, x + 1)
        np.testing.assert_array_equal(np.diff(x, axis=1), 1)  # contiguous rows


def test_sequential_covers_the_stream_without_overlap():
    dataset = data.partition_sequential(STREAM, 4, 10, random_offset=False)
    batches = epochs(dataset, 1)[0]
    rows = np.concatenate([x for x, _ in batches], axis=1)  # (batch, all steps)
    # Row i holds one contiguous stretch; the stretches follow each other.
    row_length = (1000 - 1) // 4
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(
            row, np.arange(i * row_length, i * row_length + 240)
        )
    tokens = np.concatenate([x.ravel() for x, _ in batches])
    assert len(np.unique(tokens)) == len(tokens) == 4 * 240


def test_sequential_rows_continue_across_batches_for_every_offset():
    dataset = data.partition_sequential(STREAM, 5, 8, seed=11)
    offsets = set()
    for batches in epochs(dataset, 6):
        offsets.add(int(batches[0][0][0, 0]))
        for (previous, _), (current, _) in zip(batches, batches[1:]):
            np.testing.assert_array_equal(current[:, 0], previous[:, -1] + 1)
    assert len(offsets) > 1  # a new random offset each epoch
    assert all(0 <= offset < 8 for offset in offsets)


def test_random_partition_has_no_overlap_and_reshuffles():
    dataset = data.partition_random(STREAM, 3, 9, seed=5)
    runs = epochs(dataset, 4)
    for batches in runs:
        starts = np.concatenate([x[:, 0] for x, _ in batches])
        assert len(set(starts % 9)) == 1  # one offset per epoch, aligned windows
        assert len(np.unique(starts)) == len(starts)
        assert starts.min() < 9 + 9  # the windows begin at the offset
    orders = [tuple(np.concatenate([x[:, 0] for x, _ in b])) for b in runs]
    assert len(set(orders)) == len(orders)


@pytest.mark.parametrize("partition", ["random", "sequential"])
def test_same_seed_same_epochs(partition):
    first = epochs(data.language_model_dataset(STREAM, 2, 5, partition, seed=42), 3)
    second = epochs(data.language_model_dataset(STREAM, 2, 5, partition, seed=42), 3)
    for a, b in zip(first, second):
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def test_the_shortest_stream_gives_one_batch_at_every_offset():
    # 2 rows of 3 steps: at offset 2 each row holds (9 - 2 - 1) // 2 = 3
    # tokens, one window; a token fewer leaves that offset no batch.
    assert tokens_needed(2, 3) == 9
    dataset = data.partition_sequential(np.arange(9), 2, 3, seed=0)
    assert [len(list(dataset)) for _ in range(8)] == [1] * 8
    with pytest.raises(ValueError, match="expected at least 9"):
        data.partition_sequential(np.arange(8), 2, 3)


def test_invalid_arguments_name_themselves():
    with pytest.raises(ValueError, match="argument `num_steps`, expected a positive"):
        data.partition_random(STREAM, 2, 0)
    with pytest.raises(ValueError, match="argument `batch_size`"):
        data.partition_sequential(STREAM, -1, 5)
    with pytest.raises(ValueError, match="argument `token_ids`, expected at least"):
        data.partition_sequential(STREAM[:20], 4, 5)
    with pytest.raises(ValueError, match="argument `partition`"):
        data.language_model_dataset(STREAM, 2, 5, partition="shuffled")


def test_ptb_stream_counts_words_and_sentence_ends(data_dir):
    lines = data.load_ptb("valid")
    tokenizer = data.WordTokenizer("whitespace")
    vocabulary = data.Vocabulary(tokenizer.tokenize(line) for line in lines)
    stream = data.token_stream(lines, tokenizer, vocabulary, append_eos=True)
    assert len(stream) == 70_390 + len(lines)
    assert (stream == vocabulary.eos_id).sum() == len(lines) == 3_370
    x, y = next(iter(data.partition_sequential(stream, 20, 35, random_offset=False)))
    assert x.shape == (20, 35)
    np.testing.assert_array_equal(x.numpy()[0], stream[:35])


def test_time_machine_word_and_character_streams(data_dir):
    text = data.load_time_machine()
    assert len(text.splitlines()) == 3_221
    words = data.WordTokenizer("letters_only")
    lines = text.splitlines()
    vocabulary = data.Vocabulary(words.tokenize(line) for line in lines)
    stream = data.token_stream(lines, words, vocabulary)
    assert len(stream) == sum(len(words.tokenize(line)) for line in lines)
    assert vocabulary.decode(stream[:4]) == ["the", "time", "machine", "by"]


def test_token_streams_encode_each_split_as_token_stream_does():
    texts = {"train": ["the film was good", "awful"], "valid": ["good film", ""]}
    tokenizer = data.WordTokenizer("whitespace")
    vocabulary = data.Vocabulary(tokenizer.tokenize(line) for line in texts["train"])
    streams = data.token_streams(texts, tokenizer, vocabulary, append_eos=True)
    assert list(streams) == ["train", "valid"]
    for split, lines in texts.items():
        np.testing.assert_array_equal(
            streams[split],
            data.token_stream(lines, tokenizer, vocabulary, append_eos=True),
        )
    assert vocabulary.decode(streams["valid"]) == [
        "good", "film", "<eos>", "<eos>"
    ]  # fmt: skip


def test_every_epoch_has_the_announced_number_of_batches():
    from garden.data import partition_random, partition_sequential

    for make in (partition_random, partition_sequential):
        dataset = make(list(range(1000)), 4, 10, seed=3)
        counts = {sum(1 for _ in dataset) for _ in range(6)}
        assert counts == {int(dataset.cardinality())}


def test_sentence_dataset_pairs_each_sentence_with_itself_shifted():
    from garden.data import Vocabulary, WordTokenizer, sentence_dataset

    tokenizer = WordTokenizer("whitespace")
    sentences = ["the cat sat", "a dog", "", "the end of it all"]
    vocabulary = Vocabulary(tokenizer.tokenize(s) for s in sentences)
    eos = vocabulary.eos_id
    batches = list(sentence_dataset(sentences, tokenizer, vocabulary, 2, shuffle=False))
    rows = [
        (x.tolist(), y.tolist())
        for xs, ys in batches
        for x, y in zip(xs.numpy(), ys.numpy())
    ]
    assert len(rows) == 3  # the empty sentence is dropped
    for (x, y), text in zip(rows, ["the cat sat", "a dog", "the end of it all"]):
        ids = vocabulary.encode(text.split())
        length = len(ids) + 1
        assert x[:length] == [eos, *ids] and y[:length] == [*ids, eos]
        assert set(x[length:]) <= {0} and set(y[length:]) <= {0}


@pytest.mark.parametrize("partition", ["random", "sequential"])
def test_offsets_take_every_value_below_num_steps(partition):
    dataset = data.language_model_dataset(STREAM[:60], 2, 3, partition, seed=0)
    offsets = set()
    for batches in epochs(dataset, 20):
        # Random windows start at offset + a multiple of num_steps; sequential
        # row 0 starts at the offset itself.
        offsets.add(int(batches[0][0][0, 0]) % 3)
    assert offsets == {0, 1, 2}


def test_random_partition_reshuffles_even_when_the_offset_repeats():
    # 9 * 112 tokens: every offset 0..8 leaves 111 windows, so two epochs with
    # the same offset differ only by their shuffle.
    dataset = data.partition_random(np.arange(9 * 112, dtype="int32"), 3, 9, seed=5)
    orders = {}
    for batches in epochs(dataset, 12):
        starts = np.concatenate([x[:, 0] for x, _ in batches])
        orders.setdefault(int(starts[0] % 9), []).append(tuple(starts // 9))
    repeated = [same for same in orders.values() if len(same) > 1]
    assert repeated  # some offset came twice in 12 epochs
    for same in repeated:
        assert len(set(same)) == len(same)
