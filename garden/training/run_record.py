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
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time

from garden.data import sources
from garden.reports import replacing

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


def _history(run_dir):
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
        self.status = "running"

    @property
    def run_dir(self):
        return getattr(self.args, "run_dir", None)

    def as_dict(self):
        """The record as `run.json` holds it."""
        # The flags as the run resolved them (defaults filled in by the recipe).
        flags = {
            name: value
            for name, value in sorted(vars(self.args).items())
            if isinstance(value, (str, int, float, bool, list, type(None)))
        }
        return {
            "command": self.command,
            "flags": flags,
            "status": self.status,
            "metrics": self.metrics,
            "history": _history(self.run_dir) if self.run_dir else [],
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
        with replacing(path) as temporary:
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump(self.as_dict(), file, indent=2, default=str)
                file.write("\n")
        return path


@contextlib.contextmanager
def recorded(args, argv=None):
    """Runs the block as a recorded run; writes `--run-dir/run.json` at its end.

    A run that fails still writes its record, with `status` "failed" and the
    error; a run stopped by a usage error (`SystemExit`) writes none.
    """
    record = RunRecord(args, argv)
    _current.append(record)
    try:
        yield record
        record.status = "finished"
    except SystemExit:
        record.status = None
        raise
    except BaseException as error:
        record.status = f"failed: {type(error).__name__}: {error}"[:500]
        raise
    finally:
        _current.remove(record)
        if record.status and record.run_dir:
            record.write(os.path.join(record.run_dir, "run.json"))


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
