"""English-to-French translation: encoder-decoder, attention, beam search, BLEU.

The flags of `recipes.translation` (the parser's description is the line above).
"""

import argparse

from garden import cli

# The flags of what `recipes.translation.config_from_hp` searches.
SEARCHED = ("--cell", "--units", "--embedding-dim", "--num-layers", "--dropout")


def _add_model_flags(task):
    """The encoder-decoder: cell, sizes, dropout, attention, source order."""
    task.add_argument("--cell", choices=("rnn", "gru", "lstm"), default="gru")
    task.add_argument("--units", type=cli.positive_int, default=256)
    task.add_argument("--num-layers", type=cli.positive_int, default=2)
    task.add_argument("--embedding-dim", type=cli.positive_int, default=256)
    task.add_argument("--dropout", type=cli.rate, default=0.2)
    task.add_argument(
        "--attention",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="additive attention over the encoder outputs",
    )
    task.add_argument(
        "--reverse-source", action="store_true", help="read the source backwards"
    )


def _add_data_flags(task):
    """The vocabulary, the pairs kept for training and the seeded split."""
    task.add_argument("--min-freq", type=cli.positive_int, default=2)
    task.add_argument(
        "--max-length",
        type=cli.positive_int,
        default=30,
        help="train and validate on pairs of at most this many tokens a side",
    )
    task.add_argument("--test-size", type=cli.positive_int, default=5000)
    task.add_argument("--validation-size", type=cli.positive_int, default=5000)
    task.add_argument(
        "--split-seed",
        type=int,
        default=0,
        help="seed of the train/validation/test split (not --seed)",
    )
    task.add_argument(
        "--max-train-pairs",
        type=cli.positive_int,
        default=None,
        help="train on the first this many training pairs of the split",
    )


def _add_decoding_flags(task):
    """Beam search, the translations written and asked for, `--evaluate`."""
    task.add_argument("--beam-width", type=cli.bounded_int(16), default=4)
    task.add_argument("--length-penalty", type=cli.positive_float, default=1.0)
    task.add_argument(
        "--translations",
        metavar="FILE",
        default=None,
        help="test translations (TSV); default RUN_DIR/translations.tsv",
    )
    task.add_argument(
        "--translate",
        metavar="TEXT",
        action="append",
        default=[],
        help="translate this English text after training (repeatable)",
    )
    cli.add_evaluate_flag(task)


def parse_args(argv=None):
    parser = cli.recipe_parser(
        __doc__.splitlines()[0],
        name="translation",
        epochs=4,
        batch_size=64,
        clip_norm=1.0,
    )
    task = parser.add_argument_group("translation")
    _add_model_flags(task)
    _add_data_flags(task)
    _add_decoding_flags(task)
    args = cli.parse(parser, argv)
    # What a checkpoint given to `--evaluate` fixes: its model (in its own
    # precision); the batches and the length cut are training's.
    cli.refuse_with_evaluate(
        parser,
        args,
        (
            *SEARCHED,
            "--attention",
            "--reverse-source",
            "--precision",
            "--max-length",
            "--batch-size",
        ),
    )
    cli.refuse_searched(parser, args, (*cli.SEARCHED_OPTIMIZER_FLAGS, *SEARCHED))
    # One beam leaves the penalty nothing to choose, but in the export,
    # whose requests ask for their own width.
    cli.only_with(
        parser,
        args,
        ["--length-penalty"],
        args.beam_width > 1 or args.export,
        "--beam-width 2 or more, or --export (its requests choose the width)",
    )
    if args.max_length < 2:
        parser.error("argument --max-length: expected at least 2 tokens")
    return args
