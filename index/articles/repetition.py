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
    """How many pages of each site carry each line key, kept as pages are added and removed.

    Adding or removing a page costs the number of its keys, whatever the site's size: which other
    pages it changes is known from `_holders`, the pages carrying each key still on `threshold` pages
    or fewer (only such a key can cross the threshold). Judging what the whole site repeats at each
    page (as this did at first) made a build of one folder of 33,000 pages run for hours.
    """

    threshold: int = THRESHOLD
    pages: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)  # source -> (site, keys)
    _counts: dict[str, Counter[str]] = field(default_factory=dict)  # site -> key -> pages
    _holders: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (site, key) -> pages, while few

    def __post_init__(self) -> None:
        if self.threshold < 2:
            raise ValueError(f"a repetition threshold of {self.threshold} would make every line furniture: "
                             "use 2 or more")
        for source, (site, keys) in self.pages.items():
            counts = self._counts.setdefault(site, Counter())
            for k in keys:
                counts[k] += 1
                self._hold(site, k, source, counts[k])

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
        touched = self._keys_of(source) | {(site, k) for k in keys}
        before = {t: self._is_repeated(t) for t in touched}
        self._drop(source)
        counts = self._counts.setdefault(site, Counter())
        for k in keys:
            counts[k] += 1
            self._hold(site, k, source, counts[k])
        self.pages[source] = (site, keys)
        return self._flipped(before) - {source}

    def update(self, pages: Mapping[str, tuple[str, frozenset[str]]], removed: Iterable[str],
               kept: Iterable[str]) -> set[str]:
        """Add the fresh pages (source -> (site, keys)), drop the removed ones; returns the kept pages whose
        repeated lines changed."""
        changed: set[str] = set()
        for source in removed:
            changed |= self.remove(source)
        for source, (site, keys) in pages.items():
            changed |= self.add(source, site, keys)
        return changed & set(kept) - set(pages)

    def remove(self, source: str) -> set[str]:
        """Remove a page; returns the other pages whose furniture changed (a line of theirs is no longer repeated)."""
        before = {t: self._is_repeated(t) for t in self._keys_of(source)}
        self._drop(source)
        return self._flipped(before) - {source}

    def _keys_of(self, source: str) -> set[tuple[str, str]]:
        if source not in self.pages:
            return set()
        site, keys = self.pages[source]
        return {(site, k) for k in keys}

    def _is_repeated(self, site_key: tuple[str, str]) -> bool:
        site, k = site_key
        return self._counts.get(site, Counter())[k] >= self.threshold

    def _flipped(self, before: dict[tuple[str, str], bool]) -> set[str]:
        """The pages carrying a key that became, or stopped being, furniture since `before`.

        Such a key is now on `threshold` pages or one fewer, so `_holders` knows them.
        """
        changed: set[str] = set()
        for site_key, was in before.items():
            if self._is_repeated(site_key) != was:
                changed |= self._holders.get(site_key, set())
        return changed

    def _hold(self, site: str, k: str, source: str, count: int) -> None:
        """Note that `source` carries `k`, now on `count` pages (forgotten once it is on more than threshold)."""
        if count <= self.threshold:
            self._holders.setdefault((site, k), set()).add(source)
        else:
            self._holders.pop((site, k), None)

    def _drop(self, source: str) -> None:
        """Take a page's keys out of its site's counts."""
        if source not in self.pages:
            return
        site, keys = self.pages.pop(source)
        counts = self._counts[site]
        for k in keys:
            if counts[k] == self.threshold + 1:  # back to `threshold` pages: who they are, found once
                self._holders[(site, k)] = self._pages_with(site, k)
            counts[k] -= 1
            holders = self._holders.get((site, k))
            if holders is not None:
                holders.discard(source)
                if not holders:
                    del self._holders[(site, k)]
            if counts[k] <= 0:
                del counts[k]
        if not counts:
            del self._counts[site]

    def _pages_with(self, site: str, k: str) -> set[str]:
        """The pages of `site` that carry key `k` (reads every page: only when a key falls back to the threshold)."""
        return {s for s, (page_site, page) in self.pages.items() if page_site == site and k in page}
