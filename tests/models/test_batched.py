import numpy as np
import pytest

from garden.models.batched import pad_ids, predict_by_length


def test_pad_ids_pads_right_to_the_longest_rounded_up():
    batch = pad_ids([np.array([4, 5, 6]), [7]], multiple=2)
    assert batch.dtype == np.int32
    assert batch.tolist() == [[4, 5, 6, 0], [7, 0, 0, 0]]


def test_pad_ids_gives_an_empty_sequence_one_pad():
    assert pad_ids([[]]).tolist() == [[0]]
    assert pad_ids([[]], multiple=50).shape == (1, 50)


def test_predict_by_length_batches_sorted_items_and_restores_their_order():
    items = ["ccc", "a", "bb", "", "dd", "eeee", "f"]
    seen = []

    def predict(batch):
        seen.append(batch)
        return [item.upper() for item in batch]

    assert predict_by_length(predict, items, batch_size=3) == [i.upper() for i in items]
    # Sorted by length, ties in input order, at most batch_size per call.
    assert seen == [["", "a", "f"], ["bb", "dd", "ccc"], ["eeee"]]


def test_predict_by_length_sorts_by_the_given_length():
    seen = []

    def predict(batch):
        seen.extend(batch)
        return batch

    assert predict_by_length(predict, [3, 1, 2], 2, length=lambda x: -x) == [3, 1, 2]
    assert seen == [3, 2, 1]


def test_predict_by_length_refuses_a_result_count_that_does_not_match():
    with pytest.raises(ValueError):
        predict_by_length(lambda batch: batch[:1], ["a", "b"], 2)


def test_predict_by_length_shows_progress_only_when_verbose(capsys):
    items = ["ccc", "a", "bb", "", "dd"]
    predict_by_length(lambda batch: batch, items, 2)
    assert capsys.readouterr().out == ""  # a library call is quiet by default
    predict_by_length(lambda batch: batch, items, 2, verbose=2, unit_name="tree")
    out = capsys.readouterr().out
    assert "5/5" in out and "/tree" in out
