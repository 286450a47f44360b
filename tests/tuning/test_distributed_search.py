"""A distributed KerasTuner search on loopback: one chief, two workers.

The recipes' `--tune` under KerasTuner's chief/worker environment variables:
the chief's oracle hands out the trials, each worker trains the ones it gets,
and the chief records every score and retrains the best trial.
"""

import glob
import json
import os
import re
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
pytestmark = pytest.mark.skipif(
    not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
)
TUNER_IDS = ("chief", "tuner0", "tuner1")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_chief_and_two_workers_share_the_trials_and_record_the_best(tmp_path):
    flags = [
        "-m", "recipes.sst", "--model", "treernn", "--max-train-trees", "40",
        "--max-test-trees", "20", "--batch-size", "10", "--epochs", "1",
        "--verbose", "2", "--tune", "--tuner", "random", "--max-trials", "2",
        "--tune-dir", str(tmp_path / "search"), "--run-dir", str(tmp_path / "run"),
    ]  # fmt: skip
    oracle = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": ""}
    oracle["KERASTUNER_ORACLE_PORT"] = str(free_port())
    processes = {
        tuner_id: subprocess.Popen(
            [sys.executable, *flags],
            cwd=ROOT,
            env={
                **os.environ,
                **oracle,
                "KERASTUNER_TUNER_ID": tuner_id,
                "TF_CPP_MIN_LOG_LEVEL": "2",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tuner_id in TUNER_IDS
    }
    outputs = {}
    try:
        for tuner_id, process in processes.items():
            outputs[tuner_id] = process.communicate(timeout=300)[0]
    finally:
        for process in processes.values():
            process.kill()
    for tuner_id, process in processes.items():
        assert process.returncode == 0, outputs[tuner_id][-3000:]

    # Each worker trained one of the two trials (one epoch line per trial),
    # then ended; the chief trained none during the search.
    for worker in TUNER_IDS[1:]:
        assert len(re.findall(r"val_root_accuracy: [0-9.]+", outputs[worker])) == 1
        assert f"Tuner {worker}: the search is done." in outputs[worker]
    # The chief's oracle recorded both trials with their scores ...
    trials = [
        json.load(open(path))
        for path in glob.glob(str(tmp_path / "search" / "*" / "trial_*" / "trial.json"))
    ]
    assert sorted(trial["status"] for trial in trials) == ["COMPLETED"] * 2
    best = max(trial["score"] for trial in trials)
    # ... reported the best, and retrained and evaluated it.
    reported = re.findall(r"Best val_root_accuracy So Far: ([0-9.]+)", outputs["chief"])
    assert float(reported[-1]) == pytest.approx(best)
    assert "root fine-grained accuracy" in outputs["chief"]
