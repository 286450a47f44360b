"""Recurrent language models on The Time Machine and the Penn Treebank.

The flags of `recipes.language_model` (the parser's description is the line above).
"""

from garden import cli
from recipes.flags import MAX_LENGTH_LIMIT

BPTT_MODES = ("full", "truncated", "randomized")
# The flags of what `recipes.language_model.config_from_hp` searches
# (`recurrent_from_hp`, `awd_regularization_from_hp`; the embedding's two
# only where there is an embedding).
SEARCHED_MODEL = ("--cell", "--units", "--num-layers", "--dropout")
SEARCHED_REGULARISERS = (
    "--locked-dropout",
    "--embedding-dropout",
    "--weight-dropout",
    "--ar",
    "--tar",
)
SEARCHED_EMBEDDING = ("--embedding-dim", "--tie-weights")
# What a checkpoint given to `--evaluate` fixes: its model, and how it trained.
CHECKPOINT_FIXES = (
    *SEARCHED_MODEL,
    "--embedding-dim",
    "--one-hot",
    "--tie-weights",
    "--residual",
    "--recurrent-dropout",
    "--input-dropout",
    "--hidden-dropout",
    *SEARCHED_REGULARISERS,
    "--nt-asgd",
    "--bptt",
    "--num-steps",
    "--batch-size",
    "--truncation-probability",
)


def _add_model_flags(task):
    """The corpus and its level, the network, its inputs and dropout."""
    task.add_argument("--corpus", choices=("timemachine", "ptb"), default="ptb")
    task.add_argument(
        "--level",
        choices=("char", "word"),
        default=None,
        help="default: char for timemachine, word for ptb",
    )
    task.add_argument("--cell", choices=("rnn", "gru", "lstm"), default="lstm")
    task.add_argument("--units", type=cli.positive_int, default=200)
    task.add_argument("--num-layers", type=cli.positive_int, default=2)
    task.add_argument(
        "--embedding-dim",
        type=int,
        default=None,
        help="default 200 for words, one-hot inputs for characters",
    )
    task.add_argument(
        "--one-hot",
        action="store_true",
        help="one-hot inputs instead of an embedding (the default for characters)",
    )
    task.add_argument(
        "--dropout",
        type=cli.rate,
        default=0.0,
        help="dropout on the top layer's output, and on the embeddings and "
        "between layers unless --input-dropout / --hidden-dropout say otherwise",
    )
    task.add_argument("--recurrent-dropout", type=cli.rate, default=0.0)


def _add_awd_flags(parser):
    """AWD-LSTM's regularisers and NT-ASGD, in a group of their own."""
    awd = parser.add_argument_group(
        "AWD-LSTM regularisation and NT-ASGD (Merity et al., 2017)"
    )
    awd.add_argument(
        "--input-dropout",
        type=cli.rate,
        default=None,
        help="dropout on the embeddings (AWD's dropouti); default --dropout",
    )
    awd.add_argument(
        "--hidden-dropout",
        type=cli.rate,
        default=None,
        help="dropout between recurrent layers (dropouth); default --dropout",
    )
    awd.add_argument(
        "--locked-dropout",
        action="store_true",
        help="--dropout, --input-dropout and --hidden-dropout draw one mask "
        "per sequence, kept at every step (variational / locked dropout)",
    )
    awd.add_argument(
        "--embedding-dropout",
        type=cli.rate,
        default=0.0,
        help="probability of dropping a word's whole embedding (dropoute)",
    )
    awd.add_argument(
        "--weight-dropout",
        type=cli.rate,
        default=0.0,
        help="DropConnect on the hidden-to-hidden weights (wdrop): one mask on "
        "every layer's recurrent kernel per batch",
    )
    awd.add_argument(
        "--ar",
        metavar="ALPHA",
        type=cli.positive_float,
        default=None,
        help="activation regularisation: add ALPHA times the mean square of "
        "the top layer's dropped outputs to the loss",
    )
    awd.add_argument(
        "--tar",
        metavar="BETA",
        type=cli.positive_float,
        default=None,
        help="temporal activation regularisation: add BETA times the mean "
        "square change of the top layer's outputs from step to step",
    )
    awd.add_argument(
        "--nt-asgd",
        metavar="N",
        type=cli.positive_int,
        default=None,
        help="with --optimizer sgd: average the iterates once validation has not "
        "beaten the best of the epochs more than N checks ago (NT-ASGD; paper: "
        "5), and validate, checkpoint and export the average",
    )


def _add_training_flags(task):
    """Weight averaging and tying, BPTT, and how the streams are scored."""
    cli.add_ema_flag(task)
    task.add_argument("--tie-weights", action="store_true")
    task.add_argument("--residual", action="store_true")
    task.add_argument("--bptt", choices=BPTT_MODES, default="truncated")
    task.add_argument("--num-steps", type=cli.positive_int, default=35)
    task.add_argument("--truncation-probability", type=cli.rate, default=0.1)
    task.add_argument(
        "--ngram-orders",
        type=cli.positive_int,
        nargs="*",
        default=[],
        help="n-gram baselines to score on the same streams (e.g. 2 3 4 5)",
    )
    task.add_argument(
        "--eval-rows",
        type=cli.positive_int,
        default=1,
        help="rows the validation and test streams are cut into when scored "
        "(1: every token after the first sees all the text before it, as the "
        "n-gram models do; more is faster, each row starting from a zero state)",
    )
    cli.add_evaluate_flag(
        task,
        "score this .keras checkpoint on the streams (its architecture is "
        "read from the checkpoint; the data flags must be those it was "
        "trained with)",
    )


