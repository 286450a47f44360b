"""Corpus loaders: each returns plain Python strings and lists.

Each loader takes `path` (the user's own file or extracted directory),
`download`, and `cache_dir`, and finds its data as `sources.locate` describes:
`path`, then `$GARDEN_DATA`, then the public source with its checksum.
"""

import os
import tarfile
import zlib

from garden.data import sources

PTB_SPLITS = ("train", "valid", "test")
IMDB_SPLITS = ("train", "test")
SST_SPLITS = ("train", "dev", "test")
IMDB_CLASS_NAMES = ("neg", "pos")


def _check_split(split, splits):
    if split not in splits:
        raise ValueError(
            "Received an invalid value for argument `split`, expected one of "
            f"{list(splits)}, got {split!r}."
        )


def _find_file(directory, relative):
    """The first `relative` path found under `directory` or one level below it."""
    candidates = [os.path.join(directory, relative)] + [
        os.path.join(directory, child, relative)
        for child in sorted(os.listdir(directory))
    ]
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    raise sources.DataNotFoundError(
        f"Expected `{relative}` inside `{directory}` (or one folder below it), "
        "found none."
    )


def _extracted_root(name, path, download, cache_dir):
    """A directory holding the corpus: `path` itself, or its archive extracted."""
    located, _ = sources.locate(name, path=path, download=download, cache_dir=cache_dir)
    if os.path.isdir(located):
        return located
    return sources.extract_archive(located, cache_dir=cache_dir)


def load_time_machine(path=None, download=True, cache_dir=None):
    """The Time Machine (H. G. Wells), d2l's `timemachine.txt`, as one string.

    Args:
        path: a local copy of `timemachine.txt`.
        download: whether to download it when no local copy exists.
        cache_dir: cache for downloads (see `sources.cache_directory`).

    Returns:
        The whole text (3,221 lines), unmodified.
    """
    located, _ = sources.locate(
        "timemachine", path=path, download=download, cache_dir=cache_dir
    )
    return sources.open_text(located)


def load_ptb(split="train", path=None, download=True, cache_dir=None):
    """Penn Treebank in Mikolov's language-model version, one sentence per line.

    The text is already tokenized (lower case, numbers as `N`, rare words as
    `<unk>`); split each line on whitespace. Word counts before end-of-sentence
    tokens: train 887,521, valid 70,390, test 78,669.

    Args:
        split: `"train"`, `"valid"` or `"test"`.
        path: `ptb.zip`, or a directory holding `ptb.<split>.txt`.
        download: whether to download when no local copy exists.
        cache_dir: cache for downloads and extraction.

    Returns:
        A list of sentence strings (the leading space of each line removed).
    """
    _check_split(split, PTB_SPLITS)
    root = _extracted_root("ptb", path, download, cache_dir)
    with open(_find_file(root, f"ptb.{split}.txt"), encoding="utf-8") as f:
        return [line.strip() for line in f.read().splitlines()]


def _review_key(name):
    """`(label, review id)` of `.../<split>/<neg|pos>/<id>_<rating>.txt`, else None."""
    parts = name.replace("\\", "/").split("/")
    if len(parts) < 3 or parts[-2] not in IMDB_CLASS_NAMES:
        return None
    stem = parts[-1]
    if not stem.endswith(".txt") or not stem.split("_")[0].isdigit():
        return None
    return parts[-3], IMDB_CLASS_NAMES.index(parts[-2]), int(stem.split("_")[0])


def _read_imdb_archive(archive, split):
    """Reviews of one split, read in one streaming pass over the `.tar.gz`."""
    reviews = []
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                key = _review_key(member.name) if member.isfile() else None
                if key is not None and key[0] == split:
                    text = tar.extractfile(member).read().decode("utf-8")
                    reviews.append((key[1], key[2], text))
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise sources.CorruptDataError(
            f"The archive `{archive}` is truncated or corrupt ({error})."
        ) from error
    return reviews


def _read_imdb_directory(directory, split):
    split_dir = _find_file(directory, split)
    reviews = []
    for label, class_name in enumerate(IMDB_CLASS_NAMES):
        class_dir = os.path.join(split_dir, class_name)
        for name in os.listdir(class_dir):
            key = _review_key(f"{split}/{class_name}/{name}")
            if key is not None:
                with open(os.path.join(class_dir, name), encoding="utf-8") as f:
                    reviews.append((label, key[2], f.read()))
    return reviews


