"""The index database of one bot process: connected on first use, shared by its engines, closed by its owner.

With `[index] store = "postgres"` every corpus of a process (the shared one and each server's own)
is a corpus key in one database, so their engines share one pool of connections rather than open
one each. Nothing is imported from psycopg until the first connection: an embedded index, and
`--help`, never load it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from index.config import IndexConfig, redact_url
from index.errors import IndexDatabaseError

if TYPE_CHECKING:
    from index.store.manifest import Manifest
    from index.store.postgres.store import PgStore

# Connections a process holds at most: one per question answered at once (bot/worker.py answers
# four), two for a build (one holds the build lock), and room for an add's index update.
MAX_CONNECTIONS = 8


class Database:
    """The PostgreSQL index database of `database_url`, opened lazily; a failed connection is retried next time."""

    def __init__(self, url: str, *, ef_search: int = 64, max_connections: int = MAX_CONNECTIONS) -> None:
        if not url.strip():
            raise ValueError("a database URL is needed")
        self._url = url
        self._ef_search = ef_search
        self._max_connections = max_connections
        self._store: PgStore | None = None
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_config(cls, config: IndexConfig) -> Database:
        """The database of `config.database_url`, with its HNSW search width."""
        return cls(config.database_url, ef_search=config.hnsw_ef_search)

    def __repr__(self) -> str:
        return f"Database({redact_url(self._url)})"

    def store(self) -> PgStore:
        """The connected store; connects (checking the server and its schema) on first use.

        Raises IndexDatabaseError when the database cannot be reached or used.
        """
        with self._lock:
            if self._closed:
                raise IndexDatabaseError("the index database was closed: this process is shutting down")
            if self._store is None:
                from index.store.postgres.store import connect

                self._store = connect(self._url, ef_search=self._ef_search, max_connections=self._max_connections)
            return self._store

    def close(self) -> None:
        """Close the pool's connections; later calls of store() are refused."""
        with self._lock:
            self._closed = True
            store, self._store = self._store, None
        if store is not None:
            store.close()


def live_manifest(config: IndexConfig) -> Manifest:
    """The manifest of the configuration's live index, from index_dir or from its corpus in the database.

    Raises IndexMissingError, IndexMismatchError or IndexDatabaseError. For one-off readers (adding
    an article looks up the URLs indexed); an engine reads its own through its open database.
    """
    if not config.uses_database:
        from index.store.embedded.generations import read_manifest

        return read_manifest(config.index_dir)
    database = Database.from_config(config)
    try:
        return database.store().manifest(config.corpus_key)
    finally:
        database.close()
