"""Result files are whole or absent, never half-written."""

import os

import pytest

from garden.reports import write_tsv


def test_writes_a_table_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "deep" / "out.tsv"
    write_tsv(path, ["a", "b"], [(1, "x"), (2.5, "y z")])
    assert path.read_text() == "a\tb\n1\tx\n2.5\ty z\n"
    assert os.listdir(tmp_path / "deep") == ["out.tsv"]


def test_a_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.tsv"
    write_tsv(path, ["a"], [(1,)])

    def rows():
        yield (2,)
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        write_tsv(path, ["a"], rows())
    assert path.read_text() == "a\n1\n"
    assert os.listdir(tmp_path) == ["out.tsv"]
