"""Building an index from the corpus, incrementally: the steps both stores share.

Only articles whose bytes changed are read, chunked and embedded (`prepare`); the others keep the
passages and vectors the live index holds. When nothing changed, nothing is written and the model
is never loaded, so checking an unchanged corpus costs little more than hashing its files. Each
store then writes what was prepared its own way (index/store/embedded/build.py: a new generation
folder; index/store/postgres/build.py: one article per transaction).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Any, Callable, Sequence

import numpy as np

from index.articles import furniture_model, repetition
from index.articles.chunking import Chunk, chunk_article, embedding_prefix
from index.articles.corpus import (
    READER_VERSION,
    Article,
    ArticleSkipped,
    CorpusFile,
    Seen,
    is_extracted,
    read_article,
    scan_sources,
)
from index.articles.text import SENTENCES_VERSION
from index.config import IndexConfig
from index.embedders import Embedder
from index.errors import CorpusError
from index.store import repetition_counts
from index.store.manifest import BuiltWith, Manifest
from index.types import ArticleInfo, BuildProgress, BuildReport, SkippedFile

log = logging.getLogger(__name__)
Progress = Callable[[BuildProgress], None]
# A new or changed article as read: its record, its passages, and for HTML or PDF the extracted text.
FreshArticle = tuple[ArticleInfo, list[Chunk], "str | None"]
# Texts are embedded longest first, in slices sized to take about this many seconds each, so that
# progress is reported that often: a fixed slice of 256 chunks left a 223-chunk build at 0 % for
# 16 s on 2 cores. The model still runs the batches of one big encode call (see embed).
_PROGRESS_SECONDS = 1.0
# The smallest slice: the rows of one run of the onnx backends for full-length passages (1,024
# word pieces a run, index/embedders/onnx_runtime.py), the longest texts, which come first.
_MIN_SLICE = 4
# At most this many texts per slice, however fast the model goes.
_MAX_SLICE = 256


# The version of index/articles/furniture.py's rules: a change re-chunks every article.
FURNITURE_RULES = 6


def chunk_settings(config: IndexConfig) -> dict[str, Any]:
    """The settings that change what an index holds; a mismatch forces a full rebuild."""
    return {"max_tokens": config.max_tokens, "min_chunk_words": config.min_chunk_words,
            "reader_version": READER_VERSION, "sentences": SENTENCES_VERSION, "embedding_prefix": "title-line",
            "furniture": _furniture_settings(config) if config.skip_furniture else 0}


def _furniture_settings(config: IndexConfig) -> str:
    """What judges furniture: the rules' version, the model's, and (embedded index only) repetition's."""
    counted = "" if config.uses_database else f"/repetition-{repetition.VERSION}-at-{repetition.THRESHOLD}"
    return f"rules-{FURNITURE_RULES}/model-{furniture_model.VERSION}{counted}"


@dataclass(frozen=True)
class Plan:
    """What a build has to do: the corpus's files against the articles the live index holds."""

    fresh: list[CorpusFile]  # new or changed files, to read, chunk and embed
    kept: list[CorpusFile]  # files whose article the index holds as they are now
    removed: tuple[str, ...]  # indexed articles whose files are gone
    skipped: list[SkippedFile]  # unreadable files: found now, or known unreadable with the same bytes
    forgotten: list[str]  # files known unreadable that are gone

    @property
    def nothing_to_do(self) -> bool:
        """Whether the index already holds exactly the corpus."""
        return not self.fresh and not self.removed and not self.forgotten


@dataclass(frozen=True)
class Indexed:
    """What a build needs to know of the live index: each article's hash and record, and the files known unreadable.

    A store may read the records lazily (the embedded index: a million passages' articles took
    seconds to read up front, for a build that changes one).
    """

    hashes: Mapping[str, str]  # source -> SHA-256 of its file
    articles: Mapping[str, ArticleInfo]
    skipped: Sequence[SkippedFile]

    @classmethod
    def of(cls, manifest: Manifest) -> Indexed:
        """From a manifest that lists its articles."""
        return cls({a.source: a.sha256 for a in manifest.articles}, {a.source: a for a in manifest.articles},
                   manifest.skipped)


def plan(files: list[CorpusFile], skipped: list[SkippedFile], previous: Manifest | Indexed | None) -> Plan:
    """Compare the corpus's files with the live index (None: no reusable index, read everything)."""
    if isinstance(previous, Manifest):
        previous = Indexed.of(previous)
    known = previous.hashes if previous else {}
    unreadable = {s.source: s for s in previous.skipped if s.sha256} if previous else {}
    present = {f.source for f in files}
    still_unreadable = {f.source for f in files if f.source in unreadable and unreadable[f.source].sha256 == f.sha256}
    return Plan(fresh=[f for f in files if known.get(f.source) != f.sha256 and f.source not in still_unreadable],
                kept=[f for f in files if known.get(f.source) == f.sha256],
                removed=tuple(sorted(s for s in known if s not in present)),
                skipped=skipped + [unreadable[s] for s in sorted(still_unreadable)],
                forgotten=[s for s in unreadable if s not in present])


