"""What a recipe run builds and does, as a comparable record (a test helper).

`trace(recipe, argv, tmp)` runs `recipe.main(argv)` with `keras.Model.fit`,
`evaluate` and `predict` recorded: at each `fit`, the model (its config and
initial weights), the optimizer's config, the dtype policy, the distribution
strategy, `fit`'s arguments, every callback's settings and a hash of every
training and validation batch. With `stop_at_fit` the run ends at the first
`fit`; otherwise `fit` saves the untrained model as the best checkpoint
instead of training, and the run goes on to its evaluation, prints and
files, which join the record (the output with timings blanked, and the names
of the files written under `tmp`).

Two runs whose flags differ in one flag give different records exactly when
that flag changed what was built or run.
"""

import argparse
import contextlib
import hashlib
import importlib
import io
import json
import os
import re

import keras
import numpy as np
import tensorflow as tf

from garden import cli
from garden.training.callbacks import BestCheckpoint, TerminateOnNaN


class Stopped(BaseException):
    """Ends a traced run at its first `fit` (a BaseException: tuners catch the rest)."""


def recipe_parser(recipe):
    """The recipe's `argparse` parser, as its `parse_args` builds it."""
    captured = {}

    def capture(parser, argv=None):
        captured["parser"] = parser
        raise Stopped

    original = cli.parse
    cli.parse = capture
    try:
        recipe.parse_args([])
    except Stopped:
        pass
    finally:
        cli.parse = original
    return captured["parser"]


def flag_actions(parser):
    """Every flag of `--help` (all but `--help` itself)."""
    return [
        action
        for action in parser._actions
        if action.option_strings and not isinstance(action, argparse._HelpAction)
    ]


def _digest(value):
    hasher = hashlib.sha1()
    for item in tf.nest.flatten(value):
        array = np.asarray(item)
        if array.dtype.kind == "f":
            array = np.round(array.astype("float64"), 5)
        hasher.update(f"{array.shape}{array.dtype}".encode())
        hasher.update(array.tobytes())
    return hasher.hexdigest()


# The batches as the pipeline builds them, without tf.data's graph rewrites
# and autotuning: the same values, fetched for a third less CPU (a
# translation dataset's first two batches: 0.13 s against 0.20 s).
_AS_BUILT = tf.data.Options()
_AS_BUILT.experimental_optimization.apply_default_optimizations = False
_AS_BUILT.autotune.enabled = False


def _data(data, limit=2):
    """A dataset's first batches (or arrays) as one hash, with its cardinality."""
    if data is None:
        return None
    if isinstance(data, tf.data.Dataset):
        hasher = hashlib.sha1()
        for batch in data.take(limit).with_options(_AS_BUILT):
            hasher.update(_digest(batch).encode())
        return {"batches": int(data.cardinality()), "hash": hasher.hexdigest()}
    return {"hash": _digest(data)}


def _plain(value):
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (list, tuple)) and all(
        isinstance(item, (str, int, float, bool, type(None))) for item in value
    ):
        return list(value)
    return None


def _callback(callback):
    settings = {
        name: _plain(value)
        for name, value in sorted(vars(callback).items())
        if not name.startswith("_") and name != "model" and _plain(value) is not None
    }
    return [type(callback).__name__, settings]


def _model(model):
    try:
        config = model.get_config()
    except NotImplementedError:
        config = None
    return {
        "class": type(model).__name__,
        "config": json.loads(json.dumps(config, sort_keys=True, default=str)),
        "layers": [type(layer).__name__ for layer in model._flatten_layers()],
        "weights": _digest([variable.numpy() for variable in model.weights]),
        "dtype_policy": model.dtype_policy.name,
    }


def _fit_record(model, x, y, kwargs):
    optimizer = getattr(model, "optimizer", None)
    return {
        "model": _model(model),
        "optimizer": json.loads(
            json.dumps(optimizer.get_config() if optimizer else None, default=str)
        ),
        "global_policy": keras.config.dtype_policy().name,
        "strategy": type(tf.distribute.get_strategy()).__name__,
        "arguments": {
            name: _plain(value)
            for name, value in sorted(kwargs.items())
            if name not in ("callbacks", "validation_data")
        },
        "callbacks": [_callback(c) for c in kwargs.get("callbacks") or []],
        "train": _data(x if y is None else (x, y)),
        "valid": _data(kwargs.get("validation_data")),
    }


class _AnyMetric(dict):
    """The history of an untrained fit: every metric read is [0.0]."""

    def __missing__(self, key):
        return [0.0]


TIMINGS = re.compile(
    r"\d+(\.\d+)?\s*(ms|s|sec|seconds|min|minutes|tokens/s|words/s|it/s)\b"
)


def _output(text):
    """Printed lines with timings blanked and progress bars dropped."""
    lines = []
    for line in text.splitlines():
        if "━" in line or "step" in line or "ETA" in line:
            continue
        lines.append(TIMINGS.sub("<time>", line).rstrip())
    return lines


