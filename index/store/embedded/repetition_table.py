"""The embedded index's counts of lines repeated on a site's pages (#36), kept so that a change costs what it changes.

`RepetitionCounts` (index/articles/repetition.py) holds every page's line keys in Python sets. Kept
as one JSON file per generation, read and rebuilt by every build, it cost 1.6 s of a build that
adds one article at 33,000 pages, and grew with the corpus. Here the same counts live in arrays:

- each segment keeps its articles' line keys as 64-bit ids (`repetition.npy`, with the offsets
  where each article's begin): a key's 8 bytes XOR the hash of its site, so that one line on two
  sites is two ids;
- each generation keeps how many live pages carry each id: two sorted arrays
  (`repetition_ids.npy`, `repetition_counts.npy`);
- a build changes the counts by the ids of the pages it adds and drops, in one pass, and finds the
  kept pages whose furniture changed (an id crossing the threshold) by looking the crossing ids up
  in the segments' arrays: the work grows with the change and the number of ids, never with Python
  objects per page.

It offers the build what `RepetitionCounts` does (`pages`, `repeated_on`, `remove`, `update`), so
the shared build steps (index/store/build.py) work with either.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from index.articles.repetition import THRESHOLD, RepetitionCounts, site_of
from index.store.embedded.segmented import Snapshot

IDS, COUNTS = "repetition_ids.npy", "repetition_counts.npy"
_NONE = np.zeros(0, dtype=np.uint64)


def site_hash(site: str) -> int:
    """The 64-bit hash of a site's name that its line keys are folded with."""
    return int.from_bytes(hashlib.blake2b(site.encode("utf-8"), digest_size=8).digest(), "big")


def page_ids(site: str, keys: Iterable[str]) -> np.ndarray:
    """A page's ids: its line keys (16 hex digits each) folded with its site's hash, sorted, each once."""
    folded = np.fromiter((int(k, 16) for k in keys), dtype=np.uint64) ^ np.uint64(site_hash(site))
    return np.unique(folded)


class _Pages:
    """`table.pages`: whether a source is one of the pages counted (live in the index, or added by this build)."""

    def __init__(self, table: RepetitionTable) -> None:
        self._table = table

    def __contains__(self, source: object) -> bool:
        return isinstance(source, str) and self._table.ids_of(source) is not None


