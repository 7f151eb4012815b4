"""The slash commands that change the articles: /add, /remove and /feeds (administrators only).

Each acts on the corpus of the server it is used in (bot/corpora.py): only that server's folder is
written, and only its index updated. Each defers, makes its change in the worker's ingest thread
(one change at a time), updates the index off the event loop (waiting for a /reindex that is
running, then updating again), and answers in the one message it deferred. Questions keep being
answered meanwhile. The opening they share is `Articles.changing`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot import render
from bot.cogs.base import AdminCog
from bot.errors import Refusal
from bot.guards import is_admin
from index import SUFFIXES, ArticlebotError, IngestError, is_shared
from index.articles import feeds as feed_list
from index.articles import ingest

if TYPE_CHECKING:
    from bot.worker import Worker

# Content types a .txt, .md, .html or .pdf upload may declare (Discord guesses them from the name and bytes).
TEXT_TYPES = ("text/", "application/xhtml+xml", "application/pdf", "application/octet-stream")
CHOICES = 25  # Discord shows at most 25 autocomplete choices


class Articles(AdminCog):
    """Adding and removing articles, and following feeds (administrators only)."""

    @asynccontextmanager
    async def changing(self, interaction: discord.Interaction, refused: str | None = None) -> AsyncIterator[Worker]:
        """The opening every command here shares: the worker of this server's corpus, the command counted as work
        in flight and deferred. An IngestError inside (nothing was changed) ends the block, told as `refused: why`
        while still in flight, so that stopping waits for the reply; with `refused` None it goes on to the tree."""
        async with self.working(interaction) as worker:
            await interaction.response.defer(thinking=True)
            try:
                yield worker
            except IngestError as e:
                if refused is None:
                    raise
                await _say(interaction, render.failure_text(refused, _sentence(str(e))))

    @app_commands.command(description="Add an article: a page's link or an uploaded .txt, .md, .html or .pdf file "
                                      "(administrators only).")
    @app_commands.describe(url="A link to a web page (https://…)", file="A .txt, .md, .html or .pdf file")
    @app_commands.default_permissions(manage_guild=True)
    async def add(self, interaction: discord.Interaction, url: str | None = None,
                  file: discord.Attachment | None = None) -> None:
        """Fetch a page or take an upload into the corpus folder, then index it; one message says what happened."""
        if (url is None) == (file is None):
            raise Refusal("Give either a link (url:) or a file (file:), one of the two.")
        given = url if url is not None else (file.filename if file else "")
        async with self.changing(interaction, refused=f"Not added: {given}") as worker:
            config = worker.config
            if url is not None:
                link = url
                addition = await worker.ingest(lambda: ingest.add_url(config, link))
            else:
                assert file is not None
                name, data = file.filename, await _download(file, config.index.max_file_mb)
                addition = await worker.ingest(lambda: ingest.add_data(config, name, data))
            error = await _update_index(worker, addition.touched) if addition.changed else None
            await _say(interaction, render.addition_text(addition, error))

    @app_commands.command(description="Remove an article from the corpus and the index (administrators only).")
    @app_commands.describe(article="The article to remove: start typing its title")
    @app_commands.default_permissions(manage_guild=True)
    async def remove(self, interaction: discord.Interaction, article: str) -> None:
        """Delete an article's file (by its source or URL), then update the index."""
        async with self.changing(interaction, refused="Not removed") as worker:
            config = worker.config
            removals = await worker.ingest(lambda: ingest.remove(config, article))
            error = await _update_index(worker, [r.source for r in removals])
            await _say(interaction, render.removal_text(removals, error))

    @remove.autocomplete("article")
    async def _indexed_articles(self, interaction: discord.Interaction, current: str,
                                ) -> list[app_commands.Choice[str]]:
        """This server's own indexed articles whose title or file name holds what was typed (nothing for non-admins)."""
        # Discord asks for choices without the command's checks (interaction_check): checked here.
        if not is_admin(interaction, self.services.config.discord):
            return []
        try:
            worker = self.services.corpora.answering(interaction.guild_id)
        except Refusal:
            return []
        needle = current.casefold().strip()
        choices = []
        for info in await worker.sources():
            if is_shared(worker.config.index, info.source):
                continue  # other servers see it too: removed only from the shared corpus itself
            if len(info.source) > 100 or (needle and needle not in f"{info.title} {info.source}".casefold()):
                continue
            label = f"{info.title} ({info.source})"
            name = label if len(label) <= 100 else label[:99] + "…"
            choices.append(app_commands.Choice(name=name, value=info.source))
            if len(choices) == CHOICES:
                break
        return choices

    feeds = app_commands.Group(name="feeds", description="RSS and Atom feeds whose new articles are added "
                                                         "(administrators only).",
                               default_permissions=discord.Permissions(manage_guild=True))

    @feeds.command(name="list", description="The feeds followed, and how each fares.")
    async def feeds_list(self, interaction: discord.Interaction) -> None:
        """Every feed of this server's corpus, from the config file and from /feeds add."""
        async with self.changing(interaction) as worker:
            config = worker.config
            found = await worker.ingest(lambda: feed_list.health(config))
            await _say(interaction, render.feeds_text(found, configured=[f.url for f in config.feeds],
                                                      interval_minutes=config.fetch.feed_interval_minutes))

    @feeds.command(name="add", description="Follow an RSS or Atom feed: its new articles are added and announced here.")
    @app_commands.describe(url="The feed's link (https://…)", name="What to call it (default: its link)",
                           announce="Post the new articles in this channel (default: yes)")
    async def feeds_add(self, interaction: discord.Interaction, url: str,
                        name: app_commands.Range[str, 0, 100] = "", announce: bool = True) -> None:
        """Check that the link is a feed, follow it (kept beside this server's index), and poll the feeds now."""
        channel = interaction.channel_id if announce and interaction.guild_id is not None else None
        async with self.changing(interaction, refused=f"Not followed: {url}") as worker:
            config = worker.config
            feed, entries = await worker.ingest(
                lambda: feed_list.follow(config, url, name=name, channel_id=channel or 0))
            self.services.feeds_changed.set()
            where = " and announced here" if feed.channel_id else ""
            await _say(interaction, render.fit(
                f"Following {feed.title} ({entries} entries now). Its new articles are added in the background{where}; "
                f"it is polled every {config.fetch.feed_interval_minutes:g} min.", render.CONTENT_LIMIT))

    @feeds.command(name="remove", description="Stop following a feed added with /feeds add (its articles stay).")
    @app_commands.describe(feed="The feed: start typing its name or link")
    async def feeds_remove(self, interaction: discord.Interaction, feed: str) -> None:
        """Forget a feed added from Discord; the articles it brought stay in the corpus."""
        async with self.changing(interaction, refused="Not removed") as worker:
            config = worker.config
            gone = await worker.ingest(lambda: feed_list.unfollow(config, feed))
            await _say(interaction, render.fit(f"No longer following {gone.title}. The articles it added stay; "
                                               "remove them with /remove.", render.CONTENT_LIMIT))

    @feeds_remove.autocomplete("feed")
    async def _followed_feeds(self, interaction: discord.Interaction, current: str,
                              ) -> list[app_commands.Choice[str]]:
        """The feeds followed from Discord whose name or link holds what was typed (nothing for non-admins)."""
        if not is_admin(interaction, self.services.config.discord):
            return []
        try:
            worker = self.services.corpora.worker(interaction.guild_id)
        except Refusal:
            return []
        config = worker.config
        needle = current.casefold().strip()
        found = await worker.ingest(lambda: feed_list.feeds(config))
        configured = {f.url for f in config.feeds}
        return [app_commands.Choice(name=f.title[:100], value=f.url) for f in found
                if f.url not in configured and len(f.url) <= 100
                and (not needle or needle in f"{f.title} {f.url}".casefold())][:CHOICES]


