"""Reading an index written before segments (formats 1 and 2): one folder per generation, every passage in it.

Such an index still answers questions as it is; the next build converts it to segments (index format
3, index/store/embedded/generations.py) with its passages and vectors copied as they are, so
nothing is embedded again. Layout of such a generation folder:

    manifest.json     model, dimension, chunking settings, articles, counts; format 2 adds every file's SHA-256
    chunks.npz        per chunk: article number, start, end, paragraph, text offsets
    chunks.txt        the chunk texts, UTF-8, back to back
    vectors.npy       unit vectors, float32, one row per chunk (memory-mapped when read)
    dense.faiss       the HNSW graph, only for indexes above `index.approximate_above` chunks
    lexical/          the BM25 index (bm25s)
    extracted.json    extracted text of HTML articles (what their offsets refer to)
"""

from __future__ import annotations

import json
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

from index.articles.chunking import Chunk
from index.store.embedded.dense import DenseIndex
from index.store.embedded.segment import check_files
from index.store.lexical import LexicalIndex
from index.store.manifest import BuiltWith, Manifest
from index.types import ArticleInfo


class LegacySnapshot:
    """One loaded generation of format 1 or 2: what questions are answered from until the next build."""

    def __init__(self, folder: Path, manifest: Manifest, *, ef_search: int | None = None) -> None:
        self.folder = folder
        self.manifest = manifest
        self._ef_search = ef_search
        self._dense: DenseIndex | None = None
        self._dense_lock = threading.Lock()
        with np.load(folder / "chunks.npz") as columns:
            self._article = columns["article"]
            self._start = columns["start"]
            self._end = columns["end"]
            self._paragraph = columns["paragraph"]
            self._offsets = columns["offsets"]
        self._texts = (folder / "chunks.txt").read_bytes()
        self.vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        self.extracted: dict[str, str] = json.loads((folder / "extracted.json").read_text("utf-8"))
        n = manifest.chunks
        if not (len(self._article) == len(self._start) == len(self._end) == n and len(self._offsets) == n + 1
                and self.vectors.shape == (n, manifest.dimension) and int(self._offsets[-1]) == len(self._texts)):
            raise ValueError("its files disagree on the number of chunks")
        self.lexical = LexicalIndex.load(folder / "lexical")

    @property
    def dense(self) -> DenseIndex:
        """The vector index, read on first use (a build that only compares hashes never needs it)."""
        dense = self._dense
        if dense is None:
            with self._dense_lock:
                if self._dense is None:
                    self._dense = DenseIndex.load(self.folder, self.vectors, ef_search=self._ef_search)
                dense = self._dense
        return dense

    def __len__(self) -> int:
        return self.manifest.chunks

    @property
    def built_with(self) -> BuiltWith:
        """The model, backend and settings the index was built with."""
        return self.manifest.built_with

    def article(self, chunk_id: int) -> ArticleInfo:
        """The article a chunk belongs to."""
        return self.manifest.articles[int(self._article[chunk_id])]

    def chunk(self, chunk_id: int) -> Chunk:
        """A chunk by id, its text included."""
        a, b = int(self._offsets[chunk_id]), int(self._offsets[chunk_id + 1])
        return Chunk(self.article(chunk_id).source, int(self._start[chunk_id]), int(self._end[chunk_id]),
                     int(self._paragraph[chunk_id]), self._texts[a:b].decode("utf-8"))

    def chunks_of(self, source: str) -> tuple[list[Chunk], np.ndarray]:
        """All chunks of one article and their vectors (for reuse by an incremental build)."""
        number = self._article_numbers.get(source)
        if number is None:
            return [], np.zeros((0, self.manifest.dimension), dtype=np.float32)
        # Chunks are written article by article, in article order: one binary search finds them.
        first, stop = np.searchsorted(self._article, [number, number + 1])
        return [self.chunk(i) for i in range(int(first), int(stop))], np.asarray(self.vectors[first:stop])

    @cached_property
    def _article_numbers(self) -> dict[str, int]:
        return {a.source: i for i, a in enumerate(self.manifest.articles)}


# Files hashed only when a build reuses a generation and by `articlebot index --check`: the vectors
# (1.5 GB at a million passages) and the HNSW graph. Every other file is hashed on each open.
LARGE_FILES = frozenset({"vectors.npy", "dense.faiss"})


def verify(folder: Path, manifest: Manifest, *, full: bool = False) -> list[str]:
    """What is wrong with a generation's files against its manifest: missing, resized or changed ones.

    Sizes always; SHA-256 of every file but LARGE_FILES, and of those too with `full`. An empty
    list for a sound generation (and for a format-1 one, which records no checksums).
    """
    return check_files(folder, manifest.files, full=full, large=LARGE_FILES)
