"""Task models composed from the garden's layers, and the baselines they must beat."""

from garden.models.ngram import NGramLanguageModel

__all__ = ["NGramLanguageModel"]
