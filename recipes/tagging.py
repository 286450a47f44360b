"""Punctuation restoration on IMDb: a BiGRU or BiLSTM tags every word with its mark.

The model reads the bare words of a review (lower-cased, punctuation
removed) and labels each with the mark that followed it in the review: none,
comma, period or question, as in Tilk and Alumäe (2016), who map `: -` to
comma and `! ;` to period (`garden.data.punctuation` has the exact rules).
The tagger (`garden.models.tagger`) embeds the words (at random or from
GloVe, `--embeddings`), runs `--num-layers` bidirectional garden GRU or LSTM
layers (`--unidirectional` for left-to-right layers, the comparison that
shows what the next words are worth) and a softmax at every word; loss and
metrics skip padding. The defaults, one bidirectional GRU layer of 256 units
a direction, are Tilk and Alumäe's (2016) model without its attention;
`--attention-units` adds their output layer, attention over the window and
late fusion.

Data: the 25,000 IMDb training reviews, less a seeded validation hold-out
whose micro F1 over the marks picks the best epoch, and the 25,000 test
reviews (`--max-train-examples` and `--max-test-examples` take seeded
samples). Words seen at least 5 times form the vocabulary; others are
`<unk>`. Training cuts reviews into consecutive windows of `--window` words
(200: three reviews in five fit in one), each tagged on its own. After
training (mark offsets, test, `--punctuate` and the export alike) windows
start every `--stride` words (half the window by default) and each word
takes its label from the window it sits most centrally in, so no word sits
at a cut with no context on one side; every test word is scored.

After training, each mark's logit gets the offset that maximizes the
validation F1 (`--mark-offsets`, on by default: the argmax of a model
trained on cross-entropy is cautious with rare marks), folded into the
output bias so that the report, `--punctuate` and the export share it.

Report: precision, recall and F1 of each mark and their micro average over
the three marks ("none" excluded), as a Markdown table. The run can
punctuate texts given on the command line (`--punctuate`; a text with no
words gives ""), tune (KerasTuner: cell, units, layers, dropout, optimizer,
learning rate) and export a SavedModel that takes bare text and returns it
punctuated. On all 25,000 test reviews, a BiGRU of three 256-unit layers
over GloVe vectors trained 9 epochs with averaged weights (`--ema 0.998`)
reaches a micro F1 of 60.10 over the marks (59.62 after 7), and 60.01 in
mixed_bfloat16 (`--precision`), which brings it within 150 minutes on a
2-core CPU with bfloat16 instructions; two layers
after 9 epochs 59.54 (59.29 in consecutive windows, `--stride 200`, as are
the next two); one layer after 5 epochs 53.79 (52.22 with the plain
argmax); a left-to-right GRU, which never sees the next word, 29.71 after
3 epochs. Commands, per-mark scores and timings are in docs/tagging.md.

    python -m recipes.tagging --cell gru --num-layers 3 --dropout 0.3 \
        --embeddings glove --batch-size 64 --learning-rate 0.003 --clip-norm 5 \
        --lr-decay 0.7 --lr-decay-start 3 --epochs 9 --patience 2 --ema 0.998 \
        --precision mixed_bfloat16
    python -m recipes.tagging --cell gru --unidirectional --batch-size 32 \
        --learning-rate 0.002 --clip-norm 5 --epochs 3 --stride 200
"""

import time

import numpy as np

from garden import cli, data
from garden.data import punctuation
from garden.export.tagger import export_tagger
from garden.models import set_embeddings
from garden.models.tagger import (
    add_logit_offsets,
    build_tagger,
    compile_tagger,
    float32_tagger,
    predict_labels,
    predict_logits,
)
from garden.training import (
    fit_from_flags,
    is_chief,
    load_best,
    plots,
)
from garden.training.checkpoints import load_for_evaluation
from garden.training.run_record import (
    attach_to_export,
    describe_data,
    log_metrics,
)
from garden.training.start import run_main, start_run
from garden.training.tagging_metrics import (
    mark_offsets,
    scores_table,
    tagging_scores,
)
from garden.tuning import recurrent_from_hp, searched_or_flagged_model
from recipes.flags.tagging import parse_args


