"""Which corpus a question is answered from: the server's own, or the shared one, each with its worker.

A server with a `[guilds.<id>]` table has a corpus, an index, a question record and feeds of its
own (`Config.for_guild`); every other server, and every DM, uses the shared corpus, or none when
`index.share_corpus` is off. `Corpora` holds one `Worker` per corpus and hands each command the
one of the place it was used in, so one server's articles never reach another server's answers.
All workers share one embedder (the model is loaded once), one set of threads (`Threads`), so
several servers' indexes are built one after another, never at once, and with `[index] store =
"postgres"` one pool of connections to the index database (each corpus a key in it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from bot.errors import NoArticles, NoCorpus
from bot.worker import Threads, Worker
from index import Config, Record

if TYPE_CHECKING:
    from index import Engine

log = logging.getLogger(__name__)


class Corpora:
    """The bot's workers: one for the shared corpus (unless it is shared with nobody), one per server with its own."""

    def __init__(self, shared: Worker | None, guilds: Mapping[int, Worker], threads: Threads) -> None:
        self.shared = shared
        self.guilds = dict(guilds)
        self.threads = threads

    @classmethod
    def open(cls, config: Config, engine: Engine) -> Corpora:
        """The workers for `config`: `engine` answers from the shared corpus; each server's engine shares its model."""
        from index import Engine

        threads = Threads()
        shared = _worker(engine, threads) if config.for_guild(None) is not None else None
        guilds = {}
        for guild in config.guilds:
            own = config.for_guild(guild.id)
            assert own is not None  # a server with a table always has its corpus
            guilds[guild.id] = _worker(Engine(own, engine.embedder, database=engine.database), threads)
        return cls(shared, guilds, threads)

    @property
    def workers(self) -> list[tuple[int | None, Worker]]:
        """Every worker, with the server it serves (None: the shared corpus), the shared one first."""
        shared: list[tuple[int | None, Worker]] = [(None, self.shared)] if self.shared is not None else []
        return shared + list(self.guilds.items())

    def worker(self, guild_id: int | None) -> Worker:
        """The worker of the corpus for this server (None: a DM); raises NoCorpus when it has none."""
        worker = self.guilds.get(guild_id) if guild_id is not None else None
        worker = worker or self.shared
        if worker is None:
            raise NoCorpus(guild_id)
        return worker

    def answering(self, guild_id: int | None) -> Worker:
        """The worker of this server's corpus, which must hold articles already; raises NoCorpus or NoArticles."""
        worker = self.worker(guild_id)
        if not worker.engine.indexed:
            worker.recheck_indexed()  # with the index database, another process may have built it since
            raise NoArticles()
        return worker

    async def __aenter__(self) -> Corpora:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Let running work finish, then stop every worker and the shared threads."""
        await asyncio.gather(*(worker.close() for _, worker in self.workers))
        await asyncio.to_thread(self.threads.shutdown)


def _worker(engine: Engine, threads: Threads) -> Worker:
    """A worker for the engine, with the question record of its corpus (beside its index) when it is on."""
    config = engine.config
    record = Record(config.record_path, retention_days=config.record.retention_days) if config.record.enabled else None
    return Worker(engine, record=record, threads=threads)