class RepetitionTable:
    """The counts of the live generation, changed by one build's pages (see the module's docstring)."""

    def __init__(self, ids: np.ndarray = _NONE, counts: np.ndarray = _NONE, snapshot: Snapshot | None = None,
                 others: Mapping[str, tuple[str, np.ndarray]] | None = None, threshold: int = THRESHOLD) -> None:
        self.threshold = threshold
        self._ids, self._counts = np.asarray(ids, dtype=np.uint64), np.asarray(counts, dtype=np.int64)
        self._snapshot = snapshot
        # Pages counted but in no segment: an index of an older format being converted. source -> (site, ids)
        self._others = dict(others or {})
        self._fresh: dict[str, tuple[str, np.ndarray]] = {}  # pages this build adds: source -> (site, ids)
        self._dropped: set[str] = set()  # counted pages this build removes or replaces
        self.pages = _Pages(self)

    @classmethod
    def load(cls, folder: Path, snapshot: Snapshot) -> RepetitionTable | None:
        """The counts kept in a generation folder, over its segments; None when it has none."""
        try:
            return cls(np.load(folder / IDS), np.load(folder / COUNTS), snapshot)
        except (OSError, ValueError):
            return None

    @classmethod
    def converted(cls, counts: RepetitionCounts) -> RepetitionTable:
        """The counts of an index written before segments (their pages' keys in Python sets)."""
        others = {source: (site, page_ids(site, keys)) for source, (site, keys) in counts.pages.items()}
        every = np.concatenate([ids for _, ids in others.values()]) if others else _NONE
        ids, n = np.unique(every, return_counts=True)
        return cls(ids, n, others=others, threshold=counts.threshold)

    def files(self) -> dict[str, bytes]:
        """The generation files that keep these counts."""
        return {IDS: _npy(self._ids), COUNTS: _npy(self._counts.astype(np.int32))}

    def ids_of(self, source: str) -> np.ndarray | None:
        """A counted page's ids (None for a page not counted)."""
        if source in self._fresh:
            return self._fresh[source][1]
        return None if source in self._dropped else self._counted_before(source)

    def _site_of(self, source: str) -> str | None:
        if source in self._fresh:
            return self._fresh[source][0]
        if source in self._others:
            return self._others[source][0]
        if self._snapshot is None or (found := self._snapshot.find(source)) is None:
            return None
        info = self._snapshot.segments[found[0]].article_info(found[1])
        return site_of(info.url, source)

    def count(self, ids: np.ndarray) -> np.ndarray:
        """How many counted pages carry each id."""
        at = np.searchsorted(self._ids, ids)
        inside = at < len(self._ids)
        found = np.zeros(len(ids), dtype=np.int64)
        hit = inside.copy()
        hit[inside] = self._ids[at[inside]] == ids[inside]
        found[hit] = self._counts[at[hit]]
        return found

    def repeated_on(self, source: str) -> frozenset[str]:
        """The keys of a counted page's lines that are furniture on its site (16 hex digits each)."""
        ids = self.ids_of(source)
        site = self._site_of(source)
        if ids is None or site is None or not len(ids):
            return frozenset()
        repeated = ids[self.count(ids) >= self.threshold] ^ np.uint64(site_hash(site))
        return frozenset(f"{int(k):016x}" for k in repeated)

    def remove(self, source: str) -> None:
        """Stop counting a page (it cannot be read any more); `update` applies it."""
        self._fresh.pop(source, None)
        self._dropped.add(source)

    def update(self, pages: Mapping[str, tuple[str, frozenset[str]]], removed: Iterable[str],
               kept: Iterable[str]) -> set[str]:
        """Count the fresh pages (new or changed: source -> (site, keys)), stop counting the removed ones; returns
        the kept pages whose repeated lines changed (to be chunked again)."""
        minus: list[np.ndarray] = []
        for source in {*removed, *pages, *self._dropped}:
            ids = self._counted_before(source)
            if ids is not None:
                minus.append(ids)
            self._dropped.add(source)
        for source, (site, keys) in pages.items():
            self._fresh[source] = (site, page_ids(site, keys))
        plus = [ids for _, ids in self._fresh.values()]
        flipped = self._apply(np.concatenate(plus) if plus else _NONE, np.concatenate(minus) if minus else _NONE)
        return self._carrying(flipped) & set(kept)

    def _counted_before(self, source: str) -> np.ndarray | None:
        """The ids a page was counted with before this build (None if it was not)."""
        if source in self._others:
            return self._others[source][1]
        found = self._snapshot.find(source) if self._snapshot is not None else None
        if found is None:
            return None
        return self._snapshot.segments[found[0]].repetition_of(found[1])  # type: ignore[union-attr]

    def _apply(self, plus: np.ndarray, minus: np.ndarray) -> np.ndarray:
        """Add one page for each id in `plus`, take one away for each in `minus`; returns the ids that crossed the
        threshold either way."""
        touched, where = np.unique(np.concatenate([plus, minus]), return_inverse=True)
        delta = np.bincount(where, weights=np.concatenate([np.ones(len(plus)), -np.ones(len(minus))]),
                            minlength=len(touched)).astype(np.int64)
        before = self.count(touched)
        after = before + delta
        at = np.searchsorted(self._ids, touched)
        present = before > 0
        counts = self._counts.copy()
        counts[at[present]] = after[present]
        new = ~present & (after > 0)
        ids = np.insert(self._ids, at[new], touched[new])
        counts = np.insert(counts, at[new], after[new])
        keep = counts > 0
        self._ids, self._counts = ids[keep], counts[keep]
        return touched[(before >= self.threshold) != (after >= self.threshold)]

    def _carrying(self, flipped: np.ndarray) -> set[str]:
        """The counted pages, but this build's own, that carry any of `flipped`."""
        if not len(flipped):
            return set()
        found: set[str] = set()
        for source, (_, ids) in self._others.items():
            if source not in self._dropped and np.isin(ids, flipped).any():
                found.add(source)
        if self._snapshot is not None:
            for segment, deleted in zip(self._snapshot.segments, self._snapshot.deleted, strict=True):
                hits = np.flatnonzero(np.isin(np.asarray(segment.repetition), flipped))
                for number in np.unique(np.searchsorted(segment.repetition_offsets, hits, side="right") - 1):
                    source = segment.sources[int(number)]
                    if int(number) not in deleted and source not in self._dropped:
                        found.add(source)
        return found


def _npy(array: np.ndarray) -> bytes:
    """An array as the bytes of a .npy file."""
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()
