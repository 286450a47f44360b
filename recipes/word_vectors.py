"""Word vectors: skip-gram with negative sampling, and fastText subwords.

Trains static word vectors as the lectures build them (Mikolov et al. 2013;
Bojanowski et al. 2017) on the Penn Treebank or the IMDb training reviews:

    skipgram    two embedding tables, a sigmoid loss on (center, context)
                against K noise words from unigram^0.75; frequent words
                subsampled (t = 1e-4); a dynamic window of up to --window
    fasttext    the same, the center word represented by itself and its
                hashed character 3..6-grams, so unseen words get vectors too

Examples come from a `tf.data` pipeline (garden.data.skipgram), the model
trains with Keras `fit` (SGD on sparse rows, the learning rate falling
linearly to nearly 0 over the run, as word2vec). A held-out part of the
corpus gives the validation loss. The report: WordSim-353 and SimLex-999
Spearman correlations and the word2vec analogy accuracy (3CosAdd), each with
its coverage, and the nearest neighbours of probe words. The vectors are
written in word2vec's text format (`RUN_DIR/vectors.txt`), which the
sentiment recipe takes as `--embeddings FILE`; `--export DIR` writes a
SavedModel from words to vectors. Skip-gram on the Penn Treebank, 20
epochs, reaches a Spearman correlation of 0.404 on WordSim-353 and 0.170 on
SimLex-999 (gensim: 0.399 and 0.167):

    python -m recipes.word_vectors --corpus ptb --model skipgram --epochs 20

The comparison with gensim is `benchmarks/word_vectors.py`; every result is
in docs/word_vectors.md.
"""

import math
import os

import keras
import numpy as np

from garden import data
from garden.data.skipgram import (
    expected_pairs,
    keep_probabilities,
    skipgram_dataset,
    subword_table,
)
from garden.data.sources import open_text
from garden.data.word_similarity import load_analogies, load_word_pairs
from garden.errors import UserError
from garden.export.word_vectors import export_word_vectors
from garden.models.word2vec import (
    WordVectors,
    build_skipgram,
    center_vectors,
    compile_skipgram,
)
from garden.training import (
    fit_from_flags,
    is_chief,
    word_similarity,
)
from garden.training.run_record import attach_to_export, log_metrics
from garden.training.start import run_main, start_run
from garden.tuning import search
from recipes.flags.word_vectors import MODELS as MODELS
from recipes.flags.word_vectors import parse_args

# <pad> and <unk>: ids below are never trained on.
MIN_ID = 2


def load_sentences(args):
    """Token lists for training and validation (IMDb: never the test reviews)."""
    if args.corpus == "ptb":
        train = [line.split() for line in data.load_ptb("train")]
        valid = [line.split() for line in data.load_ptb("valid")]
    elif args.corpus == "text":
        text = open_text(args.text_file)
        lines = [line.split() for line in text.splitlines() if line.strip()]
        if len(lines) <= args.validation_size:
            raise UserError(
                f"--text-file {args.text_file!r} has {len(lines)} non-empty lines; "
                f"expected more than --validation-size ({args.validation_size})."
            )
        train = lines[: -args.validation_size]
        valid = lines[-args.validation_size :]
    else:
        texts, _ = data.load_imdb("train")
        order = np.random.default_rng(args.seed).permutation(len(texts))
        tokenizer = data.WordTokenizer("review")
        reviews = [tokenizer.tokenize(texts[i]) for i in order]
        train = reviews[: -args.validation_size]
        valid = reviews[-args.validation_size :]
    if args.max_sentences:
        train = train[: args.max_sentences]
    return train, valid


def build_vocabulary(sentences, min_count):
    """Words seen `min_count` times, most frequent first; PTB's `<unk>` is ours."""
    return data.Vocabulary(sentences, min_freq=min_count, reserved_tokens=())


def word_counts(vocabulary):
    counts = np.zeros(len(vocabulary), np.float64)
    for token, index in zip(vocabulary.tokens[MIN_ID:], range(MIN_ID, len(vocabulary))):
        counts[index] = vocabulary.token_counts[token]
    return counts


def encode(vocabulary, sentences):
    """Each sentence's ids, once for the schedule and the datasets alike."""
    return [vocabulary.encode(sentence) for sentence in sentences]


def datasets(args, train_ids, valid_ids, counts):
    options = dict(
        window=args.window,
        negatives=args.negatives,
        sample=args.sample,
        batch_size=args.batch_size,
        min_id=MIN_ID,
    )
    train_data = skipgram_dataset(train_ids, counts, seed=args.seed, **options)
    # Validation pairs are drawn the same way (with the training counts), from
    # the same seed every epoch, so epochs and trials are scored alike.
    valid_data = skipgram_dataset(valid_ids, counts, seed=args.seed + 7, **options)
    return train_data, valid_data.cache()


def model_config(args, vocabulary):
    config = {
        "vocab_size": len(vocabulary),
        "dim": args.dim,
        "negatives": args.negatives,
    }
    if args.model == "fasttext":
        config["subword_table"] = subword_table(
            vocabulary.tokens, args.buckets, args.min_n, args.max_n, min_id=MIN_ID
        )
        config["buckets"] = args.buckets
    return config


