"""The index on disk: generation folders, a manifest, and an atomic pointer to the live one.

Layout of the index directory:

    CURRENT               name of the live generation (replaced atomically with os.replace)
    gen-<time>-<id>/      one complete index:
        manifest.json     model, dimension, chunking settings, per-article hashes, versions, counts
        chunks.npz        per chunk: article number, start, end, paragraph, text offsets
        chunks.txt        the chunk texts, UTF-8, back to back
        vectors.npy       unit vectors, float32, one row per chunk (memory-mapped when read)
        dense.faiss       the HNSW graph, only for indexes above `index.approximate_above` chunks
        lexical/          the BM25 index
        extracted.json    extracted text of HTML articles (what their offsets refer to)
        (manifest.json lists every other file with its size and SHA-256: format 2)
    .lock                 held while a build writes

Opening a generation checks every file's size, and the SHA-256 of all but the two large ones
(vectors.npy, dense.faiss); those are hashed when a build is about to reuse the generation and by
`articlebot index --check`. A damaged generation is refused with a message that says to rebuild,
and a build then starts from scratch instead of copying damaged passages or vectors.

A build writes a new generation beside the live one and only then points CURRENT at it, so a
reader either sees the old index or the new one, never half of one; a build killed midway leaves
an orphan folder that the next build removes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from index.articles.chunking import Chunk
from index.errors import IndexMismatchError, IndexMissingError, ReindexInProgressError
from index.store.embedded.dense import DenseIndex
from index.store.lexical import LexicalIndex
from index.store.manifest import BuiltWith, FileSum, Manifest
from index.types import ArticleInfo

_CURRENT = "CURRENT"
_MANIFEST = "manifest.json"


class Snapshot:
    """One loaded, immutable index: what questions are answered from."""

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


def current_generation(index_dir: Path) -> Path | None:
    """The live generation folder, or None when no index was ever published here."""
    try:
        name = (index_dir / _CURRENT).read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    return index_dir / name


def read_manifest(index_dir: Path) -> Manifest:
    """The live index's manifest; raises IndexMissingError or IndexMismatchError."""
    folder = current_generation(index_dir)
    if folder is None:
        raise IndexMissingError(f"no index in {index_dir} yet; build it with `articlebot index`")
    try:
        return Manifest.from_json(json.loads((folder / _MANIFEST).read_text("utf-8")))
    except IndexMismatchError as e:
        raise IndexMismatchError(f"{e}; rebuild it with `articlebot index`") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise IndexMismatchError(
            f"the index in {index_dir} is damaged ({type(e).__name__}: {e}); rebuild it with `articlebot index`"
        ) from None


# Files hashed only when a build reuses a generation and by `articlebot index --check`: the vectors
# (1.5 GB at a million passages) and the HNSW graph. Every other file is hashed on each open.
LARGE_FILES = frozenset({"vectors.npy", "dense.faiss"})


def verify(folder: Path, manifest: Manifest, *, full: bool = False) -> list[str]:
    """What is wrong with a generation's files against its manifest: missing, resized or changed ones.

    Sizes always; SHA-256 of every file but LARGE_FILES, and of those too with `full`. An empty
    list for a sound generation (and for a format-1 one, which records no checksums).
    """
    problems = []
    for name, expected in sorted(manifest.files.items()):
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            problems.append(f"{name} is missing")
            continue
        if size != expected.size:
            problems.append(f"{name} has {size:,} bytes, not the {expected.size:,} written")
        elif (full or name not in LARGE_FILES) and _sha256(path) != expected.sha256:
            problems.append(f"{name} does not hold the bytes written (its checksum differs)")
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _file_sums(folder: Path) -> dict[str, FileSum]:
    return {str(p.relative_to(folder)): FileSum(p.stat().st_size, _sha256(p))
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != _MANIFEST}


def load_snapshot(index_dir: Path, *, ef_search: int | None = None, warm: bool = False,
                  full_check: bool = False) -> Snapshot:
    """Open the live index; raises IndexMissingError, or IndexMismatchError when it is damaged.

    `ef_search` overrides the HNSW search width saved with an approximate index; `warm` reads the
    vector index now (to serve questions) instead of on first use (a build comparing hashes never needs it);
    `full_check` hashes the large files too (see `verify`).
    """
    manifest = read_manifest(index_dir)
    folder = current_generation(index_dir)
    assert folder is not None
    problems = verify(folder, manifest, full=full_check)
    if problems:
        raise IndexMismatchError(f"the index in {index_dir} is damaged ({'; '.join(problems[:3])}); "
                                 "rebuild it with `articlebot index`")
    try:
        snapshot = Snapshot(folder, manifest, ef_search=ef_search)
        if warm:
            snapshot.dense  # noqa: B018
        return snapshot
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:  # FAISS raises RuntimeError
        raise IndexMismatchError(
            f"the index in {index_dir} is damaged ({type(e).__name__}: {e}); rebuild it with `articlebot index`"
        ) from None


def write_generation(
    index_dir: Path,
    manifest: Manifest,
    chunks: Sequence[Chunk],
    article_numbers: Sequence[int],
    vectors: np.ndarray,
    lexical: LexicalIndex,
    extracted: dict[str, str],
    dense: DenseIndex | None = None,
    more: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a complete new generation folder (not yet live) and return it; `more` holds other files by name
    (the furniture repetition counts), checksummed with the rest."""
    folder = index_dir / f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    encoded = [c.text.encode("utf-8") for c in chunks]
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    with open(folder / "chunks.npz", "wb") as f:
        np.savez(
            f,
            article=np.asarray(article_numbers, dtype=np.int32),
            start=np.asarray([c.start for c in chunks], dtype=np.int64),
            end=np.asarray([c.end for c in chunks], dtype=np.int64),
            paragraph=np.asarray([c.paragraph for c in chunks], dtype=np.int32),
            offsets=offsets,
        )
    (folder / "chunks.txt").write_bytes(b"".join(encoded))
    np.save(folder / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
    if dense is not None:
        dense.save(folder)
    lexical.save(folder / "lexical")
    (folder / "extracted.json").write_text(json.dumps(extracted, ensure_ascii=False), "utf-8")
    for name, data in (more or {}).items():
        (folder / name).write_bytes(data)
    # The manifest goes last, with every other file's size and checksum: a folder without one was never finished.
    manifest = replace(manifest, files=_file_sums(folder))
    (folder / _MANIFEST).write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=1), "utf-8")
    _fsync_tree(folder)
    return folder


def publish(index_dir: Path, folder: Path) -> None:
    """Make `folder` the live generation atomically, then delete the ones it replaces."""
    pointer = index_dir / f".{_CURRENT}.{uuid.uuid4().hex[:8]}"
    with open(pointer, "w", encoding="utf-8") as f:
        f.write(folder.name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(pointer, index_dir / _CURRENT)
    _fsync_dir(index_dir)
    remove_stale_generations(index_dir)


def remove_stale_generations(index_dir: Path) -> None:
    """Delete every generation folder but the live one (leftovers of replaced or killed builds)."""
    live = current_generation(index_dir)
    for entry in index_dir.glob("gen-*"):
        if entry.is_dir() and (live is None or entry.name != live.name):
            shutil.rmtree(entry, ignore_errors=True)
    for entry in index_dir.glob(f".{_CURRENT}.*"):
        entry.unlink(missing_ok=True)


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index directory's build lock, or raise ReindexInProgressError if another process has it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReindexInProgressError(
                f"another build of {index_dir} is running; try again when it has finished") from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