def _files(root):
    found = []
    for directory, subdirectories, names in os.walk(root):
        relative = os.path.relpath(directory, root)
        if os.path.basename(directory) in ("logs", "variables", "assets"):
            subdirectories[:] = []
        found += [os.path.join(relative, name) for name in names]
    return sorted(found)


@contextlib.contextmanager
def _recorded(calls, stop_at_fit):
    originals = {
        name: getattr(keras.Model, name) for name in ("fit", "evaluate", "predict")
    }

    def fit(self, x=None, y=None, **kwargs):
        calls.append(["fit", _fit_record(self, x, y, kwargs)])
        if stop_at_fit:
            raise Stopped
        # No training: the untrained model is the "best" checkpoint, so that
        # what follows `fit` (evaluation, export) runs as it would.
        for callback in kwargs.get("callbacks") or []:
            if isinstance(callback, (BestCheckpoint, TerminateOnNaN)):
                callback.set_model(self)
                callback.on_train_begin()
            if isinstance(callback, BestCheckpoint):
                callback.on_epoch_end(0, {callback.monitor: 0.0})
        history = keras.callbacks.History()
        history.history = _AnyMetric()
        return history

    def evaluate(self, x=None, y=None, **kwargs):
        calls.append(["evaluate", _data(x if y is None else (x, y))])
        return originals["evaluate"](self, x, y, **kwargs)

    def predict(self, x, **kwargs):
        calls.append(["predict", _data(x)])
        return originals["predict"](self, x, **kwargs)

    keras.Model.fit, keras.Model.evaluate = fit, evaluate
    keras.Model.predict = predict
    try:
        yield
    finally:
        for name, method in originals.items():
            setattr(keras.Model, name, method)


def _argument(value):
    """A call argument as a comparable value (the flags themselves left out)."""
    if isinstance(value, argparse.Namespace):
        return "<flags>"
    if _plain(value) is not None or value is None:
        return _plain(value)
    if isinstance(value, dict):
        return {str(key): _argument(item) for key, item in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_argument(item) for item in value]
    if isinstance(value, (np.ndarray, tf.Tensor)):
        return _digest(value)
    return type(value).__name__


def _target(recipe, name):
    """`(owner, attribute)` of "function" (the recipe's) or "module:function"."""
    if ":" in name:
        module, name = name.split(":")
        return importlib.import_module(module), name
    return recipe, name


@contextlib.contextmanager
def _spied(recipe, calls, reaches, stop_at, skip):
    """Calls of `reaches` and `stop_at` are recorded, `stop_at` ends the run,
    and the functions in `skip` do nothing."""
    patches = []

    def spy(name, stop):
        owner, attribute = _target(recipe, name)
        original = getattr(owner, attribute)

        def recorded(*args, **kwargs):
            calls.append([name, _argument(list(args)), _argument(kwargs)])
            if stop:
                raise Stopped
            return original(*args, **kwargs)

        patches.append((owner, attribute, original))
        setattr(owner, attribute, recorded)

    for name in skip:
        owner, attribute = _target(recipe, name)
        patches.append((owner, attribute, getattr(owner, attribute)))
        setattr(owner, attribute, lambda *args, **kwargs: None)
    if reaches:
        spy(reaches, stop=False)
    if stop_at:
        spy(stop_at, stop=True)
    try:
        yield
    finally:
        for owner, attribute, original in reversed(patches):
            setattr(owner, attribute, original)


def trace(recipe, argv, tmp, stop_at_fit=True, reaches=None, stop_at=None, skip=()):
    """The record of `recipe.main(argv)` (see the module docstring).

    With `reaches`, the arguments of every call of the recipe's function of
    that name ("module:function" for another module's) join the record;
    `stop_at` records its first call and ends the run there; the functions in
    `skip` (reports whose result nothing uses) do nothing, to save time. A run
    refused by the recipe's flag checks gives `["refused", message]`.
    """
    # Layer names start again, so two runs name their layers alike. Without
    # the full garbage collection `clear_session` runs by default, for cycles
    # Python's own collector frees anyway (the flag tests in one process:
    # 198 s of CPU against 210 s).
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    environment = dict(os.environ)
    calls, output = [], io.StringIO()
    try:
        with (
            _recorded(calls, stop_at_fit),
            _spied(recipe, calls, reaches, stop_at, skip),
            contextlib.redirect_stdout(output),
        ):
            with contextlib.redirect_stderr(io.StringIO()) as errors:
                try:
                    recipe.main(argv)
                except Stopped:
                    pass
                except SystemExit as exit:
                    if isinstance(exit.code, str):  # a message instead of a code
                        return ["refused", exit.code]
                    if exit.code not in (0, None):
                        return ["refused", errors.getvalue().strip().splitlines()[-1]]
                except Exception as error:  # a flag that breaks the run counts too
                    return ["failed", type(error).__name__, str(error)[:200]]
    finally:
        os.environ.clear()
        os.environ.update(environment)
        keras.config.set_dtype_policy("float32")
    record = {"calls": calls}
    if not stop_at_fit:
        record.update(output=_output(output.getvalue()), files=_files(tmp))
    return record
