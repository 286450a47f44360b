"""The small exports the export tests read, each built once per test process."""

import numpy as np
import pytest

from garden.export.word_vectors import export_word_vectors
from garden.models.word2vec import WordVectors
from tests.export import (
    test_classifier,
    test_language_model,
    test_sst,
    test_tagger,
    test_translation,
)


@pytest.fixture(scope="session")
def classifier_export(tmp_path_factory):
    return test_classifier.build_export(tmp_path_factory)


@pytest.fixture(scope="session")
def language_model_export(tmp_path_factory):
    return test_language_model.build_export(tmp_path_factory)


@pytest.fixture(scope="session")
def translation_export(tmp_path_factory):
    return test_translation.build_export(tmp_path_factory)


@pytest.fixture(scope="session")
def tagger_export(tmp_path_factory):
    return test_tagger.build_export(tmp_path_factory)


@pytest.fixture(scope="session")
def sst_export(tmp_path_factory):
    return test_sst.build_export(tmp_path_factory)


@pytest.fixture(scope="session")
def word_vectors_export(tmp_path_factory):
    rng = np.random.default_rng(0)
    vectors = WordVectors(
        ["great", "film", "été"],
        rng.normal(size=(3, 4)),
        rng.normal(size=(16, 4)).astype("float32"),
    )
    root = tmp_path_factory.mktemp("exports")
    return vectors, export_word_vectors(vectors, str(root), "wv", examples=["film"])
