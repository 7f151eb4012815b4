"""The administrators' commands on the index and its record: /reindex and /gaps."""

from __future__ import annotations

import asyncio
from collections import deque

import discord
from discord import app_commands

from bot import render
from bot.cogs.base import AdminCog
from bot.errors import ReindexRunning
from index import ArticlebotError, BuildProgress, ReindexInProgressError

# Seconds between edits of the /reindex progress message (Discord rate-limits edits).
PROGRESS_EVERY = 1.0


class Admin(AdminCog):
    """Rebuilding the index, and what the questions asked say about it (administrators only)."""

    @app_commands.command(description="Rebuild the index from the corpus folder (administrators only).")
    @app_commands.default_permissions(manage_guild=True)
    async def reindex(self, interaction: discord.Interaction) -> None:
        """Rebuild the index while answering from the current one; progress and result edit one message."""
        latest: deque[BuildProgress] = deque(maxlen=1)
        async with self.working(interaction) as worker:
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
    async def gaps(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 3650] = 30) -> None:
        """The questions declined and the answers voted down, grouped by topic, most asked first; privately."""
        async with self.working(interaction) as worker:
            if worker.record is None:
                await interaction.response.send_message(
                    "The question record is turned off ([record] enabled = false), so there is nothing to show.",
                    ephemeral=True, allowed_mentions=render.NO_MENTIONS)
                return
            await interaction.response.defer(thinking=True, ephemeral=True)
            found = await worker.gaps(days, guild=interaction.guild_id)
            await interaction.followup.send(render.gaps_text(found, days), ephemeral=True,
                                            allowed_mentions=render.NO_MENTIONS)
