"""Building the index from the corpus, incrementally.

Only articles whose bytes changed are read, chunked and embedded; the chunks and vectors of the
others are copied from the live index. When nothing changed, nothing is written and the model is
never loaded, so checking an unchanged corpus costs little more than hashing its files.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Callable

import numpy as np

from index.articles import furniture_model, repetition
from index.articles.chunking import Chunk, chunk_article, embedding_prefix
from index.articles.corpus import (
    READER_VERSION,
    Article,
    ArticleSkipped,
    CorpusFile,
    is_extracted,
    read_article,
    scan_sources,
)
from index.config import IndexConfig
from index.embedders import Embedder
from index.errors import ArticlebotError, CorpusError
from index.store import repetition_counts
from index.store.embedded.dense import DenseIndex
from index.store.embedded.generations import (
    Manifest,
    Snapshot,
    build_lock,
    load_snapshot,
    publish,
    remove_stale_generations,
    write_generation,
)
from index.store.lexical import LexicalIndex
from index.types import ArticleInfo, BuildProgress, BuildReport, SkippedFile

log = logging.getLogger(__name__)
Progress = Callable[[BuildProgress], None]
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
FURNITURE_RULES = 4


def chunk_settings(config: IndexConfig) -> dict[str, Any]:
    """The settings that change what an index holds; a mismatch forces a full rebuild."""
    return {"max_tokens": config.max_tokens, "min_chunk_words": config.min_chunk_words,
            "reader_version": READER_VERSION, "embedding_prefix": "title-line",
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


def plan(files: list[CorpusFile], skipped: list[SkippedFile], previous: Manifest | None) -> Plan:
    """Compare the corpus's files with the live index's manifest (None: no reusable index, read everything)."""
    known = {a.source: a.sha256 for a in previous.articles} if previous else {}
    unreadable = {s.source: s for s in previous.skipped if s.sha256} if previous else {}
    present = {f.source for f in files}
    still_unreadable = {f.source for f in files if f.source in unreadable and unreadable[f.source].sha256 == f.sha256}
    return Plan(fresh=[f for f in files if known.get(f.source) != f.sha256 and f.source not in still_unreadable],
                kept=[f for f in files if known.get(f.source) == f.sha256],
                removed=tuple(sorted(s for s in known if s not in present)),
                skipped=skipped + [unreadable[s] for s in sorted(still_unreadable)],
                forgotten=[s for s in unreadable if s not in present])


def read_fresh(file: CorpusFile, config: IndexConfig, embedder: Embedder, *, article: Article | None = None,
               repeated: frozenset[str] = frozenset()) -> tuple[ArticleInfo, list[Chunk], str | None]:
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


def build_index(config: IndexConfig, embedder: Embedder, progress: Progress | None = None) -> BuildReport:
    """Bring the index in `config.index_dir` up to date with `config.corpus_dir` (and a server's shared articles)."""
    began = time.perf_counter()
    notify = progress or (lambda _: None)
    files, skipped = scan_sources(config)
    if not files and not skipped:
        raise CorpusError(f"corpus folder {config.corpus_dir} holds no articles (.txt, .md, .html or .pdf files)")
    settings = chunk_settings(config)
    with build_lock(config.index_dir):
        previous = _compatible_previous(config, embedder, settings)
        # Lines repeated across a site's pages (#36): counts kept beside the live generation; without
        # them (an index from before they were kept) nothing of the old index is trusted.
        counts = repetition_counts.load(previous.folder) if previous and config.skip_furniture else None
        if config.skip_furniture and counts is None:
            previous, counts = None, repetition.RepetitionCounts()
        work = plan(files, skipped, previous.manifest if previous else None)
        read, work, again = _read_and_count(work, counts)
        skipped = work.skipped
        known = {a.source: a for a in previous.manifest.articles} if previous else {}
        if previous is not None and work.nothing_to_do:
            remove_stale_generations(config.index_dir)
            return BuildReport(unchanged=tuple(sorted(f.source for f in files)), skipped=tuple(skipped),
                               chunks_total=len(previous), seconds=time.perf_counter() - began)

        articles: dict[str, tuple[ArticleInfo, list[Chunk], np.ndarray | None]] = {}
        extracted: dict[str, str] = dict(previous.extracted) if previous else {}
        for file in work.kept:
            assert previous is not None
            chunks, vectors = previous.chunks_of(file.source)
            articles[file.source] = (known[file.source], chunks, vectors)
        new_chunks: list[tuple[str, str]] = []  # (source, text to embed)
        for done, file in enumerate(work.fresh):
            notify(BuildProgress("reading", done, len(work.fresh)))
            try:
                got = read.get(file.source)
                if isinstance(got, ArticleSkipped):
                    raise got
                info, chunks, text = read_fresh(file, config, embedder, article=got,
                                                repeated=counts.repeated_on(file.source) if counts else frozenset())
            except ArticleSkipped as e:
                skipped.append(SkippedFile(file.source, str(e), file.sha256))
                continue
            articles[file.source] = (info, chunks, None)
            new_chunks.extend((file.source, t) for t in to_embed(info, chunks))
            if text is not None:
                extracted[file.source] = text
        if not articles:
            reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:5])
            raise CorpusError(f"no article in {config.corpus_dir} could be read ({reasons})")

        vectors = embed([t for _, t in new_chunks], embedder, notify, batch_size=config.batch_size)
        fresh_vectors: dict[str, list[np.ndarray]] = {}
        for (source, _), vector in zip(new_chunks, vectors, strict=True):
            fresh_vectors.setdefault(source, []).append(vector)

        notify(BuildProgress("writing", 0, 1))
        all_chunks: list[Chunk] = []
        numbers: list[int] = []
        blocks: list[np.ndarray] = []
        infos: list[ArticleInfo] = []
        for number, source in enumerate(sorted(articles)):
            info, chunks, old = articles[source]
            infos.append(info)
            all_chunks.extend(chunks)
            numbers.extend([number] * len(chunks))
            if old is not None:
                blocks.append(old)
            elif chunks:
                blocks.append(np.stack(fresh_vectors[source]))
        if len(vectors):
            dimension = vectors.shape[1]
        else:
            dimension = previous.manifest.dimension if previous else embedder.dimension
        matrix = np.concatenate(blocks) if blocks else np.zeros((0, dimension), dtype=np.float32)
        title_of = {i.source: i.title for i in infos}
        lexical = LexicalIndex.build([f"{title_of[c.source]}\n{c.text}" for c in all_chunks])
        extracted = {s: t for s, t in extracted.items() if s in articles}
        manifest = Manifest(
            model=embedder.name, backend=embedder.backend, dimension=int(dimension), settings=settings,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"), versions=versions(),
            articles=tuple(infos), skipped=tuple(skipped), chunks=len(all_chunks),
        )
        dense = DenseIndex.build(matrix, approximate_above=config.approximate_above, ef_search=config.hnsw_ef_search)
        folder = write_generation(config.index_dir, manifest, all_chunks, numbers, matrix, lexical, extracted,
                                  dense)
        if counts is not None:
            repetition_counts.save(folder, counts)
        publish(config.index_dir, folder)
        notify(BuildProgress("writing", 1, 1))

    fresh_sources = ({f.source for f in work.fresh} - again) & set(articles)  # re-chunked files did not change
    return BuildReport(
        added=tuple(sorted(s for s in fresh_sources if s not in known)),
        changed=tuple(sorted(s for s in fresh_sources if s in known)),
        removed=work.removed,
        unchanged=tuple(sorted(set(articles) - fresh_sources)),
        skipped=tuple(skipped),
        chunks_embedded=len(new_chunks), chunks_total=len(all_chunks),
        seconds=time.perf_counter() - began,
    )


def _read_and_count(work: Plan, counts: repetition.RepetitionCounts | None
                    ) -> tuple[dict[str, Article | ArticleSkipped], Plan, set[str]]:
    """Read the fresh files and count their lines; kept articles whose repeated lines changed join the fresh.

    Returns what was read (an Article, or the reason a file could not be), the plan with those kept
    articles moved to its fresh files, to be chunked (and embedded) again, and their sources.
    """
    if counts is None:
        return {}, work, set()
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


def _compatible_previous(config: IndexConfig, embedder: Embedder, settings: dict[str, Any]) -> Snapshot | None:
    """The live index if its vectors can be reused; None when missing, damaged or built otherwise."""
    try:
        previous = load_snapshot(config.index_dir)
    except ArticlebotError as e:
        log.info("building from scratch: %s", e)
        return None
    manifest = previous.manifest
    if (manifest.model, manifest.backend, manifest.settings) != (embedder.name, embedder.backend, settings):
        log.info("building from scratch: the index was built with other settings, model or backend")
        return None
    return previous


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
