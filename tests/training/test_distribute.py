"""`--strategy`: the choices, the batch checks, and a real mirrored run.

The mirrored run happens in a fresh process: the CPU is split into two
logical devices, and that must be done before TensorFlow starts.
"""

import csv
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from garden.training import distribute

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
needs_data = pytest.mark.skipif(
    not os.environ.get("GARDEN_DATA"), reason="needs the corpora in $GARDEN_DATA"
)


def test_strategies_are_named_and_multi_worker_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="argument `strategy`"):
        distribute.make_strategy("parameter_server")
    with pytest.raises(ValueError, match="keras-team/keras issue 20585"):
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
         "--batch-size", "32", "--num-steps", "16", "--bptt", "full"],
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
