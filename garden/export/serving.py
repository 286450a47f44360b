"""TF Serving's layout: `<root>/<model_name>/<version>/`, written atomically."""

import os
import shutil
import tempfile


def next_version(root, model_name):
    """One more than the highest numeric version under `root/model_name` (1 if none)."""
    model_dir = os.path.join(root, model_name)
    versions = [
        int(entry)
        for entry in (os.listdir(model_dir) if os.path.isdir(model_dir) else [])
        if entry.isdigit()
    ]
    return max(versions, default=0) + 1


def write_version(root, model_name, write):
    """Writes a new version with `write(directory)`, then renames it into place.

    TF Serving watches `root/model_name` and loads any numeric directory it
    finds, so a half-written export must never carry a number: it is written
    under a hidden temporary name beside the versions and renamed at the end.

    Args:
        root: The export root (TF Serving's `--model_base_path` parent).
        model_name: The served model's name.
        write: `directory -> None`, writes the SavedModel into `directory`.

    Returns:
        The final version directory.
    """
    if not model_name or os.sep in model_name or model_name.startswith("."):
        raise ValueError(
            "Received an invalid value for argument `model_name`, expected a "
            f"plain directory name, got {model_name!r}."
        )
    model_dir = os.path.join(root, model_name)
    os.makedirs(model_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".staging-", dir=model_dir)
    try:
        target = os.path.join(staging, "saved_model")
        write(target)
        final = os.path.join(model_dir, str(next_version(root, model_name)))
        os.rename(target, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
