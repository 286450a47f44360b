"""The one start-up of a recipe's run: record, strategy, run directory, precision, seed.

Every recipe's `main` is `run_main(parse_args, run, argv)`, and its `run`
opens with `strategy, policy = start_run(args)`.
"""

import keras

from garden.training.distribute import strategy_from_flags, task_run_dir
from garden.training.precision import set_precision
from garden.training.run_record import recorded


def run_main(parse_args, run, argv=None):
    """Parses the recipe's flags and runs `run(args)` as a recorded run.

    Args:
        parse_args: The recipe's flag parser (`recipes.flags.<recipe>`).
        run: The recipe's run, given the parsed flags.
        argv: The command-line arguments (`sys.argv[1:]` when None).
    """
    args = parse_args(argv)
    with recorded(args, argv):
        run(args)


def start_run(args, stateful=False, bfloat16_pays=False):
    """Sets up a run from its flags; returns its strategy and dtype policy.

    In this order: the `--strategy` strategy (before TensorFlow runs any
    operation, as `MultiWorkerMirroredStrategy` needs), this process's own
    run directory in `args.run_dir` (a worker other than the chief gets its
    own, see `task_run_dir`), the `--precision` dtype policy, then the `--seed`.

    Args:
        args: The parsed recipe flags (`garden.cli.recipe_parser`).
        stateful: Whether the model carries states across batches.
        bfloat16_pays: As in `garden.training.precision.resolve_precision`.

    Returns:
        The `tf.distribute.Strategy` and the name of the dtype policy set.
    """
    strategy = strategy_from_flags(args, stateful=stateful)
    args.run_dir = task_run_dir(args.run_dir)
    policy = set_precision(args.precision, bfloat16_pays=bfloat16_pays)
    keras.utils.set_random_seed(args.seed)
    return strategy, policy
