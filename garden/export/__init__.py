"""SavedModel exports with text-in signatures, in TF Serving's layout."""

from garden.export.classifier import classifier_archive, export_classifier
from garden.export.language_model import export_language_model, language_model_archive
from garden.export.serving import next_version, write_version

__all__ = [
    "classifier_archive",
    "export_classifier",
    "export_language_model",
    "language_model_archive",
    "next_version",
    "write_version",
]
