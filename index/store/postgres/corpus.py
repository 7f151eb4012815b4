"""The PostgreSQL store as the engine sees it: one corpus's index in the index database.

Each question reads its corpus's live generation in a read transaction of its own (a
`PgSnapshot`), and a build writes one article per transaction (index/store/postgres/build.py),
so a question sees each article whole, before or after its update. The `Database` handle is
shared by the engines of one process (each server's corpus is a corpus key in the same database).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from index.config import IndexConfig
from index.embedders import Embedder
from index.errors import ArticlebotError, IndexMissingError
from index.store.build import Progress, built_with
from index.store.manifest import check_built_with
from index.store.postgres.build import build_in_database
from index.store.postgres.database import Database
from index.store.postgres.schema import describe
from index.store.postgres.snapshot import PgSnapshot, corpus_name
from index.types import BuildReport

log = logging.getLogger(__name__)

# Seconds a corpus found without an index in the database is taken to have none before
# `recheck_indexed` asks the database again (another process may have built it meanwhile).
_MISSING_FOR = 5.0


class PostgresStore:
    """The corpus `config.corpus_key` in the database: read through `database`, given or opened here."""

    def __init__(self, config: IndexConfig, embedder: Embedder, *, database: Database | None = None) -> None:
        self.config = config
        self.embedder = embedder
        self._owns_database = database is None
        self.database: Database | None = database or Database.from_config(config)
        self._missing_since: float | None = None

    @property
    def _database(self) -> Database:
        assert self.database is not None  # always set for this store; the attribute is optional for the protocol
        return self.database

    @property
    def where(self) -> str:
        """The corpus and the database, without the password."""
        return f"{corpus_name(self.config.corpus_key)} in the {describe(self.config.database_url)}"

    @property
    def indexed(self) -> bool:
        """Asks nothing: a corpus is without an index from when it was found so until a build or a recheck finds one."""
        return self._missing_since is None

    def recheck_indexed(self) -> None:
        """Ask the database again whether a corpus found without an index has one now, at most every few seconds.

        Another process (`articlebot index --guild`, another shard's /add) may have built it; a
        database that cannot be reached leaves the answer as it was.
        """
        missing = self._missing_since
        if missing is None or time.monotonic() - missing < _MISSING_FOR:
            return
        try:
            live = self._database.store().live_generation(self.config.corpus_key)
        except ArticlebotError as e:
            log.warning("%s: could not ask the index database whether it has an index now: %s", self.where, e)
            live = None
        self._missing_since = None if live is not None else time.monotonic()

    @contextmanager
    def snapshot(self) -> Iterator[PgSnapshot]:
        """A read transaction over the corpus's live generation, checked against the configuration."""
        try:
            with self._database.store().snapshot(self.config.corpus_key) as snapshot:
                self._missing_since = None
                check_built_with(snapshot.built_with, built_with(self.config, self.embedder),
                                 f"the index of {corpus_name(self.config.corpus_key)} in the {snapshot.where}")
                yield snapshot
        except IndexMissingError:
            self._missing_since = time.monotonic()
            raise

    def build(self, progress: Progress | None = None, *,
              changed: Collection[str] | None = None) -> BuildReport:  # noqa: ARG002 -- every file is checked
        """Bring the corpus up to date in the database, one article per transaction (every file is checked)."""
        report = build_in_database(self.config, self.embedder, self._database.store(), progress)
        self._missing_since = None
        return report

    def built_elsewhere(self) -> None:
        """The next question reads the new generation anyway: only forget that the corpus had none."""
        self._missing_since = None

    def serves_as_is(self) -> bool:
        """Whether the database holds an index of the corpus and this host has no corpus folder to build it from."""
        live = self._database.store().live_generation(self.config.corpus_key) is not None
        self._missing_since = None if live else time.monotonic()
        folders = (self.config.corpus_dir, self.config.shared_corpus_dir)
        if live and not any(folder is not None and folder.is_dir() for folder in folders):
            log.info("%s: no corpus folder %s on this host; serving the corpus as the database holds it",
                     self.where, self.config.corpus_dir)
            return True
        return False

    def repeated_on(self, source: str) -> frozenset[str]:  # noqa: ARG002 (the Store interface names it)
        """None: the index database does not count repeated lines yet (its chunk settings say so)."""
        return frozenset()

    def check(self) -> list[str]:
        """The corpus's generation is readable and its counts agree; PostgreSQL checks its own pages."""
        with self.snapshot() as snapshot:
            manifest = snapshot.manifest
        listed = sum(a.chunks for a in manifest.articles)
        if listed != manifest.chunks:
            return [f"its articles list {listed:,} passages but it holds {manifest.chunks:,}"]
        return []

    def drop(self) -> None:
        """Delete the corpus and all its generations from the database."""
        self._database.store().drop_corpus(self.config.corpus_key)
        self._missing_since = time.monotonic()

    def close(self) -> None:
        """Close the database if this store opened it."""
        if self._owns_database and self.database is not None:
            self.database.close()
