"""The garden's corpora as TensorFlow Datasets, prepared offline from local copies.

Importing this module registers five datasets with `tfds`:

    name                  splits                     features
    garden_time_machine   train, validation          text (the whole part)
    garden_ptb            train, validation, test    text (one sentence)
    garden_imdb           train, test                text, label (neg, pos)
    garden_fra_eng        train, validation, test    translation (en, fr)
    garden_sst            train, validation, test    tree, text, label (0-4)

Each builder reads its corpus through the garden's own loaders, so the file is
found as every garden load finds it (`$GARDEN_DATA`, checked against its
sha256, else the public source with its checksum) and a missing or corrupt
file raises the garden's `DataNotFoundError` or `CorruptDataError`, naming the
file. The dataset's metadata names the file it was prepared from (a downloaded
English-French zip holds 2,000 more pairs than the staged copy). Splits the
source has no file for are cut as the recipes cut them (`garden.data.splits`);
the garden's `valid` and `dev` are TFDS's `validation` (`TFDS_SPLIT_NAMES`).
Examples keep the loaders' order, so a split read back equals what the loader
returns; `load` gives it in the loader's shape.

    import tensorflow_datasets as tfds
    import garden.data.tfds_datasets  # registers the garden_* datasets

    sentences = tfds.load("garden_ptb", split="validation")  # tf.data, prepared once
    texts, labels = garden.data.tfds_datasets.load("garden_imdb", "train")

TensorFlow Datasets is imported only by this module, never by `import garden`.
"""

import contextlib
import dataclasses
import os
import pathlib

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core.utils import tqdm_utils

from garden.data import corpora, sources
from garden.data.splits import split_pairs, split_time_machine
from garden.data.trees import parse_tree

# The TFDS split each garden split is written as.
TFDS_SPLIT_NAMES = {
    "train": "train",
    "valid": "validation",
    "dev": "validation",
    "test": "test",
}
SST_CLASS_NAMES = (
    "very negative",
    "negative",
    "neutral",
    "positive",
    "very positive",
)


class _GardenBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """What every garden builder shares: offline sources, order and record."""

    # A new version whenever what a builder writes changes (a cut, a feature).
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release, from the garden's staged copies."}
    SOURCE = None  # the key of `garden.data.sources.SOURCES` read
    # TFDS 4.9.10 finds a builder's file through `importlib_resources`, which it
    # imports but does not declare (tensorflow/datasets#11212); say it here.
    code_path = pathlib.Path(__file__)

    def _dataset_info(self, description, features, citation, homepage, **kwargs):
        return self.dataset_info_from_configs(
            description=description,
            features=tfds.features.FeaturesDict(features),
            homepage=homepage,
            citation=citation,
            # Written in the loader's order, so a split reads back as a list
            # equal to the loader's (TFDS would otherwise shuffle by key).
            disable_shuffling=True,
            metadata=tfds.core.MetadataDict(),
            **kwargs,
        )

    def download_and_prepare(self, *args, **kwargs):
        with _without_progress_bars():
            return super().download_and_prepare(*args, **kwargs)

    def is_prepared(self):
        # TFDS's own check warns about every dataset not prepared yet.
        if not (self.data_path / "dataset_info.json").exists():
            return False
        return super().is_prepared()

    def _log_download_bytes(self):
        # TFDS says "Downloading ... Unknown size": nothing is downloaded here.
        print(
            f"Preparing {self.info.full_name} in {self.data_dir}; later loads reuse it."
        )

    def _log_download_done(self):
        pass

    def _note_source(self):
        """Record in the dataset's metadata which file it was prepared from."""
        path, origin = sources.locate(self.SOURCE)
        self.info.metadata["source"] = {
            "file": os.path.basename(path),
            "origin": origin,
            "sha256": sources.file_digest(path),
        }

    def _split_generators(self, dl_manager):
        del dl_manager  # the garden's loaders find and check the files
        self._note_source()
        return {
            TFDS_SPLIT_NAMES[split]: self._generate_examples(examples)
            for split, examples in self._splits().items()
        }

    def _generate_examples(self, examples):
        yield from enumerate(examples)

    def _splits(self):
        """`{garden split name: list of example dicts}`, in the loader's order."""
        raise NotImplementedError

    def as_garden(self, split):
        """A prepared split in the shape the garden's loader returns it.

        Reads the split's record files in batches of 65,536 examples: TFDS's
        reader parses one example at a time (7-8 s for English-French's
        155,128 training pairs, against 0.7 s in batches). A run's record
        lists the dataset with the sha256 of the file it was prepared from.
        """
        if not self.is_prepared():
            raise ValueError(
                f"The dataset {self.info.full_name} is not prepared in "
                f"{self.data_dir}: call `download_and_prepare()` first, or load it "
                "with `garden.data.tfds_datasets.load`."
            )
        sources.note_read(self.data_dir, self.info.metadata["source"]["sha256"])
        spec = {
            key: tf.io.FixedLenFeature(info.shape, info.tf_dtype)
            for key, info in _flatten(self.info.features.get_serialized_info()).items()
        }
        if self.info.file_format != tfds.core.FileFormat.TFRECORD:
            source = self.as_data_source(split=split)  # e.g. array_record files
            examples = [_flatten(source[index]) for index in range(len(source))]
            return self._to_garden(
                {key: np.array([e[key] for e in examples], object) for key in spec}
            )
        records = None
        for shard in self.info.splits[split].file_instructions:
            part = tf.data.TFRecordDataset(os.fspath(shard.filename))
            part = part.skip(shard.skip).take(shard.take)
            records = part if records is None else records.concatenate(part)
        batches = records.batch(1 << 16).map(lambda x: tf.io.parse_example(x, spec))
        parts = list(batches.as_numpy_iterator())
        return self._to_garden(
            {key: np.concatenate([part[key] for part in parts]) for key in spec}
        )

    def _to_garden(self, columns):
        raise NotImplementedError


