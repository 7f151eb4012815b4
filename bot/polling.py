"""Polling the feeds while the bot runs: new entries are added, the index updated, and channels told."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import discord

from bot import render
from index import ArticlebotError
from index.articles import feeds

if TYPE_CHECKING:
    from bot.services import Services
    from bot.worker import Worker

log = logging.getLogger(__name__)


class FeedPoller:
    """Polls every followed feed each `fetch.feed_interval_minutes`, each corpus's from its worker's ingest thread.

    The shared corpus's feeds ([[feeds]], and /feeds add where it is used) add to the shared folder;
    a server with its own corpus follows its own feeds (/feeds add there), which add to its folder only.

    The first poll is at once; a feed that fails is skipped until its next try is due (index/articles/feeds.py).
    `wake()` (or /feeds add, through `Services.feeds_changed`) polls again now.
    """

    def __init__(self, services: Services) -> None:
        self.corpora = services.corpora
        self.client = services.client  # to post in the channels that announce a feed's new articles
        self.interval = services.config.fetch.feed_interval_minutes * 60
        self._wake = services.feeds_changed
        self.polls = 0  # finished polls, for tests and the log

    def wake(self) -> None:
        """Poll again as soon as the current poll (if any) is over."""
        self._wake.set()

    async def run(self) -> None:
        """Poll until cancelled; an unexpected failure is logged and the next poll comes all the same."""
        while True:
            self._wake.clear()
            try:
                await self.poll()
            except Exception:
                log.exception("polling the feeds failed")
            self.polls += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def poll(self) -> None:
        """Poll the feeds of every corpus in turn; one that fails keeps none of the others from their turn."""
        for guild_id, worker in self.corpora.workers:
            try:
                await self.poll_corpus(worker)
            except Exception:
                where = f"server {guild_id}" if guild_id is not None else "the shared corpus"
                log.exception("polling the feeds of %s failed", where)

    async def poll_corpus(self, worker: Worker) -> None:
        """Poll one corpus's feeds that are due, update its index once if anything was added, then tell the channels."""
        config = worker.config
        runs = await worker.ingest(lambda: feeds.sync(config, wait_after_failures=True,
                                                      stop=lambda: worker.stopping))
        if worker.stopping:  # the bot is stopping: what was added is indexed at its next start
            return
        added = [run for run in runs if run.added]
        for run in runs:
            if run.outcome == "failed" and run.retry_at is not None:
                log.warning("feed %s failed (%d time%s in a row): %s; next try at %s", run.feed.title, run.failures,
                            "" if run.failures == 1 else "s", run.error, run.retry_at.isoformat(timespec="seconds"))
            for link, why in run.refused:
                log.warning("feed %s: %s not added: %s", run.feed.title, link, why)
        if not added:
            return
        for run in added:
            log.info("feed %s: %d new article(s): %s", run.feed.title, len(run.added),
                     ", ".join(a.source for a in run.added))
        try:
            report = await worker.update_index([s for run in added for a in run.added for s in a.touched])
        except ArticlebotError as e:
            log.error("the feeds added articles, but the index could not be updated: %s", e)
            return
        log.info("index updated after the feeds: %s", report.summary())
        for run in added:
            if run.feed.channel_id:
                await self._announce(run.feed.channel_id, render.feed_news_text(run.feed, run.added))

    async def _announce(self, channel_id: int, text: str) -> None:
        try:
            await self.client.get_partial_messageable(channel_id).send(text, allowed_mentions=render.NO_MENTIONS,
                                                                     suppress_embeds=True)
        except discord.HTTPException as e:
            log.warning("could not tell channel %s about the feed's new articles: %s", channel_id, e)
