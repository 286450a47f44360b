"""Throughput of the `garden.data` pipelines, against what training consumes.

Measures examples per second of the `tf.data` pipelines on the real corpora:
a whole first epoch (tokenizing in-graph, filling the cache) and a second epoch
from the cache, timed after its first batch. For comparison, it times a small
Keras LSTM classifier's training steps at IMDb's shape (batch 64, 500 steps):
as long as the pipeline is faster than the model, data loading is not the
bottleneck.

Run (needs the corpora under `$GARDEN_DATA`):

    GARDEN_DATA=../shared/data python benchmarks/data_pipeline.py
    GARDEN_DATA=../shared/data python benchmarks/data_pipeline.py --lstm-steps 0
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from garden import data  # noqa: E402


def examples_per_second(dataset, count_examples):
    """Throughput of a whole first epoch (tokenizing, filling the cache and the
    shuffle buffer), and of a second epoch from the cache after its first batch.
    """
    start, examples = time.perf_counter(), 0
    for batch in dataset:
        examples += count_examples(batch)
    first = examples / (time.perf_counter() - start)
    iterator = iter(dataset)
    next(iterator)  # warm-up: the shuffle buffer refills from the cache
    start, examples = time.perf_counter(), 0
    for batch in iterator:
        examples += count_examples(batch)
    return first, examples / (time.perf_counter() - start)


def lstm_examples_per_second(vocabulary_size, steps, batch_size=64, length=500):
    """Training examples per second of Embedding(100) -> LSTM(128) -> Dense(1)."""
    model = keras.Sequential(
        [
            keras.Input((length,), dtype="int32"),
            keras.layers.Embedding(vocabulary_size, 100, mask_zero=True),
            keras.layers.LSTM(128),
            keras.layers.Dense(1),
        ]
    )
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.integers(1, vocabulary_size, (batch_size, length)).astype("int32")
    y = rng.integers(0, 2, (batch_size, 1)).astype("float32")
    model.train_on_batch(x, y)  # warm-up: build and trace
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lstm-steps", type=int, default=10)
    args = parser.parse_args()
    rows = []

    texts, labels = data.load_imdb("train")
    start = time.perf_counter()
    vocabulary = data.build_review_vocabulary(texts)
    print(
        f"IMDb vocabulary: {len(vocabulary):,} tokens (min_freq 5) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    for name, boundaries in (
        ("IMDb, len 500", None),
        ("IMDb, bucketed", [100, 200, 400]),
    ):
        dataset = data.classification_dataset(
            texts,
            labels,
            vocabulary,
            batch_size=args.batch_size,
            seed=0,
            bucket_boundaries=boundaries,
        )
        rows.append((name, *examples_per_second(dataset, lambda b: len(b[1]))))

    pairs = data.load_english_french()
    source_vocabulary, target_vocabulary = data.build_translation_vocabularies(pairs)
    dataset = data.translation_dataset(
        pairs,
        source_vocabulary,
        target_vocabulary,
        batch_size=args.batch_size,
        max_length=20,
        bucket_boundaries=[6, 10, 15],
        seed=0,
    )
    rows.append(
        ("fra-eng, bucketed", *examples_per_second(dataset, lambda b: len(b[1])))
    )

    print(f"\n{'pipeline':<22}{'epoch 1 (ex/s)':>16}{'cached (ex/s)':>16}")
    for name, first, cached in rows:
        print(f"{name:<22}{first:>16,.0f}{cached:>16,.0f}")
    if args.lstm_steps:
        rate = lstm_examples_per_second(len(vocabulary), args.lstm_steps)
        print(f"\nkeras LSTM(128) training, batch 64, len 500: {rate:,.0f} ex/s")


if __name__ == "__main__":
    main()
