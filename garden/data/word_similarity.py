"""The word-similarity test sets: rated word pairs and analogy questions.

WordSim-353 and SimLex-999 (`load_word_pairs`) and the word2vec analogy
questions (`load_analogies`), found the garden way: explicit path,
`$GARDEN_DATA/wordsim/`, or gensim's public copy. The scores are
`garden.training.word_similarity`'s.
"""

from garden.data import sources


def _read(name, path, download, cache_dir):
    located, _ = sources.locate(name, path=path, download=download, cache_dir=cache_dir)
    return sources.open_text(located)


def load_word_pairs(name, path=None, download=True, cache_dir=None):
    """`[(word1, word2, score)]` of `"wordsim353"` or `"simlex999"`.

    Lines starting with `#` are headers; others are `word1 TAB word2 TAB score`.
    """
    if name not in ("wordsim353", "simlex999"):
        raise ValueError(
            "Received an invalid value for argument `name`, expected "
            f"'wordsim353' or 'simlex999', got {name!r}."
        )
    pairs = []
    for number, line in enumerate(_read(name, path, download, cache_dir).splitlines()):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(
                f"Expected `word1<TAB>word2<TAB>score` on line {number + 1} of the "
                f"{name} file, got {line!r}."
            )
        pairs.append((parts[0], parts[1], float(parts[2])))
    return pairs


def load_analogies(path=None, download=True, cache_dir=None):
    """`[(section, a, b, c, d)]` of the word2vec analogy questions."""
    questions, section = [], None
    for number, line in enumerate(
        _read("analogies", path, download, cache_dir).splitlines()
    ):
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.split()
        if not words:
            continue
        if len(words) != 4 or section is None:
            raise ValueError(
                f"Expected `a b c d` under a `: section` line on line {number + 1} "
                f"of the analogy file, got {line!r}."
            )
        questions.append((section, *words))
    return questions