def schedule_length(args, train_ids, counts):
    """About how many pairs an epoch yields, and the SGD steps of the whole run.

    The learning rate falls linearly over those steps, as in word2vec; the
    gensim benchmark trains ours with the same schedule.
    """
    keep = keep_probabilities(counts, args.sample)
    pairs = expected_pairs(train_ids, keep, args.window, min_id=MIN_ID)
    return pairs, math.ceil(pairs / args.batch_size) * args.epochs


def config_from_hp(hp, config):
    """The search space: the vector size and the learning rate."""
    trial = {**config, "dim": hp.Choice("dim", [50, 100, 200, 300])}
    return trial, hp.Float("learning_rate", 0.005, 0.1, sampling="log")


def fit(args, config, train, valid, total_steps):
    if args.tune:

        def build(hp):
            trial, rate = config_from_hp(hp, config)
            return compile_skipgram(build_skipgram(**trial), rate, total_steps)

        best, hypermodel = search(
            args, build, "val_loss", "min", f"{args.corpus}_{args.model}", train, valid
        )
        model = hypermodel.build(best)
        print(f"Best trial: {best.values}")
    else:
        model = compile_skipgram(
            build_skipgram(**config), args.learning_rate, total_steps
        )
    history = fit_from_flags(model, args, train, valid, "val_loss")
    return model, history


def trained_vectors(args, model, vocabulary):
    vectors = center_vectors(model, MIN_ID)
    ngrams = None
    if args.model == "fasttext":
        table = model.get_layer("center_embedding").embeddings
        ngrams = keras.ops.convert_to_numpy(table)[len(vocabulary) :]
    return WordVectors(
        vocabulary.tokens[MIN_ID:], vectors, ngrams, args.min_n, args.max_n
    )


def evaluate(vectors):
    """The three intrinsic scores: `{name: (score, coverage)}`."""
    scores = {}
    for name in ("wordsim353", "simlex999"):
        result = word_similarity.evaluate_word_pairs(vectors, load_word_pairs(name))
        scores[name] = result
    overall, _ = word_similarity.evaluate_analogies(vectors, load_analogies())
    scores["analogies"] = overall
    return scores


def report(scores, label):
    print(f"\n| {label} | score | coverage |\n|---|---:|---:|")
    names = {
        "wordsim353": "WordSim-353 (Spearman)",
        "simlex999": "SimLex-999 (Spearman)",
        "analogies": "analogies (3CosAdd accuracy)",
    }
    for name, score in scores.items():
        log_metrics("test", **{name: score.value, f"{name}_coverage": score.coverage})
        print(f"| {names[name]} | {score.value:.3f} | {score.coverage:.1%} |")


def show_neighbours(vectors, probes):
    print("\nNearest neighbours (cosine):")
    for word in probes:
        try:
            neighbours = vectors.most_similar(word, topn=6)
        except KeyError:
            print(f"  {word}: no vector")
            continue
        seen = "" if word in vectors else " (unseen: from its n-grams)"
        print(f"  {word}{seen}: " + ", ".join(f"{w} {s:.2f}" for w, s in neighbours))


def main(argv=None):
    run_main(parse_args, run, argv)


def run(args):
    """The run of `main` once its flags are parsed."""
    strategy, policy = start_run(args)
    train, valid = load_sentences(args)
    vocabulary = build_vocabulary(train, args.min_count)
    if len(vocabulary) <= MIN_ID:
        raise SystemExit(
            f"No word of the training corpus is seen {args.min_count} times "
            "(--min-count): nothing to train."
        )
    counts = word_counts(vocabulary)
    num_words = sum(len(sentence) for sentence in train)
    train_ids, valid_ids = encode(vocabulary, train), encode(vocabulary, valid)
    pairs, total_steps = schedule_length(args, train_ids, counts)
    print(
        f"{args.corpus}: {len(train):,} sentences, {num_words:,} words for "
        f"training; vocabulary {len(vocabulary) - MIN_ID:,} words (min count "
        f"{args.min_count}); about {pairs:,.0f} pairs per epoch; model "
        f"{args.model}; precision {policy}; {strategy.num_replicas_in_sync} "
        "replica(s)."
    )
    train_data, valid_data = datasets(args, train_ids, valid_ids, counts)
    config = model_config(args, vocabulary)
    with strategy.scope():
        model, _ = fit(args, config, train_data, valid_data, total_steps)

    vectors = trained_vectors(args, model, vocabulary)
    if not np.isfinite(vectors.vectors).all():
        # A batch sums its pairs' steps: many repeats of a word in one batch
        # (a tiny vocabulary, a large batch) can overshoot.
        raise SystemExit(
            "Training diverged (vectors are not finite): lower --learning-rate "
            "or --batch-size."
        )
    # Written before the evaluation, which may need the sets downloaded.
    if is_chief():
        path = args.vectors or os.path.join(args.run_dir, "vectors.txt")
        vectors.save_word2vec_format(path)
        print(f"\nVectors written to {path}")
        if args.export:
            path = export_word_vectors(
                vectors, args.export, args.model_name, examples=args.probes or ["the"]
            )
            attach_to_export(path)
            print(f"Exported to {path}")
    show_neighbours(vectors, args.probes)
    report(evaluate(vectors), f"{args.model} on {args.corpus}")


if __name__ == "__main__":
    main()
