"""Word vectors: skip-gram with negative sampling, and fastText subwords.

The flags of `recipes.word_vectors` (the parser's description is the line above).
"""

import os

from garden import cli

PROBES = {
    "ptb": ("money", "stock", "president", "japan", "buy"),
    "imdb": ("movie", "great", "boring", "actor", "funny"),
}
MODELS = ("skipgram", "fasttext")


def _add_corpus_flags(task):
    """`--corpus` and, for your own text, `--text-file`."""
    task.add_argument(
        "--corpus",
        choices=("ptb", "imdb", "text"),
        default="ptb",
        help="text: your own --text-file",
    )
    task.add_argument(
        "--text-file",
        metavar="FILE",
        default=None,
        help="--corpus text: one sentence per line, words split on whitespace; "
        "the last --validation-size lines are held out",
    )


def _add_model_flags(task):
    """The model, its sizes and its sampling of examples."""
    task.add_argument("--model", choices=MODELS, default="skipgram")
    task.add_argument("--dim", type=cli.positive_int, default=100)
    task.add_argument("--window", type=cli.positive_int, default=5)
    task.add_argument("--negatives", type=cli.positive_int, default=5)
    task.add_argument(
        "--sample",
        type=float,
        default=1e-4,
        help="subsampling threshold t (0 keeps every word)",
    )
    task.add_argument("--min-count", type=cli.positive_int, default=5)
    task.add_argument(
        "--buckets",
        type=cli.positive_int,
        default=200_000,
        help="fasttext: hash buckets of the character n-grams",
    )
    task.add_argument("--min-n", type=cli.positive_int, default=3)
    task.add_argument("--max-n", type=cli.positive_int, default=6)


def _add_split_and_output_flags(task):
    """The held-out text, a cap on the training text, what the run shows and writes."""
    task.add_argument(
        "--validation-size",
        type=cli.positive_int,
        default=250,
        help="imdb, text: reviews (lines) held out for the validation loss "
        "(PTB uses its valid split)",
    )
    task.add_argument(
        "--max-sentences",
        type=cli.positive_int,
        default=None,
        help="train on the first this many sentences (reviews) only",
    )
    task.add_argument(
        "--probes",
        nargs="*",
        default=None,
        help="words whose nearest neighbours are shown (default: a few per corpus)",
    )
    task.add_argument(
        "--vectors",
        metavar="FILE",
        default=None,
        help="where the word2vec text file goes (default RUN_DIR/vectors.txt)",
    )


def _check_and_resolve(parser, args):
    """Refuses flags that cannot act together; fills in the probe words."""
    cli.only_with(
        parser,
        args,
        ["--buckets", "--min-n", "--max-n"],
        args.model == "fasttext",
        "--model fasttext",
    )
    cli.only_with(
        parser,
        args,
        ["--validation-size"],
        args.corpus != "ptb",
        "--corpus imdb or text (PTB has its own validation split)",
    )
    if args.optimizer != "sgd":
        parser.error(
            "argument --optimizer: word vectors train with sgd (sparse row "
            "updates and word2vec's linearly falling rate)"
        )
    for flag, given in (
        ("--lr-decay", args.lr_decay is not None),
        ("--clip-norm", args.clip_norm is not None),
    ):
        if given:
            parser.error(
                f"argument {flag}: word vectors train as word2vec does (sgd on "
                "sparse rows, a linearly falling rate, no clipping)"
            )
    if not 0 <= args.sample < 1:
        parser.error(
            f"argument --sample: expected a number in [0, 1), got {args.sample}"
        )
    if args.min_n > args.max_n:
        parser.error(
            f"argument --min-n: expected at most --max-n ({args.max_n}), "
            f"got {args.min_n}"
        )
    if (args.corpus == "text") != (args.text_file is not None):
        parser.error("argument --text-file: expected with --corpus text, and only then")
    if args.text_file is not None and not os.path.isfile(args.text_file):
        parser.error(f"argument --text-file: {args.text_file!r} is not a file")
    if args.probes is None:
        args.probes = list(PROBES.get(args.corpus, ()))


def parse_args(argv=None):
    parser = cli.recipe_parser(
        __doc__.splitlines()[0],
        name="word_vectors",
        epochs=5,
        batch_size=1024,
        optimizer="sgd",
        learning_rate=0.025,
    )
    task = parser.add_argument_group("word vectors")
    _add_corpus_flags(task)
    _add_model_flags(task)
    _add_split_and_output_flags(task)
    args = cli.parse(parser, argv)
    # What `recipes.word_vectors.config_from_hp` searches.
    cli.refuse_searched(parser, args, ("--dim", "--learning-rate"))
    _check_and_resolve(parser, args)
    return args
