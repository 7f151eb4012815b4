"""Interactive message parts: the buttons that page through /sources."""

from __future__ import annotations

import contextlib
from typing import Sequence

import discord

from bot import render
from index.model import ArticleInfo

# Seconds the page buttons keep working after the last click.
PAGES_TIMEOUT = 600.0


class SourcesPages(discord.ui.View):
    """Previous/next buttons under the /sources list."""

    def __init__(self, articles: Sequence[ArticleInfo]) -> None:
        super().__init__(timeout=PAGES_TIMEOUT)
        self.articles = list(articles)
        self.count = render.page_count(len(self.articles))
        self.page = 0
        self.message: discord.WebhookMessage | None = None
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.count - 1

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        self.page = min(max(page, 0), self.count - 1)
        self._update_buttons()
        await interaction.response.edit_message(embed=render.sources_page(self.articles, self.page), view=self,
                                                allowed_mentions=render.NO_MENTIONS)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button[SourcesPages]) -> None:
        """Show the page before."""
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button[SourcesPages]) -> None:
        """Show the page after."""
        await self._show(interaction, self.page + 1)

    async def on_timeout(self) -> None:
        """Remove the buttons once they stop working."""
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=None)
