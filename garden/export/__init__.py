"""SavedModel exports with text-in signatures, in TF Serving's layout."""

from garden.export.language_model import export_language_model, language_model_archive
from garden.export.serving import next_version, write_version

__all__ = [
    "export_language_model",
    "language_model_archive",
    "next_version",
    "write_version",
]
