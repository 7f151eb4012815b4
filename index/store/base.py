"""The one interface both stores offer the engine: read a corpus's index, build it, say where it is.

`EmbeddedStore` (index/store/embedded/store.py) keeps the index in generation folders under
index_dir; `PostgresStore` (index/store/postgres/corpus.py) keeps it in the index database, shared by
many bot processes. The engine holds one and never asks which (`open_store` picks it from the
configuration). What both need lives once: the build steps (index/store/build.py) and the check
that an index fits the configuration (index/store/manifest.py `check_built_with`).
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from index.store.build import Progress
from index.store.searchable import StoreSnapshot
from index.types import BuildReport

if TYPE_CHECKING:
    from index.config import IndexConfig
    from index.embedders import Embedder
    from index.store.postgres.database import Database


class Store(Protocol):
    """One corpus's index, wherever it is kept."""

    # The index database the engines of one process share; None for an index kept in files.
    database: Database | None

    @property
    def where(self) -> str:
        """Where the index is, for people: its folder, or its corpus in the database (never the password)."""
        ...

    @property
    def indexed(self) -> bool:
        """Whether the corpus has an index; never waits (read on the event loop for every question)."""
        ...

    def recheck_indexed(self) -> None:
        """Ask again, at most every few seconds, whether a corpus found without an index has one now (blocks)."""
        ...

    def snapshot(self) -> AbstractContextManager[StoreSnapshot]:
        """The index questions are answered from, for one block.

        Raises IndexMissingError when there is none yet, IndexMismatchError when it was built with
        another model, backend or chunking (or is damaged), IndexDatabaseError when the database
        cannot be reached.
        """
        ...

    def build(self, progress: Progress | None = None, *, changed: Collection[str] | None = None) -> BuildReport:
        """Bring the index up to date with the corpus, in this process; the old index serves meanwhile.

        `changed`: the only sources that changed (added, changed or removed), when the caller knows
        them (/add, /remove, feeds): a store may then read just those instead of every file. None:
        anything may have changed.
        """
        ...

    def built_elsewhere(self) -> None:
        """Serve what another process (the build child, `articlebot index`) has just published."""
        ...

    def serves_as_is(self) -> bool:
        """Whether this host serves the index as it stands without building it (no corpus folder here)."""
        ...

    def repeated_on(self, source: str) -> frozenset[str]:
        """The keys of an article's lines repeated on its site, as its last build counted them (furniture, #36)."""
        ...

    def check(self) -> list[str]:
        """Verify the live index whole (`articlebot index --check`): what is damaged, or nothing.

        Raises IndexMissingError when there is none.
        """
        ...

    def drop(self) -> None:
        """Remove this corpus's index entirely (a temporary corpus, such as an evaluation's)."""
        ...

    def close(self) -> None:
        """Release what the store opened itself (a database it connected to)."""
        ...


def open_store(config: IndexConfig, embedder: Embedder, *, database: Database | None = None) -> Store:
    """The store the configuration names (`[index] store`), reading and building with `embedder`.

    With PostgreSQL, `database` is the handle the engines of one process share (the store opens
    its own, and closes it, when none is given).
    """
    if config.uses_database:
        from index.store.postgres.corpus import PostgresStore

        return PostgresStore(config, embedder, database=database)
    if database is not None:
        raise ValueError("a database was given for an index that is kept in files (index.store = 'embedded')")
    from index.store.embedded.store import EmbeddedStore

    return EmbeddedStore(config, embedder)
