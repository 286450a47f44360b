"""Task models composed from the garden's layers, and the baselines they must beat."""

from garden.models.classifiers import (
    BagOfWords,
    FirstAndLastSteps,
    build_bag_of_words_classifier,
    build_birnn_classifier,
    build_classifier,
    build_text_cnn_classifier,
    compile_classifier,
    float32_classifier,
    inverse_document_frequency,
    predict_probabilities,
    set_embeddings,
)
from garden.models.language_model import (
    build_language_model,
    compile_language_model,
    generation_model,
    stream_perplexity,
)
from garden.models.ngram import NGramLanguageModel
from garden.models.tree import (
    build_phrase_classifier,
    build_sst_model,
    build_tree_classifier,
    compile_sst_model,
)

__all__ = [
    "BagOfWords",
    "FirstAndLastSteps",
    "NGramLanguageModel",
    "build_bag_of_words_classifier",
    "build_birnn_classifier",
    "build_classifier",
    "build_language_model",
    "build_phrase_classifier",
    "build_sst_model",
    "build_text_cnn_classifier",
    "build_tree_classifier",
    "compile_classifier",
    "compile_language_model",
    "compile_sst_model",
    "float32_classifier",
    "generation_model",
    "inverse_document_frequency",
    "predict_probabilities",
    "set_embeddings",
    "stream_perplexity",
]
