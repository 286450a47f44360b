r"""Sentiment analysis on IMDb: BiRNN, TextCNN, ULMFiT and bag-of-words baselines.

Trains one of five classifiers on the 25,000 IMDb training reviews, less a
seeded validation hold-out that picks the best epoch, and reports accuracy
and the confusion matrix on the official 25,000-review test split:

    bow       logistic regression on a multi-hot or TF-IDF bag of words
    nbsvm     logistic regression on unigrams and bigrams scaled by their
              naive-Bayes log-count ratios (Wang & Manning 2012)
    birnn     d2l's bidirectional RNN (garden LSTM, GRU or simple RNN),
              first and last valid outputs -> sigmoid
    textcnn   Kim's (2014) CNN, widths 3, 4, 5 x 100 filters, dropout 0.5,
              optionally two embedding channels (frozen and fine-tuned)
    ulmfit    Howard and Ruder's (2018) classifier: a biLM from recipes.bilm
              (trained on the training reviews), concat pooling of both
              directions -> head, all fine-tuned with discriminative rates,
              gradual unfreezing and slanted triangular learning rates

Words seen at least 5 times form the vocabulary; reviews are cut to 500
tokens and right-padded (masked), optionally bucketed by length. Embeddings
start at random or from GloVe 6B 50d, frozen or fine-tuned; with `--bilm` a
frozen biLM (`recipes.bilm`) inside the model adds ELMo features, its layers
mixed by learned weights, to the BiRNN's word vectors. Every run writes
a per-review predictions file, can classify texts given on the command line
(`--predict`), tune (KerasTuner), export a SavedModel that takes raw
reviews, and score saved checkpoints again, alone or averaged as an
ensemble (`--evaluate`, `--ensemble`). NBSVM reaches 91.60% test
accuracy, the best of the five models; ULMFiT over a biLM pretrained 60
epochs (docs/sentiment.md), 91.53%; a BiGRU over fine-tuned GloVe
vectors, 89.46%:

    python -m recipes.sentiment --model nbsvm --epochs 8 --patience 2
    python -m recipes.sentiment --model ulmfit --bilm runs/bilm_long/best.keras \
      --bucket --epochs 8 --learning-rate 0.01 --clip-norm 1 --weight-dropout 0.25
    python -m recipes.sentiment --model birnn --cell gru --embeddings glove --bucket \
      --epochs 5 --patience 2 --clip-norm 1 --dropout 0.3

Every result and its command are in docs/sentiment.md.
"""

import os

import keras
import numpy as np

from garden import cli, data
from garden.errors import UserError
from garden.export import export_classifier
from garden.export.classifier import CLASS_NAMES
from garden.models.bilm import bilm_tokens, load_bilm, map_vocabulary, read_bilm
from garden.models.classifiers import (
    build_classifier,
    compile_classifier,
    float32_classifier,
    frequent_bigrams,
    inverse_document_frequency,
    naive_bayes_ratios,
    ngram_feature_ids,
    predict_probabilities,
    set_embeddings,
)
from garden.models.ulmfit import ulmfit_groups
from garden.reports import write_tsv
from garden.training import (
    fit_from_flags,
    is_chief,
    load_best,
    plots,
)
from garden.training.checkpoints import load_for_evaluation, read_record
from garden.training.finetuning import (
    GradualUnfreezing,
    LayerwiseAdam,
    LayerwiseSGD,
    SlantedTriangular,
)
from garden.training.optimizers import ema_options
from garden.training.run_record import (
    attach_to_export,
    describe_data,
    log_metrics,
)
from garden.training.start import run_main, start_run
from garden.tuning import searched_or_flagged_model
from recipes.flags.sentiment import parse_args

# Kim's dropout for the CNN; a lighter one for the recurrent network.


def sample(texts, labels, size, seed):
    """A seeded random subset (all of them, shuffled, when `size` is None)."""
    order = np.random.default_rng(seed).permutation(len(texts))[:size]
    return [texts[i] for i in order], [labels[i] for i in order]


# The flags that pick the validation hold-out of the training reviews.
HOLD_OUT = ("split_seed", "validation_size", "max_train_examples")


def load_splits(args):
    """Train, validation (a seeded hold-out of train) and test reviews."""
    texts, labels = sample(
        *data.load_imdb("train"), args.max_train_examples, args.split_seed
    )
    cut = len(texts) - args.validation_size
    test = data.load_imdb("test")
    if args.max_test_examples:
        test = sample(*test, args.max_test_examples, args.split_seed)
    return {
        "train": (texts[:cut], labels[:cut]),
        "valid": (texts[cut:], labels[cut:]),
        "test": test,
    }