def read_fresh(file: CorpusFile, config: IndexConfig, embedder: Embedder, *, article: Article | None = None,
               repeated: frozenset[str] = frozenset()) -> FreshArticle:
    """Read and chunk one new or changed file: its article, chunks, and for HTML or PDF the extracted text.

    `article` is the file already read; `repeated` the keys of its site's repeated lines (furniture).
    Raises ArticleSkipped when the file cannot be read.
    """
    if article is None:
        article = read_article(file)
        if article.warning:
            log.warning("%s: %s", file.source, article.warning)
    chunks = chunk_article(article, embedder.count_tokens, max_tokens=config.max_tokens,
                           min_words=config.min_chunk_words, skip_furniture=config.skip_furniture, repeated=repeated)
    if len(chunks) > config.max_chunks_per_article:  # a book, a data dump: hours of embedding, answers drowned
        raise ArticleSkipped(f"it makes {len(chunks):,} passages, more than the {config.max_chunks_per_article:,} "
                             "one article may have (index.max_chunks_per_article)")
    info = ArticleInfo(article.source, article.title, article.url, article.date, article.author,
                       article.sha256, len(chunks))
    return info, chunks, article.text if is_extracted(file.path.suffix) else None


def to_embed(info: ArticleInfo, chunks: list[Chunk]) -> list[str]:
    """The texts the model embeds for an article's chunks (each under its title line)."""
    prefix = embedding_prefix(info.title)
    return [prefix + c.text for c in chunks]


def built_with(config: IndexConfig, embedder: Embedder) -> BuiltWith:
    """What an index must have been built with for this configuration and embedder to read it or build on it."""
    return BuiltWith(embedder.name, embedder.backend, chunk_settings(config))


def scan(config: IndexConfig, known: Mapping[str, tuple[Seen, str]] | None = None
         ) -> tuple[list[CorpusFile], list[SkippedFile]]:
    """The corpus's files and those that cannot be read; raises CorpusError for a folder without articles.

    `known`: how the index last saw each file, and its hash then (files it vouches for are not read).
    """
    files, skipped = scan_sources(config, known)
    if not files and not skipped:
        raise CorpusError(f"corpus folder {config.corpus_dir} holds no articles (.txt, .md, .html or .pdf files)")
    return files, skipped


@dataclass
class Prepared:
    """What a build read and embedded; the store writes it."""

    work: Plan
    known: Mapping[str, ArticleInfo]  # the articles the reused index holds
    fresh: list[FreshArticle] = field(default_factory=list)  # read in corpus order, skipped files left out
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))  # fresh's, in order
    began: float = field(default_factory=time.perf_counter)
    # Unchanged articles chunked again because lines of theirs became, or stopped being, repeated on
    # their site (index/articles/repetition.py): among `fresh`, but reported as unchanged.
    rechunked: set[str] = field(default_factory=set)

    @property
    def skipped(self) -> list[SkippedFile]:
        """Files that cannot be read: found so by the scan, known so, or found so now."""
        return self.work.skipped

    def unchanged(self, chunks_total: int) -> BuildReport:
        """The report of a build that had nothing to do."""
        return BuildReport(unchanged=tuple(sorted(f.source for f in self.work.kept)), skipped=tuple(self.skipped),
                           chunks_total=chunks_total, seconds=time.perf_counter() - self.began)

    def report(self, chunks_total: int | None = None) -> BuildReport:
        """The report of a build that wrote what was prepared (`chunks_total`: the passages it left in the index,
        counted from the articles' records when not given)."""
        written = {info.source: info for info, _, _ in self.fresh if info.source not in self.rechunked}
        again = [info for info, _, _ in self.fresh if info.source in self.rechunked]
        unchanged = [f.source for f in self.work.kept] + [info.source for info in again]
        if chunks_total is None:
            kept = {f.source: self.known[f.source] for f in self.work.kept}
            kept.update({info.source: info for info in again})
            chunks_total = sum(i.chunks for i in written.values()) + sum(i.chunks for i in kept.values())
        return BuildReport(
            added=tuple(sorted(s for s in written if s not in self.known)),
            changed=tuple(sorted(s for s in written if s in self.known)),
            removed=self.work.removed,
            unchanged=tuple(sorted(unchanged)),
            skipped=tuple(self.skipped),
            chunks_embedded=len(self.vectors),
            chunks_total=chunks_total,
            seconds=time.perf_counter() - self.began,
        )

    @property
    def gone(self) -> list[str]:
        """Articles the reused index holds that the new one must not: removed files, and changed ones now unreadable."""
        readable = {info.source for info, _, _ in self.fresh}
        changed = {f.source for f in self.work.fresh}
        return [*self.work.removed, *(s for s in self.known if s in changed and s not in readable)]


