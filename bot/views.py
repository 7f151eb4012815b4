"""Interactive message parts: the buttons that page through /sources, and those under an answer."""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any, Sequence

import discord

from bot import render
from index import Answer, ArticleInfo, Entry

if TYPE_CHECKING:
    from bot.worker import Worker

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
    async def previous(self, interaction: discord.Interaction, _button: discord.ui.Button[SourcesPages]) -> None:
        """Show the page before."""
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _button: discord.ui.Button[SourcesPages]) -> None:
        """Show the page after."""
        await self._show(interaction, self.page + 1)

    async def on_timeout(self) -> None:
        """Remove the buttons once they stop working."""
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=None)


# --- the buttons under an answer ------------------------------------------------------------------
# Each button's custom_id carries the answer's id in the question record, so the buttons keep
# working after the bot restarts: discord.py matches the id against these templates (DynamicItem)
# and the record supplies the rest. That record, and the index asked again, are those of the corpus
# of the server the button is clicked in (each has its own). A click is handed on as the event
# `answer_button` to the cog that holds the corpora (bot/cogs/ask.py), which calls the button's `respond`
# with the worker of that server. Every reply to a click is private to the clicker.

# Passages that "More sources" adds after the cited ones.
MORE_SOURCES = 5
# Passage buttons under an answer (Discord allows five buttons in a row).
PASSAGE_BUTTONS = 5


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                 template=r"articlebot:vote:(?P<way>up|down):(?P<asked>[0-9]{1,19})"):
    """👍 or 👎: one vote per user per answer, changeable."""

    def __init__(self, asked: int, up: bool) -> None:
        super().__init__(discord.ui.Button(
            emoji="👍" if up else "👎", style=discord.ButtonStyle.secondary, row=0,
            custom_id=f"articlebot:vote:{'up' if up else 'down'}:{asked}"))
        self.asked, self.up = asked, up

    @classmethod
    async def from_custom_id(cls, _interaction: discord.Interaction, _item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> VoteButton:
        return cls(int(match["asked"]), match["way"] == "up")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the cog that finds the worker of this server (bot/cogs/ask.py)."""
        interaction.client.dispatch("answer_button", interaction, self)

    async def respond(self, interaction: discord.Interaction, worker: Worker) -> None:
        """Record the vote and thank the voter privately."""
        here = await _entry(worker, self.asked, interaction) is not None
        kept = here and await worker.vote(self.asked, interaction.user.id, up=self.up)
        await interaction.response.send_message(render.vote_text(self.up, kept), ephemeral=True,
                                                allowed_mentions=render.NO_MENTIONS)


class MoreSourcesButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                        template=r"articlebot:more:(?P<asked>[0-9]{1,19})"):
    """The passages after the cited ones, shown only to the clicker."""

    def __init__(self, asked: int) -> None:
        super().__init__(discord.ui.Button(label="More sources", style=discord.ButtonStyle.secondary, row=0,
                                           custom_id=f"articlebot:more:{asked}"))
        self.asked = asked

    @classmethod
    async def from_custom_id(cls, _interaction: discord.Interaction, _item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> MoreSourcesButton:
        return cls(int(match["asked"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the cog that finds the worker of this server (bot/cogs/ask.py)."""
        interaction.client.dispatch("answer_button", interaction, self)

    async def respond(self, interaction: discord.Interaction, worker: Worker) -> None:
        """Ask the question again for more passages; show those after the cited ones."""
        entry = await _entry(worker, self.asked, interaction)
        if entry is None:
            await interaction.response.send_message(render.FORGOTTEN, ephemeral=True,
                                                    allowed_mentions=render.NO_MENTIONS)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        more = await worker.more_sources(entry.question, len(entry.citations), MORE_SOURCES)
        if not more:
            await interaction.followup.send("There are no more passages on this question.", ephemeral=True,
                                            allowed_mentions=render.NO_MENTIONS)
            return
        await interaction.followup.send(embed=render.more_sources_embed(more), ephemeral=True,
                                        allowed_mentions=render.NO_MENTIONS)


class PassageButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
                    template=r"articlebot:passage:(?P<n>[0-9]{1,2}):(?P<asked>[0-9]{1,19})"):
    """The whole passage of one citation, shown only to the clicker."""

    def __init__(self, asked: int, n: int) -> None:
        super().__init__(discord.ui.Button(label=f"Show passage {n}", style=discord.ButtonStyle.secondary, row=1,
                                           custom_id=f"articlebot:passage:{n}:{asked}"))
        self.asked, self.n = asked, n

    @classmethod
    async def from_custom_id(cls, _interaction: discord.Interaction, _item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> PassageButton:
        return cls(int(match["asked"]), int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the cog that finds the worker of this server (bot/cogs/ask.py)."""
        interaction.client.dispatch("answer_button", interaction, self)

    async def respond(self, interaction: discord.Interaction, worker: Worker) -> None:
        """Show the cited passage in full."""
        entry = await _entry(worker, self.asked, interaction)
        citation = next((c for c in entry.citations if c.n == self.n), None) if entry else None
        if citation is None:
            await interaction.response.send_message(render.FORGOTTEN, ephemeral=True,
                                                    allowed_mentions=render.NO_MENTIONS)
            return
        await interaction.response.send_message(embed=render.passage_embed(citation), ephemeral=True,
                                                allowed_mentions=render.NO_MENTIONS)


ANSWER_BUTTONS = (VoteButton, MoreSourcesButton, PassageButton)
# A button under an answer, as the event `answer_button` hands it on.
AnswerButton = VoteButton | MoreSourcesButton | PassageButton


async def _entry(worker: Worker, asked: int, interaction: discord.Interaction) -> Entry | None:
    """The recorded answer a button names, if it was given where the button is clicked.

    Each corpus's record numbers its answers from 1; after a server is given its own corpus (or
    loses it), a button of an older answer would otherwise name another answer, maybe another
    server's, in the record it is now looked up in.
    """
    entry = await worker.entry(asked)
    return entry if entry is not None and entry.guild == interaction.guild_id else None


def answer_view(asked: int | None, answer: Answer) -> discord.ui.View | None:
    """The buttons under a recorded answer (none when the record is off: they would have nothing to read)."""
    if asked is None:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(asked, True))
    view.add_item(VoteButton(asked, False))
    view.add_item(MoreSourcesButton(asked))
    for citation in answer.citations[:PASSAGE_BUTTONS]:
        view.add_item(PassageButton(asked, citation.n))
    return view