def sample(texts, size, seed):
    """A seeded random subset of the texts (all of them, shuffled, for None)."""
    return [texts[i] for i in np.random.default_rng(seed).permutation(len(texts))][
        :size
    ]


def load_splits(args):
    """Train, validation (a seeded hold-out of train) and test review texts."""
    texts = sample(data.load_imdb("train")[0], args.max_train_examples, args.seed)
    cut = len(texts) - args.validation_size
    test = data.load_imdb("test")[0]
    if args.max_test_examples:
        test = sample(test, args.max_test_examples, args.seed)
    return {"train": texts[:cut], "valid": texts[cut:], "test": test}


def model_config(args, vocabulary):
    return {
        "vocab_size": len(vocabulary),
        "num_labels": len(punctuation.PUNCTUATION_LABELS),
        "cell": args.cell,
        "units": args.units,
        "num_layers": args.num_layers,
        "embedding_dim": args.embedding_dim,
        "bidirectional": not args.unidirectional,
        "dropout": args.dropout,
        "recurrent_dropout": args.recurrent_dropout,
        "attention_units": args.attention_units,
    }


def config_from_hp(hp, base_config):
    """The search space: cell, units, layers, dropout and attention."""
    return {
        **base_config,
        **recurrent_from_hp(hp, cells=("gru", "lstm"), max_layers=2),
        "attention_units": (
            hp.Choice("attention_units", [0, 64, 128])
            if base_config["bidirectional"]
            else 0
        ),
    }


def fit(args, strategy, splits, vocabulary, config):
    """Trains (after a search with `--tune`); returns config and best-epoch model."""
    embeddings = cli.embedding_matrix(args, vocabulary)

    def new_model(config, optimizer):
        model = build_tagger(**config)
        if embeddings is not None:
            set_embeddings(model, embeddings)
        return compile_tagger(model, optimizer)

    buckets = list(range(25, args.window, 25))
    train, valid = (
        punctuation.punctuation_dataset(
            splits[split],
            vocabulary,
            window=args.window,
            batch_size=args.batch_size,
            shuffle=split == "train",
            seed=args.seed,
            bucket_boundaries=buckets or None,
        )
        for split in ("train", "valid")
    )
    direction = "unidirectional" if args.unidirectional else "bidirectional"
    with strategy.scope():
        config, model = searched_or_flagged_model(
            args,
            new_model,
            config,
            config_from_hp,
            ("adam", "rmsprop"),
            "val_mark_f1",
            "max",
            f"tagger_{direction}",
            train,
            valid,
        )
        fit_from_flags(model, args, train, valid, "val_mark_f1", "max", config=config)
    return config, load_best(args.run_dir)


def punctuate(args, model, vocabulary, texts):
    """The words of each text and their predicted labels, in windows."""
    tokenizer = punctuation.tokenizer()
    words = [tokenizer.tokenize(text) for text in texts]
    ids = [vocabulary.encode(w) for w in words]
    return words, predict_labels(model, ids, args.window, args.batch_size, args.stride)


def labelled_ids(vocabulary, texts):
    """The word ids of each text and the labels of all its words, concatenated."""
    examples = [punctuation.punctuation_labels(text) for text in texts]
    ids = [vocabulary.encode(words) for words, _ in examples]
    return ids, np.concatenate([np.asarray(y, "int32") for _, y in examples])


