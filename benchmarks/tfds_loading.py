"""Each recipe's input pipeline fed by the garden's loaders, then through TFDS.

For every recipe (at its default flags) it times, from the start of loading:

    texts        the recipe's splits as Python strings
    first batch  + the vocabulary, the training pipeline and its first batch
    epoch        + the rest of the first training epoch

four ways: the garden's loaders with an empty extraction cache (cold) and a
filled one (warm), and the TFDS datasets (`garden.data.tfds_datasets.load`)
into an empty TFDS directory (cold: preparing it is part of the time) and from
the prepared one (warm). Each measurement runs in a fresh process, so nothing
is memoized between them; importing TensorFlow, TFDS and the recipe is not
timed. Only the loading differs between the ways: the rest is the same code
on the same strings, so on a busy machine compare the texts column first.

Run (needs the corpora under `$GARDEN_DATA`):

    GARDEN_DATA=../shared/data python benchmarks/tfds_loading.py
    GARDEN_DATA=../shared/data python benchmarks/tfds_loading.py --recipes sst ptb
"""

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

RECIPES = ("timemachine", "ptb", "sentiment", "translation", "sst")
LABELS = {
    "timemachine": "language_model, Time Machine (char)",
    "ptb": "language_model, PTB (word)",
    "sentiment": "sentiment, IMDb",
    "translation": "translation, fra-eng",
    "sst": "sst, SST trees",
}
SOURCES = ("garden", "tfds")
STATES = ("cold", "warm")
RECIPE_MODULES = ("language_model", "sentiment", "translation", "sst")


def recipe_texts(recipe, source, tfds_dir):
    """What the recipe's run holds after loading: its splits, from `source`."""
    from garden import data
    from garden.data import tfds_datasets
    from recipes import language_model, sentiment, sst, translation

    def tfds_load(name, split):
        split = tfds_datasets.TFDS_SPLIT_NAMES[split]
        return tfds_datasets.load(name, split, data_dir=tfds_dir)

    if recipe in ("timemachine", "ptb"):
        args = language_model.parse_args(["--corpus", recipe])
        if source == "garden":
            texts, tokenizer, append_eos = language_model.load_corpus(args)
        elif recipe == "ptb":
            texts = {s: tfds_load("garden_ptb", s) for s in ("train", "valid", "test")}
            tokenizer, append_eos = data.WordTokenizer("whitespace"), True
        else:
            texts = {
                s: [tfds_load("garden_time_machine", s)] for s in ("train", "valid")
            }
            tokenizer, append_eos = data.CharacterTokenizer("letters_only"), False
        return args, (texts, tokenizer, append_eos)
    if recipe == "sentiment":
        args = sentiment.parse_args([])
        if source == "garden":
            return args, sentiment.load_splits(args)
        train = sentiment.sample(
            *tfds_load("garden_imdb", "train"), args.max_train_examples, args.seed
        )
        cut = len(train[0]) - args.validation_size
        return args, {
            "train": (train[0][:cut], train[1][:cut]),
            "valid": (train[0][cut:], train[1][cut:]),
            "test": tfds_load("garden_imdb", "test"),
        }
    if recipe == "translation":
        args = translation.parse_args([])
        if source == "garden":
            pairs = translation.split_pairs(
                data.load_english_french(),
                args.test_size,
                args.validation_size,
                args.split_seed,
            )
        else:
            pairs = {s: tfds_load("garden_fra_eng", s) for s in translation.SPLITS}
        return args, pairs
    args = sst.parse_args([])
    if source == "garden":
        return args, sst.load_trees(args)
    return args, {
        split: [data.parse_tree(line) for line in tfds_load("garden_sst", split)]
        for split in ("train", "dev", "test")
    }


