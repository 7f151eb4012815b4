"""Building a corpus's index in PostgreSQL (`[index] store = "postgres"`), incrementally, one article per transaction.

The same work as index/store/build.py, written where readers see it article by article: while the live
generation was built with this model, backend and chunking settings, each new or changed article
is written into it in a transaction of its own (its passages, vectors and term statistics
replaced at once), and each deleted one removed the same way, so a question asked meanwhile sees
every article whole, before or after its update. Otherwise (no index yet, or another model) the
whole corpus is written into a new generation that no reader sees until `publish` makes it live
in one statement. Builds of one corpus take turns on every host (PgStore.write_lock).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from index.articles.chunking import Chunk
from index.articles.corpus import ArticleSkipped, scan_sources
from index.config import IndexConfig
from index.embedders import Embedder
from index.errors import CorpusError, IndexMissingError
from index.store.build import Plan, Progress, chunk_settings, embed, plan, read_fresh, to_embed, versions
from index.store.embedded.generations import Manifest
from index.store.postgres.snapshot import corpus_name
from index.store.postgres.store import WRITE_BATCH, ArticlePassages, PgStore
from index.types import ArticleInfo, BuildProgress, BuildReport, SkippedFile

log = logging.getLogger(__name__)


def build_in_database(config: IndexConfig, embedder: Embedder, store: PgStore,
                      progress: Progress | None = None) -> BuildReport:
    """Bring the corpus `config.corpus_key` of the database up to date with `config.corpus_dir`."""
    began = time.perf_counter()
    notify = progress or (lambda _: None)
    files, skipped = scan_sources(config)
    if not files and not skipped:
        raise CorpusError(f"corpus folder {config.corpus_dir} holds no articles (.txt, .md, .html or .pdf files)")
    corpus = config.corpus_key
    settings = chunk_settings(config)
    with store.write_lock(corpus):
        store.remove_stale_generations(corpus)  # what a build killed midway left
        live = _compatible_live(store, corpus, embedder, settings)
        previous = live[1] if live else None
        work = plan(files, skipped, previous)
        skipped = work.skipped
        known = {a.source: a for a in previous.articles} if previous else {}
        if previous is not None and work.nothing_to_do:
            return BuildReport(unchanged=tuple(sorted(f.source for f in files)), skipped=tuple(skipped),
                               chunks_total=previous.chunks, seconds=time.perf_counter() - began)

        fresh: list[tuple[ArticleInfo, list[Chunk], str | None]] = []
        for done, file in enumerate(work.fresh):
            notify(BuildProgress("reading", done, len(work.fresh)))
            try:
                fresh.append(read_fresh(file, config, embedder))
            except ArticleSkipped as e:
                skipped.append(SkippedFile(file.source, str(e), file.sha256))
        if not fresh and not work.kept:
            reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:5])
            raise CorpusError(f"no article in {config.corpus_dir} could be read ({reasons})")
        texts = [text for info, chunks, _ in fresh for text in to_embed(info, chunks)]
        vectors = embed(texts, embedder, notify, batch_size=config.batch_size)

        if live is None:
            generation = store.new_generation(corpus, model=embedder.name, backend=embedder.backend,
                                              dimension=embedder.dimension, settings=settings, versions=versions())
        else:
            generation = live[0]
        readable = {info.source for info, _, _ in fresh}
        gone = [*work.removed, *(s for s in known if s in {f.source for f in work.fresh} and s not in readable)]
        try:
            _write(store, generation, fresh, vectors, gone, notify, live=live is not None)
            store.finish(generation, skipped=skipped, versions=versions())
            if live is None:
                store.publish(generation)
        except BaseException:
            if live is None:  # never seen by a reader: leave nothing behind
                store.remove_stale_generations(corpus)
            raise
    log.info("%s: %d articles written, %d removed", corpus_name(corpus), len(fresh), len(gone))
    return _report(work, known, fresh, skipped, chunks_embedded=len(texts), began=began)


def _write(store: PgStore, generation: int, fresh: list[tuple[ArticleInfo, list[Chunk], str | None]],
           vectors: np.ndarray, gone: list[str], notify: Progress, *, live: bool) -> None:
    """Write each fresh article, then remove each gone one.

    Into the live generation one article per transaction, so that a question sees each whole; into a
    new one, not yet seen by anyone, in batches of WRITE_BATCH passages (fewer round trips and commits).
    """
    steps = len(fresh) + len(gone)
    batch: list[ArticlePassages] = []
    first = 0
    for done, (info, chunks, extracted) in enumerate(fresh):
        batch.append(ArticlePassages(info, chunks, vectors[first:first + len(chunks)], extracted))
        first += len(chunks)
        if live or sum(len(a.chunks) for a in batch) >= WRITE_BATCH:
            notify(BuildProgress("writing", done, steps))
            store.replace_articles(generation, batch)
            batch = []
    if batch:
        store.replace_articles(generation, batch)
    for done, source in enumerate(gone, start=len(fresh)):
        notify(BuildProgress("writing", done, steps))
        store.remove_article(generation, source)
    notify(BuildProgress("writing", steps, steps))


def _compatible_live(store: PgStore, corpus: str, embedder: Embedder, settings: dict[str, Any]
                     ) -> tuple[int, Manifest] | None:
    """The live generation and its manifest if its vectors can be reused; None when missing or built otherwise."""
    try:
        with store.snapshot(corpus) as snapshot:
            generation, manifest = snapshot.generation, snapshot.manifest
    except IndexMissingError:
        log.info("building %s from scratch: it has no index yet", corpus_name(corpus))
        return None
    if (manifest.model, manifest.backend, manifest.settings) != (embedder.name, embedder.backend, settings):
        log.info("building %s from scratch: its index was built with other settings, model or backend",
                 corpus_name(corpus))
        return None
    return int(generation), manifest


def _report(work: Plan, known: dict[str, ArticleInfo], fresh: list[tuple[ArticleInfo, list[Chunk], str | None]],
            skipped: list[SkippedFile], *, chunks_embedded: int, began: float) -> BuildReport:
    written = {info.source: info for info, _, _ in fresh}
    kept = {f.source: known[f.source] for f in work.kept}
    return BuildReport(
        added=tuple(sorted(s for s in written if s not in known)),
        changed=tuple(sorted(s for s in written if s in known)),
        removed=work.removed,
        unchanged=tuple(sorted(kept)),
        skipped=tuple(skipped),
        chunks_embedded=chunks_embedded,
        chunks_total=sum(i.chunks for i in written.values()) + sum(i.chunks for i in kept.values()),
        seconds=time.perf_counter() - began,
    )
