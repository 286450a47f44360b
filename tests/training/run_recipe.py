"""Runs recipes' `main` on a CPU split into logical devices (a test helper).

    python -m tests.training.run_recipe DEVICES RUNS_JSON

splits the machine's CPU into DEVICES logical devices before TensorFlow
starts, so that `--strategy mirrored` has DEVICES replicas to mirror over
without a GPU, then calls `module.main(flags)` for each `[module, flags]` of
the JSON list RUNS_JSON, in order, in this one process.
"""

import importlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402


def main(argv):
    devices, runs = argv
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * int(devices)
    )
    for module, flags in json.loads(runs):
        importlib.import_module(module).main(flags)


if __name__ == "__main__":
    main(sys.argv[1:])
