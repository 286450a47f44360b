"""Fixtures for the data tests: the real corpora under `$GARDEN_DATA`, read once."""

import os

import pytest

from garden import data


@pytest.fixture(scope="session")
def data_dir():
    """The directory of real corpora; tests that need it skip when it is unset."""
    directory = os.environ.get("GARDEN_DATA")
    if not directory:
        pytest.skip("GARDEN_DATA is not set; real-corpus tests need the staged data")
    return directory


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """One temporary cache for the session, so archives are extracted once."""
    return str(tmp_path_factory.mktemp("garden-cache"))


@pytest.fixture(scope="session")
def imdb_train(data_dir, cache_dir):
    return data.load_imdb("train", cache_dir=cache_dir)


@pytest.fixture(scope="session")
def imdb_test(data_dir, cache_dir):
    return data.load_imdb("test", cache_dir=cache_dir)


@pytest.fixture(scope="session")
def imdb_vocabulary(imdb_train):
    texts, _ = imdb_train
    return data.build_review_vocabulary(texts)


@pytest.fixture(scope="session")
def english_french(data_dir, cache_dir):
    return data.load_english_french(cache_dir=cache_dir)


@pytest.fixture(scope="session", autouse=True)
def _temporary_cache(cache_dir):
    """Keep every extraction of the test session out of the user's own cache."""
    previous = os.environ.get("GARDEN_CACHE")
    os.environ["GARDEN_CACHE"] = cache_dir
    yield
    if previous is None:
        os.environ.pop("GARDEN_CACHE", None)
    else:
        os.environ["GARDEN_CACHE"] = previous
