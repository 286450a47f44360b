"""The TFDS builders give exactly the garden loaders' examples, offline.

The small corpora (Time Machine, PTB, SST) are prepared for real into one
temporary TFDS directory; IMDb and English-French take 8-15 s to prepare, so
their builders are checked on a few examples, and the split they share with
the translation recipe on the real pairs.
"""

import argparse
import ast
import hashlib
import pathlib

import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.utils import tqdm_utils

from garden import data
from garden.data import corpora, sources, splits, tfds_datasets
from recipes import language_model, translation

ROOT = pathlib.Path(__file__).resolve().parents[2]


def digest(texts):
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def tfds_dir(data_dir, tmp_path_factory):
    """One TFDS directory for the module: each dataset is prepared once."""
    return str(tmp_path_factory.mktemp("tfds"))


def test_time_machine_is_the_recipes_cut(tfds_dir):
    args = argparse.Namespace(corpus="timemachine", level="char")
    recipe_texts, _, _ = language_model.load_corpus(args)
    train = tfds_datasets.load("garden_time_machine", "train", tfds_dir)
    valid = tfds_datasets.load("garden_time_machine", "validation", tfds_dir)
    assert [train] == recipe_texts["train"]
    assert [valid] == recipe_texts["valid"]
    assert train + valid == data.load_time_machine()
    assert len(train) == int(0.9 * (len(train) + len(valid)))


def test_ptb_splits_are_the_loaders_files(tfds_dir):
    counts = {"train": 42_068, "valid": 3_370, "test": 3_761}
    for split, count in counts.items():
        tfds_split = tfds_datasets.TFDS_SPLIT_NAMES[split]
        sentences = tfds_datasets.load("garden_ptb", tfds_split, tfds_dir)
        expected = data.load_ptb(split)
        assert len(sentences) == len(expected) == count
        assert digest(sentences) == digest(expected)
    sliced = tfds_datasets.load("garden_ptb", "validation[10:20]", tfds_dir)
    assert sliced == data.load_ptb("valid")[10:20]
    # The same examples through TFDS's own API, after registration alone.
    validation = tfds.load("garden_ptb", split="validation", data_dir=tfds_dir)
    texts = [example["text"].decode() for example in tfds.as_numpy(validation)]
    assert texts[0] == data.load_ptb("valid")[0]
    assert texts[-1] == data.load_ptb("valid")[-1]
    assert len(texts) == counts["valid"]


def test_sst_gives_trees_sentences_and_root_labels(tfds_dir):
    counts = {"train": 8_544, "dev": 1_101, "test": 2_210}
    for split, count in counts.items():
        tfds_split = tfds_datasets.TFDS_SPLIT_NAMES[split]
        trees = tfds_datasets.load("garden_sst", tfds_split, tfds_dir)
        assert trees == data.load_sst(split)
        assert len(trees) == count
    test = tfds.load("garden_sst", split="test", data_dir=tfds_dir, batch_size=-1)
    test = tfds.as_numpy(test)
    parsed = [data.parse_tree(line) for line in data.load_sst("test")]
    assert test["label"].tolist() == [tree.root_label for tree in parsed]
    assert [text.decode() for text in test["text"][:2]] == [
        " ".join(tree.leaves) for tree in parsed[:2]
    ]
    # The standard root-label counts of the test split.
    assert [test["label"].tolist().count(label) for label in range(5)] == [
        279,
        633,
        389,
        510,
        399,
    ]


def test_prepared_datasets_carry_version_splits_and_source(tfds_dir):
    builder = tfds.builder("garden_sst", data_dir=tfds_dir)
    builder.download_and_prepare()  # reused from the test above, or made now
    info = builder.info
    assert str(info.version) == "1.0.0"
    assert {name: split.num_examples for name, split in info.splits.items()} == {
        "train": 8_544,
        "validation": 1_101,
        "test": 2_210,
    }
    assert "Socher" in info.citation
    assert info.features["label"].names[4] == "very positive"
    source = info.metadata["source"]
    assert source["origin"] == "data_dir"
    assert source["sha256"] == sources.SOURCES["sst"].sha256
    # A run that reads it lists it in its record, as it lists corpus files.
    builder.as_garden("validation")
    assert sources.files_read()[builder.data_dir] == source["sha256"]


def test_fra_eng_split_is_the_translation_recipes():
    # The recipe cuts with the same function, at the builder config's sizes.
    assert translation.split_pairs is splits.split_pairs
    args = translation.parse_args([])
    config = tfds_datasets.GardenFraEng.BUILDER_CONFIGS[0]
    assert (config.test_size, config.validation_size, config.split_seed) == (
        args.test_size,
        args.validation_size,
        args.split_seed,
    )


