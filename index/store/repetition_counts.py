"""The index's counts of lines repeated across a site's pages (index/articles/repetition.py), kept per generation.

Each generation folder of the embedded index holds `repetition.json`: for every article its site and the
keys of its lines (8-byte hashes, about 17 bytes a line). A build loads the live generation's, adds and
removes the pages that changed, and chunks again, besides the new and changed pages, exactly the kept
pages whose repeated lines changed (a line that now reaches the threshold, or falls below it).
It is written with the generation and checksummed in its manifest. A live generation without it (built
before it existed) is not trusted: the build starts from scratch.
"""

from __future__ import annotations

import json
from pathlib import Path

from index.articles.corpus import Article
from index.articles.furniture import units
from index.articles.repetition import VERSION, RepetitionCounts, for_page, page_keys, site_of

FILE = "repetition.json"


def article_keys(article: Article) -> frozenset[str]:
    """The keys of an article's lines (the units furniture is judged by, in its prose paragraphs)."""
    return page_keys(lines_of(article))


def repeated_in(article: Article, counts: RepetitionCounts) -> frozenset[str]:
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


def dumps(counts: RepetitionCounts) -> bytes:
    """The counts as the generation file holds them."""
    data = {"version": VERSION, "threshold": counts.threshold,
            "pages": {s: [site, sorted(keys)] for s, (site, keys) in sorted(counts.pages.items())}}
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def update(counts: RepetitionCounts, fresh: dict[str, Article], removed: tuple[str, ...],
           kept: list[str]) -> set[str]:
    """Add the fresh articles, drop the removed ones; returns the kept articles whose repeated lines changed."""
    before = {source: counts.repeated_on(source) for source in kept if source in counts.pages}
    for source in removed:
        counts.remove(source)
    for source, article in fresh.items():
        counts.add(source, site_of(article.url, source), article_keys(article))
    return {source for source, was in before.items() if counts.repeated_on(source) != was}
