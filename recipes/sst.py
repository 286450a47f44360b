"""Recursive networks on the Stanford Sentiment Treebank, with a BiLSTM to compare.

Trains a model with a 5-way softmax at every node of SST's binarized parse
trees, on every labelled phrase of the 8,544 training sentences, picks the
epoch by root accuracy on the 1,101 dev sentences, and reports on the 2,210
test sentences: root fine-grained accuracy, root binary accuracy (neutral
sentences removed, P(3)+P(4) against P(0)+P(1)) and all-node accuracy.

    treernn    the recursive network of Socher et al.: p = tanh(W [c_l; c_r] + b)
    treelstm   the binary Tree-LSTM of Tai et al. (2015)
    bilstm     a BiLSTM over the words of each phrase, trained on the same
               phrases (every node's span), no tree

Word vectors start at random or from GloVe 6B 50d and are fine-tuned. With
`--bilm` the BiLSTM also reads ELMo features: a frozen biLM trained on IMDb
reviews (`recipes.bilm`) inside the model, its layers mixed by learned weights
and concatenated to the word vectors.
`--export DIR` writes a SavedModel that takes an SST bracketed tree string
(a plain sentence for the BiLSTM) and returns the root's class
probabilities. With GloVe vectors the Tree-LSTM reaches 49.46% fine-grained
and 87.48% binary root accuracy on the test split (about 6 minutes on a
2-core CPU):

    python -m recipes.sst --model treelstm

Every result and its command are in docs/sst.md.
"""

import numpy as np

