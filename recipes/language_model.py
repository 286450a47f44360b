r"""Recurrent language models on The Time Machine and the Penn Treebank.

Trains a character- or word-level language model (garden RNN, GRU or LSTM,
one or more layers, dropout, optional weight tying, and AWD-LSTM's
regularisers and NT-ASGD, Merity et al. 2017) with one of the three ways the
lectures teach backpropagation through time:

    full        every sentence (line) is one sequence, padded, loss masked
    truncated   a stateful model reads the stream in windows of --num-steps;
                the state carries on, gradients stop at window boundaries
    randomized  as truncated, plus truncation at random steps with the
                surviving gradients rescaled (Tallec and Ollivier, 2017)

It reports perplexity on train, validation and test (the stream read in order
with the state carried along), n-gram baselines on the same token streams,
samples from a prompt (greedy, temperature, top-k, top-p), and can tune
(KerasTuner) and export a SavedModel that takes raw text. On the Penn
Treebank, a 2 x 200 LSTM trained with truncated BPTT for 8 epochs reaches a
test perplexity of 112.48 (the Kneser-Ney 5-gram: 141.06):

    python -m recipes.language_model --corpus ptb --bptt truncated --units 200 \
      --num-layers 2 --embedding-dim 200 --batch-size 20 --num-steps 35 \
      --optimizer sgd --learning-rate 35 --clip-norm 0.143 --lr-decay 0.5 \
      --lr-decay-start 4 --epochs 8 --ngram-orders 5

Every result and its command are in docs/language_model.md.
"""

import math

import keras
import numpy as np

from garden import data
from garden.data.language_model import tokens_needed
from garden.data.splits import split_time_machine
from garden.decoding import generate
from garden.errors import UserError
from garden.export import export_language_model
from garden.models import NGramLanguageModel
from garden.models.language_model import (
    build_language_model,
    compile_language_model,
    generation_model,
    language_model_config,
    stream_perplexity,
    zero_states,
)
from garden.training import (
    fit_from_flags,
    is_chief,
    optimizer_from_flags,
)
from garden.training.checkpoints import load_for_evaluation
from garden.training.run_record import (
    attach_to_export,
    describe_data,
    history_rows,
    log_metrics,
)
from garden.training.start import run_main, start_run
from garden.tuning import optimizer_from_hp, recurrent_from_hp, search
from garden.tuning.search import awd_regularization_from_hp
from recipes.flags.language_model import BPTT_MODES as BPTT_MODES
from recipes.flags.language_model import parse_args


def load_corpus(args):
    """Texts per split and the tokenizer: the recipe's only corpus-specific part."""
    if args.corpus == "ptb":
        splits = {split: data.load_ptb(split) for split in ("train", "valid", "test")}
        return splits, data.WordTokenizer("whitespace"), True
    splits = {
        split: [text]
        for split, text in split_time_machine(data.load_time_machine()).items()
    }
    if args.level == "char":
        return splits, data.CharacterTokenizer("letters_only"), False
    return splits, data.WordTokenizer("letters_only"), False


def model_config(args, vocab_size):
    return {
        "vocab_size": vocab_size,
        "cell": args.cell,
        "units": args.units,
        "num_layers": args.num_layers,
        "embedding_dim": args.embedding_dim,
        "dropout": args.dropout,
        "recurrent_dropout": args.recurrent_dropout,
        "tie_weights": args.tie_weights,
        "residual": args.residual,
        "input_dropout": args.input_dropout,
        "hidden_dropout": args.hidden_dropout,
        "locked_dropout": args.locked_dropout,
        "embedding_dropout": args.embedding_dropout,
        "weight_dropout": args.weight_dropout,
        "activation_regularization": args.ar or 0.0,
        "temporal_activation_regularization": args.tar or 0.0,
    }


def training_options(args):
    """What the BPTT mode changes in the model: state carrying, truncation, masks."""
    if args.bptt == "full":
        return {"mask_zero": True}
    options = {"stateful": True, "batch_size": args.batch_size}
    if args.bptt == "randomized":
        options["random_truncation"] = args.truncation_probability
    return options


