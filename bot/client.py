"""The bot itself: a discord.py client that syncs the slash commands and answers @mentions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands

from bot import commands, render, views
from bot.admission import Admission, Services
from bot.corpora import Corpora
from bot.errors import Refusal
from index.answering.followup import Turn, in_context
from index.config import Config
from index.errors import ArticlebotError

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


class ArticleBot(discord.Client):
    """Answers questions about the articles through slash commands and @mentions.

    It only translates: each event becomes one call on the `Worker` of the corpus of the server it
    happened in (`Corpora`), whose result `render` turns into a message. It is given everything it
    uses; it opens nothing itself. `open_bot` picks it or, with [discord] shard_count set, `ShardedArticleBot`.
    """

    def __init__(self, *, config: Config, corpora: Corpora, **client_options: Any) -> None:
        # The bot never joins a voice channel, so discord.py's warning at every start that its voice
        # libraries (PyNaCl, davey) are missing is noise; these are the flags it checks, once, here.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
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
        self.corpora = corpora
        self.tree = ArticleTree(self)
        self.admission = Admission(config, corpora)
        self.conversations = Conversations()
        # What the slash commands are given (bot/commands.py); the feed poller joins once the bot is online.
        self.services = Services(config, corpora, self.admission, self.conversations, discord.utils.utcnow())

    def __repr__(self) -> str:
        return f"<ArticleBot user={self.user!r} guilds={len(self.guilds)}>"

    def shard_status(self, guild_id: int | None) -> Shards | None:
        """The shards this process runs, their latencies and the one of this server; None when not sharded."""
        del guild_id  # a bot that is not sharded has one connection for every server
        return None

    def _gateway_open(self) -> bool:
        """Whether a gateway connection has been opened (it may not be ready yet)."""
        return self.ws is not None

    async def setup_hook(self) -> None:
        """Register the slash commands and sync them: to the configured guilds (instant), else globally.

        Of a sharded bot's processes, only the one that runs shard 0 syncs: the commands are the bot's,
        not a shard's, and one sync serves every process.
        """
        commands.register(self.tree, self.services)
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

    async def on_ready(self) -> None:
        """Log who we are once the gateway session is ready."""
        log.info("connected as %s (id %s) to %d guild(s)", self.user, self.user and self.user.id, len(self.guilds))

    # --- @mentions ------------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """Answer a message that mentions the bot (or any DM to it), as a reply; ignore bots, webhooks and ourselves."""
        me = self.user
        if me is None or message.author.bot or message.author.id == me.id or message.webhook_id is not None:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        if message.guild is not None and not self._mentions_me(message):
            return
        question = self._strip_mentions(message)
        if not question:
            await self._reply(message, render.help_text(me.display_name))
            return
        guild_id = message.guild.id if message.guild else None
        try:
            async with self.admission.question_turn(question, message.author.id, guild_id):
                worker = self.corpora.answering(guild_id)
                before = (self.conversations.get(message.reference.message_id if message.reference else None)
                          or self.conversations.in_thread(message.channel.id))
                async with message.channel.typing():
                    answer = await worker.ask(question, before=before)
                    asked = await worker.remember(answer, asker=message.author.id, guild=guild_id,
                                                  channel=message.channel.id)
                # Sent inside the turn, so that shutting down waits for the reply too.
                reply, view = render.answer_reply(answer), views.answer_view(asked, answer)
                thread = await self._new_thread(message, question)
                if thread is not None:
                    sent: discord.Message | None = await self._send_in(thread, reply, view)
                else:
                    sent = await self._send_reply(message, reply, view)
                if sent is not None:
                    turn = Turn(in_context(question, before), answer)
                    self.conversations.add(sent.id, turn)
                    if thread is not None or self.conversations.in_thread(message.channel.id):
                        self.conversations.thread(sent.channel.id, turn)
        except Refusal as e:
            await self._reply(message, render.fit(str(e), render.CONTENT_LIMIT))
        except ArticlebotError as e:
            await self._reply(message, render.fit(render.error_text(e), render.CONTENT_LIMIT))
        except Exception:
            log.exception("answering a mention failed (user %s, guild %s)", message.author.id, guild_id)
            await self._reply(message, render.APOLOGY)

    def _mentions_me(self, message: discord.Message) -> bool:
        """A direct mention of the bot, or of its own role (which Discord's client sometimes inserts instead)."""
        me = self.user
        if me is None:
            return False
        if any(user.id == me.id for user in message.mentions):
            return True
        own_role = message.guild.self_role if message.guild else None
        return own_role is not None and own_role in message.role_mentions

    def _strip_mentions(self, message: discord.Message) -> str:
        """The message's text without the mentions of the bot."""
        assert self.user is not None
        ids = [str(self.user.id)]
        if message.guild and message.guild.self_role:
            ids.append(str(message.guild.self_role.id))
        pattern = r"<@[!&]?(?:" + "|".join(ids) + r")>"
        return " ".join(re.sub(pattern, " ", message.content).split())

    async def _new_thread(self, message: discord.Message, question: str) -> discord.Thread | None:
        """A thread for the answer, when the channel is configured for them (None: reply in place)."""
        settings = self.config.discord
        channel = message.channel
        if message.guild is None or isinstance(channel, discord.Thread):
            return None
        if message.guild.id not in settings.thread_guild_ids and channel.id not in settings.thread_channel_ids:
            return None
        try:
            return await message.create_thread(name=render.thread_name(question))
        except discord.HTTPException as e:
            log.warning("could not start a thread in channel %s (%s); replying in the channel", channel.id, e)
            return None

    async def _send_in(self, thread: discord.Thread, reply: render.Reply,
                       view: discord.ui.View | None) -> discord.Message | None:
        try:
            return await thread.send(reply.content, embeds=list(reply.embeds), allowed_mentions=render.NO_MENTIONS,
                                     view=view or discord.utils.MISSING)
        except discord.HTTPException:
            log.exception("could not answer in thread %s", thread.id)
            return None

    async def _reply(self, message: discord.Message, text: str) -> None:
        await self._send_reply(message, render.Reply(text))

    async def _send_reply(self, message: discord.Message, reply: render.Reply,
                          view: discord.ui.View | None = None) -> discord.Message | None:
        try:
            return await message.reply(reply.content, embeds=list(reply.embeds), mention_author=False,
                                       allowed_mentions=render.NO_MENTIONS, view=view or discord.utils.MISSING)
        except discord.HTTPException:
            log.exception("could not reply to message %s in channel %s", message.id, message.channel.id)
            return None

    # --- shutting down ----------------------------------------------------------------------------

    async def shutdown(self, grace: float) -> None:
        """Take no new work, let work in flight finish (up to `grace` seconds), then close the gateway."""
        self.admission.stopping = True
        if self._gateway_open() and not self.is_ready():
            # discord.py dispatches on_ready from a task that breaks if the client closes under it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wait_until_ready(), self.config.discord.guild_ready_timeout + 1)
        if self.admission.busy:
            log.info("waiting for %d answer(s) in progress before stopping", self.admission.busy)
            if not await self.admission.idle(grace):
                log.warning("stopping with %d answer(s) still in progress after %.0f s", self.admission.busy, grace)
        await self.close()


@dataclass(frozen=True)
class Shards:
    """The shards one process of a sharded bot runs, for /status."""

    count: int  # the bot's shards, in all its processes together
    latencies: tuple[tuple[int, float], ...]  # (shard id, seconds from heartbeat to its acknowledgement)
    here: int  # the shard whose connection brought the question (a server's; a DM's is 0)


class ShardedArticleBot(ArticleBot, discord.AutoShardedClient):
    """The same bot on discord.py's AutoShardedClient: one process of a sharded bot, running the shards
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

    def shard_status(self, guild_id: int | None) -> Shards | None:
        """The shards this process runs, their latencies (infinite until a shard's first heartbeat is
        answered), and the shard of this server (a DM's: 0)."""
        count = self.config.discord.shard_count
        here = (guild_id >> 22) % count if guild_id is not None else 0
        return Shards(count, tuple(sorted(self.latencies)), here)

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


class Conversations:
    """The exchange behind each recent answer message (and the latest of each of the bot's threads),
    so that a reply to one, or a question in such a thread, is read as a follow-up.

    Kept in memory for the last `limit` answers, each without its cited passages (Turn.compact:
    ~0.5 KB rather than ~6 KB, so ~3 MB in all, not ~30); a reply to an older answer, or one sent
    before a restart, is answered on its own.
    """

    def __init__(self, limit: int = 5000) -> None:
        self.limit = limit
        self._turns: OrderedDict[int, Turn] = OrderedDict()
        self._threads: OrderedDict[int, Turn] = OrderedDict()  # thread id -> its latest exchange

    def add(self, message_id: int, turn: Turn) -> None:
        """Remember the exchange an answer message holds."""
        self._turns[message_id] = turn.compact()
        while len(self._turns) > self.limit:
            self._turns.popitem(last=False)

    def get(self, message_id: int | None) -> Turn | None:
        """The exchange behind an answer message, if it is one of ours and recent."""
        return self._turns.get(message_id) if message_id is not None else None

    def thread(self, thread_id: int, turn: Turn) -> None:
        """Remember the latest exchange of a thread the bot answers in."""
        self._threads[thread_id] = turn.compact()
        self._threads.move_to_end(thread_id)
        while len(self._threads) > self.limit:
            self._threads.popitem(last=False)

    def in_thread(self, channel_id: int) -> Turn | None:
        """The latest exchange of the bot's thread with this id, if it is one."""
        return self._threads.get(channel_id)
