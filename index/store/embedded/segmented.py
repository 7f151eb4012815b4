"""Answering from a list of segments as if they were one index: ids, BM25, dense search and articles across them.

A generation (index/store/embedded/generations.py) names its segments, oldest first, and for each the
articles deleted from it since it was written. A passage's id is its number in its segment plus the
passages of all the segments before it (deleted passages keep their ids; searches never return them).

- **BM25** is worked out when a question is asked (the Lucene variant of index/store/lexical.py
  `top_bm25`), from each segment's raw postings, with the document frequencies and the average length
  of the passages live in all segments: the scores are exactly those of one index built from the same
  articles, however they are split into segments and whatever was deleted.
- **Dense search** asks every segment for its k nearest live passages (exactly, or through its HNSW
  graph with the deleted passages filtered inside the search) and keeps the k best by exact cosine.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from index.articles.chunking import Chunk
from index.articles.corpus import Seen
from index.store.build import Indexed
from index.store.embedded.segment import Segment
from index.store.lexical import Postings, stems, top_bm25
from index.store.manifest import BuiltWith, Manifest
from index.types import ArticleInfo

# Stems whose statistics a snapshot keeps: questions are short, but a bot asked for days would
# otherwise remember every word it was ever asked.
_STEMS_KEPT = 50_000


class Snapshot:
    """One generation of the index: its segments, what is deleted in them, and searches over the live passages."""

    def __init__(self, folder: Path, manifest: Manifest, segments: Sequence[Segment],
                 deleted: Sequence[Sequence[int]]) -> None:
        self.folder = folder
        self.raw_manifest = manifest  # as the generation holds it: without articles (the segments have them)
        self.segments = list(segments)
        self.deleted = [frozenset(int(a) for a in d) for d in deleted]
        sizes = [len(s) for s in self.segments]
        self.bases = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.bases[1:])
        # Per segment: which passages are live (None: all of them).
        self.live: list[np.ndarray | None] = [
            ~np.isin(np.asarray(s.article_numbers), np.fromiter(d, dtype=np.int64)) if d else None
            for s, d in zip(self.segments, self.deleted, strict=True)]
        self.live_passages = sum(len(s) if m is None else int(m.sum())
                                 for s, m in zip(self.segments, self.live, strict=True))
        self.total_length = sum(int(np.asarray(s.lengths, dtype=np.int64).sum() if m is None
                                    else np.asarray(s.lengths, dtype=np.int64)[m].sum())
                                for s, m in zip(self.segments, self.live, strict=True))
        self.vectors = SegmentedVectors(self)
        self.dense = SegmentedDense(self)
        self.lexical = SegmentedLexical(self)
        self.extracted = SegmentedExtracted(self)

    def __len__(self) -> int:
        return self.live_passages

    @property
    def built_with(self) -> BuiltWith:
        """The model, backend and settings the index was built with."""
        return self.raw_manifest.built_with

    @cached_property
    def manifest(self) -> Manifest:
        """What the index holds, its live articles in source order (reads every segment's article table)."""
        articles = [info for segment, deleted in zip(self.segments, self.deleted, strict=True)
                    for number, info in enumerate(segment.all_articles()) if number not in deleted]
        articles.sort(key=lambda a: a.source.encode("utf-8"))
        return Manifest(**{**self.raw_manifest.__dict__, "articles": tuple(articles), "chunks": self.live_passages})

    def locate(self, chunk_id: int) -> tuple[Segment, int]:
        """The segment a passage id falls in, and the passage's number there."""
        chunk_id = int(chunk_id)
        if not 0 <= chunk_id < int(self.bases[-1]):
            raise KeyError(f"no passage {chunk_id} in the index")
        at = int(np.searchsorted(self.bases, chunk_id, side="right")) - 1
        return self.segments[at], chunk_id - int(self.bases[at])

    def chunk(self, chunk_id: int) -> Chunk:
        """A passage by id, its text included."""
        segment, number = self.locate(chunk_id)
        return segment.chunk(number)

    def article(self, chunk_id: int) -> ArticleInfo:
        """The article a passage belongs to."""
        segment, number = self.locate(chunk_id)
        return segment.article_info(int(segment.article_numbers[number]))

    def find(self, source: str) -> tuple[int, int] | None:
        """Where an article is live: (segment position, its number there), or None when the index lacks it."""
        for at in range(len(self.segments) - 1, -1, -1):
            number = self.segments[at].sources.find(source)
            if number is not None and number not in self.deleted[at]:
                return at, number
        return None

    def known_files(self) -> dict[str, tuple[Seen, str]]:
        """How the live articles' files were found when they were read, and their hashes, by source (for the scan)."""
        known: dict[str, tuple[Seen, str]] = {}
        for segment, deleted in zip(self.segments, self.deleted, strict=True):
            live = np.asarray(segment.seen)[:, 0] >= 0
            if deleted:
                live[list(deleted)] = False
            numbers = np.flatnonzero(live)
            sources = segment.sources.all()
            seen = map(Seen._make, np.asarray(segment.seen)[numbers].tolist())
            hashes = np.char.decode(np.asarray(segment.sha256)[numbers], "ascii").tolist()
            known.update(zip([sources[i] for i in numbers.tolist()], zip(seen, hashes, strict=True), strict=True))
        return known

    def hashes(self) -> dict[str, str]:
        """The SHA-256 of each live article's file, by source."""
        hashes: dict[str, str] = {}
        for segment, deleted in zip(self.segments, self.deleted, strict=True):
            sources = segment.sources.all()
            values = np.char.decode(np.asarray(segment.sha256), "ascii").tolist()
            if deleted:
                sources = [s for i, s in enumerate(sources) if i not in deleted]
                values = [v for i, v in enumerate(values) if i not in deleted]
            hashes.update(zip(sources, values, strict=True))
        return hashes

    def indexed(self) -> Indexed:
        """What a build needs to know of this index, read as it needs it (no article record parsed up front)."""
        hashes = self.hashes()
        return Indexed(hashes, IndexedArticles(self, hashes), self.raw_manifest.skipped)

    def chunks_of(self, source: str) -> tuple[list[Chunk], np.ndarray]:
        """All passages of one article and their vectors (none when the index lacks it)."""
        found = self.find(source)
        if found is None:
            return [], np.zeros((0, self.raw_manifest.dimension), dtype=np.float32)
        segment = self.segments[found[0]]
        passages = segment.passages_of(found[1])
        return ([segment.chunk(i) for i in passages],
                np.array(segment.vectors[passages.start:passages.stop], dtype=np.float32))


class IndexedArticles(Mapping[str, ArticleInfo]):
    """The live articles' records by source, each read when asked for."""

    def __init__(self, snapshot: Snapshot, hashes: Mapping[str, str]) -> None:
        self._snapshot = snapshot
        self._sources = hashes  # the live sources (with their hashes)

    def __getitem__(self, source: str) -> ArticleInfo:
        found = self._snapshot.find(source)
        if found is None:
            raise KeyError(source)
        return self._snapshot.segments[found[0]].article_info(found[1])

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    def __contains__(self, source: object) -> bool:
        return source in self._sources


class SegmentedVectors:
    """`snapshot.vectors[ids]`: unit vectors by passage id, read from the segments' mapped files."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    @property
    def shape(self) -> tuple[int, int]:
        """(passage ids, dimension)."""
        return int(self._snapshot.bases[-1]), int(self._snapshot.raw_manifest.dimension)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, ids: Any) -> np.ndarray:
        if np.ndim(ids) == 0:
            segment, number = self._snapshot.locate(int(ids))
            return np.asarray(segment.vectors[number])
        wanted = np.asarray(ids, dtype=np.int64).ravel()
        out = np.zeros((len(wanted), self.shape[1]), dtype=np.float32)
        if not len(wanted):
            return out
        bases = self._snapshot.bases
        if wanted.min() < 0 or wanted.max() >= bases[-1]:
            raise IndexError("passage id out of range")
        at = np.searchsorted(bases, wanted, side="right") - 1
        for position in np.unique(at):
            rows = np.flatnonzero(at == position)
            local = wanted[rows] - bases[position]
            order = np.argsort(local, kind="stable")  # mapped rows read in file order
            out[rows[order]] = self._snapshot.segments[position].vectors[local[order]]
        return out


class SegmentedDense:
    """The k nearest live passages over all segments, by exact cosine."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._allowed: dict[int, np.ndarray] = {}  # per segment with deletions: its live passages as a bitmap

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest live passages to one unit query vector: (ids, cosines), best first, ties by id."""
        snapshot = self._snapshot
        query = np.ascontiguousarray(query, dtype=np.float32).ravel()
        ids, cosines = [], []
        for at, (segment, live) in enumerate(zip(snapshot.segments, snapshot.live, strict=True)):
            if k <= 0 or len(segment) == 0 or (live is not None and not live.any()):
                continue
            graph = segment.dense
            if graph is not None:
                found, scores = graph.search(query, k, allowed=self._bitmap(at, live))
            else:
                found, scores = _exact(segment.vectors, query, k, live)
            ids.append(found + snapshot.bases[at])
            cosines.append(scores)
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        every, scores = np.concatenate(ids), np.concatenate(cosines)
        order = np.lexsort((every, -scores))[:k]
        return every[order], scores[order]

    def _bitmap(self, at: int, live: np.ndarray | None) -> np.ndarray | None:
        if live is None:
            return None
        bitmap = self._allowed.get(at)
        if bitmap is None:
            bitmap = self._allowed[at] = np.packbits(live, bitorder="little")
        return bitmap


def _exact(vectors: Any, query: np.ndarray, k: int, live: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest rows of a segment's vectors (read whole: a segment searched exactly is small) to `query`,
    exactly, skipping the deleted ones."""
    scores = np.asarray(vectors) @ query
    if live is not None:
        scores = np.where(live, scores, -np.inf)
    k = min(k, len(scores) if live is None else int(live.sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.lexsort((best, -scores[best]))]
    return best.astype(np.int64), scores[best].astype(np.float32)


class SegmentedLexical:
    """BM25 over the live passages of all segments, and the term statistics that sentence scoring reuses.

    A term's id is given by the snapshot the first time the term is seen (segments number their terms
    each their own way); its document frequency counts the live passages holding it in every segment.
    """

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._ids: dict[str, int] = {}
        self._df: list[int] = []  # by term id; only ever appended to, so an id once given stays valid
        self._lock = threading.Lock()

    def _term(self, stem: str) -> int | None:
        """The snapshot's id of a stem live passages hold, or None."""
        term = self._ids.get(stem)
        if term is not None:
            return term if self._df[term] else None
        df = 0
        for segment, live in zip(self._snapshot.segments, self._snapshot.live, strict=True):
            found = segment.postings(stem)
            if found is not None:
                df += len(found[0]) if live is None else int(live[found[0]].sum())
        with self._lock:
            if len(self._ids) >= _STEMS_KEPT:
                self._ids = {}  # seen again, a stem gets a new id; the ids given out stay valid
            term = self._ids[stem] = len(self._df)
            self._df.append(df)
        return term if df else None

    def terms(self, texts: Sequence[str]) -> list[list[int]]:
        """Term ids of each text (stemmed, stop words out); words no live passage holds are dropped."""
        return [[t for s in row if s and (t := self._term(s)) is not None] for row in stems(texts)]

    def idf(self, term: int) -> float:
        """How informative a term is; unknown terms count as the rarest."""
        documents = max(1, len(self._snapshot))
        df = self._df[term] if 0 <= term < len(self._df) else 0
        if df == 0:
            return math.log(1.0 + documents)
        return float(np.float32(math.log(1.0 + (documents - df + 0.5) / (df + 0.5))))

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best live passages for a query: (ids, BM25 scores), best first, ties by id; zero scores dropped."""
        (row,) = stems([query])
        known = [(s, t) for s in row if s and (t := self._term(s)) is not None]
        if not known or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        times = Counter(t for _, t in known)
        stem_of = {t: s for s, t in known}
        postings = {t: self._postings(stem_of[t]) for t in times}
        asked = {t: (times[t], self.idf(t)) for t in times}
        average = self._snapshot.total_length / max(1, len(self._snapshot))
        return top_bm25(postings, asked, average, k)

    def _postings(self, stem: str) -> Postings:
        """A stem's live postings in every segment, by passage id (ascending)."""
        snapshot = self._snapshot
        ids, tfs, lengths = [], [], []
        for at, (segment, live) in enumerate(zip(snapshot.segments, snapshot.live, strict=True)):
            found = segment.postings(stem)
            if found is None:
                continue
            passages, tf = np.asarray(found[0]), np.asarray(found[1])
            if live is not None:
                keep = live[passages]
                passages, tf = passages[keep], tf[keep]
            ids.append(passages.astype(np.int64) + snapshot.bases[at])
            tfs.append(tf)
            lengths.append(np.asarray(segment.lengths[passages]))
        if not ids:
            return Postings(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32))
        return Postings(np.concatenate(ids), np.concatenate(tfs), np.concatenate(lengths))

    def unknown_words(self, text: str) -> int:
        """How many informative words of a text no live passage holds (a question about other things has many)."""
        (row,) = stems([text])
        return sum(1 for s in row if s and self._term(s) is None)


class SegmentedExtracted(Mapping[str, str]):
    """The extracted text of the live HTML and PDF articles, by source (what their citations' offsets refer to)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def __getitem__(self, source: str) -> str:
        found = self._snapshot.find(source)
        text = None if found is None else self._snapshot.segments[found[0]].extracted(found[1])
        if text is None:
            raise KeyError(source)
        return text

    def _live(self) -> list[str]:
        snapshot = self._snapshot
        return sorted(segment.sources[int(number)]
                      for segment, deleted in zip(snapshot.segments, snapshot.deleted, strict=True)
                      for number in np.flatnonzero(segment.has_extracted) if int(number) not in deleted)

    def __iter__(self) -> Iterator[str]:
        return iter(self._live())

    def __len__(self) -> int:
        return len(self._live())