@contextlib.contextmanager
def _without_progress_bars():
    """TFDS's nested bars, for a few seconds' work, only while preparing."""
    # TFDS offers a switch but no getter: read its flag to restore the user's.
    previous = getattr(tqdm_utils, "_active", True)
    tfds.display_progress_bar(False)
    try:
        yield
    finally:
        tfds.display_progress_bar(previous)


def _flatten(nested, prefix=""):
    """`{"a": {"b": x}}` as `{"a/b": x}`, the keys TFDS writes records with."""
    flat = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _decoded(values):
    return [value.decode("utf-8") for value in values.tolist()]


class GardenTimeMachine(_GardenBuilder):
    """The Time Machine, cut 90/10 into training and validation text."""

    name = "garden_time_machine"
    SOURCE = "timemachine"

    def _info(self):
        return self._dataset_info(
            description=(
                "H. G. Wells's The Time Machine, d2l's timemachine.txt. Each split "
                "is one example holding its whole text: the first 90% of the "
                "characters for training, the rest for validation, as the garden's "
                "language-model recipes cut it."
            ),
            features={"text": tfds.features.Text()},
            homepage="https://www.gutenberg.org/ebooks/35",
            citation="H. G. Wells, The Time Machine, 1895 (Project Gutenberg #35).",
        )

    def _splits(self):
        parts = split_time_machine(corpora.load_time_machine())
        return {split: [{"text": text}] for split, text in parts.items()}

    def _to_garden(self, columns):
        return _decoded(columns["text"])[0]


class GardenPtb(_GardenBuilder):
    """Penn Treebank (Mikolov's language-model files), one sentence an example."""

    name = "garden_ptb"
    SOURCE = "ptb"

    def _info(self):
        return self._dataset_info(
            description=(
                "Penn Treebank in Mikolov's language-model version (d2l's ptb.zip): "
                "lower case, numbers as N, a 10k vocabulary with <unk>. One "
                "whitespace-tokenized sentence per example."
            ),
            features={"text": tfds.features.Text()},
            homepage="https://catalog.ldc.upenn.edu/LDC99T42",
            citation=(
                "@article{marcus1993building, title={Building a Large Annotated "
                "Corpus of English: The Penn Treebank}, author={Marcus, Mitchell P. "
                "and Santorini, Beatrice and Marcinkiewicz, Mary Ann}, journal="
                "{Computational Linguistics}, volume={19}, number={2}, pages="
                "{313--330}, year={1993}}"
            ),
        )

    def _splits(self):
        return {
            split: [{"text": line} for line in corpora.load_ptb(split)]
            for split in corpora.PTB_SPLITS
        }

    def _to_garden(self, columns):
        return _decoded(columns["text"])


class GardenImdb(_GardenBuilder):
    """IMDb Large Movie Review Dataset v1.0, labelled train and test reviews."""

    name = "garden_imdb"
    SOURCE = "imdb"

    def _info(self):
        return self._dataset_info(
            description=(
                "The Large Movie Review Dataset v1.0: 25,000 training and 25,000 "
                "test reviews, half negative (0) and half positive (1), ordered "
                "by label then review id. The recipes hold out a seeded sample "
                "of train for validation."
            ),
            features={
                "text": tfds.features.Text(),
                "label": tfds.features.ClassLabel(names=corpora.IMDB_CLASS_NAMES),
            },
            homepage="https://ai.stanford.edu/~amaas/data/sentiment/",
            citation=(
                "@inproceedings{maas2011learning, title={Learning Word Vectors for "
                "Sentiment Analysis}, author={Maas, Andrew L. and Daly, Raymond E. "
                "and Pham, Peter T. and Huang, Dan and Ng, Andrew Y. and Potts, "
                "Christopher}, booktitle={ACL}, pages={142--150}, year={2011}}"
            ),
            supervised_keys=("text", "label"),
        )

    def _splits(self):
        splits = {}
        for split in corpora.IMDB_SPLITS:
            texts, labels = corpora.load_imdb(split)
            splits[split] = [
                {"text": text, "label": label} for text, label in zip(texts, labels)
            ]
        return splits

    def _to_garden(self, columns):
        return _decoded(columns["text"]), columns["label"].tolist()