def model_config(args, vocabulary, tokenizer, train_texts, train_labels):
    """The builder's arguments for `--model` (counts from the training texts)."""
    if args.model == "bow":
        idf = None
        if args.bag == "tf_idf":
            ids = data.encode_texts(train_texts, tokenizer, vocabulary)
            idf = inverse_document_frequency(ids, len(vocabulary))
        return {
            "vocab_size": len(vocabulary),
            "output_mode": args.bag,
            "idf_weights": idf,
        }
    if args.model == "nbsvm":
        size = len(vocabulary)
        ids = [
            x[: args.max_length]
            for x in data.encode_texts(train_texts, tokenizer, vocabulary)
        ]
        bigrams = frequent_bigrams(ids, size, args.bigram_min_count)
        features = [ngram_feature_ids(x, size, bigrams) for x in ids]
        return {
            "vocab_size": size,
            "bigrams": bigrams,
            "ratios": naive_bayes_ratios(features, train_labels, size + len(bigrams)),
            "dropout": args.dropout,
        }
    if args.model == "ulmfit":
        # The biLM and its ids join the config in `run`.
        return {"dropout": args.dropout, "weight_dropout": args.weight_dropout}
    config = {
        "vocab_size": len(vocabulary),
        "embedding_dim": args.embedding_dim,
        "trainable_embeddings": not args.freeze_embeddings,
        "dropout": args.dropout,
    }
    if args.model == "birnn":
        return {
            **config,
            "cell": args.cell,
            "units": args.units,
            "num_layers": args.num_layers,
            "recurrent_dropout": args.recurrent_dropout,
        }
    return {**config, "multichannel": args.multichannel, "filters": args.filters}


def config_from_hp(hp, kind, base_config, pretrained=False):
    """The recipe's search space for the chosen model (GloVe fixes the width)."""
    config = dict(base_config)
    if kind == "bow":
        return config
    if kind == "nbsvm":
        config["dropout"] = hp.Float("dropout", 0.0, 0.6, step=0.1)
        return config
    if not pretrained:
        config["embedding_dim"] = hp.Choice("embedding_dim", [50, 100, 200, 300])
    if kind == "birnn":
        config["units"] = hp.Int("units", 32, 256, step=32)
        config["num_layers"] = hp.Int("num_layers", 1, 2)
        config["dropout"] = hp.Float("dropout", 0.0, 0.5, step=0.1)
    else:
        config["filters"] = hp.Int("filters", 50, 200, step=50)
        config["dropout"] = hp.Float("dropout", 0.3, 0.6, step=0.1)
    return config


def new_model(kind, config, optimizer, embeddings):
    model = build_classifier(kind, **config)
    if embeddings is not None:
        set_embeddings(model, embeddings)
    return compile_classifier(model, optimizer)


def ulmfit_optimizer(args, model, total_steps):
    """ULMFiT's fine-tuning as one optimizer (`garden.training.finetuning`).

    Slanted triangular rates peaking at `--learning-rate` over the whole run;
    each layer group (`ulmfit_groups`) `--discriminative-decay` times slower
    than the one above; with `--gradual-unfreezing`, only the head at first
    (`GradualUnfreezing` adds a group every epoch). Adam with ULMFiT's betas
    (0.7, 0.99), or SGD (with momentum 0.9 for "momentum"). With `--ema`, it
    keeps the weights' moving average, which validation and checkpoints use.
    """
    options = {
        "groups": ulmfit_groups(model),
        "decay": args.discriminative_decay,
        "unfrozen": 1 if args.gradual_unfreezing else None,
        "learning_rate": SlantedTriangular(args.learning_rate, total_steps),
        "global_clipnorm": args.clip_norm,
        **ema_options(args.ema or None),
    }
    if args.optimizer == "adam":
        return LayerwiseAdam(beta_1=0.7, beta_2=0.99, **options)
    momentum = 0.9 if args.optimizer == "momentum" else 0.0
    return LayerwiseSGD(momentum=momentum, **options)


def count_batches(dataset):
    """Batches in one pass (the recipes' datasets do not declare it)."""
    return int(dataset.reduce(0, lambda count, _: count + 1))


