"""Find a corpus on disk, or download and verify it, and extract it to a cache.

Every loader in `garden.data` finds its file in this order:

1. the explicit `path` argument (the user's own copy; used as given);
2. `$GARDEN_DATA/<relative path>`, laid out like the project's shared data
   directory (`imdb/aclImdb.tar.gz`, `ptb/ptb.zip`, ...), verified against the
   sha256 of that staged file;
3. the public source, downloaded with `keras.utils.get_file` into the cache and
   verified against the checksum known for *that* file (the official archives
   are not byte-identical to the staged files, so each source carries its own).

With no local copy and no network, `locate` fails within seconds with a
`DataNotFoundError` that names the expected file and `GARDEN_DATA`; it never
falls back to other data. Archives are extracted into
`$GARDEN_CACHE` (default `~/.cache/garden`), never beside the source: into a
temporary directory first, renamed into place only after a complete extraction
with a marker file written last, so a truncated archive leaves nothing behind
that a later run would trust.
"""

import dataclasses
import functools
import gzip
import hashlib
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import urllib.parse
import zipfile
import zlib

import keras

from garden.errors import UserError

DATA_ENV = "GARDEN_DATA"
CACHE_ENV = "GARDEN_CACHE"
OFFLINE_ENV = "GARDEN_OFFLINE"
COMPLETE_MARKER = ".garden-complete"


class DataNotFoundError(UserError, FileNotFoundError):
    """A corpus is neither given, nor under `$GARDEN_DATA`, nor downloadable."""


class CorruptDataError(UserError, ValueError):
    """A corpus file fails its checksum, or an archive is truncated or corrupt."""


@dataclasses.dataclass(frozen=True)
class DataSource:
    """Where one corpus file lives, locally and publicly, and how to check it.

    Args:
        name: short name used in messages and cache paths, e.g. `"imdb"`.
        relative_path: path of the staged file under `$GARDEN_DATA`.
        sha256: sha256 of the staged file under `$GARDEN_DATA`.
        url: public address of the file that is downloaded instead.
        url_hash: `(algorithm, hex digest)` of the file at `url`, or `None`
            where no official checksum is known (the extracted member is then
            checked through `member_sha256`).
        member: for downloads that are archives, the file inside them the
            loader needs (used to verify it when `member_sha256` is set).
        member_sha256: sha256 of `member` once extracted, or `None`.
    """

    name: str
    relative_path: str
    sha256: str
    url: str
    url_hash: tuple[str, str] | None
    member: str | None = None
    member_sha256: str | None = None

    @property
    def download_name(self):
        return os.path.basename(urllib.parse.urlparse(self.url).path)


_D2L = "http://d2l-data.s3-accelerate.amazonaws.com/"
_GENSIM_TEST_DATA = (
    "https://raw.githubusercontent.com/piskvorky/gensim/4.4.0/gensim/test/test_data/"
)

