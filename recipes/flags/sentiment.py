"""Sentiment analysis on IMDb: BiRNN, TextCNN, ULMFiT and bag-of-words baselines.

The flags of `recipes.sentiment` (the parser's description is the line above).
"""

import argparse
import os

from garden import cli
from recipes.flags import BAG_OF_WORDS_MODES, CLASSIFIERS, GLOVE_DIMENSION

DEFAULT_DROPOUT = {
    "bow": 0.0,
    "nbsvm": 0.0,
    "birnn": 0.2,
    "textcnn": 0.5,
    "ulmfit": 0.3,
}
# The optimizers ULMFiT's layer-wise rates exist for (garden.training.finetuning).
ULMFIT_OPTIMIZERS = ("adam", "sgd", "momentum")


def _add_model_flags(task):
    """The classifier and the options of each model."""
    task.add_argument("--model", choices=CLASSIFIERS, default="birnn")
    task.add_argument("--cell", choices=("rnn", "gru", "lstm"), default="lstm")
    task.add_argument("--units", type=cli.positive_int, default=100)
    task.add_argument("--num-layers", type=cli.positive_int, default=2)
    cli.add_embedding_flags(
        task,
        random_dim=100,
        word2vec_files=True,
        bilm_model="birnn or ulmfit",
        bilm_use="birnn: its mixed layers (ELMo) join the word vectors; ulmfit "
        "(required): the language model it fine-tunes",
    )
    task.add_argument(
        "--multichannel",
        action="store_true",
        help="textcnn: a frozen and a fine-tuned embedding channel",
    )
    task.add_argument("--filters", type=cli.positive_int, default=100)
    task.add_argument(
        "--dropout",
        type=cli.rate,
        default=None,
        help="default: 0.5 textcnn, 0.3 ulmfit, 0.2 birnn",
    )
    task.add_argument("--recurrent-dropout", type=cli.rate, default=0.0)
    task.add_argument(
        "--weight-dropout",
        type=cli.rate,
        default=0.0,
        help="ulmfit: DropConnect on the LSTMs' hidden-to-hidden weights "
        "(AWD-LSTM's wdrop), one mask per batch",
    )
    task.add_argument(
        "--discriminative-decay",
        type=cli.positive_float,
        default=2.6,
        help="ulmfit: each layer group learns this many times slower than the "
        "one above it (1: one rate for all)",
    )
    task.add_argument(
        "--gradual-unfreezing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ulmfit: train the head alone in the first epoch, then unfreeze one "
        "more layer group, from the top, every epoch",
    )
    task.add_argument(
        "--pretraining",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ulmfit: start from --bilm's trained weights; --no-pretraining "
        "keeps its layers and vocabulary but draws fresh weights (the ablation "
        "without a pretrained language model)",
    )
    task.add_argument(
        "--bag",
        choices=BAG_OF_WORDS_MODES,
        default="multi_hot",
        help="bow: the features of the logistic regression",
    )
    task.add_argument(
        "--bigram-min-count",
        type=cli.positive_int,
        default=2,
        help="nbsvm: keep the bigrams seen at least this often in training",
    )
    cli.add_ema_flag(task)


def _add_data_and_output_flags(task):
    """The reviews as read, their samples, and the predictions written and asked for."""
    task.add_argument("--min-freq", type=cli.positive_int, default=5)
    task.add_argument("--max-length", type=cli.positive_int, default=500)
    task.add_argument(
        "--bucket", action="store_true", help="batch reviews of similar length"
    )
    cli.add_review_sample_flags(task, validation_size=2500)
    task.add_argument(
        "--split-seed",
        type=int,
        default=None,
        help="seed of the validation hold-out and the review samples (default: "
        "--seed); fixed, an ensemble's members can train with other seeds",
    )
    task.add_argument(
        "--predictions",
        metavar="FILE",
        default=None,
        help="per-review test predictions (TSV); default RUN_DIR/predictions.tsv",
    )
    task.add_argument(
        "--predict",
        metavar="TEXT",
        action="append",
        default=[],
        help="classify this text after training or --evaluate (repeatable; "
        "with --ensemble, their mean)",
    )
    cli.add_evaluate_flag(task)
    task.add_argument(
        "--ensemble",
        metavar="CHECKPOINT",
        nargs="+",
        action="extend",
        type=cli.existing_file,
        default=[],
        help="with --evaluate: score the mean P(positive) of its checkpoint and "
        "these (the same model, trained on the same data and hold-out; each "
        "reads as many tokens as its --max-length in training)",
    )


def _check_ensemble(parser, args):
    """`--ensemble` scores saved checkpoints together, each once."""
    cli.only_with(parser, args, ["--ensemble"], bool(args.evaluate), "--evaluate")
    if args.ensemble and args.export:
        parser.error(
            "argument --ensemble: not with --export, which serves one checkpoint"
        )
    seen = {os.path.realpath(args.evaluate)} if args.evaluate else set()
    for path in args.ensemble:
        real = os.path.realpath(path)
        if real in seen:
            parser.error(
                f"argument --ensemble: {path!r} is given twice (it would count "
                "twice in the mean)"
            )
        seen.add(real)