def datasets(args, texts, tokenizer, vocabulary, streams):
    windowed = ["valid"] if args.bptt == "full" else ["train", "valid"]
    needed = tokens_needed(args.batch_size, args.num_steps)
    for split in windowed:
        if len(streams[split]) < needed:
            raise UserError(
                f"argument --batch-size: the {split} stream has "
                f"{len(streams[split]):,} tokens, fewer than the {needed:,} that "
                f"--batch-size {args.batch_size} and --num-steps {args.num_steps} "
                "need; lower either"
            )
    valid = data.partition_sequential(
        streams["valid"], args.batch_size, args.num_steps, random_offset=False
    )
    if args.bptt == "full":
        # Whole sentences for PTB (one per line), whole lines of the novel.
        sentences = [line for text in texts["train"] for line in text.splitlines()]
        train = data.sentence_dataset(
            sentences, tokenizer, vocabulary, args.batch_size, seed=args.seed
        )
    else:
        train = data.partition_sequential(
            streams["train"], args.batch_size, args.num_steps, seed=args.seed
        )
    return train, valid


def config_from_hp(hp, base_config):
    """The recipe's search space: model size, cell, dropout, embedding, AWD."""
    embeddings = bool(base_config["embedding_dim"])
    config = {
        **base_config,
        **recurrent_from_hp(hp),
        **awd_regularization_from_hp(hp, embeddings=embeddings),
    }
    if embeddings:
        config["embedding_dim"] = hp.Int("embedding_dim", 64, 512, step=64)
        config["tie_weights"] = hp.Boolean("tie_weights")
    return config


def tuned_config(args, base_config, train, valid):
    """Runs the KerasTuner search; returns the best config and its fresh model."""

    def build(hp):
        config = config_from_hp(hp, base_config)
        model = build_language_model(**config, **training_options(args))
        # The weight average is searched as `--ema` sets it (not NT-ASGD's).
        return compile_language_model(model, optimizer_from_hp(hp, averaging=True))

    best, hypermodel = search(
        args,
        build,
        "val_perplexity",
        "min",
        f"{args.corpus}_{args.level}_{args.bptt}",
        train,
        valid,
        stateful=args.bptt != "full",
        averaging=True,
    )
    return config_from_hp(best, base_config), hypermodel.build(best)


def fit(args, config, train, valid):
    """Trains (after a search with `--tune`); returns config, model and history."""
    if args.tune:
        config, model = tuned_config(args, config, train, valid)
    else:
        model = build_language_model(**config, **training_options(args))
        optimizer = optimizer_from_flags(args, averaged=args.nt_asgd is not None)
        compile_language_model(model, optimizer)
    history = fit_from_flags(
        model,
        args,
        train,
        valid,
        "val_perplexity",
        stateful=args.bptt != "full",
        nt_asgd=args.nt_asgd,
    )
    return config, model, history


def report_ngrams(orders, streams, vocab_size, verbose):
    # A progress bar over fitting and scoring (long on PTB), then the table.
    progress = keras.utils.Progbar(
        len(orders) * (1 + len(streams)), verbose=verbose, unit_name="step"
    )
    table = []
    for order in orders:
        ngram = NGramLanguageModel(order).fit(streams["train"], vocab_size)
        progress.add(1)
        row = []
        for ids in streams.values():
            # The recurrent models cannot predict a stream's first token (nothing
            # comes before it), so both kinds of model score the same tokens.
            row.append(f"{math.exp(-ngram.log_probabilities(ids)[1:].mean()):.2f}")
            progress.add(1)
        table.append(f"| {order} | " + " | ".join(row) + " |")
    print(
        "\nn-gram baselines (interpolated modified Kneser-Ney), perplexity of "
        "every token after the first:"
    )
    print("| n | " + " | ".join(split for split in streams) + " |")
    print("|---" * (len(streams) + 1) + "|")
    print("\n".join(table))


def load_checkpoint(args):
    """`--evaluate`: a checkpoint's architecture and weights, checked on the data."""
    model, _ = load_for_evaluation(args.evaluate, args)
    try:
        config = language_model_config(model)
    except ValueError as error:
        raise UserError(f"argument --evaluate: {args.evaluate!r}: {error}") from None
    return config, model.get_weights()


def report_perplexity(config, weights, streams, rows, verbose):
    print(
        f"Perplexity (each stream read in order in {rows} row(s), state carried along):"
    )
    for split in [split for split in ("valid", "test") if split in streams]:
        perplexity, count = stream_perplexity(
            config, weights, streams[split], rows=rows, verbose=verbose
        )
        log_metrics(split, perplexity=perplexity, tokens=count)
        print(
            f"  {split}: {perplexity:.2f} over {count:,} tokens "
            f"(cross-entropy {math.log(perplexity):.4f} nats)"
        )