@dataclasses.dataclass(eq=False)
class FraEngSplitConfig(tfds.core.BuilderConfig):
    """A cut of the English-French pairs (`garden.data.splits.split_pairs`).

    The default is the translation recipe's: `--test-size 5000
    --validation-size 5000 --split-seed 0`.
    """

    test_size: int = 5000
    validation_size: int = 5000
    split_seed: int = 0


class GardenFraEng(_GardenBuilder):
    """English-French sentence pairs, split by English sentence."""

    name = "garden_fra_eng"
    SOURCE = "fra-eng"
    BUILDER_CONFIGS = [
        FraEngSplitConfig(
            name="default",
            description="The translation recipe's split: 5,000 test and 5,000 "
            "validation pairs, split seed 0.",
        )
    ]

    def _info(self):
        return self._dataset_info(
            description=(
                "English-French sentence pairs (Tatoeba via manythings.org, d2l's "
                "fra.txt). The distinct English sentences are shuffled with the "
                "split seed; the first take the test split, the next the "
                "validation split, the rest train, all translations of one "
                "sentence together in file order."
            ),
            features={"translation": tfds.features.Translation(("en", "fr"))},
            homepage="https://www.manythings.org/anki/",
            citation="Tatoeba Project (tatoeba.org), via www.manythings.org/anki.",
        )

    def _splits(self):
        config = self.builder_config
        parts = split_pairs(
            corpora.load_english_french(),
            config.test_size,
            config.validation_size,
            config.split_seed,
        )
        return {
            split: [{"translation": {"en": en, "fr": fr}} for en, fr in pairs]
            for split, pairs in parts.items()
        }

    def _to_garden(self, columns):
        english = _decoded(columns["translation/en"])
        return list(zip(english, _decoded(columns["translation/fr"])))


class GardenSst(_GardenBuilder):
    """Stanford Sentiment Treebank: the tree, its sentence and its root label."""

    name = "garden_sst"
    SOURCE = "sst"

    def _info(self):
        return self._dataset_info(
            description=(
                "The Stanford Sentiment Treebank's PTB-format trees: each example "
                "has the bracketed tree with a label 0-4 on every node, the "
                "sentence (its leaves joined by spaces) and the root's label."
            ),
            features={
                "tree": tfds.features.Text(),
                "text": tfds.features.Text(),
                "label": tfds.features.ClassLabel(names=SST_CLASS_NAMES),
            },
            homepage="https://nlp.stanford.edu/sentiment/",
            citation=(
                "@inproceedings{socher2013recursive, title={Recursive Deep Models "
                "for Semantic Compositionality Over a Sentiment Treebank}, author="
                "{Socher, Richard and Perelygin, Alex and Wu, Jean and Chuang, "
                "Jason and Manning, Christopher D. and Ng, Andrew and Potts, "
                "Christopher}, booktitle={EMNLP}, pages={1631--1642}, year={2013}}"
            ),
            supervised_keys=("text", "label"),
        )

    def _splits(self):
        splits = {}
        for split in corpora.SST_SPLITS:
            examples = []
            for line in corpora.load_sst(split):
                tree = parse_tree(line)
                words = " ".join(tree.leaves)
                examples.append({"tree": line, "text": words, "label": tree.root_label})
            splits[split] = examples
        return splits

    def _to_garden(self, columns):
        return _decoded(columns["tree"])


def load(name, split, data_dir=None, config=None):
    """A split of a garden dataset, in the shape the garden's loader returns it.

    Prepares the dataset into `data_dir` on first use. The shapes:
    `garden_time_machine` a string; `garden_ptb` a list of sentences;
    `garden_imdb` `(texts, labels)`; `garden_fra_eng` a list of `(english,
    french)`; `garden_sst` a list of tree strings.

    Args:
        name: one of `DATASET_NAMES`.
        split: a TFDS split (`"train"`, `"validation"`, `"test"`, or a slice
            such as `"train[:10%]"`).
        data_dir: TFDS's data directory (default: `$TFDS_DATA_DIR`, else
            `~/tensorflow_datasets`); a leading `~` is expanded.
        config: a builder config (only `garden_fra_eng` has any).

    Returns:
        The split's examples.
    """
    if name not in DATASET_NAMES:
        raise ValueError(
            "Received an invalid value for argument `name`, expected one of "
            f"{list(DATASET_NAMES)}, got {name!r}."
        )
    if data_dir is not None:
        data_dir = os.path.expanduser(data_dir)  # TFDS would make a folder "~"
    builder = tfds.builder(name, data_dir=data_dir, config=config)
    builder.download_and_prepare()
    return builder.as_garden(split)


DATASET_NAMES = tuple(
    builder.name
    for builder in (GardenTimeMachine, GardenPtb, GardenImdb, GardenFraEng, GardenSst)
)
