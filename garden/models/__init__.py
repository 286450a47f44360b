"""Task models composed from the garden's layers, and the baselines they must beat."""

from garden.models.bilm import (
    bilm_feature_model,
    build_bilm,
    compile_bilm,
    load_bilm,
    map_vocabulary,
)
from garden.models.classifiers import (
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
    language_model_config,
    stream_perplexity,
)
from garden.models.ngram import NGramLanguageModel
from garden.models.seq2seq import (
    build_seq2seq,
    compile_seq2seq,
    float32_seq2seq,
    translate_ids,
)
from garden.models.tree import (
    build_phrase_classifier,
    build_sst_model,
    build_tree_classifier,
    compile_sst_model,
)

__all__ = [
    "NGramLanguageModel",
    "bilm_feature_model",
    "build_bag_of_words_classifier",
    "build_bilm",
    "build_birnn_classifier",
    "build_classifier",
    "build_language_model",
    "build_phrase_classifier",
    "build_seq2seq",
    "build_sst_model",
    "build_text_cnn_classifier",
    "build_tree_classifier",
    "compile_bilm",
    "compile_classifier",
    "compile_language_model",
    "compile_seq2seq",
    "compile_sst_model",
    "float32_classifier",
    "float32_seq2seq",
    "generation_model",
    "inverse_document_frequency",
    "language_model_config",
    "load_bilm",
    "map_vocabulary",
    "predict_probabilities",
    "set_embeddings",
    "stream_perplexity",
    "translate_ids",
]
