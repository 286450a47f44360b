"""`--strategy`: TF_CONFIG roles, batch checks, and real distributed runs.

The distributed runs happen in fresh processes: the CPU is split into two
logical devices, or a `MultiWorkerMirroredStrategy` is made, before
TensorFlow starts.
"""

import csv
import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from garden import layers  # noqa: F401  (registers the layers load_model reads)
from garden.training import distribute

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
needs_data = pytest.mark.skipif(
    not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
)


def tf_config(task_type, index, cluster=None):
    cluster = cluster or {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_without_tf_config_this_process_is_the_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.is_chief()
    assert distribute.task_run_dir("runs/x") == "runs/x"


def test_worker_zero_is_chief_unless_the_cluster_names_one(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", 0))
    assert distribute.is_chief()
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", 1))
    assert not distribute.is_chief()
    assert distribute.task_run_dir("runs/x") == os.path.join("runs/x", "workers", "1")
    with_chief = {"chief": ["127.0.0.1:3"], "worker": ["127.0.0.1:1"]}
    monkeypatch.setenv("TF_CONFIG", tf_config("worker", 0, with_chief))
    assert not distribute.is_chief()
    assert distribute.task_run_dir("r") == os.path.join("r", "workers", "0")
    monkeypatch.setenv("TF_CONFIG", tf_config("chief", 0, with_chief))
    assert distribute.is_chief()


def test_each_search_worker_has_its_own_run_dir(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner1")
    assert distribute.task_run_dir("r") == os.path.join("r", "tuners", "tuner1")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    assert distribute.task_run_dir("r") == "r"
    monkeypatch.delenv("KERASTUNER_ORACLE_IP")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner1")
    assert distribute.task_run_dir("r") == "r"  # no search: the variable is moot


@pytest.mark.parametrize(
    "value, message",
    [
        ("{not json", "not valid JSON"),
        ('{"cluster": {"worker": ["a:1"]}}', "must hold a `cluster`"),
        (tf_config("worker", 2), "must hold a `cluster`"),
        (tf_config("ps", 0), "must hold a `cluster`"),
    ],
)
def test_a_malformed_tf_config_is_named(monkeypatch, value, message):
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(ValueError, match="TF_CONFIG") as error:
        distribute.is_chief()
    assert message in str(error.value)


def test_strategies_are_named_and_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="argument `strategy`"):
        distribute.make_strategy("parameter_server")
    with pytest.raises(ValueError, match="TF_CONFIG environment variable"):
        distribute.make_strategy("multi_worker")
    assert distribute.make_strategy("mirrored") is distribute.make_strategy("mirrored")


class _Replicas:
    def __init__(self, count):
        self.num_replicas_in_sync = count


def test_the_global_batch_must_split_evenly_and_states_cannot_be_split():
    distribute.check_strategy(_Replicas(2), 32)
    distribute.check_strategy(_Replicas(1), 7, stateful=True)
    with pytest.raises(ValueError, match="multiple of the 2 replicas"):
        distribute.check_strategy(_Replicas(2), 31)
    with pytest.raises(ValueError, match="--bptt full"):
        distribute.check_strategy(_Replicas(2), 32, stateful=True)


def test_the_default_strategy_is_tensorflows_own():
    strategy = distribute.make_strategy("default")
    assert strategy.num_replicas_in_sync == 1
    with strategy.scope():
        assert keras.layers.Dense(2).dtype_policy.name == "float32"


def run_python(args, env=None, timeout=300):
    """Runs `python args` from the repository root; returns its stdout."""
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def history(run_dir):
    with open(os.path.join(run_dir, "history.csv")) as file:
        return list(csv.DictReader(file))


def losses(run_dir):
    return np.array(
        [[float(row["loss"]), float(row["val_loss"])] for row in history(run_dir)]
    )


# Each recipe's tiny run, and how closely the mirrored loss curve follows the
# default one. Both models weigh their losses (padding masked; SST by node):
# each replica normalises by the weight of its half-batch before the halves
# are averaged, so a half-batch with fewer tokens or nodes counts a little
# more. Sentences of similar length (the LM) barely move the curve; trees of
# 10 to 50 nodes split into halves of 5 trees move it by about 1%.
TINY = {
    "recipes.language_model": (
        ["--corpus", "timemachine", "--units", "16", "--num-layers", "1",
         "--batch-size", "64", "--num-steps", "32", "--bptt", "full"],
        2e-3,
    ),
    "recipes.sst": (
        ["--model", "treelstm", "--max-train-trees", "40", "--max-test-trees",
         "20", "--units", "8", "--batch-size", "10", "--dropout", "0"],
        3e-2,
    ),
}  # fmt: skip


@needs_data
def test_mirrored_over_two_devices_follows_the_default_loss_curve(tmp_path):
    runs = [
        [
            module,
            [*flags, "--epochs", "2", "--verbose", "0", "--strategy", strategy,
             "--optimizer", "sgd", "--learning-rate", "1",
             "--run-dir", str(tmp_path / module / strategy)],
        ]
        for module, (flags, _) in TINY.items()
        for strategy in ("default", "mirrored")
    ]  # fmt: skip
    output = run_python(["-m", "tests.training.run_recipe", "2", json.dumps(runs)])
    assert output.count("2 replica(s)") == len(TINY)
    for module, (_, tolerance) in TINY.items():
        default = losses(tmp_path / module / "default")
        mirrored = losses(tmp_path / module / "mirrored")
        assert default.shape == (2, 2)
        assert default[1, 0] < 0.97 * default[0, 0], module  # it learns
        # The same global batches and the mean of the replicas' gradients
        # (plain SGD, so a wrongly scaled gradient would show).
        np.testing.assert_allclose(mirrored, default, rtol=tolerance, err_msg=module)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@needs_data
def test_two_workers_on_loopback_train_an_epoch_and_agree(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    flags, _ = TINY["recipes.language_model"]
    command = [
        sys.executable, "-m", "recipes.language_model", *flags, "--epochs", "1",
        "--verbose", "0", "--strategy", "multi_worker",
        "--run-dir", str(tmp_path / "run"), "--export", str(tmp_path / "export"),
    ]  # fmt: skip
    processes = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env={
                **os.environ,
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "TF_CONFIG": json.dumps(
                    {
                        "cluster": {"worker": workers},
                        "task": {"type": "worker", "index": index},
                    }
                ),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for index in range(2)
    ]
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=300)[0])
    finally:
        for process in processes:
            process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
        assert "2 replica(s)" in output
    chief, worker = tmp_path / "run", tmp_path / "run" / "workers" / "1"
    assert len(history(chief)) == len(history(worker)) == 1
    assert losses(chief) == pytest.approx(losses(worker), rel=1e-6)
    # The gradients were all-reduced: both workers hold the same weights.
    weights = [
        keras.saving.load_model(path / "best.keras").get_weights()
        for path in (chief, worker)
    ]
    for ours, theirs in zip(*weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    # Only the chief exports.
    assert sorted(os.listdir(tmp_path / "export" / "language_model")) == [
        "1",
        "1.keras",
    ]
