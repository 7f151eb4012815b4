"""One segment of the embedded index: some articles' passages, vectors and BM25 postings, written once, never changed.

An index is a list of segments (index/store/embedded/generations.py). A build writes the articles
that are new or changed as a new segment and marks the replaced or removed ones deleted in the
older segments; merges (index/store/embedded/merging.py) rewrite several segments as one. Since a
segment never changes after it is written, every process on a machine maps its files instead of
reading them: the pages are the operating system's, shared by all the processes serving the index,
and only what questions touch is ever read from disk.

Layout of a segment folder (seg-<time>-<id>/), every array a .npy file mapped read-only:

    segment.json          counts, dimension, and every other file's size and SHA-256
    sources.*             the articles' sources, sorted (an article's number is its rank)
    articles.*            each article's record (ArticleInfo as JSON)
    sha256.npy            per article: the SHA-256 of its file (hex)
    seen.npy              per article: its file's size and mtime when it was read, and when (a later
                          scan trusts the hash of a file found unchanged: index/articles/corpus.py `Seen`)
    article.npy           per passage: its article's number (passages are in article order)
    start/end/paragraph.npy  per passage: its span in the article and its paragraph
    texts.* offsets       the passage texts, UTF-8, back to back
    vectors.npy           unit vectors, float32, one row per passage
    dense.faiss           an HNSW graph over the vectors, for segments above `index.approximate_above`
    terms.*               the segment's stems, sorted (a term's id is its rank)
    term_starts.npy       where each term's postings begin in postings_passage/postings_tf
    postings_passage.npy  passage numbers, ascending within a term
    postings_tf.npy       the term's frequency in that passage
    lengths.npy           per passage: its length in terms (BM25 normalises by it)
    repetition.npy        the articles' line keys as ids, one article after another (a key folded with the
                          hash of its site: index/store/embedded/repetition_table.py), and
    repetition.offsets.npy   where each article's begin
    extracted.*           per article: the extracted text of an HTML or PDF article ("" for others)
    has_extracted.npy     per article: whether it has one

`*.bin` + `*.offsets.npy` pairs are string tables (`Strings`). BM25 is not precomputed: a posting
keeps its raw frequency, and scores are worked out when a question is asked, from document
frequencies and the average length over the passages that are live in all segments
(index/store/embedded/segmented.py), so they equal those of an index built as one segment.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
import weakref
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from index.articles.chunking import Chunk
from index.articles.corpus import Seen
from index.store.embedded.dense import DenseIndex
from index.store.lexical import new_tokenizer, passage_text
from index.store.manifest import FileSum
from index.types import ArticleInfo

SEGMENT_FORMAT = 1
# Stems whose term numbers a segment remembers (a question's are looked up twice: statistics, postings).
_TERMS_KEPT = 20_000
_META = "segment.json"
# Hashed only by `articlebot index --check` and before a merge reads them (the vectors, 1.5 GB at a
# million passages, and the graph); every other file is hashed when a process first opens the segment.
LARGE_FILES = frozenset({"vectors.npy", "dense.faiss"})
# What a build reads of the segments it keeps (to plan, delete and count repeated lines): all it hashes of them.
BUILD_READS = frozenset({"sources.bin", "sources.offsets.npy", "articles.bin", "articles.offsets.npy", "sha256.npy",
                         "seen.npy", "article.npy", "repetition.npy", "repetition.offsets.npy"})


@dataclass(frozen=True)
class SegmentArticle:
    """One article as a segment is written from: its record, passages, vectors and extracted text."""

    info: ArticleInfo
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    extracted: str | None = None
    seen: Seen | None = None  # how the scan found its file (None: the next scan reads it again)
    repetition: np.ndarray | None = None  # its line keys as ids (none when furniture is kept)


class FileArray:
    """A .npy file read row by row with pread, never mapped: for the large files questions read a little of.

    Mapped, each row a question read brought the page cache's whole folio (up to 2 MB on this
    machine's ext4, whatever madvise said) into the process's resident memory: 50 questions left
    1.2 GB of a million passages' vectors resident in each process. Read with pread, the rows come
    from the same page cache, shared by every process on the machine, and the process keeps only
    what it copied.
    """

    def __init__(self, path: Path, *, offset: int, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self._offset, self.shape, self.dtype = offset, shape, dtype
        self._row = dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
        if os.path.getsize(path) != offset + self._row * shape[0]:
            raise ValueError(f"{path.name} does not hold the rows its header says")
        descriptor = os.open(path, os.O_RDONLY)
        self._fd = descriptor
        weakref.finalize(self, os.close, descriptor)

    @classmethod
    def npy(cls, path: Path) -> FileArray:
        """The rows of a .npy file."""
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = header(f)
            offset = f.tell()
        if fortran:
            raise ValueError(f"{path.name} is in Fortran order")
        return cls(path, offset=offset, shape=tuple(shape), dtype=np.dtype(dtype))

    @classmethod
    def raw(cls, path: Path) -> FileArray:
        """The bytes of a file."""
        return cls(path, offset=0, shape=(path.stat().st_size,), dtype=np.dtype(np.uint8))

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, first: int, stop: int) -> np.ndarray:
        """Rows first..stop-1, copied."""
        first, stop = max(0, first), min(stop, self.shape[0])
        if stop <= first:
            return np.zeros((0, *self.shape[1:]), dtype=self.dtype)
        data = os.pread(self._fd, (stop - first) * self._row, self._offset + first * self._row)
        return np.frombuffer(data, dtype=self.dtype).reshape((stop - first, *self.shape[1:]))

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            first, stop, step = key.indices(self.shape[0])
            if step != 1:
                raise IndexError("FileArray reads slices of step 1")
            return self.rows(first, stop)
        if np.ndim(key) == 0:
            index = int(key)
            return self.rows(index, index + 1)[0]
        wanted = np.asarray(key, dtype=np.int64).ravel()
        out = np.empty((len(wanted), *self.shape[1:]), dtype=self.dtype)
        for position in np.argsort(wanted, kind="stable"):  # in file order
            out[position] = self.rows(int(wanted[position]), int(wanted[position]) + 1)[0]
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self.rows(0, self.shape[0])
        return whole if dtype is None else whole.astype(dtype)


class Strings:
    """A table of strings stored as one UTF-8 blob and the offsets where each begins (mapped, or read with pread)."""

    def __init__(self, blob: bytes | np.ndarray | FileArray, offsets: np.ndarray) -> None:
        self._blob = blob
        self._offsets = offsets

    @staticmethod
    def write(folder: Path, name: str, strings: Sequence[str]) -> None:
        """Write `name`.bin and `name`.offsets.npy."""
        encoded = [s.encode("utf-8") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        (folder / f"{name}.bin").write_bytes(b"".join(encoded))
        np.save(folder / f"{name}.offsets.npy", offsets)

    @classmethod
    def read(cls, folder: Path, name: str, *, scattered: bool = False) -> Strings:
        """Open a table written by `write`: mapped, or with `scattered` (a string here and there) read with pread."""
        offsets = np.asarray(np.load(folder / f"{name}.offsets.npy", mmap_mode="r"))  # a plain view: no memmap
        path = folder / f"{name}.bin"                                                  # object per index
        blob: bytes | np.ndarray | FileArray = b""
        if path.stat().st_size:
            blob = FileArray.raw(path) if scattered else np.memmap(path, dtype=np.uint8, mode="r")
        if int(offsets[-1]) != len(blob):
            raise ValueError(f"{name}.bin holds {len(blob)} bytes, its offsets end at {int(offsets[-1])}")
        return cls(blob, offsets)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def bytes_at(self, i: int) -> bytes:
        """The i-th string's UTF-8 bytes."""
        return bytes(self._blob[int(self._offsets[i]):int(self._offsets[i + 1])])

    def __getitem__(self, i: int) -> str:
        return self.bytes_at(i).decode("utf-8")

    def find(self, s: str) -> int | None:
        """The position of `s` in a sorted table (sorted by UTF-8 bytes), or None."""
        wanted = s.encode("utf-8")
        low, high = 0, len(self)
        while low < high:
            middle = (low + high) // 2
            if self.bytes_at(middle) < wanted:
                low = middle + 1
            else:
                high = middle
        return low if low < len(self) and self.bytes_at(low) == wanted else None

    def all(self) -> list[str]:
        """Every string, in order (decodes the whole table)."""
        data = bytes(self._blob[0:len(self._blob)])
        offsets = self._offsets.tolist()
        return [data[a:b].decode("utf-8") for a, b in zip(offsets, offsets[1:], strict=False)]


