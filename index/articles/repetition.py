"""Lines that recur on several pages of one site: the site's furniture, whatever its wording.

Navigation, section labels, newsletter prompts, bylines' staff titles, "Topic:" tags: a site prints
them on every page, an article's sentences appear on one. A line (a unit of index/articles/furniture.py:
a sentence, cut again at runs of spaces) found on at least `threshold` pages of the same site is furniture.
Lines are compared after normalising case and runs of whitespace, and in short lines (six words or
fewer) numbers: "Updated 12:40" and "Updated 09:15" are one line, so that a stamp that differs only in
its numbers still counts, while sentences that differ only in their figures stay apart.

Pure bookkeeping, no I/O: the index keeps each page's keys (short hashes, a few hundred bytes a page)
and rebuilds the counts from them; `RepetitionCounts.add` and `remove` say which other pages changed
(a line of theirs became, or stopped being, furniture), so that only those pages are chunked again.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# A line on this many pages of one site is the site's, not an article's.
THRESHOLD = 3
# Changing how lines are normalised or hashed changes every key: the index's chunk settings name this.
VERSION = 1
_SPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")
# Numbers are folded only in lines of at most this many words: a stamp ("Updated 12:40 GMT") differs in its
# numbers alone, but so do a site's templated sentences ("The Sensex closed at 81,204 on Monday"), which
# are the article's.
_FOLD_DIGITS_WORDS = 6
# Repeated lines covering more than this share of a page's characters make it a copy, not furniture.
_MOST_OF_A_PAGE = 0.5
# Shorter than this (after normalising) a line is too common to say anything: "Yes.", "2.", "—".
_MIN_CHARS = 4


def normalise(line: str) -> str:
    """The form lines are compared in: lower case, one space for each run of whitespace, and in a short line
    each number as 0."""
    folded = _SPACE.sub(" ", line.strip().lower())
    return _DIGITS.sub("0", folded) if len(folded.split()) <= _FOLD_DIGITS_WORDS else folded


def key(line: str) -> str:
    """The short hash a line is counted by (empty for a line too short to count)."""
    norm = normalise(line)
    if len(norm) < _MIN_CHARS or not any(c.isalpha() for c in norm):
        return ""
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=8).hexdigest()


def page_keys(lines: Iterable[str]) -> frozenset[str]:
    """The distinct keys of one page's lines (a line printed twice on one page counts once)."""
    return frozenset(k for k in map(key, lines) if k)


def for_page(lines: list[str], repeated: frozenset[str]) -> frozenset[str]:
    """The repeated keys to leave out of one page: none when they would take most of its text.

    A site's furniture is a small part of each page. Lines repeated over more than half of a page's
    characters mean the page is a copy (the same article saved again, a syndicated story), and leaving
    them out would empty it: its text is kept, and copies are not this module's business.
    """
    if not repeated:
        return repeated
    total = sum(len(line) for line in lines)
    covered = sum(len(line) for line in lines if key(line) in repeated)
    return repeated if covered <= _MOST_OF_A_PAGE * total else frozenset()


def site_of(url: str | None, source: str) -> str:
    """The site a page belongs to: its URL's host (without "www."), else the folder it lies in."""
    if url:
        host = (urlsplit(url).hostname or "").lower()
        if host:
            return host.removeprefix("www.")
    folder = source.rsplit("/", 1)[0] if "/" in source else ""
    return f"folder:{folder}"


@dataclass
class RepetitionCounts:
    """How many pages of each site carry each line key, kept as pages are added and removed."""

    threshold: int = THRESHOLD
    pages: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)  # source -> (site, keys)
    _counts: dict[str, Counter[str]] = field(default_factory=dict)  # site -> key -> pages

    def __post_init__(self) -> None:
        if self.threshold < 2:
            raise ValueError(f"a repetition threshold of {self.threshold} would make every line furniture: "
                             "use 2 or more")
        for site, keys in self.pages.values():
            self._counts.setdefault(site, Counter()).update(keys)

    @classmethod
    def from_pages(cls, pages: Mapping[str, tuple[str, Iterable[str]]], threshold: int = THRESHOLD
                   ) -> RepetitionCounts:
        """Counts rebuilt from each page's site and keys (as the index keeps them)."""
        return cls(threshold, {source: (site, frozenset(keys)) for source, (site, keys) in pages.items()})

    def repeated(self, site: str) -> frozenset[str]:
        """The keys that are furniture on `site`: those on at least `threshold` of its pages."""
        return frozenset(k for k, n in self._counts.get(site, Counter()).items() if n >= self.threshold)

    def repeated_on(self, source: str) -> frozenset[str]:
        """The keys of one page's lines that are furniture on its site."""
        site, keys = self.pages[source]
        counts = self._counts.get(site, Counter())
        return frozenset(k for k in keys if counts[k] >= self.threshold)

    def add(self, source: str, site: str, keys: frozenset[str]) -> set[str]:
        """Add (or replace) a page; returns the other pages whose furniture changed and must be chunked again."""
        old_site = self.pages[source][0] if source in self.pages else None
        before = {s: self.repeated(s) for s in {site, old_site} if s is not None}
        self._drop(source)
        self._counts.setdefault(site, Counter()).update(keys)
        self.pages[source] = (site, keys)
        return self._changed(before) - {source}

    def remove(self, source: str) -> set[str]:
        """Remove a page; returns the other pages whose furniture changed (a line of theirs is no longer repeated)."""
        if source not in self.pages:
            return set()
        site = self.pages[source][0]
        before = {site: self.repeated(site)}
        self._drop(source)
        return self._changed(before)

    def _drop(self, source: str) -> None:
        """Take a page's keys out of its site's counts."""
        if source not in self.pages:
            return
        site, keys = self.pages.pop(source)
        counts = self._counts[site]
        counts.subtract(keys)
        for k in keys:
            if counts[k] <= 0:
                del counts[k]
        if not counts:
            del self._counts[site]

    def _changed(self, before: dict[str, frozenset[str]]) -> set[str]:
        """The pages holding a key that became, or stopped being, furniture on a site since `before`."""
        return {s for site, was in before.items() for s in self._pages_with(site, set(was ^ self.repeated(site)))}

    def _pages_with(self, site: str, keys: set[str]) -> set[str]:
        """The pages of `site` that carry any of `keys`."""
        if not keys:
            return set()
        return {s for s, (page_site, page) in self.pages.items() if page_site == site and not keys.isdisjoint(page)}