def load_imdb(split="train", path=None, download=True, cache_dir=None):
    """IMDb Large Movie Review Dataset v1.0: reviews and binary labels.

    Reviews keep their HTML `<br />` breaks; `WordTokenizer("review")` removes
    them. Each split has 12,500 negative and 12,500 positive reviews. The
    reviews are read straight from the `.tar.gz` in one streaming pass (about
    2 s): extracting its 50,000 small files would cost more than reading them.
    For `keras.utils.text_dataset_from_directory`, extract it with
    `garden.data.extract_archive` and pass the `aclImdb` folder as `path`.

    Args:
        split: `"train"` or `"test"`.
        path: `aclImdb.tar.gz` / `aclImdb_v1.tar.gz`, or the extracted
            `aclImdb` directory.
        download: whether to download when no local copy exists.
        cache_dir: cache for downloads.

    Returns:
        A tuple `(texts, labels)`: lists of review strings and of labels
        (0 = neg, 1 = pos), ordered by label then review id.

    Raises:
        ValueError: the split does not hold 0/1 reviews of both classes.
    """
    _check_split(split, IMDB_SPLITS)
    located, _ = sources.locate(
        "imdb", path=path, download=download, cache_dir=cache_dir
    )
    if os.path.isdir(located):
        reviews = _read_imdb_directory(located, split)
    else:
        reviews = _read_imdb_archive(located, split)
    if not reviews:
        raise ValueError(
            f"Expected `{split}/neg/*.txt` and `{split}/pos/*.txt` reviews in "
            f"`{located}`, found none."
        )
    reviews.sort(key=lambda review: review[:2])
    return [review[2] for review in reviews], [review[0] for review in reviews]


def load_english_french(path=None, num_examples=None, download=True, cache_dir=None):
    """English-French sentence pairs (Tatoeba via manythings.org, d2l's fra.txt).

    The staged `fra-eng/fra.txt.gz` has 165,130 pairs; the downloaded
    `fra-eng.zip` has all 167,130. Only the first two tab-separated columns
    are read (later releases add an attribution column).

    Args:
        path: `fra.txt`, `fra.txt.gz` or d2l's `fra-eng.zip`.
        num_examples: keep only the first this many pairs, or `None` for all.
        download: whether to download when no local copy exists.
        cache_dir: cache for downloads.

    Returns:
        A list of `(english, french)` string tuples, in file order.
    """
    located, _ = sources.locate(
        "fra-eng", path=path, download=download, cache_dir=cache_dir
    )
    if os.path.isdir(located):
        located = _find_file(located, "fra.txt")
    text = sources.open_text(located, member=sources.SOURCES["fra-eng"].member)
    pairs = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line:
            continue
        columns = line.split("\t")
        if len(columns) < 2:
            raise ValueError(
                f"Expected `English<TAB>French` on line {line_number} of "
                f"`{located}`, got {line[:60]!r}."
            )
        pairs.append((columns[0], columns[1]))
        if num_examples is not None and len(pairs) == num_examples:
            break
    return pairs


def load_sst(split="train", path=None, download=True, cache_dir=None):
    """Stanford Sentiment Treebank: one bracketed PTB-format tree per line.

    Parse the lines with `garden.data.parse_tree`. Tree counts: train 8,544,
    dev 1,101, test 2,210.

    Args:
        split: `"train"`, `"dev"` or `"test"`.
        path: `trainDevTestTrees_PTB.zip`, or a directory holding
            `trees/<split>.txt`.
        download: whether to download when no local copy exists.
        cache_dir: cache for downloads and extraction.

    Returns:
        A list of tree strings such as `"(3 (2 The) (3 Rock))"`.
    """
    _check_split(split, SST_SPLITS)
    root = _extracted_root("sst", path, download, cache_dir)
    with open(
        _find_file(root, os.path.join("trees", f"{split}.txt")), encoding="utf-8"
    ) as f:
        return [line.strip() for line in f.read().splitlines() if line.strip()]