def postings_of(texts: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BM25 postings of passages: (sorted stems, term starts, passage numbers, frequencies, passage lengths).

    Terms are bm25s' (index/store/lexical.py `new_tokenizer`): a passage without any word is one
    empty term long, as bm25s counts it.
    """
    tokenizer = new_tokenizer()
    ids = tokenizer.tokenize(list(texts), return_as="ids", update_vocab=True, show_progress=False)
    stem_of = {sid: stem for stem, sid in tokenizer.stem_to_sid.items()}
    vocabulary = sorted(stem_of.values(), key=lambda s: s.encode("utf-8"))
    rank = np.zeros(max(stem_of, default=-1) + 1, dtype=np.int64)
    for position, stem in enumerate(vocabulary):
        rank[tokenizer.stem_to_sid[stem]] = position
    lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    passages = np.repeat(np.arange(len(ids), dtype=np.int64), lengths)
    keys, tfs = np.unique(rank[flat] * max(1, len(ids)) + passages, return_counts=True)
    terms, numbers = np.divmod(keys, max(1, len(ids)))
    starts = np.searchsorted(terms, np.arange(len(vocabulary) + 1)).astype(np.int64)
    return (vocabulary, starts, numbers.astype(np.int32), tfs.astype(np.int32), lengths.astype(np.int32))


def write_segment(segments_dir: Path, articles: Sequence[SegmentArticle], dimension: int, *,
                  approximate_above: int, ef_search: int = 64) -> str:
    """Write a new segment of `articles` (any order: they are stored by source) and return its name."""
    name = f"seg-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    folder = segments_dir / name
    folder.mkdir(parents=True)
    articles = sorted(articles, key=lambda a: a.info.source.encode("utf-8"))
    chunks = [c for a in articles for c in a.chunks]
    Strings.write(folder, "sources", [a.info.source for a in articles])
    Strings.write(folder, "articles", [json.dumps(a.info.__dict__, ensure_ascii=False) for a in articles])
    np.save(folder / "sha256.npy", np.asarray([a.info.sha256 for a in articles], dtype="S64"))
    np.save(folder / "seen.npy", np.asarray([(a.seen.size, a.seen.mtime_ns, a.seen.seen_ns) if a.seen else (-1, 0, 0)
                                             for a in articles], dtype=np.int64).reshape(len(articles), 3))
    numbers = np.repeat(np.arange(len(articles), dtype=np.int32), [len(a.chunks) for a in articles])
    np.save(folder / "article.npy", numbers)
    np.save(folder / "start.npy", np.asarray([c.start for c in chunks], dtype=np.int64))
    np.save(folder / "end.npy", np.asarray([c.end for c in chunks], dtype=np.int64))
    np.save(folder / "paragraph.npy", np.asarray([c.paragraph for c in chunks], dtype=np.int32))
    Strings.write(folder, "texts", [c.text for c in chunks])
    blocks = [np.asarray(a.vectors, dtype=np.float32).reshape(len(a.chunks), dimension) for a in articles]
    matrix = np.concatenate(blocks) if blocks else np.zeros((0, dimension), dtype=np.float32)
    np.save(folder / "vectors.npy", np.ascontiguousarray(matrix))
    if len(matrix) > approximate_above:
        DenseIndex.build(matrix, approximate_above=approximate_above, ef_search=ef_search).save(folder)
    titles = [a.info.title for a in articles for _ in a.chunks]
    vocabulary, starts, passages, tfs, lengths = postings_of(
        [passage_text(title, c.text) for title, c in zip(titles, chunks, strict=True)])
    Strings.write(folder, "terms", vocabulary)
    np.save(folder / "term_starts.npy", starts)
    np.save(folder / "postings_passage.npy", passages)
    np.save(folder / "postings_tf.npy", tfs)
    np.save(folder / "lengths.npy", lengths)
    keys = [np.zeros(0, dtype=np.uint64) if a.repetition is None else np.asarray(a.repetition, dtype=np.uint64)
            for a in articles]
    np.save(folder / "repetition.npy", np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64))
    bounds = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(k) for k in keys], out=bounds[1:])
    np.save(folder / "repetition.offsets.npy", bounds)
    Strings.write(folder, "extracted", [a.extracted or "" for a in articles])
    np.save(folder / "has_extracted.npy", np.asarray([a.extracted is not None for a in articles], dtype=bool))
    meta = {"format": SEGMENT_FORMAT, "articles": len(articles), "chunks": len(chunks), "dimension": dimension,
            "files": {n: {"size": f.size, "sha256": f.sha256} for n, f in file_sums(folder).items()}}
    (folder / _META).write_text(json.dumps(meta, indent=1), "utf-8")
    fsync_tree(folder)
    return name


class Segment:
    """One segment, mapped: its passages, vectors, postings and articles, read as questions need them."""

    def __init__(self, folder: Path, *, ef_search: int | None = None) -> None:
        self.folder = folder
        self.name = folder.name
        meta = read_meta(folder)
        self.files = recorded_files(meta)
        self.chunks = int(meta["chunks"])
        self.dimension = int(meta["dimension"])
        self._ef_search = ef_search

        def array(name: str) -> np.ndarray:
            # Mapped, as a plain view: indexing a np.memmap makes a memmap object each time (3 µs; a
            # question's term look-ups made hundreds of thousands).
            return np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r"))

        self.sources = Strings.read(folder, "sources")
        self.records = Strings.read(folder, "articles")
        self.sha256, self.seen = array("sha256"), array("seen")
        self.article_numbers = array("article")
        self.start, self.end, self.paragraph = array("start"), array("end"), array("paragraph")
        self.texts = Strings.read(folder, "texts", scattered=True)
        self.vectors = FileArray.npy(folder / "vectors.npy")  # rows read with pread (FileArray's docstring)
        self.terms = Strings.read(folder, "terms")
        self.term_starts = array("term_starts")
        self.postings_passage = FileArray.npy(folder / "postings_passage.npy")
        self.postings_tf = FileArray.npy(folder / "postings_tf.npy")
        self.lengths = array("lengths")
        self.repetition, self.repetition_offsets = array("repetition"), array("repetition.offsets")
        self._extracted = Strings.read(folder, "extracted")
        self.has_extracted = array("has_extracted")
        n = self.chunks
        if not (len(self.sources) == len(self.records) == len(self.sha256) == len(self.seen) == int(meta["articles"])
                and len(self.article_numbers) == len(self.start) == len(self.end) == len(self.lengths) == n
                and len(self.texts) == n and len(self.repetition_offsets) == len(self.sources) + 1
                and int(self.repetition_offsets[-1]) == len(self.repetition)
                and len(self._extracted) == len(self.has_extracted) == len(self.sources)
                and self.vectors.shape == (n, self.dimension)
                and len(self.term_starts) == len(self.terms) + 1
                and int(self.term_starts[-1]) == len(self.postings_passage) == len(self.postings_tf)):
            raise ValueError(f"the files of segment {self.name} disagree on their counts")
        self._articles: dict[int, ArticleInfo] = {}
        self._terms: dict[str, int | None] = {}

    def __len__(self) -> int:
        return self.chunks

    @cached_property
    def dense(self) -> DenseIndex | None:
        """The segment's HNSW graph, mapped; None for a segment searched exactly."""
        if not (self.folder / "dense.faiss").exists():
            return None
        return DenseIndex.load(self.folder, self.vectors, ef_search=self._ef_search)

    def article_info(self, number: int) -> ArticleInfo:
        """The record of the segment's article `number` (kept once read)."""
        info = self._articles.get(number)
        if info is None:
            info = self._articles[number] = ArticleInfo(**json.loads(self.records[number]))
        return info

    def repetition_of(self, number: int) -> np.ndarray:
        """Article `number`'s line keys as ids (index/store/embedded/repetition_table.py)."""
        first, stop = int(self.repetition_offsets[number]), int(self.repetition_offsets[number + 1])
        return np.asarray(self.repetition[first:stop])

    def seen_of(self, number: int) -> Seen | None:
        """How the scan found article `number`'s file when it was read (None when not recorded)."""
        size, mtime_ns, seen_ns = (int(v) for v in self.seen[number])
        return Seen(size, mtime_ns, seen_ns) if size >= 0 else None

    def all_articles(self) -> list[ArticleInfo]:
        """Every article's record, in source order (reads the whole table)."""
        return [ArticleInfo(**json.loads(r)) for r in self.records.all()]

    def chunk(self, i: int) -> Chunk:
        """Passage `i` of the segment, its text included."""
        source = self.article_info(int(self.article_numbers[i])).source
        return Chunk(source, int(self.start[i]), int(self.end[i]), int(self.paragraph[i]), self.texts[i])

    def passages_of(self, number: int) -> range:
        """The passage numbers of article `number` (an article's passages are consecutive)."""
        first, stop = np.searchsorted(self.article_numbers, [number, number + 1])
        return range(int(first), int(stop))

    def postings(self, stem: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A stem's postings in the segment (passage numbers ascending, frequencies); None when it has none."""
        term = self.term(stem)
        if term is None:
            return None
        a, b = int(self.term_starts[term]), int(self.term_starts[term + 1])
        return self.postings_passage[a:b], self.postings_tf[a:b]

    def term(self, stem: str) -> int | None:
        """A stem's term number in the segment (remembered for the stems asked lately), or None."""
        if stem in self._terms:
            return self._terms[stem]
        if len(self._terms) >= _TERMS_KEPT:
            self._terms.clear()
        term = self._terms[stem] = self.terms.find(stem)
        return term

    def extracted(self, number: int) -> str | None:
        """The extracted text of article `number` if it is an HTML or PDF article, else None."""
        return self._extracted[number] if self.has_extracted[number] else None

    def verify(self, *, full: bool = False) -> list[str]:
        """What is wrong with the segment's files against segment.json: sizes, and SHA-256 (large ones with `full`)."""
        return check_files(self.folder, self.files, full=full, large=LARGE_FILES, label=f"{self.name}/")


def read_meta(folder: Path) -> dict[str, Any]:
    """A segment's segment.json; raises ValueError for one of another format."""
    meta: dict[str, Any] = json.loads((folder / _META).read_text("utf-8"))
    if meta.get("format") != SEGMENT_FORMAT:
        raise ValueError(f"segment {folder.name} is in format {meta.get('format')}, not {SEGMENT_FORMAT}")
    return meta


def recorded_files(meta: dict[str, Any]) -> dict[str, FileSum]:
    """The files a segment.json records, with their sizes and SHA-256."""
    return {n: FileSum(int(f["size"]), str(f["sha256"])) for n, f in meta["files"].items()}


def check_files(folder: Path, files: dict[str, FileSum], *, full: bool, large: frozenset[str],
                label: str = "") -> list[str]:
    """What is wrong with a folder's files against their recorded sizes and SHA-256 (`large` ones only with `full`)."""
    problems = []
    for name, expected in sorted(files.items()):
        path = folder / name
        try:
            size = path.stat().st_size
        except OSError:
            problems.append(f"{label}{name} is missing")
            continue
        if size != expected.size:
            problems.append(f"{label}{name} has {size:,} bytes, not the {expected.size:,} written")
        elif (full or name not in large) and sha256_of(path) != expected.sha256:
            problems.append(f"{label}{name} does not hold the bytes written (its checksum differs)")
    return problems


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def file_sums(folder: Path, *, leave_out: frozenset[str] = frozenset({_META})) -> dict[str, FileSum]:
    """Every file below `folder` (but `leave_out`) with its size and SHA-256, by path relative to it."""
    return {str(p.relative_to(folder)): FileSum(p.stat().st_size, sha256_of(p))
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in leave_out}


def fsync_tree(folder: Path) -> None:
    """Flush every file below `folder`, then the folder itself, to disk."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
