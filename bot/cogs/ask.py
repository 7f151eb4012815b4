"""The slash commands. Each one parses its options, makes one call through the worker of the corpus of the
server it was used in (bot/corpora.py), and renders."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot import articles, render
from bot.errors import ReindexRunning
from bot.guards import admin_only
from bot.views import SourcesPages, answer_view
from index.answering.followup import Turn
from index.errors import ArticlebotError, ReindexInProgressError
from index.types import BuildProgress

if TYPE_CHECKING:
    from bot.admission import Services
    from bot.client import ArticleBot

# Seconds between edits of the /reindex progress message (Discord rate-limits edits).
PROGRESS_EVERY = 1.0


def register(tree: app_commands.CommandTree[ArticleBot], services: Services) -> None:
    """Add every command to the tree, each built with the services it uses."""
    for command in (*build(services), *articles.build(services)):
        tree.add_command(command)


def build(services: Services) -> list[app_commands.Command[Any, ..., None] | app_commands.Group]:
    """The everyday and admin commands, each given the services it uses (never the client)."""

    @app_commands.command(description="Ask a question about the articles; the answer quotes its sources.")
    @app_commands.describe(question="What you want to know", private="Show the answer only to you (default: no)")
    async def ask(interaction: discord.Interaction[ArticleBot], question: str, private: bool = False) -> None:
        """Answer a question, publicly or only to the asker."""
        async with services.admission.question_turn(question, interaction.user.id, interaction.guild_id):
            worker = services.corpora.answering(interaction.guild_id)
            await interaction.response.defer(thinking=True, ephemeral=private)
            answer = await worker.ask(question)
            asked = await worker.remember(answer, asker=interaction.user.id, guild=interaction.guild_id,
                                          channel=interaction.channel_id)
            reply = render.answer_reply(answer)
            view = answer_view(asked, answer)
            sent = await interaction.followup.send(reply.content, embeds=list(reply.embeds), ephemeral=private,
                                                   allowed_mentions=render.NO_MENTIONS,
                                                   view=view or discord.utils.MISSING, wait=True)
            services.conversations.add(sent.id, Turn(question, answer))  # a reply to it is a follow-up


    @app_commands.command(description="List the articles I have read.")
    async def sources(interaction: discord.Interaction[ArticleBot]) -> None:
        """The indexed articles, a page at a time."""
        async with services.admission.in_flight():
            worker = services.corpora.answering(interaction.guild_id)
            await interaction.response.defer(thinking=True)
            articles = await worker.sources()
            pages = SourcesPages(articles)
            embed = render.sources_page(articles, 0)
            if pages.count > 1:
                pages.message = await interaction.followup.send(embed=embed, view=pages, wait=True,
                                                                allowed_mentions=render.NO_MENTIONS)
            else:
                await interaction.followup.send(embed=embed, allowed_mentions=render.NO_MENTIONS)


    @app_commands.command(description="How many articles are indexed, with which model, and since when.")
    async def status(interaction: discord.Interaction[ArticleBot]) -> None:
        """The index being served, and the bot's uptime."""
        async with services.admission.in_flight():
            worker = services.corpora.answering(interaction.guild_id)
            await interaction.response.defer(thinking=True)
            index_status = await worker.status()
            summary = await worker.summary(days=7)
            feeds = await worker.feed_health()
            shards = interaction.client.shard_status(interaction.guild_id)
            await interaction.followup.send(embed=render.status_embed(index_status, services.uptime, summary, feeds,
                                                                      shards),
                                            allowed_mentions=render.NO_MENTIONS)


    @app_commands.command(description="Rebuild the index from the corpus folder (administrators only).")
    @app_commands.default_permissions(manage_guild=True)
    @admin_only()
    async def reindex(interaction: discord.Interaction[ArticleBot]) -> None:
        """Rebuild the index while answering from the current one; progress and result edit one message."""
        latest: deque[BuildProgress] = deque(maxlen=1)
        async with services.admission.in_flight():
            worker = services.corpora.worker(interaction.guild_id)
            try:
                # Started before the first await, so a second /reindex arriving meanwhile is refused.
                job = worker.start_rebuild(latest.append)
            except ReindexInProgressError:
                raise ReindexRunning() from None
            await interaction.response.defer(thinking=True)
            await interaction.edit_original_response(content=render.progress_text(None),
                                                     allowed_mentions=render.NO_MENTIONS)
            shown: BuildProgress | None = None
            while not job.done():
                await asyncio.wait({job}, timeout=PROGRESS_EVERY)
                current = latest[-1] if latest else None
                if not job.done() and current != shown:
                    await interaction.edit_original_response(content=render.progress_text(current),
                                                             allowed_mentions=render.NO_MENTIONS)
                    shown = current
            try:
                report = job.result()
            except ArticlebotError as e:
                reason = render.error_text(e).rstrip(".")
                text = render.failure_text("Reindex failed",
                                           f"{reason}. Questions are still answered from the previous index.")
            else:
                text = render.report_text(report)
            await interaction.edit_original_response(content=text, allowed_mentions=render.NO_MENTIONS)


    @app_commands.command(description="Questions the articles did not answer well, grouped (administrators only).")
    @app_commands.describe(days="How many days back to look (default 30)")
    @app_commands.default_permissions(manage_guild=True)
    @admin_only()
    async def gaps(interaction: discord.Interaction[ArticleBot], days: app_commands.Range[int, 1, 3650] = 30) -> None:
        """The questions declined and the answers voted down, grouped by topic, most asked first; privately."""
        async with services.admission.in_flight():
            worker = services.corpora.worker(interaction.guild_id)
            if worker.record is None:
                await interaction.response.send_message(
                    "The question record is turned off ([record] enabled = false), so there is nothing to show.",
                    ephemeral=True, allowed_mentions=render.NO_MENTIONS)
                return
            await interaction.response.defer(thinking=True, ephemeral=True)
            found = await worker.gaps(days, guild=interaction.guild_id)
            await interaction.followup.send(render.gaps_text(found, days), ephemeral=True,
                                            allowed_mentions=render.NO_MENTIONS)

    return [ask, sources, status, reindex, gaps]


