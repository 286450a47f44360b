"""Train-step time of every recipe's model in float32 and in mixed_bfloat16.

Each case is a recipe's default model (or nearly), built from `garden.models`
once under each policy (`garden.training.set_precision`) and trained with
`train_on_batch` on one fixed batch:

    lm           char LSTM, 2 x 256, one-hot inputs, stateful truncated BPTT,
                 batch 16 x 64 steps, Adam with clip norm 1 (The Time Machine)
    ptb          word LSTM, 2 x 200, embedding 200, 10,000 words, stateful
                 truncated BPTT, batch 20 x 35 steps, SGD with clipping (PTB)
    birnn        BiLSTM, 2 x 100 per direction, embedding 100, reviews of
                 random lengths 50..500 right-padded to 500, batch 32 (IMDb)
    textcnn      Kim's CNN, widths 3/4/5 x 100, embedding 100, the same batch
    translation  GRU encoder-decoder with additive attention, 1 x 256,
                 embeddings 256, batch 64 of up to 12 tokens a side (fra-eng)
    sst          Tree-LSTM, 150 units, word vectors 50, batch 25 trees (SST)

Data: the Sentiment Treebank case trains on the first 25 real training trees
(read from `$GARDEN_DATA`: a tree's shape decides the work); the others train
on random token ids of the recipe's real shapes and vocabulary sizes (IMDb
27,790 words at min_freq 5; English 9,700 and French 17,186 words; 31
character ids), since a step's time does not depend on which ids it reads.

Both policies' models of a case live in one process and train interleaved
after warm-up steps: each round times `--steps` steps of one policy, then of
the other, float32 first in even rounds and last in odd ones, so a busy
machine slows both alike. The table gives the mean milliseconds per train
step of each policy and their ratio (below 1: mixed precision is faster).

The models are garden layers only, with no `tf.data` or export, so the same
script runs on the JAX backend (`KERAS_BACKEND=jax`, jax installed), all but
the Tree-LSTM: its loop over tree levels runs up to the batch's tallest tree,
a bound that is data, and JAX cannot differentiate such a loop.

Run (about 5 minutes on 2 CPU cores):

    GARDEN_DATA=../shared/data python benchmarks/precision_speed.py
    python benchmarks/precision_speed.py --cases lm translation --rounds 3 --steps 2
    KERAS_BACKEND=jax GARDEN_DATA=../shared/data python benchmarks/precision_speed.py
"""

import argparse
import logging
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Every model traces its own train step; TensorFlow counts them as retracing.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from garden import data  # noqa: E402
from garden.data.sst_batches import TREE_INPUTS  # noqa: E402
from garden.models import (  # noqa: E402
    build_birnn_classifier,
    build_language_model,
    build_seq2seq,
    build_text_cnn_classifier,
    build_tree_classifier,
    compile_classifier,
    compile_language_model,
    compile_seq2seq,
    compile_sst_model,
)
from garden.training import make_optimizer, set_precision  # noqa: E402

CHARACTERS = 31
PTB_WORDS = 10_000
REVIEW_WORDS = 27_790
ENGLISH_WORDS, FRENCH_WORDS = 9_700, 17_186


class SkipCase(Exception):
    """A case the backend cannot run; the table says why."""


def padded_ids(rng, vocab_size, batch, length, shortest):
    """Random ids >= 4 (no reserved ids), right-padded from a random length."""
    ids = rng.integers(4, vocab_size, size=(batch, length)).astype("int32")
    lengths = rng.integers(shortest, length + 1, size=batch)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return ids


def language_model_case(rng):
    ids = rng.integers(4, CHARACTERS, size=(16, 65)).astype("int32")

    def build():
        model = build_language_model(
            CHARACTERS, "lstm", units=256, num_layers=2, dropout=0.1,
            stateful=True, batch_size=16,
        )  # fmt: skip
        return compile_language_model(model, make_optimizer("adam", 4e-3, 1.0))

    return build, (ids[:, :-1], ids[:, 1:], None)


def ptb_case(rng):
    ids = rng.integers(4, PTB_WORDS, size=(20, 36)).astype("int32")

    def build():
        model = build_language_model(
            PTB_WORDS, "lstm", units=200, num_layers=2, embedding_dim=200,
            stateful=True, batch_size=20,
        )  # fmt: skip
        return compile_language_model(model, make_optimizer("sgd", 35.0, 0.143))

    return build, (ids[:, :-1], ids[:, 1:], None)


def review_batch(rng):
    ids = padded_ids(rng, REVIEW_WORDS, 32, 500, shortest=50)
    labels = rng.integers(0, 2, size=(32, 1)).astype("float32")
    return ids, labels, None


