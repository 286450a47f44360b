"""Our skip-gram and fastText against gensim's, same tokens, same hyperparameters.

Trains, in one process, the garden's vectors (the word-vectors recipe's data
and model) and gensim's `Word2Vec(sg=1)` / `FastText(sg=1)` on the same
token lists (the recipe's training sentences, words outside the vocabulary
removed, as both implementations do), with the same dimension, window,
negatives, subsampling, minimum count, epochs, learning rates and n-gram
buckets, then scores both with the same code (which reproduces gensim's
`evaluate_word_pairs` / `evaluate_word_analogies`). Prints a markdown table:
WordSim-353 and SimLex-999 Spearman, analogy accuracy, coverage, and
training words per second (corpus words x epochs / seconds of training).
gensim is a benchmark-only dependency (`pip install gensim`).

    GARDEN_DATA=../shared/data python benchmarks/word_vectors.py --corpus ptb \
        --epochs 20
    GARDEN_DATA=../shared/data python benchmarks/word_vectors.py --corpus imdb \
        --epochs 5
"""

import argparse
import os
import sys
import time

import keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from garden.models.word2vec import (  # noqa: E402
    WordVectors,
    build_skipgram,
    compile_skipgram,
)
from recipes import word_vectors as recipe  # noqa: E402


def train_ours(args, vocabulary, counts, train, valid):
    train_ids = recipe.encode(vocabulary, train)
    _, total_steps = recipe.schedule_length(args, train_ids, counts)
    train_data, valid_data = recipe.datasets(
        args, train_ids, recipe.encode(vocabulary, valid), counts
    )
    model = compile_skipgram(
        build_skipgram(**recipe.model_config(args, vocabulary)),
        args.learning_rate,
        total_steps,
    )
    start = time.perf_counter()
    model.fit(train_data, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    return recipe.trained_vectors(args, model, vocabulary), seconds


def train_gensim(args, sentences):
    from gensim.models import FastText, Word2Vec

    options = dict(
        vector_size=args.dim,
        window=args.window,
        negative=args.negatives,
        sample=args.sample,
        min_count=args.min_count,
        sg=1,
        epochs=args.epochs,
        alpha=args.learning_rate,
        min_alpha=args.learning_rate * 1e-4,
        workers=args.workers,
        seed=args.seed,
    )
    start = time.perf_counter()
    if args.model == "fasttext":
        model = FastText(
            sentences,
            min_n=args.min_n,
            max_n=args.max_n,
            bucket=args.buckets,
            **options,
        )
    else:
        model = Word2Vec(sentences, **options)
    seconds = time.perf_counter() - start
    return WordVectors(model.wv.index_to_key, model.wv.vectors), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gensim's threads")
    parser.add_argument(
        "--models", nargs="+", default=["skipgram", "fasttext"], choices=recipe.MODELS
    )
    known, rest = parser.parse_known_args()
    print(
        "| model | implementation | WordSim-353 | SimLex-999 | analogies "
        "| words/s |\n|---|---|---:|---:|---:|---:|",
        flush=True,
    )
    for model_name in known.models:
        args = recipe.parse_args([*rest, "--model", model_name])
        args.workers = known.workers
        keras.utils.set_random_seed(args.seed)
        train, valid = recipe.load_sentences(args)
        vocabulary = recipe.build_vocabulary(train, args.min_count)
        counts = recipe.word_counts(vocabulary)
        # The same tokens for both: words of the vocabulary only.
        sentences = [
            [w for w in sentence if vocabulary[w] >= recipe.MIN_ID]
            for sentence in train
        ]
        sentences = [sentence for sentence in sentences if sentence]
        words = sum(len(sentence) for sentence in train)
        for implementation in ("garden (Keras fit, tf.data)", "gensim"):
            if implementation == "gensim":
                vectors, seconds = train_gensim(args, sentences)
                implementation += f" ({args.workers} threads)"
            else:
                vectors, seconds = train_ours(args, vocabulary, counts, train, valid)
            scores = recipe.evaluate(vectors)
            cells = [
                f"{scores[name].value:.3f} ({scores[name].coverage:.0%})"
                for name in ("wordsim353", "simlex999", "analogies")
            ]
            speed = words * args.epochs / seconds
            print(
                f"| {model_name} | {implementation} | "
                + " | ".join(cells)
                + f" | {speed:,.0f} |",
                flush=True,
            )
    print(f"\n{args.corpus}: {words:,} words x {args.epochs} epochs; coverage in ()")


if __name__ == "__main__":
    main()