SOURCES = {
    # d2l's timemachine.txt is the staged file itself (same sha1 as d2l checks).
    "timemachine": DataSource(
        name="timemachine",
        relative_path="timemachine/timemachine.txt",
        sha256="8424dbd9532ac81f7e5f0b6add90e6952baea29158309d7d1bf3884f4e12c516",
        url=_D2L + "timemachine.txt",
        url_hash=("sha1", "090b5e7e70c295757f55df93cb0a180b9691891a"),
    ),
    # d2l's ptb.zip is the staged file itself.
    "ptb": DataSource(
        name="ptb",
        relative_path="ptb/ptb.zip",
        sha256="310d8f602882a5716613815ed75596e5764ea84ed04c5630eebaaf2b943ec5aa",
        url=_D2L + "ptb.zip",
        url_hash=("sha1", "319d85e578af0cdc590547f26231e4e31cdf1e42"),
    ),
    # The staged fra.txt.gz holds 165,130 pairs (2,000 held back); d2l's
    # fra-eng.zip holds all 167,130 pairs, with the sha1 d2l checks.
    "fra-eng": DataSource(
        name="fra-eng",
        relative_path="fra-eng/fra.txt.gz",
        sha256="83131031d7f5826f9bdb67a42e0180b26f0a50b5a11031bea095aa29c32948f7",
        url=_D2L + "fra-eng.zip",
        url_hash=("sha1", "94646ad1522d915e7b0f9296181140edcf86a4f5"),
        member="fra-eng/fra.txt",
    ),
    # The staged archive is rebuilt (no unsup/ folder, no *.feat files); the
    # official aclImdb_v1.tar.gz has the sha256 TensorFlow Datasets pins.
    "imdb": DataSource(
        name="imdb",
        relative_path="imdb/aclImdb.tar.gz",
        sha256="74c89fd203d4f7361f880157212a3efe180533391ee17e290462c9102ac976fb",
        url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        url_hash=(
            "sha256",
            "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
        ),
    ),
    # The staged zip is the original archive (same size, 789,539 bytes); no
    # checksum is published by Stanford, so we pin the staged file's sha256.
    "sst": DataSource(
        name="sst",
        relative_path="sst/trainDevTestTrees_PTB.zip",
        sha256="5c613a4f673fc74097d523a2c83f38e0cc462984d847b82c7aaf36b01cbbbfcc",
        url="https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip",
        url_hash=(
            "sha256",
            "5c613a4f673fc74097d523a2c83f38e0cc462984d847b82c7aaf36b01cbbbfcc",
        ),
    ),
    # No official checksum of glove.6B.zip is known; the extracted
    # glove.6B.50d.txt is checked against the digest pinned for it.
    "glove": DataSource(
        name="glove",
        relative_path="glove/glove.6B.50d.txt.gz",
        sha256="7c39dcb1b63d955e441ce86d83b89cd13907691e937869157cafe0ae2227575b",
        url="https://nlp.stanford.edu/data/glove.6B.zip",
        url_hash=None,
        member="glove.6B.50d.txt",
        member_sha256=(
            "d8f717f8dd4b545cb7f418ef9f3d0c3e6e68a6f48b97d32f8b7aae40cb31f96f"
        ),
    ),
    # The word-similarity and analogy sets, copied unchanged from gensim 4.4.0's
    # test data; the public copies are the same files at that release's tag.
    **{
        name: DataSource(
            name=name,
            relative_path=f"wordsim/{filename}",
            sha256=digest,
            url=_GENSIM_TEST_DATA + filename,
            url_hash=("sha256", digest),
        )
        for name, filename, digest in (
            (
                "analogies",
                "questions-words.txt",
                "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36",
            ),
            (
                "wordsim353",
                "wordsim353.tsv",
                "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d",
            ),
            (
                "simlex999",
                "simlex999.txt",
                "d5e0501971478a511430ee880bd0121e94ac701ba86d90544d83e6d2ba3db05d",
            ),
        )
    },
}


def cache_directory(cache_dir=None):
    """The directory that holds downloads and extracted archives.

    Args:
        cache_dir: explicit directory; else `$GARDEN_CACHE`; else
            `~/.cache/garden`.

    Returns:
        The directory path (created if missing).
    """
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or os.path.join(
            os.path.expanduser("~"), ".cache", "garden"
        )
    os.makedirs(cache_dir, exist_ok=True)
    return os.fspath(cache_dir)


@functools.lru_cache(maxsize=64)
def _file_digest(path, algorithm, size, mtime_ns):
    del size, mtime_ns  # only part of the memo key
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path, algorithm="sha256"):
    """The hex digest of a file, memoized while its size and mtime are unchanged.

    Args:
        path: the file.
        algorithm: a `hashlib` algorithm name such as `"sha256"` or `"sha1"`.

    Returns:
        The hex digest as a string.
    """
    stat = os.stat(path)
    return _file_digest(os.fspath(path), algorithm, stat.st_size, stat.st_mtime_ns)


def verify_checksum(path, algorithm, expected, what):
    """Raise `CorruptDataError` unless `path` has the expected digest.

    Args:
        path: the file to check.
        algorithm: `hashlib` algorithm name.
        expected: the hex digest it must have.
        what: how to name the file's origin in the message.
    """
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise CorruptDataError(
            f"The {what} `{path}` does not match its known {algorithm} checksum "
            f"(expected {expected}, got {actual}): it is truncated, corrupt or a "
            "different version. Replace it with the original file."
        )


