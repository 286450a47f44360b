"""How the garden cuts a corpus that has no split of its own.

The Time Machine is one text and English-French one list of pairs; the
recipes train and validate on the cuts below, and the TensorFlow Datasets
builders (`garden.data.tfds_datasets`) write the same cuts, so a figure means
the same data whichever way it was loaded.
"""

import numpy as np

TIME_MACHINE_TRAIN_FRACTION = 0.9
TRANSLATION_SPLITS = ("train", "valid", "test")


def split_time_machine(text, train_fraction=TIME_MACHINE_TRAIN_FRACTION):
    """The first `train_fraction` of the characters for training, the rest held out.

    Args:
        text: the whole text (`garden.data.load_time_machine()`).
        train_fraction: share of the characters in the training part, in (0, 1).

    Returns:
        `{"train": text[:cut], "valid": text[cut:]}` with
        `cut = int(train_fraction * len(text))`.

    Example:

    >>> split_time_machine("abcdefghij")
    {'train': 'abcdefghi', 'valid': 'j'}
    """
    if not 0 < train_fraction < 1:
        raise ValueError(
            "Received an invalid value for argument `train_fraction`, expected a "
            f"number in (0, 1), got {train_fraction!r}."
        )
    cut = int(train_fraction * len(text))
    return {"train": text[:cut], "valid": text[cut:]}


def split_pairs(pairs, test_size, validation_size, seed):
    """Train, validation and test pairs, split by source sentence.

    The distinct source sentences are shuffled with `seed`; the first ones
    take the test split until it holds at least `test_size` pairs, the next
    ones the validation split, the rest train. All pairs of one source sentence
    stay together, in file order, so no test sentence is seen in training with
    another translation.

    Args:
        pairs: a list of `(source, target)` string tuples.
        test_size: pairs the test split holds at least.
        validation_size: pairs the validation split holds at least.
        seed: seed of the shuffle of the source sentences.

    Returns:
        `{"train": [...], "valid": [...], "test": [...]}` lists of pairs.

    Raises:
        ValueError: no pair is left for training.
    """
    sources = sorted({source for source, _ in pairs})
    order = np.random.default_rng(seed).permutation(len(sources))
    by_source = {}
    for pair in pairs:
        by_source.setdefault(pair[0], []).append(pair)
    splits = {name: [] for name in TRANSLATION_SPLITS}
    for index in order:
        group = by_source[sources[index]]
        if len(splits["test"]) < test_size:
            splits["test"].extend(group)
        elif len(splits["valid"]) < validation_size:
            splits["valid"].extend(group)
        else:
            splits["train"].extend(group)
    if not splits["train"]:
        raise ValueError(
            f"No training pairs are left after a test split of {test_size} and a "
            f"validation split of {validation_size} out of {len(pairs)} pairs."
        )
    return splits
