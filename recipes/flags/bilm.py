"""A bidirectional LSTM language model on IMDb reviews, for ELMo features.

The flags of `recipes.bilm` (the parser's description is the line above).
"""

from garden import cli


def parse_args(argv=None):
    parser = cli.recipe_parser(
        __doc__.splitlines()[0], name="bilm", epochs=1, batch_size=64, clip_norm=1.0
    )
    task = parser.add_argument_group("biLM")
    task.add_argument("--embedding-dim", type=cli.positive_int, default=128)
    task.add_argument("--units", type=cli.positive_int, default=256)
    task.add_argument("--num-layers", type=cli.positive_int, default=2)
    task.add_argument("--dropout", type=cli.rate, default=0.0)
    task.add_argument(
        "--max-tokens",
        type=cli.positive_int,
        default=20_000,
        help="vocabulary size, reserved tokens included; the rest are <unk>",
    )
    task.add_argument("--num-steps", type=cli.positive_int, default=50)
    task.add_argument(
        "--sampled-softmax",
        type=cli.positive_int,
        default=None,
        metavar="S",
        help="train on a sampled softmax of S log-uniform draws per batch "
        "(the softmax over the vocabulary is most of a step on a CPU); "
        "validation and the reported perplexity use the full softmax",
    )
    task.add_argument(
        "--steps-per-epoch",
        type=cli.positive_int,
        default=None,
        help="epochs of this many batches, each drawn in a fresh random order "
        "from all windows, so a long run is validated and checkpointed often",
    )
    cli.add_review_sample_flags(task, validation_size=500, test=False)
    cli.add_evaluate_flag(
        task, "report the held-out perplexity of this .keras biLM (same data flags)"
    )
    args = cli.parse(parser, argv)
    if args.tune:
        parser.error(
            "argument --tune: the biLM has no search space (its size is set by "
            "its flags; tune the downstream model instead)"
        )
    # What a checkpoint given to `--evaluate` fixes: its model (in its own
    # precision), and how it trained.
    cli.refuse_with_evaluate(
        parser,
        args,
        (
            "--precision",
            "--embedding-dim",
            "--units",
            "--num-layers",
            "--dropout",
            "--sampled-softmax",
            "--steps-per-epoch",
        ),
    )
    cli.check_review_sample(parser, args)
    if args.max_tokens <= 4:
        parser.error("argument --max-tokens: expected more than the 4 reserved tokens")
    if args.sampled_softmax and args.sampled_softmax >= args.max_tokens:
        parser.error(
            "argument --sampled-softmax: expected fewer samples than --max-tokens "
            f"({args.max_tokens}), got {args.sampled_softmax}"
        )
    if args.export:
        parser.error(
            "argument --export: the biLM is not served on its own; it is exported "
            "inside the sentiment and SST models trained with --bilm"
        )
    return args
