"""serving/models.config parses as TF Serving's config and names every recipe."""

import importlib
import os
import pkgutil

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

import recipes

CONFIG = os.path.join(
    os.path.dirname(__file__), os.pardir, os.pardir, "serving", "models.config"
)


def default_model_names():
    """`--model-name`'s default of every recipe that exports."""
    names = {}
    for module in pkgutil.iter_modules(recipes.__path__):
        recipe = importlib.import_module(f"recipes.{module.name}")
        if hasattr(recipe, "parse_args") and getattr(recipe, "SERVED", True):
            args = recipe.parse_args([])
            if hasattr(args, "export"):
                names[module.name] = args.model_name
    return names


def test_names_every_recipe_default_model_under_models():
    with open(CONFIG, encoding="utf-8") as f:
        config = text_format.Parse(
            f.read(), model_server_config_pb2.ModelServerConfig()
        )
    models = config.model_config_list.config
    names = default_model_names()
    assert {"language_model", "sentiment", "sst", "translation"} <= set(names)
    assert sorted(model.name for model in models) == sorted(names.values())
    for model in models:
        assert model.base_path == f"/models/{model.name}"
        assert model.model_platform == "tensorflow"
        # The server's default policy: the latest version only.
        assert not model.HasField("model_version_policy")