def training_batches(recipe, args, texts):
    """The recipe's training `tf.data` pipeline, built as its run builds it."""
    from garden import data
    from recipes import language_model, sst

    if recipe in ("timemachine", "ptb"):
        splits, tokenizer, append_eos = texts
        vocabulary = data.Vocabulary(tokenizer.tokenize(t) for t in splits["train"])
        streams = {
            split: data.token_stream(split_texts, tokenizer, vocabulary, append_eos)
            for split, split_texts in splits.items()
        }
        return language_model.datasets(args, splits, tokenizer, vocabulary, streams)[0]
    if recipe == "sentiment":
        tokenizer = data.WordTokenizer("review")
        vocabulary = data.build_review_vocabulary(
            texts["train"][0], tokenizer, min_freq=args.min_freq
        )
        width = min(50, max(1, args.max_length // 4))
        buckets = list(range(width, args.max_length, width)) if args.bucket else None
        return data.classification_dataset(
            *texts["train"],
            vocabulary,
            tokenizer,
            max_length=args.max_length,
            batch_size=args.batch_size,
            seed=args.seed,
            bucket_boundaries=buckets or None,
        )
    if recipe == "translation":
        train = texts["train"][: args.max_train_pairs]
        tokenizer = data.WordTokenizer("translation")
        vocabularies = data.build_translation_vocabularies(
            train, tokenizer, min_freq=args.min_freq
        )
        return data.translation_dataset(
            train,
            *vocabularies,
            tokenizer=tokenizer,
            batch_size=args.batch_size,
            max_length=args.max_length,
            bucket_boundaries=[b for b in (8, 12, 16, 20, 25) if b < args.max_length]
            or None,
            seed=args.seed,
        )
    vocabulary = data.build_tree_vocabulary(texts["train"])
    return next(iter(sst.datasets(args, texts, vocabulary)))


def measure(recipe, source, tfds_dir):
    """Seconds to the texts, the first training batch and the end of an epoch."""
    # Imported before the clock starts, whichever source is measured.
    for module in (
        "garden.data.tfds_datasets",
        *(f"recipes.{r}" for r in RECIPE_MODULES),
    ):
        importlib.import_module(module)

    start = time.perf_counter()
    args, texts = recipe_texts(recipe, source, tfds_dir)
    loaded = time.perf_counter() - start
    iterator = iter(training_batches(recipe, args, texts))
    next(iterator)
    first = time.perf_counter() - start
    for _ in iterator:
        pass
    return {"texts": loaded, "first batch": first, "epoch": time.perf_counter() - start}


def run_fresh(recipe, source, cache_dir, tfds_dir):
    """`measure` in a new process (nothing memoized), with its caches given."""
    environment = {
        **os.environ,
        "GARDEN_CACHE": cache_dir,
        "GARDEN_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    command = [sys.executable, __file__, "--measure", recipe, source, tfds_dir]
    result = subprocess.run(
        command, env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode:
        sys.exit(f"{recipe} from {source} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=RECIPES)
    parser.add_argument(
        "--repeats", type=int, default=3, help="fresh runs of each, median shown"
    )
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"argument --repeats: expected at least 1, got {args.repeats}")
    if args.measure:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        recipe, source, tfds_dir = args.measure
        print(json.dumps(measure(recipe, source, tfds_dir)))
        return
    if not os.environ.get("GARDEN_DATA"):
        parser.error("set GARDEN_DATA to the directory of the staged corpora")
    columns = ("texts", "first batch", "epoch")
    print(
        f"Median of {args.repeats} run(s) each, in seconds from the start of loading."
    )
    print("| recipe (corpus) | loaded by | " + " | ".join(columns) + " |")
    print("|---|---|" + "---:|" * len(columns))
    for recipe in args.recipes:
        runs = {(source, state): [] for source in SOURCES for state in STATES}
        # Interleaved, so a change in the machine's load hits both sources alike.
        for _ in range(args.repeats):
            for source in SOURCES:
                with tempfile.TemporaryDirectory() as scratch:
                    cache_dir = os.path.join(scratch, "cache")
                    tfds_dir = os.path.join(scratch, "tfds")
                    for state in STATES:  # cold, then warm from the same caches
                        times = run_fresh(recipe, source, cache_dir, tfds_dir)
                        runs[source, state].append(times)
        for (source, state), times in runs.items():
            cells = " | ".join(
                f"{statistics.median(t[column] for t in times):.2f}"
                for column in columns
            )
            name = "garden loader" if source == "garden" else "TFDS"
            print(f"| {LABELS[recipe]} | {name}, {state} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
