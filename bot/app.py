"""Starting and stopping the bot: build the index, open the resources, run until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl

from bot.client import ArticleBot
from bot.polling import FeedPoller
from bot.worker import Worker
from index.config import Config, DiscordConfig
from index.model import BuildProgress
from index.record import Record

if TYPE_CHECKING:
    from index.engine import Engine

log = logging.getLogger(__name__)

# Seconds a stopping bot waits for answers in progress before it closes the gateway anyway.
SHUTDOWN_GRACE = 30.0


def run_bot(config: Config, token: str) -> int:
    """Run the bot until SIGTERM/SIGINT, building the index first if it is missing or stale; returns the exit status.

    Configuration and corpus errors (ArticlebotError) propagate to the caller, which reports them.
    """
    from index.engine import Engine  # heavy imports: only when the bot really starts

    engine = Engine.from_config(config)
    try:
        asyncio.run(_run_until_signalled(config, engine, token))
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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(config, engine, token, stop=stop)


async def serve(config: Config, engine: Engine, token: str, *, stop: asyncio.Event) -> None:
    """Log in, bring the index up to date, go online, and run until `stop` is set; then shut down cleanly.

    Logging in comes first so that a wrong token fails at once, not after a long index build;
    the bot connects to the gateway (goes online) only once the index is ready.
    """
    with discord_endpoints(config.discord):
        record = (Record(config.record_path, retention_days=config.record.retention_days)
                  if config.record.enabled else None)
        async with Worker(engine, record=record) as worker, ArticleBot(config=config, worker=worker) as bot:
            await bot.login(token)
            log.info("checking the index in %s against %s", config.index.index_dir, config.index.corpus_dir)
            indexing = asyncio.ensure_future(worker.ensure_index(_log_progress))
            if not await _finished_before(indexing, stop):
                log.info("stopping: the index build is left to finish first")
                return
            report = indexing.result()
            if report is not None:
                log.info("index ready: %s", report.summary())
                for skipped in report.skipped:
                    log.warning("skipped %s: %s", skipped.source, skipped.reason)
            client = asyncio.ensure_future(bot.connect())
            poller = bot.services.feed_poller = FeedPoller(bot)
            polling = asyncio.ensure_future(poller.run())
            try:
                if not await _finished_before(client, stop):
                    log.info("stopping: finishing answers in progress, then closing the gateway")
                    await bot.shutdown(SHUTDOWN_GRACE)
            finally:
                polling.cancel()
            await client  # re-raises a gateway failure
            log.info("stopped")


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
