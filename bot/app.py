"""Starting and stopping the bot: build the index, open the resources, run until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl

from bot.client import open_bot
from bot.corpora import Corpora
from bot.polling import FeedPoller
from index import ArticlebotError, BuildProgress, Config, DiscordConfig

if TYPE_CHECKING:
    from bot.worker import Worker
    from index import Engine

log = logging.getLogger(__name__)

# Seconds a stopping bot waits for answers in progress before it closes the gateway anyway.
SHUTDOWN_GRACE = 30.0


class LoginTimeoutError(Exception):
    """Discord did not answer the login within [discord] login_timeout seconds."""


def run_bot(config: Config, token: str) -> int:
    """Run the bot until SIGTERM/SIGINT, building the index first if it is missing or stale; returns the exit status.

    Configuration and corpus errors (ArticlebotError) propagate to the caller, which reports them.
    """
    from index import (
        Engine,  # heavy imports: only when the bot really starts
        heap,
    )

    heap.settle()  # before the question threads start: a bot that runs for months keeps a flat heap
    engine = Engine.from_config(config)
    if engine.reader is not None:  # loaded and run once now, not at the first question
        engine.reader.reserve()
    try:
        with engine:  # its index database's connections, with store = "postgres", are closed on the way out
            asyncio.run(_run_until_signalled(config, engine, token))
    except LoginTimeoutError:
        log.error("Discord did not answer the login within %g s (discord.login_timeout): check this machine's "
                  "network, and discord.api_base_url (%s) if you set it", config.discord.login_timeout,
                  config.discord.api_base_url)
        return 1
    except discord.LoginFailure:
        log.error("Discord refused the token: check the DISCORD_TOKEN environment variable "
                  "(Developer Portal → your application → Bot → Reset Token)")
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error("Discord asks for a privileged intent this bot does not need; please report this as a bug")
        return 1
    except (aiohttp.ClientError, discord.GatewayNotFound) as e:
        log.error("could not reach Discord at %s: %s", config.discord.api_base_url, e)
        return 1
    except discord.HTTPException as e:
        log.error("Discord refused a request: %s", e)
        return 1
    except discord.ConnectionClosed as e:
        log.error("Discord closed the gateway connection (code %s): %s", e.code, e.reason or "no reason given")
        return 1
    return 0


async def _run_until_signalled(config: Config, engine: Engine, token: str) -> None:
    """Serve until the first SIGTERM or SIGINT, which stops the bot cleanly; a second one ends it at once.

    The second signal meets the default handlers again (Ctrl-C raises KeyboardInterrupt, SIGTERM
    ends the process): for an operator who will not wait for the answers in progress (SHUTDOWN_GRACE).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def stopping() -> None:
        stop.set()
        for signum in signals:
            loop.remove_signal_handler(signum)
        log.info("stopping; a second Ctrl-C or SIGTERM ends the bot at once")

    for signum in signals:
        loop.add_signal_handler(signum, stopping)
    await serve(config, engine, token, stop=stop)