def birnn_case(rng):
    def build():
        model = build_birnn_classifier(
            REVIEW_WORDS, "lstm", units=100, num_layers=2, embedding_dim=100,
            dropout=0.2,
        )  # fmt: skip
        return compile_classifier(model, make_optimizer("adam", 1e-3))

    return build, review_batch(rng)


def textcnn_case(rng):
    def build():
        model = build_text_cnn_classifier(REVIEW_WORDS, embedding_dim=100)
        return compile_classifier(model, make_optimizer("adam", 1e-3))

    return build, review_batch(rng)


def translation_case(rng):
    source = padded_ids(rng, ENGLISH_WORDS, 64, 12, shortest=4)
    target = padded_ids(rng, FRENCH_WORDS, 64, 13, shortest=5)

    def build():
        models = build_seq2seq(
            ENGLISH_WORDS, FRENCH_WORDS, "gru", units=256, num_layers=1,
            embedding_dim=256, attention=True, dropout=0.0,
        )  # fmt: skip
        return compile_seq2seq(models.training, make_optimizer("adam", 1e-3, 1.0))

    return build, ((source, target[:, :-1]), target[:, 1:], None)


def sst_case(rng):
    if keras.backend.backend() == "jax":
        raise SkipCase("not on JAX: no gradient through a data-bound level loop")
    trees = [data.parse_tree(line) for line in data.load_sst("train")[:25]]
    vocabulary = data.build_tree_vocabulary(trees)
    batch = data.encode_trees(trees, vocabulary)

    def build():
        model = build_tree_classifier(
            len(vocabulary), "treelstm", units=150, embedding_dim=50, dropout=0.5
        )
        return compile_sst_model(model, make_optimizer("adam", 2e-3))

    inputs = {name: batch[name] for name in TREE_INPUTS}
    return build, (inputs, batch["labels"], batch["node_mask"].astype("float32"))


CASES = {
    "lm": (
        "language model: char LSTM 2x256, truncated BPTT 16x64",
        language_model_case,
    ),
    "ptb": (
        "language model: word LSTM 2x200, embedding 200, truncated BPTT 20x35",
        ptb_case,
    ),
    "birnn": ("sentiment: BiLSTM 2x100, 32 reviews x 500", birnn_case),
    "textcnn": ("sentiment: TextCNN 3/4/5 x 100, 32 reviews x 500", textcnn_case),
    "translation": ("translation: GRU 1x256 + attention, batch 64", translation_case),
    "sst": ("SST: Tree-LSTM 150, batch 25 trees", sst_case),
}


def seconds_per_step(model, batch, steps):
    x, y, sample_weight = batch
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y, sample_weight=sample_weight)
    return (time.perf_counter() - start) / steps


def time_case(make_case, policies, rounds, steps, warmup, rng):
    """Mean seconds per train step of the case's model under each policy."""
    build, batch = make_case(rng)
    models = {}
    for policy in policies:
        set_precision(policy)
        models[policy] = build()
    for model in models.values():  # trace and compile the train step
        seconds_per_step(model, batch, warmup)
    times = {policy: [] for policy in policies}
    for round_index in range(rounds):
        order = policies if round_index % 2 == 0 else policies[::-1]
        for policy in order:
            times[policy].append(seconds_per_step(models[policy], batch, steps))
    return {policy: statistics.mean(times[policy]) for policy in policies}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument(
        "--policy",
        default="mixed_bfloat16",
        choices=("mixed_bfloat16", "mixed_float16"),
        help="the mixed policy compared with float32",
    )
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6, help="train steps per round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    args = parser.parse_args(argv)
    if min(args.rounds, args.steps, args.warmup) < 1:
        parser.error("--rounds, --steps and --warmup must be positive integers")

    policies = ["float32", args.policy]
    rng = np.random.default_rng(0)
    devices = ", ".join(keras.distribution.list_devices())
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}, devices "
        f"{devices}, {os.cpu_count()} CPU cores; {args.rounds} rounds of "
        f"{args.steps} steps after {args.warmup} warm-up steps"
    )
    short = "bf16" if args.policy == "mixed_bfloat16" else "fp16"
    print(f"| model | float32 (ms/step) | {args.policy} (ms/step) | {short} / fp32 |")
    print("|---|---:|---:|---:|")
    for name in args.cases:
        description, make_case = CASES[name]
        try:
            seconds = time_case(
                make_case, policies, args.rounds, args.steps, args.warmup, rng
            )
        except SkipCase as reason:
            print(f"| {description} | | | {reason} |", flush=True)
            continue
        full, mixed = (1000 * seconds[policy] for policy in policies)
        print(
            f"| {description} | {full:,.0f} | {mixed:,.0f} | {mixed / full:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
