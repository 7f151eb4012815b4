"""The bot itself: a discord.py bot that loads the cogs (bot/cogs/), syncs their slash commands, and stops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import render, views
from bot.admission import Admission
from bot.cogs.admin import Admin
from bot.cogs.articles import Articles
from bot.cogs.ask import Ask
from bot.conversations import Conversations
from bot.corpora import Corpora
from bot.errors import Refusal
from bot.services import Services
from index import ArticlebotError, Config

log = logging.getLogger(__name__)


class ArticleTree(app_commands.CommandTree["ArticleBot"]):
    """The command tree, with the one error handler every slash command's failure goes through."""

    async def on_error(self, interaction: discord.Interaction[ArticleBot], error: app_commands.AppCommandError) -> None:
        """Tell the user in plain words: refusals and engine errors as they are, anything else as an apology."""
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(original, Refusal):
            message = render.fit(str(original), render.CONTENT_LIMIT)
        elif isinstance(original, ArticlebotError):
            message = render.fit(render.error_text(original), render.CONTENT_LIMIT)
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("/%s failed (user %s, guild %s)", command, interaction.user.id, interaction.guild_id,
                      exc_info=original)
            message = render.APOLOGY
        try:
            if interaction.response.is_done():
                # The thinking message (or the progress message) is replaced by the explanation.
                await interaction.edit_original_response(content=message, embeds=[], view=None,
                                                         allowed_mentions=render.NO_MENTIONS)
            else:
                await interaction.response.send_message(message, ephemeral=True, allowed_mentions=render.NO_MENTIONS)
        except discord.HTTPException:
            log.exception("could not tell the user about an error in an interaction")


class ArticleBot(commands.Bot):
    """Answers questions about the articles through slash commands and @mentions.

    It only connects: the commands and listeners are cogs (bot/cogs/), each given the `Services` it
    uses, each event one call on the `Worker` of the corpus of the server it happened in (`Corpora`),
    whose result `render` turns into a message. It is given everything it uses; it opens nothing
    itself. `open_bot` picks it or, with [discord] shard_count set, `ShardedArticleBot`.
    """

    def __init__(self, *, config: Config, corpora: Corpora, **client_options: Any) -> None:
        # The bot never joins a voice channel, so discord.py's warning at every start that its voice
        # libraries (PyNaCl, davey) are missing is noise; these are the flags it checks, once, here.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            # No prefix commands (see on_message) and so no help command: the commands are slash commands.
            command_prefix=(),
            help_command=None,
            tree_cls=ArticleTree,
            # Default intents: no privileged intent is needed, since Discord delivers the content
            # of messages that mention the bot anyway.
            intents=discord.Intents.default(),
            allowed_mentions=render.NO_MENTIONS,
            guild_ready_timeout=config.discord.guild_ready_timeout,
            # No cache of recent messages (discord.py keeps 1,000 by default, each with its embeds):
            # the bot reads each message once, as it arrives, and knows its own answers by id
            # (Conversations), so the cache would only be memory that grows with traffic.
            max_messages=None,
            **client_options,
        )
        self.config = config
        # What the cogs and the feed poller are given; none of them reaches back through the client for it.
        self.services = Services(config, corpora, Admission(config, corpora), Conversations(), self,
                                 discord.utils.utcnow())

    def __repr__(self) -> str:
        return f"<ArticleBot user={self.user!r} guilds={len(self.guilds)}>"

    def _gateway_open(self) -> bool:
        """Whether a gateway connection has been opened (it may not be ready yet)."""
        return self.ws is not None

    async def setup_hook(self) -> None:
        """Add the cogs and sync their slash commands: to the configured guilds (instant), else globally.

        Of a sharded bot's processes, only the one that runs shard 0 syncs: the commands are the bot's,
        not a shard's, and one sync serves every process.
        """
        for cog in (Ask(self.services), Admin(self.services), Articles(self.services)):
            await self.add_cog(cog)
        self.add_dynamic_items(*views.ANSWER_BUTTONS)  # answers' buttons, including those sent before a restart
        if not self.config.discord.runs_shard_zero:
            log.info("the slash commands are synced by the process that runs shard 0")
            return
        guild_ids = self.config.discord.guild_ids
        if guild_ids:
            for guild_id in guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                try:
                    synced = await self.tree.sync(guild=guild)
                except discord.Forbidden:
                    # One wrong guild id should not keep the bot from serving the others.
                    log.error("Discord refused the slash commands for guild %s: is the bot in that server, invited "
                              "with the applications.commands scope? (see discord.guild_ids)", guild_id)
                    continue
                log.info("synced %d commands to guild %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d commands globally (they can take up to an hour to appear)", len(synced))

    async def on_message(self, message: discord.Message, /) -> None:
        """Process no prefix commands: a mention is a question, answered by a listener (bot/cogs/ask.py)."""
        # commands.Bot's own on_message would read every mention as a prefix command and log each one it
        # does not know as an error.

    async def on_ready(self) -> None:
        """Log who we are once the gateway session is ready."""
        log.info("connected as %s (id %s) to %d guild(s)", self.user, self.user and self.user.id, len(self.guilds))

    # --- shutting down ----------------------------------------------------------------------------

    async def shutdown(self, grace: float) -> None:
        """Take no new work, let work in flight finish (up to `grace` seconds), then close the gateway."""
        admission = self.services.admission
        admission.stopping = True
        if self._gateway_open() and not self.is_ready():
            # discord.py dispatches on_ready from a task that breaks if the client closes under it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wait_until_ready(), self.config.discord.guild_ready_timeout + 1)
        if admission.busy:
            log.info("waiting for %d answer(s) in progress before stopping", admission.busy)
            if not await admission.idle(grace):
                log.warning("stopping with %d answer(s) still in progress after %.0f s", admission.busy, grace)
        await self.close()


class ShardedArticleBot(ArticleBot, commands.AutoShardedBot):
    """The same bot on discord.py's AutoShardedBot: one process of a sharded bot, running the shards
    [discord] shard_ids of shard_count (all of them when shard_ids is empty).

    Discord sends each shard's connection the events of its servers only, `(guild_id >> 22) % shard_count`,
    and direct messages to shard 0, so each process answers its own servers.
    """

    def __init__(self, *, config: Config, corpora: Corpora) -> None:
        settings = config.discord
        super().__init__(config=config, corpora=corpora, shard_count=settings.shard_count,
                         shard_ids=list(settings.shard_ids) or None)

    def __repr__(self) -> str:
        return f"<ShardedArticleBot user={self.user!r} shards={self.config.discord.shards} guilds={len(self.guilds)}>"

    def _gateway_open(self) -> bool:
        return bool(self.shards)

    async def on_shard_ready(self, shard_id: int) -> None:
        """Log each shard as its servers have arrived."""
        count = sum(1 for guild in self.guilds if guild.shard_id == shard_id)
        log.info("shard %d of %d ready with %d guild(s)", shard_id, self.config.discord.shard_count, count)


def open_bot(config: Config, corpora: Corpora) -> ArticleBot:
    """The bot for this configuration: sharded when [discord] shard_count is set, else on one plain connection."""
    if config.discord.sharded:
        return ShardedArticleBot(config=config, corpora=corpora)
    return ArticleBot(config=config, corpora=corpora)