def show_samples(args, generator, tokenizer, vocabulary):
    prompt_ids = data.encode_texts([args.prompt], tokenizer, vocabulary)[0]
    if not len(prompt_ids):
        print(f"\nThe prompt {args.prompt!r} has no tokens in this vocabulary.")
        return
    separator = "" if args.level == "char" else " "
    prompt = np.array([prompt_ids], "int32")

    def step(ids, states):
        logits, *states = generator([ids, *states])
        return logits, states

    settings = {
        "greedy": dict(temperature=0.0),
        f"temperature {args.temperature}": dict(temperature=args.temperature),
        f"top-k {args.top_k}": dict(temperature=1.0, top_k=args.top_k),
        f"top-p {args.top_p}": dict(temperature=1.0, top_p=args.top_p),
    }
    print(f"\nContinuations of {args.prompt!r}:")
    for label, options in settings.items():
        ids, _ = generate(
            step,
            prompt,
            zero_states(generator, 1),
            args.max_output_length,
            seed=args.seed,
            **options,
        )
        text = separator.join(vocabulary.decode(np.asarray(ids)[0]))
        print(f"  {label:>16}: {text}")


def prepare_data(args, strategy, policy):
    """The corpus as texts, its tokenizer and vocabulary, and one id stream a split.

    Records the data in the run record and prints its sizes.

    Returns:
        `(texts, tokenizer, vocabulary, streams)`, texts and streams keyed by split.
    """
    texts, tokenizer, append_eos = load_corpus(args)
    vocabulary = data.Vocabulary(tokenizer.tokenize(text) for text in texts["train"])
    streams = data.token_streams(texts, tokenizer, vocabulary, append_eos)
    describe_data(
        vocabulary=vocabulary.tokens,
        tokenizer=tokenizer.get_config(),
        append_eos=append_eos,
    )
    print(
        f"{args.corpus} ({args.level}): "
        + ", ".join(f"{split} {len(ids):,} tokens" for split, ids in streams.items())
        + f"; vocabulary {len(vocabulary):,}; precision {policy}; BPTT {args.bptt}; "
        f"{strategy.num_replicas_in_sync} replica(s)."
    )
    return texts, tokenizer, vocabulary, streams


def export_generator(args, generator, tokenizer, vocabulary, valid_texts):
    """Exports the generation model under `--export`, the run record beside it."""
    # TF Serving's warmup prompts: the first words of three validation lines.
    lines = [line.split() for text in valid_texts for line in text.splitlines()]
    prompts = [" ".join(words[:8]) for words in lines if words][:3]
    path = export_language_model(
        generator,
        tokenizer,
        vocabulary,
        args.export,
        args.model_name,
        separator="" if args.level == "char" else " ",
        examples=prompts,
        example_max_length=args.max_output_length,
        example_temperature=args.temperature,
    )
    attach_to_export(path)
    print(f"\nExported to {path}")


def main(argv=None):
    run_main(parse_args, run, argv)


def run(args):
    """The run of `main` once its flags are parsed."""
    # mixed_bfloat16 pays on a CPU only for the character LSTM (measured; see
    # docs/precision.md), so only it takes it under auto.
    strategy, policy = start_run(
        args,
        stateful=args.bptt != "full",
        bfloat16_pays=args.level == "char" and args.cell == "lstm",
    )
    texts, tokenizer, vocabulary, streams = prepare_data(args, strategy, policy)
    if args.ngram_orders:
        report_ngrams(args.ngram_orders, streams, len(vocabulary), args.verbose)

    if args.evaluate:
        config, weights = load_checkpoint(args)
    else:
        config = model_config(args, len(vocabulary))
        train, valid = datasets(args, texts, tokenizer, vocabulary, streams)
        with strategy.scope():
            config, model, _ = fit(args, config, train, valid)
        # The best epoch's weights (fit_from_flags), which best.keras holds too.
        weights = model.get_weights()
        # From history.csv, which holds the epochs before a resume too.
        rows = history_rows(args.run_dir)
        if rows:
            best = min(rows, key=lambda row: row["val_perplexity"])
            print(
                f"\nTrain perplexity (epoch {int(best['epoch']) + 1}, the best "
                f"on validation): {best['perplexity']:.2f}"
            )
    report_perplexity(config, weights, streams, args.eval_rows, args.verbose)

    generator = generation_model(config, weights)
    if args.prompt:
        show_samples(args, generator, tokenizer, vocabulary)
    if args.export and is_chief():
        export_generator(args, generator, tokenizer, vocabulary, texts["valid"])


if __name__ == "__main__":
    main()
