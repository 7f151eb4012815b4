"""Asking: /ask, /sources and /status, questions in @mentions, and the buttons under an answer.

Each parses the event, makes one call through the worker of the corpus of the server it came from
(bot/corpora.py), and renders.
"""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.cogs.base import CorpusCog
from bot.errors import Refusal
from bot.shards import shard_status
from bot.views import AnswerButton, SourcesPages, answer_view
from index import ArticlebotError, Turn, in_context

log = logging.getLogger(__name__)


class Ask(CorpusCog):
    """Questions and what the bot has read, for everyone."""

    @app_commands.command(description="Ask a question about the articles; the answer quotes its sources.")
    @app_commands.describe(question="What you want to know", private="Show the answer only to you (default: no)")
    async def ask(self, interaction: discord.Interaction, question: str, private: bool = False) -> None:
        """Answer a question, publicly or only to the asker."""
        services = self.services
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
    async def sources(self, interaction: discord.Interaction) -> None:
        """The indexed articles, a page at a time."""
        async with self.working(interaction, answering=True) as worker:
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
    async def status(self, interaction: discord.Interaction) -> None:
        """The index being served, and the bot's uptime."""
        async with self.working(interaction, answering=True) as worker:
            await interaction.response.defer(thinking=True)
            index_status = await worker.status()
            summary = await worker.summary(days=7)
            feeds = await worker.feed_health()
            shards = shard_status(self.services.client, self.services.config.discord, interaction.guild_id)
            await interaction.followup.send(embed=render.status_embed(index_status, self.services.uptime, summary,
                                                                      feeds, shards),
                                            allowed_mentions=render.NO_MENTIONS)

    # --- the buttons under an answer ------------------------------------------------------------

    @commands.Cog.listener()
    async def on_answer_button(self, interaction: discord.Interaction, button: AnswerButton) -> None:
        """A click on a button under an answer (bot/views.py), answered from the corpus where it was clicked."""
        try:
            worker = self.services.corpora.worker(interaction.guild_id)
        except Refusal as e:
            await interaction.response.send_message(str(e), ephemeral=True, allowed_mentions=render.NO_MENTIONS)
            return
        await button.respond(interaction, worker)

    # --- @mentions ------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer a message that mentions the bot (or any DM to it), as a reply; ignore bots, webhooks and ourselves."""
        me = self.services.client.user
        if me is None or message.author.bot or message.author.id == me.id or message.webhook_id is not None:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        if message.guild is not None and not _mentions(message, me):
            return
        question = _strip_mentions(message, me)
        if not question:
            await _reply(message, render.help_text(me.display_name))
            return
        guild_id = message.guild.id if message.guild else None
        services = self.services
        conversations = services.conversations
        try:
            async with services.admission.question_turn(question, message.author.id, guild_id):
                worker = services.corpora.answering(guild_id)
                before = (conversations.get(message.reference.message_id if message.reference else None)
                          or conversations.in_thread(message.channel.id))
                async with message.channel.typing():
                    answer = await worker.ask(question, before=before)
                    asked = await worker.remember(answer, asker=message.author.id, guild=guild_id,
                                                  channel=message.channel.id)
                # Sent inside the turn, so that shutting down waits for the reply too.
                reply, view = render.answer_reply(answer), answer_view(asked, answer)
                thread = await self._new_thread(message, question)
                if thread is not None:
                    sent: discord.Message | None = await _send_in(thread, reply, view)
                else:
                    sent = await _send_reply(message, reply, view)
                if sent is not None:
                    turn = Turn(in_context(question, before), answer)
                    conversations.add(sent.id, turn)
                    if thread is not None or conversations.in_thread(message.channel.id):
                        conversations.thread(sent.channel.id, turn)
        except Refusal as e:
            await _reply(message, render.fit(str(e), render.CONTENT_LIMIT))
        except ArticlebotError as e:
            await _reply(message, render.fit(render.error_text(e), render.CONTENT_LIMIT))
        except Exception:
            log.exception("answering a mention failed (user %s, guild %s)", message.author.id, guild_id)
            await _reply(message, render.APOLOGY)

    async def _new_thread(self, message: discord.Message, question: str) -> discord.Thread | None:
        """A thread for the answer, when the channel is configured for them (None: reply in place)."""
        settings = self.services.config.discord
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


def _mentions(message: discord.Message, me: discord.ClientUser) -> bool:
    """A direct mention of the bot, or of its own role (which Discord's client sometimes inserts instead)."""
    if any(user.id == me.id for user in message.mentions):
        return True
    own_role = message.guild.self_role if message.guild else None
    return own_role is not None and own_role in message.role_mentions


def _strip_mentions(message: discord.Message, me: discord.ClientUser) -> str:
    """The message's text without the mentions of the bot."""
    ids = [str(me.id)]
    if message.guild and message.guild.self_role:
        ids.append(str(message.guild.self_role.id))
    pattern = r"<@[!&]?(?:" + "|".join(ids) + r")>"
    return " ".join(re.sub(pattern, " ", message.content).split())


async def _send_in(thread: discord.Thread, reply: render.Reply, view: discord.ui.View | None) -> discord.Message | None:
    try:
        return await thread.send(reply.content, embeds=list(reply.embeds), allowed_mentions=render.NO_MENTIONS,
                                 view=view or discord.utils.MISSING)
    except discord.HTTPException:
        log.exception("could not answer in thread %s", thread.id)
        return None


async def _reply(message: discord.Message, text: str) -> None:
    await _send_reply(message, render.Reply(text))


async def _send_reply(message: discord.Message, reply: render.Reply,
                      view: discord.ui.View | None = None) -> discord.Message | None:
    try:
        return await message.reply(reply.content, embeds=list(reply.embeds), mention_author=False,
                                   allowed_mentions=render.NO_MENTIONS, view=view or discord.utils.MISSING)
    except discord.HTTPException:
        log.exception("could not reply to message %s in channel %s", message.id, message.channel.id)
        return None
