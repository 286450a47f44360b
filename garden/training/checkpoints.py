"""Checkpoints written whole that say what they were trained on.

A `.keras` file the garden writes (each epoch's best, each export's copy)
goes to a temporary name beside its place and is renamed when complete, so a
kill never leaves a truncated file. It carries a record, `garden.json` inside
the archive (Keras reads only its own members), naming the recipe, the
digests of its data (vocabulary, preprocessing; `describe_data`), the flags
of the run and, for a best checkpoint, its epoch and score. `--evaluate`
reads that record and refuses a checkpoint trained on other data instead of
scoring it against a vocabulary it never saw.
"""

import json
import os
import zipfile

import keras

from garden.errors import UserError
from garden.reports import atomic_write
from garden.training import run_record

RECORD_NAME = "garden.json"


def save_model(model, path, **facts):
    """`model.save(path)`, atomically, with the current run's record inside.

    Args:
        model: The `keras.Model`.
        path: A `.keras` file; its directory is created if missing.
        **facts: More entries of the record (`epoch`, `monitor`, `value`).

    Returns:
        `path`.
    """
    record = {**run_record.checkpoint_record(), **facts}
    with atomic_write(path, suffix=".keras") as temporary:
        model.save(temporary)
        with zipfile.ZipFile(temporary, "a") as archive:
            archive.writestr(RECORD_NAME, json.dumps(record, indent=2, default=str))
    return path


def read_record(path):
    """The record inside the `.keras` file `path`, or None if it has none."""
    with zipfile.ZipFile(path) as archive:
        if RECORD_NAME not in archive.namelist():
            return None
        return json.loads(archive.read(RECORD_NAME))


def load_for_evaluation(path, args, flag="--evaluate", same=(), own=()):
    """Loads the checkpoint `flag` names, refused unless this run's data is its own.

    The checkpoint must be a `.keras` file written by this recipe, trained on
    the data (vocabulary, preprocessing) that the current flags build: the
    recipe calls `run_record.describe_data` before this. Any other is a
    `UserError` naming `flag`, the file, and the flags that differ from its
    training run.

    Args:
        path: The `.keras` file.
        args: The parsed recipe flags of this run.
        flag: The flag that named the file, for messages.
        same: Flags (dest names) that must be as in the checkpoint's run
            (`"model"`, where it picks how the recipe reads the model).
        own: Entries of the data description the checkpoint may hold its own
            value of (`"max_length"`, where the caller feeds each model the
            reviews as long as it read them in training).

    Returns:
        `(model, config)`: the loaded `keras.Model`, and the plain values of
        the configuration it was built with (`run_record.describe_model`),
        which override those the current flags give.
    """
    where = f"argument {flag}: {path!r}"
    if not os.path.isfile(path):
        raise UserError(f"{where} is not a file")
    try:
        record = read_record(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UserError(f"{where} is not a .keras file ({error})") from None
    if record is None or "data" not in record:
        raise UserError(
            f"{where} carries no record of the data it was trained on; give a "
            "best.keras or exported .keras file that a recipe wrote"
        )
    current = run_record.checkpoint_record()
    if record.get("recipe") != current.get("recipe"):
        raise UserError(
            f"{where} was trained by the {record.get('recipe')} recipe, not "
            f"{current.get('recipe')}"
        )
    trained, built = record["data"], current.get("data", {})
    changed = sorted(
        name
        for name in {*trained, *built} - set(own)
        if trained.get(name) != built.get(name)
    )
    if changed:
        raise UserError(
            f"{where} was trained on other data (its {' and '.join(changed)} "
            f"differ{'s' if len(changed) == 1 else ''} from what these flags "
            "build); give the data flags it was trained with"
            + _differing_flags(record.get("flags", {}), args)
        )
    trained = record.get("flags", {})
    for name in same:
        if name in trained and trained[name] != getattr(args, name):
            raise UserError(
                f"{where} was trained with --{name.replace('_', '-')} "
                f"{trained[name]}, not {getattr(args, name)}"
            )
    return open_model(path, flag), record.get("config", {})


def open_model(path, flag="--evaluate"):
    """`keras.saving.load_model(path)`; a `UserError` naming `flag` if it cannot."""
    where = f"argument {flag}: {path!r}"
    if not os.path.isfile(path):
        raise UserError(f"{where} is not a file")
    try:
        return keras.saving.load_model(path)
    except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile) as error:
        raise UserError(
            f"{where} cannot be loaded as a Keras model ({error})"
        ) from None


# Flags that say how or where a run goes, never what its data is.
_RUN_FLAGS = {
    "evaluate",
    "ensemble",
    "export",
    "model_name",
    "run_dir",
    "tune_dir",
    "verbose",
    "precision",
    "strategy",
}


def _differing_flags(trained, args):
    current = vars(args)
    differing = [
        f"--{name.replace('_', '-')} {value}"
        for name, value in sorted(trained.items())
        if name not in _RUN_FLAGS and name in current and current[name] != value
    ]
    return f": {' '.join(differing)}" if differing else ""