from garden import cli, data
from garden.data.sst_batches import encode_phrases, node_dataset, phrase_dataset
from garden.export.sst import export_sst_model
from garden.models.bilm import load_bilm, map_vocabulary
from garden.models.tree import (
    build_sst_model,
    compile_sst_model,
    predict_nodes,
    predict_phrases,
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
from garden.training.sentiment_metrics import (
    NEUTRAL,
    binary_predictions,
    sentiment_scores,
)
from garden.training.start import run_main, start_run
from garden.tuning import searched_or_flagged_model
from recipes.flags.sst import parse_args

# SST's Penn Treebank tokens that the biLM's review tokenizer writes otherwise.
# That tokenizer splits every punctuation mark off ("it ' s", "can ' t"), so
# PTB's clitics ("it 's", "ca n't") are never biLM words: each maps to the
# word it stands for ('s to "is", its sense after it, there, that, he and
# what, half of SST's 's).
PTB_ALIASES = {
    "-lrb-": "(", "-rrb-": ")", "-lsb-": "[", "-rsb-": "]", "-lcb-": "{",
    "-rcb-": "}", "``": '"', "''": '"', "`": "'", "--": "-", "...": ".",
    "n't": "not", "ca": "can", "wo": "will", "'s": "is", "'re": "are",
    "'ll": "will", "'ve": "have", "'m": "am", "'d": "would",
    "mr.": "mr", "mrs.": "mrs", "ms.": "ms", "dr.": "dr",
}  # fmt: skip
# SST's labels 0 to 4, as the confusion matrices name them.
SENTIMENT_NAMES = ("very negative", "negative", "neutral", "positive", "very positive")


def load_trees(args):
    """Parsed train, dev and test trees (a seeded sample with the size flags)."""
    sizes = {
        "train": args.max_train_trees,
        "dev": args.max_train_trees,
        "test": args.max_test_trees,
    }
    rng = np.random.default_rng(args.seed)
    trees = {}
    for split, size in sizes.items():
        lines = data.load_sst(split)
        if size is not None and size < len(lines):
            # The files run from positive to negative reviews: the first N
            # trees would be a biased subset. Kept in file order.
            lines = [lines[i] for i in np.sort(rng.choice(len(lines), size, False))]
        trees[split] = [data.parse_tree(line) for line in lines]
    return trees


def datasets(args, trees, vocabulary):
    """Training and validation batches: trees, or phrases for the BiLSTM."""
    if args.model != "bilstm":
        return (
            node_dataset(
                trees[split], vocabulary, args.batch_size, split == "train", args.seed
            )
            for split in ("train", "dev")
        )
    train = phrase_dataset(
        *encode_phrases(trees["train"], vocabulary), args.batch_size, seed=args.seed
    )
    dev = phrase_dataset(
        *encode_phrases(trees["dev"], vocabulary, roots_only=True),
        args.batch_size,
        shuffle=False,
    )
    return train, dev


def model_config(args, vocabulary):
    return {
        "vocab_size": len(vocabulary),
        "units": args.units,
        "embedding_dim": args.embedding_dim,
        "trainable_embeddings": not args.freeze_embeddings,
        "dropout": args.dropout,
        "schedule": args.schedule,
    }


def new_model(args, config, optimizer, embeddings):
    model = build_sst_model(args.model, **config)
    if embeddings is not None:
        model.get_layer("embedding").embeddings.assign(embeddings)
    return compile_sst_model(model, optimizer)


def config_from_hp(hp, config):
    return {
        **config,
        "units": hp.Int("units", 50, 300, step=50),
        "dropout": hp.Float("dropout", 0.0, 0.6, step=0.1),
    }


def fit(args, strategy, config, embeddings, train, valid):
    """Trains (after a search with `--tune`); returns config and best-epoch model."""
    monitor = "val_accuracy" if args.model == "bilstm" else "val_root_accuracy"
    with strategy.scope():
        config, model = searched_or_flagged_model(
            args,
            lambda config, optimizer: new_model(args, config, optimizer, embeddings),
            config,
            config_from_hp,
            ("adagrad", "adam"),
            monitor,
            "max",
            f"{args.model}_{args.embeddings}",
            train,
            valid,
        )
        fit_from_flags(model, args, train, valid, monitor, "max", config=config)
    return config, load_best(args.run_dir)


def report_test(args, model, trees, vocabulary):
    """Root fine-grained and binary accuracy, and accuracy over all nodes."""
    labels = [np.asarray(tree.labels) for tree in trees]
    if args.model == "bilstm":
        ids, _ = encode_phrases(trees, vocabulary)
        flat = predict_phrases(model, ids, args.batch_size * 4, verbose=args.verbose)
        nodes = np.split(flat, np.cumsum([len(row) for row in labels])[:-1])
    else:
        nodes = predict_nodes(
            model, trees, vocabulary, args.batch_size * 4, verbose=args.verbose
        )
    root_labels = np.array([row[-1] for row in labels])
    root_probabilities = np.stack([p[-1] for p in nodes])
    roots = sentiment_scores(root_labels, root_probabilities)
    every = sentiment_scores(np.concatenate(labels), np.concatenate(nodes))
    log_metrics(
        "test",
        root_fine_grained=roots["fine_grained"],
        root_binary=roots["binary"],
        all_node_fine_grained=every["fine_grained"],
        sentences=roots["count"],
    )
    print(
        f"\nTest ({roots['count']:,} sentences, {every['count']:,} nodes), "
        f"model {args.model}:\n"
        f"  root fine-grained accuracy: {roots['fine_grained']:.4f}\n"
        f"  root binary accuracy:       {roots['binary']:.4f} "
        f"({roots['binary_count']:,} non-neutral sentences)\n"
        f"  all-node accuracy:          {every['fine_grained']:.4f}"
    )
    write_confusions(args, root_labels, root_probabilities)
    return roots, every


def write_confusions(args, labels, probabilities):
    """The test roots' confusion matrices: fine-grained, and binary as scored."""
    fine = plots.confusion_matrix(labels, np.argmax(probabilities, -1), 5)
    polar = labels != NEUTRAL
    binary = plots.confusion_matrix(
        labels[polar] > NEUTRAL, binary_predictions(probabilities[polar]), 2
    )
    for name, matrix, classes in (
        ("confusion_root", fine, SENTIMENT_NAMES),
        ("confusion_root_binary", binary, ("negative", "positive")),
    ):
        title = f"SST test roots, {len(classes)} classes, {args.model}"
        figure = plots.confusion_figure(matrix, classes, title)
        print(f"Confusion matrix: {plots.write_figure(figure, args.run_dir, name)}")


def main(argv=None):
    run_main(parse_args, run, argv)


def run(args):
    """The run of `main` once its flags are parsed."""
    strategy, policy = start_run(args)
    trees = load_trees(args)
    vocabulary = data.build_tree_vocabulary(trees["train"])
    describe_data(vocabulary=vocabulary.tokens)
    print(
        "SST: "
        + ", ".join(f"{split} {len(t):,}" for split, t in trees.items())
        + f" trees; vocabulary {len(vocabulary):,}; precision {policy}; "
        f"model {args.model}; {strategy.num_replicas_in_sync} replica(s)."
    )
    config = model_config(args, vocabulary)
    embeddings = None if args.evaluate else cli.embedding_matrix(args, vocabulary)
    if args.bilm and not args.evaluate:
        config["bilm"], bilm_vocabulary = load_bilm(args.bilm)
        config["bilm_ids"], coverage = map_vocabulary(
            vocabulary.tokens, bilm_vocabulary, PTB_ALIASES
        )
        print(f"The biLM's vocabulary covers {coverage:.1%} of the vocabulary.")
    if args.evaluate:
        model, trained = load_for_evaluation(args.evaluate, args, same=["model"])
        config.update(trained)
    else:
        config, model = fit(
            args, strategy, config, embeddings, *datasets(args, trees, vocabulary)
        )
    report_test(args, model, trees["test"], vocabulary)
    if args.export and is_chief():
        path = export_sst_model(
            model,
            vocabulary,
            args.export,
            args.model_name,
            examples=data.load_sst("dev")[:3],  # TF Serving's warmup request
        )
        attach_to_export(path)
        print(f"\nExported to {path}")


if __name__ == "__main__":
    main()