def _add_generation_flags(task):
    """The prompt to continue and how the continuations are sampled."""
    task.add_argument("--prompt", default=None, help="text to continue")
    task.add_argument(
        "--max-output-length",
        type=cli.bounded_int(MAX_LENGTH_LIMIT),
        default=50,
        help="tokens generated after each prompt",
    )
    task.add_argument("--temperature", type=cli.positive_float, default=0.8)
    task.add_argument("--top-k", type=cli.positive_int, default=10)
    task.add_argument("--top-p", type=cli.positive_float, default=0.9)


def _refuse_flags_that_cannot_act(parser, args):
    """Refuses flags set where they would be ignored, naming what they need."""
    cli.only_with(
        parser,
        args,
        ["--truncation-probability"],
        args.bptt == "randomized",
        "--bptt randomized",
    )
    if args.bptt == "randomized" and args.truncation_probability == 0:
        parser.error(
            "argument --truncation-probability: expected a probability above 0 "
            "with --bptt randomized (0 never truncates: --bptt truncated)"
        )
    cli.only_with(parser, args, ["--top-k", "--top-p"], args.prompt, "--prompt")
    cli.only_with(
        parser,
        args,
        ["--max-output-length", "--temperature"],
        args.prompt or args.export,
        "--prompt or --export (the exported warmup continuations)",
    )
    cli.only_with(
        parser,
        args,
        ["--residual", "--hidden-dropout"],
        args.num_layers > 1,
        "--num-layers 2 or more",
    )
    cli.only_with(
        parser, args, ["--nt-asgd"], args.optimizer == "sgd", "--optimizer sgd"
    )
    # The trigger compares an epoch with the best of those more than N before
    # it (`NonMonotonicTrigger`): the earliest start is after epoch N + 2,
    # and averaging needs an epoch after its start.
    if args.nt_asgd is not None and args.nt_asgd + 2 >= args.epochs:
        parser.error(
            f"argument --nt-asgd: would never act: averaging can start after "
            f"{args.nt_asgd + 2} epochs at the earliest, and --epochs is "
            f"{args.epochs}"
        )
    cli.only_with(
        parser,
        args,
        ["--locked-dropout"],
        args.dropout or args.input_dropout or args.hidden_dropout,
        "a dropout rate (--dropout, --input-dropout or --hidden-dropout)",
    )


def _refuse_searched(parser, args):
    """Refuses, with `--tune`, the flags of what the search picks.

    Those of the optimizer too, and `--nt-asgd`: no searched optimizer is
    NT-ASGD. The embedding's flags count where the model has an embedding.
    """
    embedded = args.embedding_dim is not None or (
        not args.one_hot and args.level == "word"
    )
    cli.refuse_searched(
        parser,
        args,
        (
            "--nt-asgd",
            *cli.SEARCHED_OPTIMIZER_FLAGS,
            *SEARCHED_MODEL,
            *SEARCHED_REGULARISERS,
            *(SEARCHED_EMBEDDING if embedded else ()),
        ),
    )


def _check_and_resolve(parser, args):
    """Fills in the inputs; refuses flags that cannot go together."""
    if args.ema and args.nt_asgd:
        parser.error("argument --ema: not with --nt-asgd (one average of the weights)")
    if args.corpus == "ptb" and args.level == "char":
        parser.error("argument --level: ptb is a word-level corpus, use --level word")
    if args.embedding_dim is not None and args.embedding_dim < 1:
        parser.error(
            "argument --embedding-dim: expected a positive integer (--one-hot for "
            f"one-hot inputs), got {args.embedding_dim}"
        )
    if args.one_hot and args.embedding_dim is not None:
        parser.error("argument --embedding-dim: not with --one-hot")
    if args.embedding_dim is None and not args.one_hot:
        args.one_hot = args.level == "char"
        args.embedding_dim = None if args.one_hot else 200
    for flag in ("--tie-weights", "--embedding-dropout"):
        if getattr(args, flag[2:].replace("-", "_")) and args.one_hot:
            parser.error(
                f"argument {flag}: needs --embedding-dim (the inputs are one-hot)"
            )
    if args.top_p > 1:
        parser.error("argument --top-p: expected a number in (0, 1]")
    if args.prompt is not None and not args.prompt.strip():
        parser.error("argument --prompt: expected a non-empty text")


def parse_args(argv=None):
    parser = cli.recipe_parser(
        __doc__.splitlines()[0], name="language_model", epochs=10
    )
    task = parser.add_argument_group("language model")
    _add_model_flags(task)
    _add_awd_flags(parser)
    _add_training_flags(task)
    _add_generation_flags(task)
    args = cli.parse(parser, argv)
    if args.level is None:  # no other check reads --level as given
        args.level = "char" if args.corpus == "timemachine" else "word"
    cli.refuse_with_evaluate(parser, args, CHECKPOINT_FIXES)
    _refuse_searched(parser, args)
    _refuse_flags_that_cannot_act(parser, args)
    _check_and_resolve(parser, args)
    return args
