"""Building the embedded index: what a build prepared, written as a new generation folder and published.

The steps both stores share (scan, plan, read, embed) are index/store/build.py's; here the
articles kept are copied from the live generation with their vectors, the BM25 and vector
indexes are built over the whole corpus, and the folder is published atomically
(index/store/embedded/generations.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import numpy as np

from index.articles.chunking import Chunk
from index.articles.repetition import RepetitionCounts
from index.config import IndexConfig
from index.embedders import Embedder
from index.errors import ArticlebotError
from index.store import repetition_counts
from index.store.build import Prepared, Progress, built_with, prepare, scan, versions
from index.store.embedded.dense import DenseIndex
from index.store.embedded.generations import (
    Snapshot,
    build_lock,
    load_snapshot,
    publish,
    remove_stale_generations,
    write_generation,
)
from index.store.lexical import LexicalIndex
from index.store.manifest import Manifest
from index.types import ArticleInfo, BuildProgress, BuildReport

log = logging.getLogger(__name__)


def build_index(config: IndexConfig, embedder: Embedder, progress: Progress | None = None) -> BuildReport:
    """Bring the index in `config.index_dir` up to date with `config.corpus_dir` (and a server's shared articles)."""
    notify = progress or (lambda _: None)
    files, skipped = scan(config)
    with build_lock(config.index_dir):
        previous = _reusable(config, embedder)
        # Lines repeated across a site's pages (#36): their counts are kept beside each generation;
        # without them (an index from before they were kept) nothing of the old index is trusted.
        counts = repetition_counts.load(previous.folder) if previous and config.skip_furniture else None
        if config.skip_furniture and counts is None:
            previous, counts = None, RepetitionCounts()
        prepared = prepare(config, embedder, files, skipped, previous.manifest if previous else None, notify,
                           counts=counts)
        if previous is not None and prepared.work.nothing_to_do:
            if previous.manifest.files:
                remove_stale_generations(config.index_dir)
                return prepared.unchanged(len(previous))
            # Written before checksums (format 1): rewritten once with them, its passages and vectors copied.
            log.info("rewriting the index with checksums (index format 2); nothing is embedded again")
        notify(BuildProgress("writing", 0, 1))
        _write(config, embedder, prepared, previous, counts)
        notify(BuildProgress("writing", 1, 1))
    return prepared.report()


def _write(config: IndexConfig, embedder: Embedder, prepared: Prepared, previous: Snapshot | None,
           counts: RepetitionCounts | None) -> None:
    """Write the whole corpus (kept articles from `previous`, fresh ones as prepared) as the live generation."""
    articles: dict[str, tuple[ArticleInfo, list[Chunk], np.ndarray]] = {}
    for file in prepared.work.kept:
        assert previous is not None
        articles[file.source] = (prepared.known[file.source], *previous.chunks_of(file.source))
    first = 0
    for info, chunks, _ in prepared.fresh:
        articles[info.source] = (info, chunks, prepared.vectors[first:first + len(chunks)])
        first += len(chunks)
    extracted = {s: t for s, t in (previous.extracted.items() if previous else ()) if s in articles}
    extracted.update({info.source: text for info, _, text in prepared.fresh if text is not None})

    all_chunks: list[Chunk] = []
    numbers: list[int] = []
    blocks: list[np.ndarray] = []
    infos: list[ArticleInfo] = []
    for number, source in enumerate(sorted(articles)):
        info, chunks, vectors = articles[source]
        infos.append(info)
        all_chunks.extend(chunks)
        numbers.extend([number] * len(chunks))
        if chunks:
            blocks.append(vectors)
    if len(prepared.vectors):
        dimension = prepared.vectors.shape[1]
    else:
        dimension = previous.manifest.dimension if previous else embedder.dimension
    matrix = np.concatenate(blocks) if blocks else np.zeros((0, dimension), dtype=np.float32)
    title_of = {i.source: i.title for i in infos}
    lexical = LexicalIndex.build([f"{title_of[c.source]}\n{c.text}" for c in all_chunks])
    wanted = built_with(config, embedder)
    manifest = Manifest(
        model=wanted.model, backend=wanted.backend, dimension=int(dimension), settings=wanted.settings,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"), versions=versions(),
        articles=tuple(infos), skipped=tuple(prepared.skipped), chunks=len(all_chunks),
    )
    dense = DenseIndex.build(matrix, approximate_above=config.approximate_above, ef_search=config.hnsw_ef_search)
    more = {repetition_counts.FILE: repetition_counts.dumps(counts)} if counts is not None else None
    folder = write_generation(config.index_dir, manifest, all_chunks, numbers, matrix, lexical, extracted, dense,
                              more=more)
    publish(config.index_dir, folder)


def _reusable(config: IndexConfig, embedder: Embedder) -> Snapshot | None:
    """The live index if its vectors can be reused; None when missing, damaged or built otherwise."""
    try:
        previous = load_snapshot(config.index_dir, full_check=True)  # never copy damaged vectors
    except ArticlebotError as e:
        log.info("building from scratch: %s", e)
        return None
    if previous.manifest.built_with != built_with(config, embedder):
        log.info("building from scratch: the index was built with other settings, model or backend")
        return None
    return previous
