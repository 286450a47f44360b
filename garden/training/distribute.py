"""One `tf.distribute` strategy per run, chosen by `--strategy`.

Every recipe builds, compiles and fits its model inside `strategy.scope()`, so
the variables are mirrored on every replica and Keras's `fit` splits each
batch between them.

Batch semantics: `--batch-size` is the *global* batch. With N replicas (the
devices mirrored over) every step feeds each replica `batch_size / N`
examples and applies the mean of their gradients once, so a step is the same
step as on one device and the learning rate needs no scaling; more replicas
make each step faster, not different. `batch_size` must therefore be a
multiple of N.

- `default`: no distribution (one device, TensorFlow's default strategy).
- `mirrored`: `tf.distribute.MirroredStrategy`, every GPU of this machine (or
  the one CPU when there is none); gradients are all-reduced every step.
- `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy` (machines
  named by `TF_CONFIG`) is refused with an explanation: Keras 3's `Model.fit`
  cannot train under it yet (keras-team/keras issue 20585: the first batch and
  every step's logs are reduced over the workers in ways that strategy
  rejects), and a run that failed on its first step would waste a cluster.

Carried states (the language model's truncated and randomized-truncation
BPTT) do not distribute: the state of batch row i lives on the device that
reads row i, and Keras's stateful layers keep one state for the whole batch.
`check_strategy` refuses that combination with a clear error.
"""

import functools

import keras
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")


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
    raise ValueError(
        "Argument `strategy` 'multi_worker' is not supported: Keras 3's "
        "`Model.fit` fails under `tf.distribute.MultiWorkerMirroredStrategy` "
        "(keras-team/keras issue 20585). Use 'mirrored' for the devices of one "
        "machine."
    )


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

    Call it first in a recipe's `main`.

    Args:
        args: The parsed recipe flags (`garden.cli.recipe_parser`).
        stateful: Whether the model carries states across batches.

    Returns:
        The `tf.distribute.Strategy`.
    """
    strategy = make_strategy(args.strategy)
    check_strategy(strategy, args.batch_size, stateful=stateful)
    return strategy
