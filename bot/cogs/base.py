"""What the cogs share: the services they are given, the opening of a command's work, and the admin check.

Errors are not handled here: whatever a command raises goes to the one handler of the command tree
(`ArticleTree.on_error`, bot/client.py), which tells the user refusals and engine errors in plain
words and logs everything else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.errors import NotAdmin
from bot.guards import is_admin

if TYPE_CHECKING:
    from bot.services import Services
    from bot.worker import Worker


class CorpusCog(commands.Cog):
    """A cog whose commands work on the corpus of the server they are used in, given the services they use."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @asynccontextmanager
    async def working(self, interaction: discord.Interaction, *, answering: bool = False) -> AsyncIterator[Worker]:
        """The worker of the corpus of the command's server, the command counted as work in flight (refused once
        the bot is stopping); `answering`: the corpus must hold articles already (NoCorpus, NoArticles)."""
        async with self.services.admission.in_flight():
            corpora = self.services.corpora
            yield corpora.answering(interaction.guild_id) if answering else corpora.worker(interaction.guild_id)


class AdminCog(CorpusCog):
    """A cog whose commands are for administrators only."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Refuse (privately: NotAdmin) anyone who is not an admin, whatever Discord's default permissions say."""
        if not is_admin(interaction, self.services.config.discord):
            raise NotAdmin()
        return True