def _refuse_other_models_flags(parser, args):
    """Each model's options, refused with another model rather than ignored."""
    for flags, models in (
        (["--cell", "--units", "--num-layers", "--recurrent-dropout"], ["birnn"]),
        (["--filters", "--multichannel"], ["textcnn"]),
        (["--bag"], ["bow"]),
        (["--bigram-min-count"], ["nbsvm"]),
        (["--dropout"], ["birnn", "textcnn", "nbsvm", "ulmfit"]),
        (
            [
                "--discriminative-decay",
                "--gradual-unfreezing",
                "--pretraining",
                "--weight-dropout",
            ],
            ["ulmfit"],
        ),
        (
            ["--embeddings", "--embedding-dim", "--freeze-embeddings"],
            ["birnn", "textcnn"],
        ),
    ):
        cli.only_with(
            parser, args, flags, args.model in models, "--model " + " or ".join(models)
        )
    if args.multichannel and args.freeze_embeddings:
        parser.error(
            "argument --freeze-embeddings: not with --multichannel, whose "
            "channels are one frozen and one fine-tuned"
        )


# What a checkpoint given to `--evaluate` fixes: its model (in its own
# precision), and how it trained.
CHECKPOINT_FIXES = (
    "--precision",
    "--cell",
    "--units",
    "--num-layers",
    "--embedding-dim",
    "--embeddings",
    "--freeze-embeddings",
    "--multichannel",
    "--filters",
    "--dropout",
    "--recurrent-dropout",
    "--weight-dropout",
    "--discriminative-decay",
    "--gradual-unfreezing",
    "--pretraining",
    "--bag",
    "--bigram-min-count",
    "--bucket",
)


# The flags of what `recipes.sentiment.config_from_hp` searches, by model
# (ULMFiT is not searched); the embedding's width too with random embeddings.
SEARCHED = {
    "bow": (),
    "nbsvm": ("--dropout",),
    "birnn": ("--units", "--num-layers", "--dropout"),
    "textcnn": ("--filters", "--dropout"),
}


def _refuse_searched(parser, args):
    """Refuses, with `--tune`, the flags of what the search picks."""
    if args.model not in SEARCHED:
        return
    embedding = ()
    if args.model in ("birnn", "textcnn") and args.embeddings == "random":
        embedding = ("--embedding-dim",)
    cli.refuse_searched(
        parser,
        args,
        (*cli.SEARCHED_OPTIMIZER_FLAGS, *SEARCHED[args.model], *embedding),
    )


def _check_and_resolve(parser, args):
    """Fills in dropout, embedding width and hold-out seed; refuses what cannot act."""
    if args.dropout is None:
        args.dropout = DEFAULT_DROPOUT[args.model]
    if args.split_seed is None:
        args.split_seed = args.seed
    pretrained_dim = None
    if args.embeddings == "glove":
        pretrained_dim = GLOVE_DIMENSION
    elif args.embeddings != "random":
        if not os.path.isfile(args.embeddings):
            parser.error(
                "argument --embeddings: expected random, glove or a word2vec text "
                f"file, got {args.embeddings!r} (not a file)"
            )
        # Here only: the garden's data package loads TensorFlow.
        from garden.data.embeddings import word_vectors_dimension

        try:
            pretrained_dim = word_vectors_dimension(args.embeddings)
        except (ValueError, UnicodeDecodeError) as error:
            parser.error(f"argument --embeddings: {error}")
    if pretrained_dim and args.embedding_dim not in (None, pretrained_dim):
        parser.error(
            f"argument --embedding-dim: the {args.embeddings} vectors have "
            f"{pretrained_dim}"
        )
    if args.embedding_dim is None:
        args.embedding_dim = pretrained_dim or 100
    if args.bilm and args.model not in ("birnn", "ulmfit"):
        parser.error("argument --bilm: only for --model birnn or ulmfit")
    if args.model == "ulmfit":
        _check_ulmfit(parser, args)
    cli.check_review_sample(parser, args)


def _check_ulmfit(parser, args):
    """ULMFiT fine-tunes a biLM on its own schedule and layer-wise optimizer."""
    if not args.bilm:
        parser.error(
            "argument --model: ulmfit fine-tunes a language model; give its "
            "biLM with --bilm (a .keras file from recipes.bilm)"
        )
    if args.discriminative_decay < 1:
        parser.error(
            "argument --discriminative-decay: expected a number of at least 1, "
            f"got {args.discriminative_decay}"
        )
    if args.optimizer not in ULMFIT_OPTIMIZERS:
        parser.error(
            f"argument --optimizer: ulmfit trains with {', '.join(ULMFIT_OPTIMIZERS)} "
            f"(layer-wise rates), got {args.optimizer}"
        )
    for flag, given in (
        ("--lr-decay", args.lr_decay is not None),
        ("--tune", args.tune),
    ):
        if given:
            parser.error(
                f"argument {flag}: not with --model ulmfit, whose rate follows "
                "the slanted triangular schedule that peaks at --learning-rate "
                "and whose layer groups train by its own fine-tuning rules"
            )


def parse_args(argv=None):
    parser = cli.recipe_parser(
        __doc__.splitlines()[0], name="sentiment", epochs=5, batch_size=64
    )
    task = parser.add_argument_group("sentiment")
    _add_model_flags(task)
    _add_data_and_output_flags(task)
    args = cli.parse(parser, argv)
    _refuse_other_models_flags(parser, args)
    # ULMFiT's export rebuilds the classifier from --bilm; the BiRNN's
    # checkpoint holds its biLM.
    cli.refuse_with_evaluate(
        parser,
        args,
        (*CHECKPOINT_FIXES, *(() if args.model == "ulmfit" else ("--bilm",))),
    )
    _check_ensemble(parser, args)
    _refuse_searched(parser, args)
    _check_and_resolve(parser, args)
    return args
