"""Files a recipe writes about its results, written so none is ever half-written."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path, suffix=""):
    """A temporary path beside `path`, renamed to `path` when the block succeeds.

    A reader (or a crash) never sees a half-written file: `path` is either
    the old file or the whole new one; on an error the temporary file goes.

    Args:
        path: The file to write; its directory is created if missing.
        suffix: Ending the temporary name needs (`".keras"` for `model.save`).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out", "note.txt")
    >>> with atomic_write(path) as temporary:
    ...     _ = open(temporary, "w").write("done")
    >>> open(path).read()
    'done'
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    name = os.path.basename(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{name}-", suffix=suffix, dir=directory
    )
    os.close(handle)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_tsv(path, header, rows):
    """Tab-separated lines, written to a temporary file beside `path` and renamed.

    A reader (or a crash) never sees a half-written file: `path` is either
    the old file or the whole new one.

    Args:
        path: The file to write; its directory is created if missing.
        header: The column names.
        rows: Iterable of rows, each a sequence of values (written with `str`).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out", "table.tsv")
    >>> write_tsv(path, ["word", "count"], [("the", 3), ("cat", 1)])
    >>> open(path).read()
    'word\\tcount\\nthe\\t3\\ncat\\t1\\n'
    """
    with atomic_write(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write("\t".join(header) + "\n")
            for row in rows:
                f.write("\t".join(str(value) for value in row) + "\n")
