"""What a build does with the counts of lines repeated across a site's pages (index/articles/repetition.py).

A build adds the new and changed pages to the live index's counts, removes the removed ones, and
chunks again, besides the new and changed pages, exactly the kept pages whose repeated lines changed
(a line that now reaches the threshold, or falls below it). The embedded index keeps the counts as
arrays in its segments and generations (index/store/embedded/repetition_table.py); an index written
before segments kept them in `repetition.json` (`load` reads it, to convert it). A live index
without counts (built before they existed) is not trusted: the build starts from scratch.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Mapping
from pathlib import Path
from typing import Protocol

from index.articles.corpus import Article
from index.articles.furniture import units
from index.articles.repetition import VERSION, RepetitionCounts, for_page, page_keys, site_of

FILE = "repetition.json"


def article_keys(article: Article) -> frozenset[str]:
    """The keys of an article's lines (the units furniture is judged by, in its prose paragraphs)."""
    return page_keys(lines_of(article))


def repeated_in(article: Article, counts: Counts) -> frozenset[str]:
    """The keys of the article's lines to leave out as repeated on its site (none for a page that is a copy)."""
    if article.source not in counts.pages:
        return frozenset()
    return for_page(lines_of(article), counts.repeated_on(article.source))


def lines_of(article: Article) -> list[str]:
    """An article's lines as repetition counts them."""
    text = article.text
    return [text[u.start:u.end] for p in article.paragraphs for u in units(text, p.span)]


def load(folder: Path | None) -> RepetitionCounts | None:
    """The counts kept in a generation folder; None when it has none (or of another version)."""
    if folder is None:
        return None
    try:
        data = json.loads((folder / FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("version") != VERSION:
        return None
    return RepetitionCounts.from_pages({s: (site, keys) for s, (site, keys) in data["pages"].items()},
                                       threshold=data["threshold"])


class Counts(Protocol):
    """What a build needs of the counts: `RepetitionCounts`, or the embedded index's arrays
    (index/store/embedded/repetition_table.py)."""

    @property
    def pages(self) -> Container[str]:
        """The pages counted, by source."""
        ...

    def repeated_on(self, source: str) -> frozenset[str]:
        """The keys of a counted page's lines that are furniture on its site."""
        ...

    def remove(self, source: str) -> object:
        """Stop counting a page."""
        ...

    def update(self, pages: Mapping[str, tuple[str, frozenset[str]]], removed: Iterable[str],
               kept: Iterable[str]) -> set[str]:
        """Count fresh pages (source -> (site, keys)), drop removed ones; the kept pages whose furniture changed."""
        ...


def update(counts: Counts, fresh: dict[str, Article], removed: tuple[str, ...], kept: list[str]) -> set[str]:
    """Add the fresh articles, drop the removed ones; returns the kept articles whose repeated lines changed."""
    pages = {source: (site_of(article.url, source), article_keys(article)) for source, article in fresh.items()}
    return counts.update(pages, removed, kept)
