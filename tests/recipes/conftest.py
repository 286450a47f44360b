"""What the recipe tests share: corpora read and cut once per worker; small
search spaces."""

import dataclasses
import functools
import os

import pytest

from garden import data
from garden.data.splits import split_pairs
from recipes import translation


@functools.cache
def _read_imdb(split, data_dir):
    return data.corpora.load_imdb(split)


def _cached_imdb(split):
    # Keyed by the data directory too: `--data DIR` must still read DIR.
    return _read_imdb(split, os.environ.get("GARDEN_DATA"))


@functools.cache
def _read_english_french(data_dir):
    return data.corpora.load_english_french()


def _cached_english_french(*args, **kwargs):
    if args or kwargs:  # another file, or a part of it
        return data.corpora.load_english_french(*args, **kwargs)
    return _read_english_french(os.environ.get("GARDEN_DATA"))


@functools.cache
def _split_pairs(data_dir, test_size, validation_size, seed):
    pairs = _read_english_french(data_dir)
    return split_pairs(pairs, test_size, validation_size, seed)


def _cached_split_pairs(pairs, test_size, validation_size, seed):
    # The translation recipe cuts all 165,130 pairs (a second each time):
    # the cut of the cached pairs is cached too, and handed out as copies
    # (the recipe replaces its train split).
    data_dir = os.environ.get("GARDEN_DATA")
    if pairs is not _read_english_french(data_dir):
        return split_pairs(pairs, test_size, validation_size, seed)
    splits = _split_pairs(data_dir, test_size, validation_size, seed)
    return {name: list(split) for name, split in splits.items()}


_UNCACHED_GLOVE = data.load_glove_embeddings
_GLOVE = {}


def _cached_glove(vocabulary, seed=None, **kwargs):
    # Every run of the SST recipe reads GloVe: finding a vocabulary's rows
    # among its 400,000 lines took half a second of CPU each time. The rows
    # of a vocabulary and seed are found once, and handed out as copies.
    if kwargs or seed is None:
        return _UNCACHED_GLOVE(vocabulary, seed=seed, **kwargs)
    data_dir = os.environ.get("GARDEN_DATA")
    key = (data_dir, tuple(vocabulary.tokens), vocabulary.reserved_tokens, seed)
    if key not in _GLOVE:
        _GLOVE[key] = _UNCACHED_GLOVE(vocabulary, seed=seed)
    found = _GLOVE[key]
    return dataclasses.replace(found, matrix=found.matrix.copy())


@pytest.fixture(autouse=True)
def _read_imdb_once(monkeypatch):
    """`garden.data.load_imdb` returns the split read the first time it was
    asked; the translation recipe's pairs are read and cut once the same way,
    and GloVe's rows of a vocabulary found once."""
    monkeypatch.setattr(data, "load_imdb", _cached_imdb)
    monkeypatch.setattr(data, "load_glove_embeddings", _cached_glove)
    monkeypatch.setattr(data, "load_english_french", _cached_english_french)
    monkeypatch.setattr(translation, "split_pairs", _cached_split_pairs)


def without(argv, *flags):
    """`argv` less `flags` and their values (each flag with one value).

    A search refuses the flags of what it picks (`--units` with `--tune`);
    `fix_search_space` pins those instead.
    """
    kept = list(argv)
    for flag in flags:
        index = kept.index(flag)
        del kept[index : index + 2]
    return kept


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
