r"""A bidirectional LSTM language model on IMDb reviews, for ELMo features.

Trains the biLM of Peters et al. (2018), scaled to a CPU: a forward and a
backward LSTM language model (2 layers each, residual connection between
them, each layer projected to the embedding width) that share the token
embedding and the softmax tied to it (`garden.models.bilm`). The data are
the IMDb *training* reviews (never the test reviews), less a seeded
hold-out of reviews on which the perplexity of both directions is reported.
Words are the sentiment recipe's (`WordTokenizer("review")`), the most
frequent `--max-tokens` of them form the vocabulary, the rest are `<unk>`.
Each review is cut into windows of `--num-steps` words read from a zero
state; the targets cross window boundaries (`garden.data.bidirectional_windows`).

`--sampled-softmax S` trains on a sampled softmax of S draws a batch
(`garden.training.sampled_softmax`) and validates on the full one; on a CPU
it is most of what a large vocabulary costs.

The best epoch is `RUN_DIR/best.keras`, vocabulary included: pass it to
`recipes.sentiment --bilm` or `recipes.sst --model bilstm --bilm`. On all
the training reviews with a 10,000-word vocabulary, 22 epochs of 200 batches
of 64 windows (14.1 million tokens, about two passes; 80 minutes on a 2-core
CPU) bring the held-out perplexity to 88.85 forward and 88.82 backward:

    python -m recipes.bilm --validation-size 200 --max-tokens 10000 \
      --steps-per-epoch 200 --epochs 22 --learning-rate 0.002 --run-dir runs/bilm_imdb

With 20,000 words and a sampled softmax of 1,024, 30 such epochs (19.2
million tokens, 52 minutes) reach 113.23 forward and 118.05 backward. Its
features lift the SST BiLSTM and a small-data IMDb BiLSTM over GloVe alone.
Every result and its command are in docs/bilm.md.
"""

import math
import os

import numpy as np

from garden import data
from garden.errors import UserError
from garden.models.bilm import (
    DIRECTIONS,
    bilm_tokens,
    build_bilm,
    compile_bilm,
    compile_sampled_bilm,
)
from garden.training import (
    fit_from_flags,
    load_best,
    optimizer_from_flags,
)
from garden.training.checkpoints import open_model, save_model
from garden.training.run_record import log_metrics
from garden.training.sampled_softmax import SampledSoftmaxModel
from garden.training.start import run_main, start_run
from recipes.flags.bilm import parse_args

# Not served on its own (`--export` is refused): TF Serving's config has no entry.
SERVED = False


def load_reviews(args):
    """A seeded sample of the training reviews, split into train and hold-out."""
    texts, _ = data.load_imdb("train")
    order = np.random.default_rng(args.seed).permutation(len(texts))
    texts = [texts[i] for i in order[: args.max_train_examples]]
    cut = len(texts) - args.validation_size
    return {"train": texts[:cut], "valid": texts[cut:]}


def datasets(args, texts, tokenizer, vocabulary):
    """Windows of both splits, with forward and backward targets, batched."""
    batches = {}
    for split, split_texts in texts.items():
        ids = data.encode_texts(split_texts, tokenizer, vocabulary)
        batches[split] = data.bidirectional_dataset(
            ids,
            args.num_steps,
            vocabulary.bos_id,
            vocabulary.eos_id,
            args.batch_size,
            shuffle=split == "train",
            seed=args.seed,
        )
        if split == "train" and args.steps_per_epoch:
            available = int(batches[split].cardinality())
            if args.steps_per_epoch >= available:
                # `take` would keep every batch: the flag would change nothing.
                raise UserError(
                    f"argument --steps-per-epoch: expected fewer than the "
                    f"{available:,} batches (of --batch-size {args.batch_size}) "
                    f"the training windows make, got {args.steps_per_epoch:,}: "
                    "an epoch of them all is the default"
                )
            batches[split] = batches[split].take(args.steps_per_epoch)
        tokens = sum(len(row) for row in ids)
        print(f"  {split}: {len(split_texts):,} reviews, {tokens:,} tokens")
    return batches


def compile_trainer(args, model, optimizer):
    """The biLM compiled, or wrapped to train on a sampled softmax."""
    if not args.sampled_softmax:
        return compile_bilm(model, optimizer)
    return compile_sampled_bilm(model, optimizer, args.sampled_softmax, args.seed)


def plain_bilm(model):
    """The biLM inside a sampled-softmax checkpoint, compiled; others as given."""
    if isinstance(model, SampledSoftmaxModel):
        return compile_bilm(model.model, "adam")
    return model


def report_perplexity(model, valid, verbose):
    results = model.evaluate(valid, verbose=verbose, return_dict=True)
    print("\nHeld-out perplexity (training reviews not trained on):")
    for direction in DIRECTIONS:
        perplexity = results[f"{direction}_perplexity"]
        log_metrics("valid", **{f"{direction}_perplexity": perplexity})
        print(
            f"  {direction}: {perplexity:.2f} "
            f"(cross-entropy {math.log(perplexity):.4f} nats)"
        )


def main(argv=None):
    run_main(parse_args, run, argv)


def run(args):
    """The run of `main` once its flags are parsed."""
    strategy, policy = start_run(args)
    texts = load_reviews(args)
    tokenizer = data.WordTokenizer("review")
    vocabulary = data.build_review_vocabulary(
        texts["train"], tokenizer, min_freq=1, max_tokens=args.max_tokens
    )
    print(
        f"IMDb training reviews for the biLM: vocabulary {len(vocabulary):,}; "
        f"precision {policy}; {strategy.num_replicas_in_sync} replica(s)."
    )
    if args.sampled_softmax and args.sampled_softmax >= len(vocabulary):
        raise SystemExit(
            f"argument --sampled-softmax: expected fewer samples than the "
            f"{len(vocabulary):,} words of the vocabulary, got {args.sampled_softmax}"
        )
    batches = datasets(args, texts, tokenizer, vocabulary)
    if args.evaluate:
        model = plain_bilm(open_model(args.evaluate))
        if bilm_tokens(model) != vocabulary.tokens:
            raise UserError(
                f"argument --evaluate: {args.evaluate!r} was trained with another "
                "vocabulary; give the data flags it was trained with"
            )
        report_perplexity(model, batches["valid"], args.verbose)
        return
    with strategy.scope():
        model = build_bilm(
            vocabulary.tokens,
            embedding_dim=args.embedding_dim,
            units=args.units,
            num_layers=args.num_layers,
            dropout=args.dropout,
        )
        optimizer = optimizer_from_flags(args)
        trainer = compile_trainer(args, model, optimizer)
        fit_from_flags(trainer, args, batches["train"], batches["valid"], "val_loss")
    model = load_best(args.run_dir)
    if isinstance(model, SampledSoftmaxModel):
        # best.keras becomes the biLM itself, as downstream `--bilm` reads it.
        model = plain_bilm(model)
        save_model(model, os.path.join(args.run_dir, "best.keras"))
    report_perplexity(model, batches["valid"], args.verbose)
    print(f"\nbiLM (vocabulary included): {args.run_dir}/best.keras")


if __name__ == "__main__":
    main()
