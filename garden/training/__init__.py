"""Training as the lectures teach it: precision, optimizers, metrics, callbacks."""

from garden.training.callbacks import EpochLearningRate, ResetStatesEachEpoch
from garden.training.distribute import (
    STRATEGIES,
    check_strategy,
    fit_across_workers,
    is_chief,
    make_strategy,
    strategy_from_flags,
    task_run_dir,
)
from garden.training.fitting import (
    fit_from_flags,
    load_best,
    schedule_from_flags,
    standard_callbacks,
)
from garden.training.metrics import Perplexity, masked_cross_entropy
from garden.training.optimizers import (
    OPTIMIZERS,
    make_optimizer,
    optimizer_from_flags,
)
from garden.training.precision import PRECISIONS, resolve_precision, set_precision

__all__ = [
    "OPTIMIZERS",
    "PRECISIONS",
    "EpochLearningRate",
    "STRATEGIES",
    "Perplexity",
    "ResetStatesEachEpoch",
    "check_strategy",
    "fit_across_workers",
    "fit_from_flags",
    "is_chief",
    "load_best",
    "make_optimizer",
    "make_strategy",
    "optimizer_from_flags",
    "masked_cross_entropy",
    "resolve_precision",
    "schedule_from_flags",
    "set_precision",
    "standard_callbacks",
    "strategy_from_flags",
    "task_run_dir",
]
