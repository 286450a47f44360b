"""KerasTuner pieces the recipes share: the hypermodel, search spaces, tuners."""

from garden.tuning.search import (
    RecipeHyperModel,
    make_tuner,
    optimizer_from_hp,
    recurrent_from_hp,
    search,
    search_role,
    searched_or_flagged_model,
)

__all__ = [
    "RecipeHyperModel",
    "make_tuner",
    "optimizer_from_hp",
    "recurrent_from_hp",
    "search",
    "search_role",
    "searched_or_flagged_model",
]
