"""The docs hold together: every relative link lands, the README stays short.

Links are read with markdown-it-py (Keras's own dependency, through rich), so
links inside code blocks and code spans are not taken for links. Anchors are
checked against GitHub's heading ids.
"""

import pathlib
import re

import pytest
from markdown_it import MarkdownIt

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = sorted(
    [
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        ROOT / "benchmarks" / "README.md",
        *(ROOT / "docs").glob("*.md"),
    ]
)
README_MAX_LINES = 220

_parser = MarkdownIt("commonmark").enable("table")


def _inline_tokens(path):
    for token in _parser.parse(path.read_text(encoding="utf-8")):
        if token.type == "inline":
            yield token


def links(path):
    """Every link target of a markdown file, in order."""
    return [
        child.attrGet("href")
        for token in _inline_tokens(path)
        for child in token.children
        if child.type == "link_open"
    ]


def anchors(path):
    """GitHub's ids of a markdown file's headings ("-1", "-2" for repeats)."""
    tokens = _parser.parse(path.read_text(encoding="utf-8"))
    seen = {}
    for opening, inline in zip(tokens, tokens[1:]):
        if opening.type != "heading_open":
            continue
        text = "".join(
            child.content
            for child in inline.children
            if child.type in ("text", "code_inline")
        )
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        yield slug if count == 0 else f"{slug}-{count}"


def broken_links(path, root=ROOT):
    """The relative links of `path` whose file (inside `root`) or heading is
    missing."""
    broken = []
    for target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists() or root not in (resolved, *resolved.parents):
            broken.append(target)
        elif anchor and resolved.suffix == ".md":
            if anchor not in set(anchors(resolved)):
                broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_a_broken_link_or_anchor_is_caught(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "outside.md").write_text("# Outside the repository\n")
    (root / "other.md").write_text("# A page\n\n## Its `--flag` section\n")
    page = root / "page.md"
    page.write_text(
        "# Title\n\n"
        "[fine](other.md#its---flag-section) [fine](#title) [web](https://x.y)\n"
        "[no file](missing.md) [no heading](other.md#nowhere) [out](../outside.md)\n"
        "\n```sh\n[not a link](missing.md)\n```\n"
    )
    assert broken_links(page, root=root) == [
        "missing.md",
        "other.md#nowhere",
        "../outside.md",
    ]


def test_the_readme_stays_a_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES


def test_every_docs_page_is_listed_in_the_index():
    listed = {target.partition("#")[0] for target in links(ROOT / "docs" / "index.md")}
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"index.md"}
    assert pages - listed == set()