async def _download(file: discord.Attachment, max_mb: float) -> bytes:
    """An upload's bytes, refused (IngestError) before downloading when its name, type or size will not do."""
    suffix = "." + file.filename.rsplit(".", 1)[-1].lower() if "." in file.filename else ""
    if suffix not in SUFFIXES:
        accepted = ", ".join(sorted(SUFFIXES))
        raise IngestError(f"{suffix or 'files without an extension'} files are not accepted (only {accepted})")
    limit = int(max_mb * 1_000_000)
    if file.size > limit:
        raise IngestError(f"it is {file.size:,} bytes, larger than the {max_mb:g} MB limit (index.max_file_mb)")
    content_type = (file.content_type or "").split(";")[0].strip().lower()
    if content_type and not content_type.startswith(TEXT_TYPES):
        raise IngestError(f"it is {content_type}, not text (only .txt, .md, .html and .pdf files are read)")
    try:
        data = await file.read()
    except (discord.HTTPException, discord.NotFound) as e:
        raise IngestError(f"it could not be downloaded from Discord ({e})") from None
    if len(data) > limit:
        raise IngestError(f"it is larger than the {max_mb:g} MB limit (index.max_file_mb)")
    return data


async def _update_index(worker: Worker, changed: Collection[str]) -> str | None:
    """Update the index after a change of these sources; the reason when it could not be (the change itself stays)."""
    try:
        await worker.update_index(changed)
    except ArticlebotError as e:
        return render.error_text(e).rstrip(".")
    return None


async def _say(interaction: discord.Interaction, text: str) -> None:
    await interaction.edit_original_response(content=text, allowed_mentions=render.NO_MENTIONS)


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return (text[:1].upper() + text[1:] + ".") if text else text
