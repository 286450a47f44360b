"""Punctuation restoration on IMDb: a BiGRU or BiLSTM tags every word with its mark.

The flags of `recipes.tagging` (the parser's description is the line above).
"""

import argparse

from garden import cli
from recipes.flags import PUNCTUATION_WINDOW, resolve_glove_width


def parse_args(argv=None):
    parser = cli.recipe_parser(
        __doc__.splitlines()[0], name="tagging", epochs=3, batch_size=64
    )
    task = parser.add_argument_group("tagging")
    task.add_argument("--cell", choices=("rnn", "gru", "lstm"), default="gru")
    task.add_argument(
        "--unidirectional",
        action="store_true",
        help="left-to-right layers only (the comparison for the bidirectional model)",
    )
    task.add_argument("--units", type=cli.positive_int, default=256)
    task.add_argument("--num-layers", type=cli.positive_int, default=1)
    task.add_argument(
        "--embedding-dim",
        type=cli.positive_int,
        default=None,
        help="default: 100 for random embeddings, 50 (the only choice) for GloVe",
    )
    task.add_argument(
        "--embeddings",
        choices=("random", "glove"),
        default="random",
        help="glove: GloVe 6B 50d vectors start the embedding, fine-tuned (words "
        "without one start at random)",
    )
    task.add_argument("--dropout", type=cli.rate, default=0.2)
    task.add_argument("--recurrent-dropout", type=cli.rate, default=0.0)
    task.add_argument(
        "--attention-units",
        type=cli.non_negative_int,
        default=0,
        help="Tilk and Alumäe's output: a left-to-right layer that attends over "
        "the top states (a score layer this wide) and fuses the context into "
        "its state; 0 (default) for none",
    )
    task.add_argument("--min-freq", type=cli.positive_int, default=5)
    task.add_argument(
        "--window",
        type=cli.positive_int,
        default=PUNCTUATION_WINDOW,
        help="words per window: training cuts longer texts into consecutive windows",
    )
    task.add_argument(
        "--stride",
        type=cli.positive_int,
        default=None,
        help="after training (mark offsets, test, --punctuate, export), tag texts "
        "in windows starting every this many words, each word labelled by the "
        "window it sits most centrally in; default: half of --window (--stride "
        "equal to --window: consecutive windows, as in training)",
    )
    task.add_argument(
        "--mark-offsets",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after training, add to each mark's logit the offset that maximizes "
        "the validation F1 (folded into the output bias, so the export has it)",
    )
    cli.add_ema_flag(task)
    cli.add_review_sample_flags(task, validation_size=2500)
    task.add_argument(
        "--punctuate",
        metavar="TEXT",
        action="append",
        default=[],
        help="punctuate this text after training (repeatable)",
    )
    cli.add_evaluate_flag(task, "evaluate this .keras checkpoint (same model flags)")
    args = cli.parse(parser, argv)
    # What `recipes.tagging.config_from_hp` searches (`recurrent_from_hp`).
    searched = ("--cell", "--units", "--num-layers", "--dropout")
    # What a checkpoint given to `--evaluate` fixes (it runs in its own precision).
    cli.refuse_with_evaluate(
        parser,
        args,
        (
            *searched,
            "--attention-units",
            "--unidirectional",
            "--embedding-dim",
            "--embeddings",
            "--recurrent-dropout",
            "--precision",
        ),
    )
    # The search draws attention only where the model is bidirectional.
    attention = () if args.unidirectional else ("--attention-units",)
    cli.refuse_searched(
        parser, args, (*cli.SEARCHED_OPTIMIZER_FLAGS, *searched, *attention)
    )
    cli.check_review_sample(parser, args)
    resolve_glove_width(parser, args, random_dim=100)
    if args.stride is None:
        args.stride = max(1, args.window // 2)
    elif args.stride > args.window:
        parser.error(
            f"argument --stride: {args.stride} is longer than --window "
            f"{args.window}; the words between windows would get no label"
        )
    if args.attention_units and args.unidirectional:
        parser.error(
            "argument --attention-units: not with --unidirectional (the attention "
            "reads the whole window, so it would show the words to the right)"
        )
    return args