def prepare(config: IndexConfig, embedder: Embedder, files: list[CorpusFile], skipped: list[SkippedFile],
            previous: Manifest | Indexed | None, notify: Progress, *, began: float | None = None,
            counts: repetition_counts.Counts | None = None) -> Prepared:
    """Plan the build against the reusable index's manifest (None: none), then read and embed what is new.

    With `counts` (the live index's counts of lines repeated on a site, updated here), a kept article
    whose repeated lines change is chunked and embedded again too. When there is nothing to do
    (`work.nothing_to_do` with a previous index), nothing is read and the model is not loaded.
    Raises CorpusError when no article at all could be read.
    """
    if isinstance(previous, Manifest):
        previous = Indexed.of(previous)
    work = plan(files, skipped, previous)
    prepared = Prepared(work, previous.articles if previous else {},
                        began=time.perf_counter() if began is None else began)
    if previous is not None and work.nothing_to_do:
        return prepared
    read: dict[str, Article | ArticleSkipped] = {}
    if counts is not None:
        read, prepared.work, prepared.rechunked = _read_and_count(work, counts)
        work = prepared.work
    for done, file in enumerate(work.fresh):
        notify(BuildProgress("reading", done, len(work.fresh)))
        try:
            got = read.get(file.source)
            if isinstance(got, ArticleSkipped):
                raise got
            article = got if got is not None or counts is None else read_article(file)
            repeated = repetition_counts.repeated_in(article, counts) if counts and article else frozenset()
            prepared.fresh.append(read_fresh(file, config, embedder, article=article, repeated=repeated))
        except ArticleSkipped as e:
            work.skipped.append(SkippedFile(file.source, str(e), file.sha256))
    if not prepared.fresh and not work.kept:
        reasons = "; ".join(f"{s.source}: {s.reason}" for s in work.skipped[:5])
        raise CorpusError(f"no article in {config.corpus_dir} could be read ({reasons})")
    texts = [text for info, chunks, _ in prepared.fresh for text in to_embed(info, chunks)]
    prepared.vectors = embed(texts, embedder, notify, batch_size=config.batch_size)
    return prepared


def _read_and_count(work: Plan, counts: repetition_counts.Counts
                    ) -> tuple[dict[str, Article | ArticleSkipped], Plan, set[str]]:
    """Read the fresh files and count their lines; kept articles whose repeated lines changed join the fresh.

    Returns what was read (an Article, or the reason a file could not be), the plan with those kept
    articles moved to its fresh files, to be chunked (and embedded) again, and their sources.
    """
    read: dict[str, Article | ArticleSkipped] = {}
    for file in work.fresh:
        try:
            article = read_article(file)
        except ArticleSkipped as e:
            read[file.source] = e
            counts.remove(file.source)  # an article that became unreadable no longer counts
            continue
        if article.warning:
            log.warning("%s: %s", file.source, article.warning)
        read[file.source] = article
    fresh = {s: a for s, a in read.items() if isinstance(a, Article)}
    again = repetition_counts.update(counts, fresh, work.removed, [f.source for f in work.kept])
    if again:
        log.info("chunking %d unchanged article(s) again: lines of theirs became, or stopped being, repeated "
                 "on their site", len(again))
    return read, replace(work, fresh=work.fresh + [f for f in work.kept if f.source in again],
                         kept=[f for f in work.kept if f.source not in again]), again


def embed(texts: list[str], embedder: Embedder, notify: Progress, *, batch_size: int = 32) -> np.ndarray:
    """Embed texts longest first and return the vectors in the original order, reporting progress about every second.

    Each slice is as many texts as the pace so far gets through in _PROGRESS_SECONDS (the texts
    only get shorter, so it errs on the short side), in whole batches of `batch_size` once that
    many fit, so the model's batches are those of one big call. Below that (long passages on a slow
    machine), whole runs of the onnx backends (_MIN_SLICE); the torch backends then run smaller
    batches, which for passages this long cost no more per text (the work grows with their length).
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out: np.ndarray | None = None
    first, size = 0, min(_MIN_SLICE, batch_size)
    while first < len(order):
        notify(BuildProgress("embedding", first, len(texts)))
        ids = order[first:first + size]
        began = time.perf_counter()
        vectors = embedder.encode([texts[i] for i in ids])
        per_text = (time.perf_counter() - began) / len(ids)
        if out is None:
            out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        out[ids] = vectors
        first += len(ids)
        fit = min(_MAX_SLICE, int(_PROGRESS_SECONDS / per_text) if per_text > 0 else _MAX_SLICE)
        step = batch_size if fit >= batch_size else min(_MIN_SLICE, batch_size)
        size = max(step, fit // step * step)
    notify(BuildProgress("embedding", len(texts), len(texts)))
    assert out is not None
    return out


def versions() -> dict[str, str]:
    """The versions of the packages an index depends on, recorded in its manifest."""
    found = {}
    for package in ("articlebot", "sentence-transformers", "faiss-cpu", "bm25s", "numpy", "torch"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    return found
