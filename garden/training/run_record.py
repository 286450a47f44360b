"""The record of a run (`run.json`): what ran, on what, and what it measured.

Every recipe's `main` runs inside `recorded(args)`; its reports add their
figures with `log_metrics(split, ...)`. When the run ends, `run.json` in the
run directory holds the command line, every resolved flag, the git commit
(and whether the tree had changes), the package versions, the sha256 of
every data file read, the metrics per split, the per-epoch history, the wall
time and the machine. Each export carries the same record as its model card
(`assets.extra/run.json`, see `attach_to_export`), so a served model says how
it was made.
"""

import contextlib
import datetime
import fcntl
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time

from garden.data import sources
from garden.errors import UserError
from garden.reports import atomic_write
from garden.training.distribute import task_run_dir

PACKAGES = (
    "recurrent-garden",
    "tensorflow",
    "keras",
    "keras-tuner",
    "numpy",
    "sacrebleu",
)
_current = []


def _git():
    """The commit of the garden's checkout and whether its tree has changes."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))

    def git(*command):
        return subprocess.run(
            ["git", "-C", root, *command],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "-s"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _versions():
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _machine():
    import tensorflow as tf

    processor = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            names = [line for line in cpuinfo if line.startswith("model name")]
        processor = names[0].split(":", 1)[1].strip() if names else processor
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": processor,
        "cpus": os.cpu_count(),
        "gpus": [device.name for device in tf.config.list_physical_devices("GPU")],
    }


def _flag_files(flags):
    """sha256 of the files the flags name (`--text-file`, `--evaluate`, ...)."""
    files = {}
    for value in flags.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and os.path.isfile(item):
                files[os.path.abspath(item)] = sources.file_digest(item)
    return files


def history_rows(run_dir):
    """The rows of `run_dir/history.csv` (a resumed run's included), as dicts."""
    path = os.path.join(run_dir, "history.csv")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as file:
        rows = [line.rstrip("\n").split(",") for line in file if line.strip()]
    header, rows = rows[0], rows[1:]
    return [
        {name: float(value) if value else None for name, value in zip(header, row)}
        for row in rows
    ]


class RunRecord:
    """What one run did; `recorded` makes one and writes it when the run ends."""

    def __init__(self, args, argv=None):
        self.started = time.time()
        self.args = args
        arguments = sys.argv[1:] if argv is None else list(argv)
        self.command = [os.path.basename(sys.argv[0]), *arguments]
        self.metrics = {}
        self.data = {}
        self.model = {}
        self.status = "running"

    @property
    def run_dir(self):
        return getattr(self.args, "run_dir", None)

    @property
    def evaluation(self):
        """Whether the run scores a checkpoint (`--evaluate`) instead of training."""
        return bool(getattr(self.args, "evaluate", None))

    @property
    def file_name(self):
        """`run.json`, or `evaluation.json` beside a training run's record."""
        return "evaluation.json" if self.evaluation else "run.json"

    @property
    def flags(self):
        """The flags as the run resolved them (defaults filled in by the recipe)."""
        return {
            name: value
            for name, value in sorted(vars(self.args).items())
            if _is_plain(value)
        }

    def as_dict(self):
        """The record as `run.json` holds it."""
        flags = self.flags
        return {
            "command": self.command,
            "flags": flags,
            "status": self.status,
            "metrics": self.metrics,
            "data": self.data,
            "model": self.model,
            # An evaluation trains nothing: the run directory's history.csv
            # is a training run's.
            "history": (
                history_rows(self.run_dir)
                if self.run_dir and not self.evaluation
                else []
            ),
            "data_files": {**sources.files_read(), **_flag_files(flags)},
            "git": _git(),
            "packages": _versions(),
            "machine": _machine(),
            "started": datetime.datetime.fromtimestamp(
                self.started, datetime.timezone.utc
            ).isoformat(timespec="seconds"),
            "wall_seconds": round(time.time() - self.started, 1),
        }

    def write(self, path):
        """Writes the record as JSON to `path` (atomically)."""
        with atomic_write(path) as temporary:
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump(self.as_dict(), file, indent=2, default=str)
                file.write("\n")
        return path


@contextlib.contextmanager
def recorded(args, argv=None):
    """Runs the block as a recorded run; writes `--run-dir/run.json` at its end.

    A run that scores a checkpoint (`--evaluate`) writes `evaluation.json`
    instead, so the training run's record in the same directory stays.

    The run directory (this task's, see `task_run_dir`) is locked for the
    run: a second run given the same `--run-dir` stops at once with an error
    naming the process that holds it, instead of sharing its checkpoints.
    A run that fails still writes its record, with `status` "failed" and the
    error; a `UserError` (a flag, a file or data the user gave) prints its
    one-line message without a traceback and exits with status 1; a run
    stopped by a usage error (`SystemExit`) writes no record.
    """
    record = RunRecord(args, argv)
    lock = _lock(task_run_dir(record.run_dir)) if record.run_dir else None
    _current.append(record)
    try:
        yield record
        record.status = "finished"
    except SystemExit:
        record.status = None
        raise
    except UserError as error:
        record.status = f"failed: {error}"[:500]
        _exit_with(error)
    except BaseException as error:
        record.status = f"failed: {type(error).__name__}: {error}"[:500]
        raise
    finally:
        _current.remove(record)
        if record.status and record.run_dir:
            record.write(os.path.join(record.run_dir, record.file_name))
        if lock is not None:
            lock.close()


def _lock(run_dir):
    """An exclusive lock on `run_dir/.lock`, held until the file is closed.

    `flock` locks go with the process: a killed run leaves no stale lock.
    """
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, ".lock")
    file = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        holder = file.read().strip() or "another process"
        file.close()
        _exit_with(
            f"argument --run-dir: {run_dir!r} is in use by {holder}; wait for "
            "it to end or give another --run-dir"
        )
    file.seek(0)
    file.truncate()
    file.write(f"process {os.getpid()} ({' '.join(sys.argv)})"[:300] + "\n")
    file.flush()
    return file