def fit(args, strategy, splits, vocabulary, tokenizer, config, embeddings):
    """Trains (after a search with `--tune`); returns config and best-epoch model.

    The model is built and trained under `strategy`; the best epoch is loaded
    outside it.
    """
    # Buckets 50 words wide, narrower when reviews are cut shorter than 200.
    width = min(50, max(1, args.max_length // 4))
    buckets = list(range(width, args.max_length, width)) if args.bucket else None
    buckets = buckets or None
    train, valid = (
        data.classification_dataset(
            *splits[split],
            vocabulary,
            tokenizer,
            max_length=args.max_length,
            batch_size=args.batch_size,
            shuffle=split == "train",
            seed=args.seed,
            bucket_boundaries=buckets,
        )
        for split in ("train", "valid")
    )
    pretrained = embeddings is not None
    options = {}
    if args.model == "ulmfit":
        # Its optimizer needs the model (the layer groups) and the run's
        # length (the schedule), so the flags' optimizer is not used.
        total_steps = args.epochs * count_batches(train)

        def build(config, _):
            model = build_classifier("ulmfit", **config)
            return compile_classifier(model, ulmfit_optimizer(args, model, total_steps))

        if args.gradual_unfreezing:
            options["callbacks"] = [GradualUnfreezing()]
    else:

        def build(config, optimizer):
            return new_model(args.model, config, optimizer, embeddings)

    with strategy.scope():
        config, model = searched_or_flagged_model(
            args,
            build,
            config,
            lambda hp, config: config_from_hp(hp, args.model, config, pretrained),
            ("adam", "rmsprop", "momentum"),
            "val_accuracy",
            "max",
            f"{args.model}_{'pretrained' if pretrained else 'random'}",
            train,
            valid,
        )
        fit_from_flags(
            model, args, train, valid, "val_accuracy", "max", config=config, **options
        )
    return config, load_best(args.run_dir)


def write_predictions(path, labels, probabilities):
    """One line per test review, written to a temporary file and renamed.

    `index` is the review's place in the evaluated list: `load_imdb("test")`
    order (negative then positive, by review id), or the seeded sample's
    order with `--max-test-examples`.
    """
    rows = (
        (index, CLASS_NAMES[label], f"{p:.6f}", CLASS_NAMES[int(p >= 0.5)])
        for index, (label, p) in enumerate(zip(labels, probabilities))
    )
    write_tsv(path, ["index", "label", "probability_positive", "prediction"], rows)


def mean_probabilities(args, models, tokenizer, vocabulary, texts):
    """P(positive) of each text; with `--ensemble`, the mean of the models'.

    `models` holds `(model, max_length)` pairs: each model reads the first
    `max_length` tokens, as it did in training. The mean of the members'
    probabilities is how ULMFiT ensembles its forward and backward
    classifiers.
    """
    ids = data.encode_texts(texts, tokenizer, vocabulary)
    return np.mean(
        [
            predict_probabilities(
                model,
                ids,
                args.batch_size,
                max_length=max_length,
                verbose=args.verbose,
            )
            for model, max_length in models
        ],
        axis=0,
    )


def report_accuracy(split, name, probabilities, labels):
    """Logs and prints the accuracy of P(positive) >= 0.5 (the served label's rule).

    Keras's `binary_accuracy` counts `> 0.5`: they part only at exactly 0.5.
    Returns the predicted and true labels.
    """
    predicted = (probabilities >= 0.5).astype("int64")
    labels = np.asarray(labels, "int64")
    correct = int(np.sum(predicted == labels))
    log_metrics(split, accuracy=correct / len(labels), reviews=len(labels))
    print(
        f"\n{name} accuracy: {correct / len(labels):.4f} "
        f"({correct:,} of {len(labels):,} reviews)"
    )
    return predicted, labels


def report_validation(args, models, tokenizer, vocabulary, texts, labels):
    """With `--evaluate`: accuracy on the hold-out, which chooses among checkpoints."""
    probabilities = mean_probabilities(args, models, tokenizer, vocabulary, texts)
    report_accuracy("valid", "Validation", probabilities, labels)


def report_test(args, models, tokenizer, vocabulary, texts, labels):
    probabilities = mean_probabilities(args, models, tokenizer, vocabulary, texts)
    predicted, labels = report_accuracy("test", "Test", probabilities, labels)
    confusion = plots.confusion_matrix(labels, predicted, len(CLASS_NAMES))
    print("Confusion matrix (rows: true, columns: predicted):")
    print(f"{'':>10} {'negative':>9} {'positive':>9}")
    for name, row in zip(CLASS_NAMES, confusion):
        print(f"{name:>10} {row[0]:>9,} {row[1]:>9,}")
    path = args.predictions or os.path.join(args.run_dir, "predictions.tsv")
    write_predictions(path, labels, probabilities)
    print(f"Predictions: {path}")
    figure = plots.confusion_figure(confusion, CLASS_NAMES, f"IMDb test, {args.model}")
    print(f"Confusion matrix: {plots.write_figure(figure, args.run_dir, 'confusion')}")


def show_predictions(args, models, tokenizer, vocabulary):
    probabilities = mean_probabilities(
        args, models, tokenizer, vocabulary, args.predict
    )
    print("\nPredictions:")
    for text, probability in zip(args.predict, probabilities):
        shown = text if len(text) <= 60 else text[:57] + "..."
        label = CLASS_NAMES[int(probability >= 0.5)]
        print(f"  {label} (P(positive) = {probability:.4f}): {shown!r}")


def check_hold_out(path, flag, args):
    """Refuses a checkpoint whose run held out other reviews than this run's.

    Its validation accuracy here would count reviews it trained on. Returns
    the flags of the checkpoint's run.
    """
    trained = read_record(path)["flags"]
    # Before `--split-seed`, `--seed` picked the hold-out.
    trained.setdefault("split_seed", trained.get("seed"))
    for name in HOLD_OUT:
        if name in trained and trained[name] != getattr(args, name):
            raise UserError(
                f"argument {flag}: {path!r} held out other reviews: it was "
                f"trained with --{name.replace('_', '-')} {trained[name]}, "
                f"not {getattr(args, name)}"
            )
    return trained


def load_checkpoints(args):
    """`--evaluate`'s model and configuration, and the models that score.

    Each must be the same `--model`, trained on the data these flags build
    and with the same hold-out (`HOLD_OUT`): the validation accuracy reported
    is on reviews none of them trained on. An `--ensemble` member may have
    read another `--max-length` in training, and reads that many tokens here.
    Returns `(model, config, models)`, `models` as `mean_probabilities`
    takes them.
    """
    model, config = load_for_evaluation(args.evaluate, args, same=["model"])
    check_hold_out(args.evaluate, "--evaluate", args)
    models = [(model, args.max_length)]
    for path in args.ensemble:
        member, _ = load_for_evaluation(
            path, args, flag="--ensemble", same=["model"], own=["max_length"]
        )
        trained = check_hold_out(path, "--ensemble", args)
        models.append((member, trained["max_length"]))
    if args.ensemble:
        lengths = ", ".join(f"{length:,}" for _, length in models)
        print(
            f"Ensemble: the mean P(positive) of {len(models)} checkpoints, "
            f"reading up to {lengths} tokens."
        )
    return model, config, models


def main(argv=None):
    run_main(parse_args, run, argv)


def run(args):
    """The run of `main` once its flags are parsed."""
    strategy, policy = start_run(args)
    splits = load_splits(args)
    tokenizer = data.WordTokenizer("review")
    vocabulary = data.build_review_vocabulary(
        splits["train"][0], tokenizer, min_freq=args.min_freq
    )
    describe_data(
        vocabulary=vocabulary.tokens,
        tokenizer=tokenizer.get_config(),
        max_length=args.max_length,
    )
    print(
        "IMDb: "
        + ", ".join(f"{split} {len(texts):,}" for split, (texts, _) in splits.items())
        + f" reviews; vocabulary {len(vocabulary):,}; precision {policy}; "
        f"model {args.model}; {strategy.num_replicas_in_sync} replica(s)."
    )
    config = model_config(args, vocabulary, tokenizer, *splits["train"])
    embeddings = None if args.evaluate else cli.embedding_matrix(args, vocabulary)
    if args.model == "ulmfit":
        # Also with --evaluate: export rebuilds the model from it.
        config["bilm"] = read_bilm(args.bilm)
        bilm_vocabulary = bilm_tokens(config["bilm"])
        if not args.pretraining:
            # The same layers, fresh weights (seeded): cloning re-runs the
            # initializers and copies no weights.
            config["bilm"] = keras.models.clone_model(config["bilm"])
    elif args.bilm and not args.evaluate:
        config["bilm"], bilm_vocabulary = load_bilm(args.bilm)
    if "bilm" in config:
        config["bilm_ids"], coverage = map_vocabulary(
            vocabulary.tokens, bilm_vocabulary
        )
        print(f"The biLM's vocabulary covers {coverage:.1%} of the vocabulary.")

    if args.evaluate:
        model, trained, models = load_checkpoints(args)
        config.update(trained)
        report_validation(args, models, tokenizer, vocabulary, *splits["valid"])
    else:
        config, model = fit(
            args, strategy, splits, vocabulary, tokenizer, config, embeddings
        )
        models = [(model, args.max_length)]

    report_test(args, models, tokenizer, vocabulary, *splits["test"])
    if args.predict:
        show_predictions(args, models, tokenizer, vocabulary)
    if args.export and is_chief():
        served = float32_classifier(args.model, config, model.get_weights())
        path = export_classifier(
            served,
            tokenizer,
            vocabulary,
            args.export,
            args.model_name,
            args.max_length,
            examples=splits["valid"][0][:3],  # TF Serving's warmup request
        )
        attach_to_export(path)
        print(f"\nExported to {path}")


if __name__ == "__main__":
    main()
