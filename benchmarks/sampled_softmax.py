"""Training step time of the biLM: full softmax against a sampled one.

Builds `recipes.bilm`'s biLM (128-dimensional embedding and projections, 256
LSTM units, two layers a direction) for each vocabulary size, trains it on
a full softmax (`compile_bilm`) and on a sampled one
(`garden.training.sampled_softmax.SampledSoftmaxModel`), and times one
step of 64 windows of 50 Zipf-distributed ids. The configurations take
turns, `--repeats` times, in one process, so a busy machine slows all of
them alike; the medians and their ratios are printed.

    python benchmarks/sampled_softmax.py
    python benchmarks/sampled_softmax.py --vocab-sizes 10000 20000 --samples 1024
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from garden.models.bilm import (  # noqa: E402
    build_bilm,
    compile_bilm,
    compile_sampled_bilm,
)


def trainer(vocab_size, samples):
    tokens = ["<pad>", "<unk>", "<bos>", "<eos>"]
    tokens += [f"w{i}" for i in range(vocab_size - len(tokens))]
    bilm = build_bilm(tokens, embedding_dim=128, units=256)
    optimizer = keras.optimizers.Adam(0.002, clipnorm=1.0)
    if not samples:
        return compile_bilm(bilm, optimizer)
    return compile_sampled_bilm(bilm, optimizer, samples, seed=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-sizes", type=int, nargs="+", default=[10000, 20000])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    runs = {}
    for vocab_size in args.vocab_sizes:
        ids = np.minimum(rng.zipf(1.2, (64, 52)), vocab_size - 5) + 3
        batch = (ids[:, 1:-1], {"forward": ids[:, 2:], "backward": ids[:, :-2]})
        for samples in (0, args.samples):
            keras.utils.set_random_seed(0)
            model = trainer(vocab_size, samples)
            model.train_on_batch(*batch)  # traced outside the timing
            runs[vocab_size, samples] = (model, batch, [])
    for _ in range(args.repeats):
        for model, batch, times in runs.values():
            start = time.perf_counter()
            model.train_on_batch(*batch)
            times.append(time.perf_counter() - start)
    medians = {key: float(np.median(times)) for key, (_, _, times) in runs.items()}
    slowest = max(medians.values())
    print("| vocabulary | softmax | s/step (median) | speed-up on the slowest |")
    print("|---:|---|---:|---:|")
    for (vocab_size, samples), seconds in medians.items():
        softmax = f"sampled, S = {samples:,}" if samples else "full"
        print(
            f"| {vocab_size:,} | {softmax} | {seconds:.3f} | {slowest / seconds:.1f}x |"
        )


if __name__ == "__main__":
    main()