def _exit_with(message):
    """Ends the run as argparse does a usage error, but with status 1."""
    print(f"{os.path.basename(sys.argv[0])}: error: {message}", file=sys.stderr)
    raise SystemExit(1) from None


def describe_data(**parts):
    """Records what the current run's data is, as digests (`run.json`'s `data`).

    A recipe names what its model is bound to (its vocabulary's tokens, the
    tokenizer, the preprocessing settings); checkpoints carry the digests
    (`garden.training.checkpoints`) so `--evaluate` can refuse one trained
    on other data. Outside a recorded run, nothing.

    Args:
        **parts: JSON-serialisable values (lists of tokens, settings).
    """
    if _current:
        _current[-1].data.update(
            {
                name: hashlib.sha256(
                    json.dumps(value, sort_keys=True, default=str).encode("utf-8")
                ).hexdigest()
                for name, value in parts.items()
            }
        )


def describe_model(config):
    """Records the model's resolved configuration (`run.json`'s `model`).

    The plain values of `config` (numbers, strings, lists of them; not
    arrays computed from the data) are what a checkpoint needs to be rebuilt
    as it was trained, `--tune` choices included; checkpoints written later
    in the run carry them (`garden.training.checkpoints`). Outside a recorded
    run, nothing.
    """
    if _current:
        _current[-1].model = {
            name: value for name, value in config.items() if _is_plain(value)
        }


def _is_plain(value):
    if isinstance(value, (list, tuple)):
        return all(_is_plain(item) for item in value)
    return isinstance(value, (str, int, float, bool, type(None)))


def checkpoint_record():
    """What a `.keras` file written in the current run carries: recipe, data, flags."""
    if not _current:
        return {}
    record = _current[-1]
    return {
        "recipe": getattr(record.args, "recipe", None),
        "data": dict(record.data),
        "config": dict(record.model),
        "flags": record.flags,
    }


def log_metrics(split, **values):
    """Adds figures of `split` ("valid", "test", ...) to the current run's record.

    Outside a recorded run (a recipe's function called from Python), nothing.
    """
    if _current:
        metrics = _current[-1].metrics.setdefault(split, {})
        metrics.update({name: float(value) for name, value in values.items()})


def attach_to_export(path):
    """Writes the current run's record as the model card of the export at `path`.

    The SavedModel directory gets `assets.extra/run.json` (beside TF Serving's
    warmup requests), written atomically.
    """
    if _current:
        record = _current[-1]
        record.write(os.path.join(path, "assets.extra", "run.json"))