def _host_reachable(url, timeout):
    """Whether a TCP connection to the url's host opens within `timeout` seconds.

    Runs in a daemon thread so that a slow DNS lookup cannot outlast `timeout`.
    """
    parsed = urllib.parse.urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    result = []

    def connect():
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result)


def _missing_message(source, reason):
    data_dir = os.environ.get(DATA_ENV)
    where = (
        f"`{DATA_ENV}` is not set"
        if not data_dir
        else f"`{DATA_ENV}={data_dir}` has no `{source.relative_path}`"
    )
    return (
        f"Could not find the {source.name} data file `{source.relative_path}`: no "
        f"`path` was given, {where}, and {reason}. Set `{DATA_ENV}` to a directory "
        f"holding `{source.relative_path}`, pass `path=`, or go online to download "
        f"{source.url}."
    )


_FILES_READ = {}


def files_read():
    """`{path: sha256}` of every corpus file `locate` has handed out in this process
    (and of every prepared dataset read, see `note_read`).

    A run's record (`garden.training.run_record`) lists them, so a figure says
    exactly which data it came from.
    """
    return dict(_FILES_READ)


def note_read(path, sha256):
    """List `path` in `files_read`, with the sha256 of the data it holds.

    For data read other than through `locate`: a prepared TFDS dataset
    (`garden.data.tfds_datasets`) is listed by its directory, with the sha256
    of the corpus file it was prepared from.
    """
    _FILES_READ[os.path.abspath(path)] = sha256


def _note(path):
    if os.path.isfile(path):
        _FILES_READ[os.path.abspath(path)] = file_digest(path)
    return path


def locate(name, path=None, download=True, cache_dir=None, timeout=5.0):
    """Find a corpus file: explicit path, then `$GARDEN_DATA`, then download.

    Args:
        name: a key of `SOURCES` (`"imdb"`, `"ptb"`, `"timemachine"`,
            `"fra-eng"`, `"sst"`, `"glove"`, `"analogies"`, `"wordsim353"`,
            `"simlex999"`).
        path: explicit file or directory, used as given (not checksummed).
        download: whether to download when no local copy exists. Downloads
            are also disabled when `$GARDEN_OFFLINE` is set to a non-empty value.
        cache_dir: where downloads go; see `cache_directory`.
        timeout: seconds allowed to reach the download host before giving up.

    Returns:
        A tuple `(file_path, origin)` where origin is `"path"`, `"data_dir"` or
        `"download"` (a downloaded file may be a different packaging than the
        staged one, e.g. a zip instead of a gzip).

    Raises:
        DataNotFoundError: no copy can be found or downloaded.
        CorruptDataError: a copy fails its checksum.
    """
    if name not in SOURCES:
        raise ValueError(
            "Received an invalid value for argument `name`, expected one of "
            f"{sorted(SOURCES)}, got {name!r}."
        )
    source = SOURCES[name]
    if path is not None:
        if not os.path.exists(path):
            raise DataNotFoundError(
                f"Received an invalid value for argument `path`: `{path}` does not "
                f"exist (expected the {source.name} file `{source.relative_path}` "
                "or its extracted directory)."
            )
        return _note(os.fspath(path)), "path"
    data_dir = os.environ.get(DATA_ENV)
    if data_dir:
        candidate = os.path.join(data_dir, source.relative_path)
        if os.path.isfile(candidate):
            verify_checksum(candidate, "sha256", source.sha256, f"${DATA_ENV} file")
            return _note(candidate), "data_dir"
    if not download or os.environ.get(OFFLINE_ENV):
        raise DataNotFoundError(
            _missing_message(
                source, f"downloading is disabled (`download=False` or `{OFFLINE_ENV}`)"
            )
        )
    return _note(_download(source, cache_dir, timeout)), "download"


