"""Perplexity of n-gram baselines on the language-model corpora.

The Markov models the recurrent language models must beat, scored on the
same splits the recurrent models use:

- The Time Machine, characters (`CharacterTokenizer()`, 26 letters and the
  space): train on the first 90% of the text, validation on the last 10%,
  vocabulary from the training part. Orders 2..6 with modified Kneser-Ney,
  add-one (k = 1, fixed), and add-k with the k of a small grid that does
  best on validation (chosen on the data it is scored on, so optimistic).
- Penn Treebank, words (Mikolov's version, whitespace tokens, `<eos>` after
  every sentence, vocabulary from train): validation and test perplexity
  with modified Kneser-Ney, orders 2..5. Mikolov et al. report 141 on test
  for a Kneser-Ney 5-gram.

Run:

    GARDEN_DATA=../shared/data python benchmarks/ngram_baselines.py
    python benchmarks/ngram_baselines.py --corpora ptb --ptb-orders 5
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from garden.data.corpora import load_ptb, load_time_machine  # noqa: E402
from garden.data.language_model import token_stream  # noqa: E402
from garden.data.tokenizers import CharacterTokenizer, WordTokenizer  # noqa: E402
from garden.data.vocabulary import Vocabulary  # noqa: E402
from garden.models import NGramLanguageModel  # noqa: E402

K_GRID = (1.0, 0.1, 0.01, 0.001)


def time_machine_table(orders):
    text = load_time_machine()
    split = int(0.9 * len(text))
    train_text, valid_text = text[:split], text[split:]
    tokenizer = CharacterTokenizer()
    vocabulary = Vocabulary(tokenizer.tokenize(train_text))
    train = token_stream([train_text], tokenizer, vocabulary)
    valid = token_stream([valid_text], tokenizer, vocabulary)
    print(
        f"\nThe Time Machine, characters: {len(train):,} training and "
        f"{len(valid):,} validation tokens, vocabulary of {len(vocabulary)}.\n"
    )
    print("| n | Kneser-Ney | add-one | add-k, best k on validation | seconds |")
    print("|---:|---:|---:|---:|---:|")
    for order in orders:
        start = time.perf_counter()
        kneser_ney = NGramLanguageModel(order).fit(train, len(vocabulary))
        add_k = {
            k: NGramLanguageModel(order, smoothing="add_k", k=k)
            .fit(train, len(vocabulary))
            .perplexity(valid)
            for k in K_GRID
        }
        best_k = min(add_k, key=add_k.get)
        print(
            f"| {order} | {kneser_ney.perplexity(valid):.2f} | {add_k[1.0]:.2f} "
            f"| {add_k[best_k]:.2f} (k = {best_k:g}) "
            f"| {time.perf_counter() - start:.1f} |",
            flush=True,
        )


def ptb_table(orders):
    tokenizer = WordTokenizer("whitespace")
    splits = {split: load_ptb(split) for split in ("train", "valid", "test")}
    vocabulary = Vocabulary([tokenizer.tokenize(line) for line in splits["train"]])
    streams = {
        split: token_stream(lines, tokenizer, vocabulary, append_eos=True)
        for split, lines in splits.items()
    }
    print(
        f"\nPenn Treebank, words: {len(streams['train']):,} training, "
        f"{len(streams['valid']):,} validation and {len(streams['test']):,} test "
        f"tokens (with <eos>), vocabulary of {len(vocabulary)}.\n"
    )
    print("| n | Kneser-Ney, validation | Kneser-Ney, test | seconds |")
    print("|---:|---:|---:|---:|")
    for order in orders:
        start = time.perf_counter()
        model = NGramLanguageModel(order).fit(streams["train"], len(vocabulary))
        print(
            f"| {order} | {model.perplexity(streams['valid']):.1f} "
            f"| {model.perplexity(streams['test']):.1f} "
            f"| {time.perf_counter() - start:.1f} |",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpora",
        nargs="+",
        default=["timemachine", "ptb"],
        choices=["timemachine", "ptb"],
    )
    parser.add_argument("--char-orders", nargs="+", type=int, default=[2, 3, 4, 5, 6])
    parser.add_argument("--ptb-orders", nargs="+", type=int, default=[2, 3, 4, 5])
    args = parser.parse_args(argv)
    if min(args.char_orders + args.ptb_orders) < 1:
        parser.error("--char-orders and --ptb-orders must be positive integers")

    print("Perplexity (lower is better); Kneser-Ney is modified Kneser-Ney.")
    if "timemachine" in args.corpora:
        time_machine_table(args.char_orders)
    if "ptb" in args.corpora:
        ptb_table(args.ptb_orders)


if __name__ == "__main__":
    main()