def set_mark_offsets(args, model, vocabulary, texts):
    """Folds the offsets that maximize the validation F1 into the output bias."""
    ids, labels = labelled_ids(vocabulary, texts)
    logits = np.concatenate(
        predict_logits(
            model, ids, args.window, args.batch_size, args.stride, args.verbose
        )
    )
    names = punctuation.PUNCTUATION_LABELS
    plain = tagging_scores(labels, np.argmax(logits, -1), names)["overall"]["f1"]
    offsets, f1 = mark_offsets(logits, labels)
    add_logit_offsets(model, offsets)
    log_metrics("validation", mark_f1=plain, mark_f1_with_offsets=f1)
    chosen = ", ".join(f"{name} {o:+.1f}" for name, o in zip(names[1:], offsets[1:]))
    print(
        f"Mark offsets chosen on validation: {chosen} (validation F1 "
        f"{100 * plain:.2f} -> {100 * f1:.2f})."
    )


def report_test(args, model, vocabulary, texts):
    start = time.time()
    ids, labels = labelled_ids(vocabulary, texts)
    predicted = np.concatenate(
        predict_labels(
            model, ids, args.window, args.batch_size, args.stride, args.verbose
        )
    )
    scores = tagging_scores(labels, predicted, punctuation.PUNCTUATION_LABELS)
    log_metrics("test", word_accuracy=np.mean(labels == predicted), reviews=len(texts))
    print(
        f"\nTest: {len(texts):,} reviews, {len(labels):,} words, word accuracy "
        f"{np.mean(labels == predicted):.4f} ({time.time() - start:.0f} s)\n"
    )
    print(scores_table(scores))
    names = ("no mark", *punctuation.PUNCTUATION_LABELS[1:])
    matrix = plots.confusion_matrix(labels, predicted, len(names))
    figure = plots.confusion_figure(matrix, names, "Punctuation of IMDb test words")
    print(f"Confusion matrix: {plots.write_figure(figure, args.run_dir, 'confusion')}")
    return scores


def show_punctuated(args, model, vocabulary):
    words, labels = punctuate(args, model, vocabulary, args.punctuate)
    print("\nPunctuated:")
    for text, w, y in zip(args.punctuate, words, labels):
        shown = text if len(text) <= 60 else text[:57] + "..."
        print(f"  {shown!r} -> {punctuation.restore_punctuation(w, y)!r}")


def main(argv=None):
    run_main(parse_args, run, argv)


def run(args):
    """The run of `main` once its flags are parsed."""
    strategy, policy = start_run(args)
    splits = load_splits(args)
    tokenizer = punctuation.tokenizer()
    vocabulary = data.Vocabulary(
        (tokenizer.tokenize(text) for text in splits["train"]), min_freq=args.min_freq
    )
    describe_data(
        vocabulary=vocabulary.tokens,
        tokenizer=tokenizer.get_config(),
    )
    print(
        "IMDb punctuation: "
        + ", ".join(f"{split} {len(texts):,}" for split, texts in splits.items())
        + f" reviews; vocabulary {len(vocabulary):,}; precision {policy}; "
        f"{'uni' if args.unidirectional else 'bi'}directional "
        f"{'layers (cell searched)' if args.tune else args.cell}; "
        f"{strategy.num_replicas_in_sync} replica(s)."
    )
    config = model_config(args, vocabulary)
    if args.evaluate:
        model, trained = load_for_evaluation(args.evaluate, args)
        config.update(trained)
    else:
        config, model = fit(args, strategy, splits, vocabulary, config)
    if args.mark_offsets:
        set_mark_offsets(args, model, vocabulary, splits["valid"])
    report_test(args, model, vocabulary, splits["test"])
    if args.punctuate:
        show_punctuated(args, model, vocabulary)
    if args.export and is_chief():
        path = export_tagger(
            float32_tagger(config, model.get_weights()),
            tokenizer,
            vocabulary,
            args.export,
            args.model_name,
            args.window,
            args.stride,
            examples=splits["valid"][:3],  # TF Serving's warmup request
        )
        attach_to_export(path)
        print(f"\nExported to {path}")


if __name__ == "__main__":
    main()
