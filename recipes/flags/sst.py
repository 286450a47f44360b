"""Recursive networks on the Stanford Sentiment Treebank, with a BiLSTM to compare.

The flags of `recipes.sst` (the parser's description is the line above).
"""

from garden import cli
from recipes.flags import SST_MODELS, TREE_MODELS, resolve_glove_width


def _add_sample_flags(task):
    """Seeded samples of the training and test trees, and `--evaluate`."""
    task.add_argument(
        "--max-train-trees",
        type=cli.positive_int,
        default=None,
        help="train on N training trees (and as many dev trees) drawn with "
        "--seed; the files are ordered by sentiment, so not the first N",
    )
    task.add_argument(
        "--max-test-trees",
        type=cli.positive_int,
        default=None,
        help="evaluate on N test trees drawn with --seed",
    )
    cli.add_evaluate_flag(task)


def _check_and_resolve(parser, args):
    """Refuses flags the chosen model ignores; fills in the embedding width."""
    cli.only_with(
        parser,
        args,
        ["--schedule"],
        args.model != "bilstm",
        "a tree model (--model " + " or ".join(TREE_MODELS) + ")",
    )
    resolve_glove_width(parser, args, random_dim=args.units)
    if args.bilm and args.model != "bilstm":
        parser.error("argument --bilm: only for --model bilstm")


def parse_args(argv=None):
    parser = cli.recipe_parser(
        __doc__.splitlines()[0],
        name="sst",
        epochs=15,
        batch_size=25,
        learning_rate=2e-3,
        patience=4,
    )
    task = parser.add_argument_group("sst")
    task.add_argument("--model", choices=SST_MODELS, default="treelstm")
    task.add_argument("--units", type=cli.positive_int, default=150)
    cli.add_embedding_flags(
        task, random_dim="--units", embeddings="glove", bilm_model="bilstm"
    )
    task.add_argument("--dropout", type=cli.rate, default=0.5)
    task.add_argument(
        "--schedule",
        choices=("compact", "dense"),
        default="compact",
        help="tree models: compose only each level's nodes, or every node (XLA)",
    )
    _add_sample_flags(task)
    args = cli.parse(parser, argv)
    # What a checkpoint given to `--evaluate` fixes (it runs in its own precision).
    cli.refuse_with_evaluate(
        parser,
        args,
        (
            "--precision",
            "--units",
            "--embedding-dim",
            "--embeddings",
            "--freeze-embeddings",
            "--bilm",
            "--dropout",
            "--schedule",
        ),
    )
    # What `recipes.sst.config_from_hp` searches.
    cli.refuse_searched(
        parser, args, (*cli.SEARCHED_OPTIMIZER_FLAGS, "--units", "--dropout")
    )
    _check_and_resolve(parser, args)
    return args