def _download(source, cache_dir, timeout):
    cache_dir = cache_directory(cache_dir)
    target = os.path.join(cache_dir, "downloads", source.download_name)
    if not os.path.exists(target) and not _host_reachable(source.url, timeout):
        raise DataNotFoundError(
            _missing_message(source, f"{source.url} cannot be reached")
        )
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(max(timeout, 30.0))  # no read may hang forever
    try:
        downloaded = keras.utils.get_file(
            fname=source.download_name,
            origin=source.url,
            cache_dir=cache_dir,
            cache_subdir="downloads",
        )
    except Exception as error:  # get_file wraps network errors in several types
        raise DataNotFoundError(
            _missing_message(source, f"downloading {source.url} failed ({error})")
        ) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)
    if source.url_hash is not None:
        algorithm, expected = source.url_hash
        try:
            verify_checksum(downloaded, algorithm, expected, "downloaded file")
        except CorruptDataError:
            os.remove(downloaded)  # never trust it on a later run
            raise
    return downloaded


def _is_safe_member(member):
    parts = member.name.replace("\\", "/").split("/")
    inside = not member.name.startswith("/") and ".." not in parts
    return inside and (member.isfile() or member.isdir())


def _extract_into(archive, directory):
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            # Checked here rather than by filter="data", which is 6x slower on
            # IMDb's 50,000 small files: only plain files and folders, inside.
            members = [m for m in tar.getmembers() if _is_safe_member(m)]
            tar.extractall(directory, members=members, filter="fully_trusted")
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zip_file:
            bad_member = zip_file.testzip()
            if bad_member is not None:
                raise zipfile.BadZipFile(f"bad CRC in member {bad_member}")
            zip_file.extractall(directory)
    else:
        raise tarfile.ReadError("not a tar or zip archive")


def extract_archive(archive, cache_dir=None):
    """Extract a tar or zip archive once into the cache and return its directory.

    The directory is keyed by the archive's name and sha256, so a different
    archive never reuses an old extraction. Extraction goes to a temporary
    directory that is renamed into place only when complete, with a marker
    file written last; a failed extraction removes its temporary directory.

    Args:
        archive: path of a `.tar.gz`, `.tar` or `.zip` file.
        cache_dir: see `cache_directory`.

    Returns:
        The path of the directory holding the archive's contents.

    Raises:
        CorruptDataError: the archive is truncated, corrupt or not an archive.
    """
    root = os.path.join(cache_directory(cache_dir), "extracted")
    os.makedirs(root, exist_ok=True)
    stem = os.path.basename(archive).split(".")[0]
    final = os.path.join(root, f"{stem}-{file_digest(archive)[:16]}")
    if os.path.isfile(os.path.join(final, COMPLETE_MARKER)):
        return final
    temporary = tempfile.mkdtemp(prefix=f".{stem}-partial-", dir=root)
    try:
        _extract_into(archive, temporary)
        with open(os.path.join(temporary, COMPLETE_MARKER), "w") as marker:
            marker.write(file_digest(archive) + "\n")
        os.chmod(temporary, 0o755)  # mkdtemp makes it private
        if os.path.isdir(final):  # an unmarked leftover from an older layout
            shutil.rmtree(final)
        os.replace(temporary, final)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise CorruptDataError(
            f"The archive `{archive}` is truncated or corrupt ({error}); nothing "
            "was kept from it. Replace it with a complete copy."
        ) from error
    finally:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
    return final


def open_text(path, member=None):
    """Read a UTF-8 text file that may be gzipped or inside a zip archive.

    Args:
        path: a `.txt`, `.gz` or `.zip` file.
        member: the file inside a zip archive to read.

    Returns:
        The decoded text.

    Raises:
        CorruptDataError: the compressed file is truncated or corrupt.
    """
    try:
        if zipfile.is_zipfile(path):
            if member is None:
                raise ValueError(
                    "Received no value for argument `member`, expected the name of "
                    f"a file inside `{path}`."
                )
            with zipfile.ZipFile(path) as zip_file:
                data = zip_file.read(member)
        else:
            with open(path, "rb") as f:
                data = f.read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
    except (zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise CorruptDataError(
            f"The file `{path}` is truncated or corrupt ({error})."
        ) from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorruptDataError(
            f"The file `{path}` is not UTF-8 text ({error})."
        ) from error
