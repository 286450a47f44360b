"""What the recipe tests share: IMDb is read from its archive once per worker."""

import functools

import pytest

from garden import data


@functools.cache
def _cached_imdb(split):
    return data.corpora.load_imdb(split)


@pytest.fixture(autouse=True)
def _read_imdb_once(monkeypatch):
    """`garden.data.load_imdb` returns the split read the first time it was asked."""
    monkeypatch.setattr(data, "load_imdb", _cached_imdb)
