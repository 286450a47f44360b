"""SavedModel exports with text-in signatures, in TF Serving's layout."""

from garden.export.classifier import classifier_archive, export_classifier
from garden.export.language_model import export_language_model, language_model_archive
from garden.export.serving import (
    grpc_predict,
    next_version,
    predict_request,
    read_warmup_requests,
    rest_request,
    write_version,
    write_warmup_requests,
)
from garden.export.sst import export_sst_model, sentence_archive, tree_archive
from garden.export.translation import export_translation_model, translation_archive

__all__ = [
    "classifier_archive",
    "export_classifier",
    "export_language_model",
    "export_sst_model",
    "export_translation_model",
    "grpc_predict",
    "language_model_archive",
    "next_version",
    "predict_request",
    "read_warmup_requests",
    "rest_request",
    "sentence_archive",
    "translation_archive",
    "tree_archive",
    "write_version",
    "write_warmup_requests",
]
