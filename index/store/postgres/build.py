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

import numpy as np

from index.config import IndexConfig
from index.embedders import Embedder
from index.errors import IndexMissingError
from index.store.build import FreshArticle, Progress, built_with, prepare, scan, versions
from index.store.manifest import Manifest
from index.store.postgres.snapshot import corpus_name
from index.store.postgres.store import WRITE_BATCH, ArticlePassages, PgStore
from index.types import BuildProgress, BuildReport

log = logging.getLogger(__name__)


def build_in_database(config: IndexConfig, embedder: Embedder, store: PgStore,
                      progress: Progress | None = None) -> BuildReport:
    """Bring the corpus `config.corpus_key` of the database up to date with `config.corpus_dir`."""
    notify = progress or (lambda _: None)
    files, skipped = scan(config)
    corpus = config.corpus_key
    with store.write_lock(corpus):
        store.remove_stale_generations(corpus)  # what a build killed midway left
        live = _reusable(store, corpus, config, embedder)
        prepared = prepare(config, embedder, files, skipped, live[1] if live else None, notify)
        if live is not None and prepared.work.nothing_to_do:
            return prepared.unchanged(live[1].chunks)
        if live is None:
            wanted = built_with(config, embedder)
            generation = store.new_generation(corpus, model=wanted.model, backend=wanted.backend,
                                              dimension=embedder.dimension, settings=wanted.settings,
                                              versions=versions())
        else:
            generation = live[0]
        gone = prepared.gone
        try:
            _write(store, generation, prepared.fresh, prepared.vectors, gone, notify, live=live is not None)
            store.finish(generation, skipped=prepared.skipped, versions=versions())
            if live is None:
                store.publish(generation)
        except BaseException:
            if live is None:  # never seen by a reader: leave nothing behind
                store.remove_stale_generations(corpus)
            raise
    log.info("%s: %d articles written, %d removed", corpus_name(corpus), len(prepared.fresh), len(gone))
    return prepared.report()


def _write(store: PgStore, generation: int, fresh: list[FreshArticle],
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


def _reusable(store: PgStore, corpus: str, config: IndexConfig, embedder: Embedder) -> tuple[int, Manifest] | None:
    """The live generation and its manifest if its vectors can be reused; None when missing or built otherwise."""
    try:
        with store.snapshot(corpus) as snapshot:
            generation, manifest = snapshot.generation, snapshot.manifest
    except IndexMissingError:
        log.info("building %s from scratch: it has no index yet", corpus_name(corpus))
        return None
    if manifest.built_with != built_with(config, embedder):
        log.info("building %s from scratch: its index was built with other settings, model or backend",
                 corpus_name(corpus))
        return None
    return int(generation), manifest
