"""Finding, verifying and extracting corpora: missing, corrupt and cached data."""

import io
import os
import tarfile
import time
import zipfile

import pytest

from garden import data
from garden.data import sources


def write_ptb_zip(path, lines=("a b c", "b c d")):
    """A zip laid out like Mikolov's ptb.zip, with tiny splits."""
    with zipfile.ZipFile(path, "w") as archive:
        for split in ("train", "valid", "test"):
            text = "".join(f" {line} \n" for line in lines)
            archive.writestr(f"ptb/ptb.{split}.txt", text)
    return path


def write_imdb_tar(path):
    """A .tar.gz laid out like aclImdb, with two reviews per class and split."""
    with tarfile.open(path, "w:gz") as archive:
        for split in ("train", "test"):
            for label in ("neg", "pos"):
                for review_id in (1, 0):
                    text = f"{split} {label} review {review_id}<br />End.".encode()
                    member = tarfile.TarInfo(
                        f"aclImdb/{split}/{label}/{review_id}_7.txt"
                    )
                    member.size = len(text)
                    archive.addfile(member, io.BytesIO(text))
    return path


def truncate(path, fraction=0.5):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(int(size * fraction))
    return path


def cache_entries(cache_dir):
    extracted = os.path.join(cache_dir, "extracted")
    return sorted(os.listdir(extracted)) if os.path.isdir(extracted) else []


@pytest.fixture
def empty_data_dir(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    directory.mkdir()
    monkeypatch.setenv("GARDEN_DATA", str(directory))
    monkeypatch.delenv("GARDEN_OFFLINE", raising=False)
    return directory


@pytest.mark.parametrize("name", sorted(sources.SOURCES))
def test_missing_data_fails_fast_naming_file_and_env(name, empty_data_dir, tmp_path):
    start = time.perf_counter()
    with pytest.raises(data.DataNotFoundError) as error:
        data.locate(name, download=False, cache_dir=str(tmp_path / "cache"))
    assert time.perf_counter() - start < 2.0
    message = str(error.value)
    assert sources.SOURCES[name].relative_path in message
    assert "GARDEN_DATA" in message


def test_offline_environment_disables_downloads(empty_data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("GARDEN_OFFLINE", "1")
    with pytest.raises(data.DataNotFoundError, match="ptb/ptb.zip"):
        data.load_ptb("train", cache_dir=str(tmp_path / "cache"))


def test_unreachable_host_fails_within_timeout(empty_data_dir, monkeypatch, tmp_path):
    # Port 9 on the loopback interface refuses at once: no outside network is used.
    source = sources.SOURCES["timemachine"]
    unreachable = sources.DataSource(
        **{**vars(source), "url": "http://127.0.0.1:9/t.txt"}
    )
    monkeypatch.setitem(sources.SOURCES, "timemachine", unreachable)
    start = time.perf_counter()
    with pytest.raises(data.DataNotFoundError, match="cannot be reached"):
        data.load_time_machine(cache_dir=str(tmp_path / "cache"), download=True)
    assert time.perf_counter() - start < 5.0
    assert not os.path.exists(tmp_path / "cache" / "downloads" / "t.txt")


def test_missing_explicit_path_names_the_argument(tmp_path):
    with pytest.raises(data.DataNotFoundError, match="`path`"):
        data.load_ptb("train", path=str(tmp_path / "nowhere.zip"))


def test_unknown_source_name():
    with pytest.raises(ValueError, match="argument `name`"):
        data.locate("wikitext", download=False)


def test_data_dir_file_with_wrong_checksum_is_refused(empty_data_dir, tmp_path):
    (empty_data_dir / "ptb").mkdir()
    write_ptb_zip(empty_data_dir / "ptb" / "ptb.zip")
    with pytest.raises(data.CorruptDataError, match="checksum"):
        data.load_ptb("train", cache_dir=str(tmp_path / "cache"))
    assert cache_entries(str(tmp_path / "cache")) == []


def test_explicit_archive_is_extracted_once_into_the_cache(tmp_path, monkeypatch):
    archive = write_ptb_zip(tmp_path / "ptb.zip")
    cache = str(tmp_path / "cache")
    assert data.load_ptb("valid", path=str(archive), cache_dir=cache) == [
        "a b c",
        "b c d",
    ]
    (entry,) = cache_entries(cache)
    assert os.path.isfile(os.path.join(cache, "extracted", entry, ".garden-complete"))
    assert sorted(os.listdir(tmp_path)) == ["cache", "ptb.zip"]  # nothing beside it

    def no_second_extraction(*args):
        raise AssertionError("the cached extraction should have been reused")

    monkeypatch.setattr(sources, "_extract_into", no_second_extraction)
    assert data.load_ptb("test", path=str(archive), cache_dir=cache) == [
        "a b c",
        "b c d",
    ]


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_truncated_archive_raises_and_leaves_cache_clean(kind, tmp_path):
    if kind == "zip":
        archive = write_ptb_zip(tmp_path / "ptb.zip", lines=["word " * 2000] * 20)
    else:
        archive = write_imdb_tar(tmp_path / "aclImdb.tar.gz")
    truncate(archive)
    cache = str(tmp_path / "cache")
    with pytest.raises(data.CorruptDataError, match="truncated or corrupt"):
        data.extract_archive(str(archive), cache_dir=cache)
    assert cache_entries(cache) == []


def test_unmarked_leftover_extraction_is_not_trusted(tmp_path):
    archive = write_ptb_zip(tmp_path / "ptb.zip")
    cache = str(tmp_path / "cache")
    directory = data.extract_archive(str(archive), cache_dir=cache)
    os.remove(os.path.join(directory, ".garden-complete"))
    with open(os.path.join(directory, "ptb", "ptb.train.txt"), "w") as f:
        f.write("half written")
    assert data.extract_archive(str(archive), cache_dir=cache) == directory
    assert data.load_ptb("train", path=str(archive), cache_dir=cache) == [
        "a b c",
        "b c d",
    ]


def test_imdb_from_small_archive_and_directory(tmp_path):
    archive = write_imdb_tar(tmp_path / "aclImdb.tar.gz")
    texts, labels = data.load_imdb("test", path=str(archive))
    assert labels == [0, 0, 1, 1]
    assert texts[0] == "test neg review 0<br />End."
    directory = data.extract_archive(str(archive), cache_dir=str(tmp_path / "cache"))
    from_directory = data.load_imdb("test", path=os.path.join(directory, "aclImdb"))
    assert from_directory == (texts, labels)


def test_truncated_imdb_archive_raises(tmp_path):
    archive = truncate(write_imdb_tar(tmp_path / "aclImdb.tar.gz"))
    with pytest.raises(data.CorruptDataError, match="truncated or corrupt"):
        data.load_imdb("train", path=str(archive))


def test_invalid_split_names_argument(tmp_path):
    with pytest.raises(ValueError, match="argument `split`"):
        data.load_ptb("validation", path=str(tmp_path))