async def serve(config: Config, engine: Engine, token: str, *, stop: asyncio.Event) -> None:
    """Log in, bring the indexes up to date, go online, and run until `stop` is set; then shut down cleanly.

    `engine` answers from the shared corpus; each server with a corpus of its own ([guilds]) gets an
    engine sharing its model. Logging in comes first so that a wrong token fails at once, not after
    a long index build; the bot connects to the gateway (goes online) only once the indexes are ready.

    Of a sharded bot's processes, only the one that runs shard 0 polls the feeds: each process would
    otherwise fetch every feed and announce the same articles once per process.
    """
    with discord_endpoints(config.discord):
        async with Corpora.open(config, engine) as corpora, open_bot(config, corpora) as bot:
            if not await _logged_in(bot, token, config.discord.login_timeout, stop):
                log.info("stopping: before Discord answered the login")
                return
            for guild_id, worker in corpora.workers:
                if not await _ensure_index(guild_id, worker, stop):
                    log.info("stopping: the index build was stopped before it finished; nothing of it was published")
                    return
            if config.discord.sharded:
                log.info("running shard(s) %s of %d", ", ".join(map(str, config.discord.shards)),
                         config.discord.shard_count)
            client = asyncio.ensure_future(bot.connect())
            polling: asyncio.Future[None] | None = None
            if config.discord.runs_shard_zero:
                poller = FeedPoller(bot.services)
                polling = asyncio.ensure_future(poller.run())
            else:
                log.info("the feeds are polled by the process that runs shard 0")
            try:
                if not await _finished_before(client, stop):
                    log.info("stopping: finishing answers in progress, then closing the gateway")
                    for _, worker in corpora.workers:
                        worker.stop()  # a build (/reindex, /add, feeds) or a feed poll: not worth waiting minutes for
                    await bot.shutdown(SHUTDOWN_GRACE)
            finally:
                if polling is not None:
                    polling.cancel()
            await client  # re-raises a gateway failure
            log.info("stopped")


async def _logged_in(bot: discord.Client, token: str, within: float, stop: asyncio.Event) -> bool:
    """Log in; False when `stop` came first. Raises LoginTimeoutError after `within` seconds without an answer.

    discord.py's login waits as long as the connection stays open, and a stop signal only sets
    `stop`, so both are raced against it here; the login's request is cancelled either way.
    """
    login = asyncio.ensure_future(bot.login(token))
    try:
        async with asyncio.timeout(within):
            if not await _finished_before(login, stop):
                return False
    except TimeoutError:
        raise LoginTimeoutError from None
    finally:
        if not login.done():
            login.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await login
    login.result()  # re-raises a refused token or an unreachable host
    return True


async def _ensure_index(guild_id: int | None, worker: Worker, stop: asyncio.Event) -> bool:
    """Build one corpus's index if it is missing or stale; False when `stop` came first.

    The shared index must build (its failure stops the bot, as with a single corpus); a server's own
    corpus that cannot be indexed yet (an empty new folder) is logged, and that server is told it has
    no articles until some are added.
    """
    config = worker.config.index
    where = f"server {guild_id}: " if guild_id is not None else ""
    log.info("%schecking the index in %s against %s", where, config.index_dir, config.corpus_dir)
    indexing = asyncio.ensure_future(worker.ensure_index(_log_progress))
    if not await _finished_before(indexing, stop):
        worker.stop()  # the build's thread ends at its next progress report; the bot's threads wait for it
        indexing.cancel()  # and a wait for another process's build ends now
        await asyncio.wait({indexing})
        if not indexing.cancelled() and isinstance(indexing.exception(), ArticlebotError):
            log.info("%sthe index build ended as the bot stopped: %s", where, indexing.exception())
        return False
    try:
        report = indexing.result()
    except ArticlebotError as e:
        if guild_id is None:
            raise
        log.warning("server %s has no index: %s; it is told it has no articles until some are added", guild_id, e)
        return True
    if report is not None:
        log.info("%sindex ready: %s", where, report.summary())
        for skipped in report.skipped:
            log.warning("%sskipped %s: %s", where, skipped.source, skipped.reason)
    return True


async def _finished_before(task: asyncio.Future[Any], stop: asyncio.Event) -> bool:
    """Wait for `task` or for `stop`; whether the task finished first."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    return task.done()


def _log_progress(progress: BuildProgress) -> None:
    if progress.done == progress.total:
        log.info("index %s: %d/%d", progress.stage, progress.done, progress.total)


@contextmanager
def discord_endpoints(config: DiscordConfig) -> Iterator[None]:
    """Point discord.py's REST and gateway at the configured URLs (a proxy or an emulator), restoring them after.

    discord.py keeps both as class attributes, so this is process-wide: one bot per process.
    """
    route_base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = config.api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = route_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
