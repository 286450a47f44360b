"""What the recipe tests share: IMDb read once per worker; small search spaces."""

import functools
import os

import pytest

from garden import data


@functools.cache
def _read_imdb(split, data_dir):
    return data.corpora.load_imdb(split)


def _cached_imdb(split):
    # Keyed by the data directory too: `--data DIR` must still read DIR.
    return _read_imdb(split, os.environ.get("GARDEN_DATA"))


@pytest.fixture(autouse=True)
def _read_imdb_once(monkeypatch):
    """`garden.data.load_imdb` returns the split read the first time it was asked."""
    monkeypatch.setattr(data, "load_imdb", _cached_imdb)


def fix_search_space(monkeypatch, recipe, **values):
    """Pins hyperparameters of `recipe.config_from_hp` to `values` (small, fast).

    The recipe's own search space is still drawn for the rest; a name fixed
    first keeps its value when the space asks for it.
    """
    search_space = recipe.config_from_hp

    def fixed(hp, *args, **kwargs):
        for name, value in values.items():
            hp.Fixed(name, value)
        return search_space(hp, *args, **kwargs)

    monkeypatch.setattr(recipe, "config_from_hp", fixed)
