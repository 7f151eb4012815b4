"""The documentation's links: every relative link in the README and docs/ leads somewhere; the README is short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 200

# [label](target): the target ends at the first space or closing parenthesis (no link here has either).
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _prose(text: str) -> list[str]:
    """The lines of a markdown text outside fenced code blocks, where links and headings mean something."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file, numbered as GitHub numbers repeated ones (-1, -2, …)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(path.read_text("utf-8")):
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            base = anchor(heading.group(1))
            count = seen.get(base, 0)
            found.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
    return found


def relative_links(path: Path) -> list[str]:
    """The links of a markdown file that point into the repository (not to the web, not mail)."""
    return [target for line in _prose(path.read_text("utf-8")) for target in _LINK.findall(line)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(doc: Path) -> None:
    """Each relative link names an existing file, and its #anchor an existing heading of it."""
    broken = []
    for target in relative_links(doc):
        file, _, fragment = target.partition("#")
        where = (doc.parent / file).resolve() if file else doc
        if not where.exists():
            broken.append(f"{target}: no file {where}")
        elif fragment and where.suffix == ".md" and fragment not in anchors(where):
            broken.append(f"{target}: no heading #{fragment} in {where.relative_to(REPO)}")
    assert not broken, "\n".join(broken)


def test_docs_have_links_to_check() -> None:
    """The README links to the docs, so the test above has links to follow."""
    targets = {t.partition("#")[0] for t in relative_links(REPO / "README.md")}
    assert {"docs/discord.md", "docs/architecture.md", "docs/development.md"} <= targets


def test_readme_is_a_front_door() -> None:
    """The README stays within 200 lines: everything else has a doc of its own."""
    lines = (REPO / "README.md").read_text("utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_anchor_follows_github() -> None:
    """Headings with code, parentheses and punctuation get the anchors GitHub gives them."""
    assert anchor("By feed: `[[feeds]]` and `articlebot feeds`") == "by-feed-feeds-and-articlebot-feeds"
    assert anchor("Running several processes (sharding)") == "running-several-processes-sharding"
    assert anchor("Embedded vs PostgreSQL at scale (`benchmarks/bench_pg_scale.py`)") == \
        "embedded-vs-postgresql-at-scale-benchmarksbench_pg_scalepy"
