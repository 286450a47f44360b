"""One `tf.distribute` strategy per run, chosen by `--strategy`.

Every recipe builds, compiles and fits its model inside `strategy.scope()`, so
the variables are mirrored on every replica and Keras's `fit` splits each
batch between them.

Batch semantics: `--batch-size` is the *global* batch. With N replicas (all
devices of all workers) every step feeds each replica `batch_size / N`
examples and applies the mean of their gradients once, so a step is the same
step as on one device and the learning rate needs no scaling; more replicas
make each step faster, not different. `batch_size` must therefore be a
multiple of N.

- `default`: no distribution (one device, TensorFlow's default strategy).
- `mirrored`: `tf.distribute.MirroredStrategy`, every GPU of this machine (or
  the one CPU when there is none); gradients are all-reduced every step.
- `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy`, the same
  across machines. Each worker runs the same command with a `TF_CONFIG`
  environment variable naming the cluster and its own place in it, e.g.

      TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                  "task": {"type": "worker", "index": 0}}'

  The chief (the `chief` task, or worker 0 when there is none) writes the run
  directory and the export; every other worker writes its checkpoints and
  logs to `<run-dir>/workers/<index>`, so that no two processes write one
  file.

Carried states (the language model's truncated and randomized-truncation
BPTT) do not distribute: the state of batch row i lives on the device that
reads row i, and Keras's stateful layers keep one state for the whole batch.
`check_strategy` refuses that combination with a clear error.
"""

import functools
import json
import os

import keras
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")


def _cluster_spec():
    """The parsed `TF_CONFIG` (`{}` when unset), with errors that name it."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"The TF_CONFIG environment variable is not valid JSON ({error}): {text!r}"
        ) from None
    task = config.get("task", {}) if isinstance(config, dict) else None
    cluster = config.get("cluster", {}) if isinstance(config, dict) else None
    if (
        not isinstance(cluster, dict)
        or not cluster
        or not isinstance(task, dict)
        or task.get("type") not in cluster
        or not isinstance(task.get("index"), int)
        or not 0 <= task["index"] < len(cluster[task["type"]])
    ):
        raise ValueError(
            "The TF_CONFIG environment variable must hold a `cluster` mapping "
            "task types to address lists and a `task` with a `type` from the "
            f"cluster and a valid `index`, got {text!r}."
        )
    return config


def is_chief():
    """Whether this process writes the run's outputs (always, without TF_CONFIG)."""
    config = _cluster_spec()
    if not config:
        return True
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and task["index"] == 0


def task_run_dir(run_dir):
    """This process's own run directory under `run_dir`.

    `run_dir` for the chief; `run_dir/workers/<index>` for any other
    `tf.distribute` worker, and `run_dir/tuners/<id>` for a KerasTuner search
    worker (`KERASTUNER_TUNER_ID` without "chief"), so that no two processes
    share checkpoints, backups or the run's lock.
    """
    tuner = os.environ.get("KERASTUNER_TUNER_ID", "")
    if os.environ.get("KERASTUNER_ORACLE_IP") and tuner and "chief" not in tuner:
        return os.path.join(run_dir, "tuners", tuner)
    if is_chief():
        return run_dir
    task = _cluster_spec()["task"]
    name = str(task["index"])
    if task["type"] != "worker":
        name = f"{task['type']}-{name}"
    return os.path.join(run_dir, "workers", name)


def make_strategy(name):
    """The `tf.distribute.Strategy` that `name` stands for, one per process.

    Create it first in a program, before the data and the model. A second
    call with the same name returns the same strategy: two strategies of one
    kind in one process would number their collective operations alike and
    clash.

    Args:
        name: One of `STRATEGIES`.

    Returns:
        The strategy; use it as `with strategy.scope(): ...`.
    """
    if name not in STRATEGIES:
        raise ValueError(
            "Received an invalid value for argument `strategy`, expected one of "
            f"{list(STRATEGIES)}, got {name!r}."
        )
    return _strategy(name)


@functools.cache
def _strategy(name):
    if name != "default" and keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"Argument `strategy` {name!r} needs the TensorFlow backend, but "
            f"KERAS_BACKEND is {keras.backend.backend()!r}."
        )
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if not _cluster_spec():
        raise ValueError(
            "Argument `strategy` 'multi_worker' needs the TF_CONFIG environment "
            "variable (the cluster and this worker's task in it); it is not set."
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def check_strategy(strategy, batch_size, stateful=False):
    """Refuses a global batch the replicas cannot share, and carried states.

    Args:
        strategy: The run's `tf.distribute.Strategy`.
        batch_size: The global batch size (`--batch-size`).
        stateful: Whether the model carries states across batches.
    """
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            f"Received an invalid value for argument `batch_size`, expected a "
            f"multiple of the {replicas} replicas (it is the global batch), got "
            f"{batch_size}."
        )
    if stateful and replicas > 1:
        raise ValueError(
            "States carried across batches (truncated BPTT) cannot be split "
            f"between {replicas} replicas: use `--bptt full` with a distribution "
            "strategy."
        )


def strategy_from_flags(args, stateful=False):
    """The strategy of `--strategy`, checked against the run's batch and states.

    Call it first in a recipe's run (`garden.training.start.start_run` does):
    `MultiWorkerMirroredStrategy` must exist before TensorFlow runs any
    operation. It reads the flags only; the caller moves a worker other than
    the chief into its own run directory with `task_run_dir`.

    Args:
        args: The parsed recipe flags (`garden.cli.recipe_parser`).
        stateful: Whether the model carries states across batches.

    Returns:
        The `tf.distribute.Strategy`.
    """
    strategy = make_strategy(args.strategy)
    check_strategy(strategy, args.batch_size, stateful=stateful)
    return strategy


def fit_across_workers(model):
    """Lets `model.fit` and `evaluate` run under `MultiWorkerMirroredStrategy`.

    Keras 3 (3.15 and earlier) does not train under that strategy
    (keras-team/keras issue 20585), for two reasons, both worked around here
    for this one model and only under that strategy:

    - It builds a distributed model from its first batch averaged over the
      workers with `strategy.reduce`, which fails for a nested batch. Only
      shapes and dtypes matter to that build, so the model builds from this
      worker's own part of the batch.
    - It averages every step's logs over the workers with
      `strategy.reduce("MEAN", value, axis=0)`, which fails for the scalar
      losses and metrics a step returns. The steps return them as vectors of
      one element, which that reduction averages into the same scalars.

    Args:
        model: A `keras.Model` created under the strategy's scope.

    Returns:
        The model.
    """
    strategy = model.distribute_strategy
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return model

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    def as_vector(value):
        if tf.is_tensor(value) and value.shape.rank == 0:
            return tf.reshape(value, [1])
        return value

    def vector_logs(step):
        return lambda data: tf.nest.map_structure(as_vector, step(data))

    # Instance attributes shadow the methods of this one model only.
    model._maybe_symbolic_build = maybe_symbolic_build
    model.train_step = vector_logs(model.train_step)
    model.test_step = vector_logs(model.test_step)
    return model