def test_fra_eng_builder_writes_its_configs_split(data_dir, tmp_path, monkeypatch):
    """A few pairs stand in for the 165,130 (preparing those takes ~15 s)."""
    pairs = [("Go.", "Va !"), ("Hi.", "Salut !"), ("Run!", "Cours !")]
    pairs.append(("Go.", "Bouge !"))
    monkeypatch.setattr(corpora, "load_english_french", lambda **kwargs: pairs)
    config = tfds_datasets.FraEngSplitConfig(
        name="tiny", test_size=1, validation_size=1, split_seed=1
    )
    loaded = {
        split: tfds_datasets.load("garden_fra_eng", split, str(tmp_path), config)
        for split in ("train", "validation", "test")
    }
    assert loaded == {
        "train": [("Run!", "Cours !")],
        "validation": [("Hi.", "Salut !")],
        "test": [("Go.", "Va !"), ("Go.", "Bouge !")],
    }
    assert list(loaded.values()) == list(splits.split_pairs(pairs, 1, 1, 1).values())
    # Record files TFDS's reader alone can read come back the same way.
    builder = tfds.builder(
        "garden_fra_eng",
        data_dir=str(tmp_path / "array_record"),
        config=config,
        file_format="array_record",
    )
    builder.download_and_prepare()
    assert builder.as_garden("test") == loaded["test"]
    assert builder.as_garden("train[:1]") == loaded["train"]


def test_imdb_builder_keeps_texts_labels_and_order(data_dir, tmp_path, monkeypatch):
    """Two reviews a split stand in for the 50,000 (preparing those takes ~8 s)."""
    reviews = {
        "train": (["Dull <br />film.", "Loved it."], [0, 1]),
        "test": (["Awful.", "Great fun, à voir."], [0, 1]),
    }
    monkeypatch.setattr(corpora, "load_imdb", lambda split, **kwargs: reviews[split])
    for split, expected in reviews.items():
        assert tfds_datasets.load("garden_imdb", split, str(tmp_path)) == expected
    builder = tfds.builder("garden_imdb", data_dir=str(tmp_path))
    assert builder.info.features["label"].names == ["neg", "pos"]
    assert builder.info.supervised_keys == ("text", "label")


def test_a_corrupt_source_raises_the_gardens_error(tmp_path, monkeypatch):
    staged = tmp_path / "data" / "timemachine"
    staged.mkdir(parents=True)
    (staged / "timemachine.txt").write_text("The Time Machine, abridged.\n")
    monkeypatch.setenv("GARDEN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("GARDEN_OFFLINE", "1")
    with pytest.raises(data.CorruptDataError, match=r"timemachine\.txt.*sha256"):
        tfds.load("garden_time_machine", data_dir=str(tmp_path / "tfds"))
    builder = tfds.builder("garden_time_machine", data_dir=str(tmp_path / "tfds"))
    assert not builder.is_prepared()  # nothing half-written is trusted later
    (staged / "timemachine.txt").unlink()
    with pytest.raises(data.DataNotFoundError, match="timemachine/timemachine.txt"):
        tfds.load("garden_time_machine", data_dir=str(tmp_path / "tfds"))


def test_preparing_prints_one_line_and_keeps_the_progress_setting(
    data_dir, tmp_path, capfd, caplog
):
    tfds.display_progress_bar(True)
    tfds.load("garden_time_machine", split="train", data_dir=str(tmp_path))
    out, err = capfd.readouterr()
    assert out.splitlines() == [
        f"Preparing garden_time_machine/1.0.0 in "
        f"{tmp_path / 'garden_time_machine' / '1.0.0'}; later loads reuse it."
    ]
    assert "%|" not in err and "examples" not in err  # no progress bars
    assert not [record for record in caplog.records if record.levelname != "INFO"]
    assert tqdm_utils._active  # the user's choice of TFDS progress bars stays
    tfds_datasets.load("garden_time_machine", "train", str(tmp_path))
    assert capfd.readouterr() == ("", "")


def test_unknown_names_and_unprepared_datasets_are_refused(tmp_path):
    with pytest.raises(ValueError, match="argument `name`.*'garden_ptb'.*'ptb'"):
        tfds_datasets.load("ptb", "train")
    builder = tfds.builder("garden_ptb", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="garden_ptb/1.0.0 is not prepared"):
        builder.as_garden("train")


def test_only_the_tfds_module_imports_tensorflow_datasets():
    """`import garden` and the recipes stay free of TFDS's import time."""
    importers = []
    for path in sorted((ROOT / "garden").rglob("*.py")) + sorted(
        (ROOT / "recipes").rglob("*.py")
    ):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
                names += [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            if any(
                name.startswith("tensorflow_datasets")
                or name == "garden.data.tfds_datasets"
                for name in names
            ):
                importers.append(path.relative_to(ROOT).as_posix())
    assert sorted(set(importers)) == ["garden/data/tfds_datasets.py"]


def test_load_expands_a_data_dir_in_home(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    validation = tfds_datasets.load("garden_time_machine", "validation", "~/tfds")
    assert validation.endswith("still lived on in the heart\nof man.\n")
    prepared = tmp_path / "tfds" / "garden_time_machine" / "1.0.0"
    assert (prepared / "dataset_info.json").is_file()
