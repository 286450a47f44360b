"""The word-similarity test sets load whole, and a malformed file names its line."""

import pytest

from garden.data import word_similarity as ws


def test_the_staged_sets_load_whole(data_dir):
    assert len(ws.load_word_pairs("wordsim353")) == 353
    simlex = ws.load_word_pairs("simlex999")
    assert len(simlex) == 999 and simlex[0] == ("old", "new", 1.58)
    questions = ws.load_analogies()
    assert len(questions) == 19_544
    assert len({section for section, *_ in questions}) == 14
    assert questions[0] == (
        "capital-common-countries",
        "Athens",
        "Greece",
        "Baghdad",
        "Iraq",
    )
    with pytest.raises(ValueError, match="name"):
        ws.load_word_pairs("men")


def test_a_malformed_pairs_file_names_its_line(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("# header\ncat\tdog\t3.0\ncat dog 4\n")
    with pytest.raises(ValueError, match="line 3"):
        ws.load_word_pairs("wordsim353", path=str(path))
