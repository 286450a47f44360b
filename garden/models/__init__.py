"""Task models composed from the garden's layers, and the baselines they must beat."""

from garden.models.language_model import (
    build_language_model,
    compile_language_model,
    generation_model,
    stream_perplexity,
)
from garden.models.ngram import NGramLanguageModel

__all__ = [
    "NGramLanguageModel",
    "build_language_model",
    "compile_language_model",
    "generation_model",
    "stream_perplexity",
]
