"""Training as the lectures teach it: precision, optimizers, metrics, callbacks."""

from garden.training.callbacks import ResetStatesEachEpoch, standard_callbacks
from garden.training.metrics import Perplexity, masked_cross_entropy
from garden.training.optimizers import OPTIMIZERS, make_optimizer
from garden.training.precision import PRECISIONS, resolve_precision, set_precision

__all__ = [
    "OPTIMIZERS",
    "PRECISIONS",
    "Perplexity",
    "ResetStatesEachEpoch",
    "make_optimizer",
    "masked_cross_entropy",
    "resolve_precision",
    "set_precision",
    "standard_callbacks",
]
