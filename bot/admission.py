"""Whether work may start now: `Admission`.

It decides whether a question or a command may start: not while the bot is stopping, not a
malformed question, not past a server's cap on work in progress or a user's cooldown. It also
counts the work in flight, so that stopping can wait for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.errors import QuestionRefused, ShuttingDown
from bot.guards import Cooldowns, GuildSlots
from index import Config, QuestionError

if TYPE_CHECKING:
    from bot.corpora import Corpora


class Admission:
    """Admits questions and commands, counts the work in flight, and refuses new work once stopping."""

    def __init__(self, config: Config, corpora: Corpora) -> None:
        self.corpora = corpora
        self.cooldowns = Cooldowns(config.discord.cooldown_questions, config.discord.cooldown_seconds)
        self.guild_slots = GuildSlots(config.discord.max_concurrent_per_guild)
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.stopping = False

    @property
    def busy(self) -> int:
        """How many pieces of work are in flight."""
        return self._in_flight

    @asynccontextmanager
    async def question_turn(self, question: str, user_id: int, guild_id: int | None) -> AsyncIterator[None]:
        """Admit a question, or raise a Refusal saying why not: stopping, no articles here, malformed, busy
        server, cooldown.

        The checks run with no await between them, so two questions cannot both take the last slot.
        """
        if self.stopping:
            raise ShuttingDown()
        try:
            self.corpora.answering(guild_id).check_question(question)
        except QuestionError as e:
            raise QuestionRefused(sentence(str(e))) from None
        key = self.guild_slots.key(guild_id, user_id)
        self.guild_slots.check(key)
        self.cooldowns.hit(user_id)
        with self.guild_slots.hold(key):
            async with self.in_flight():
                yield

    @asynccontextmanager
    async def in_flight(self) -> AsyncIterator[None]:
        """Mark work that stopping must wait for; refuse new work once stopping."""
        if self.stopping:
            raise ShuttingDown()
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def idle(self, grace: float) -> bool:
        """Wait (up to `grace` seconds) until no work is in flight; whether it got there."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace)
        except TimeoutError:
            return False
        return True


def sentence(text: str) -> str:
    """An engine message ('the question is empty; ...') as a sentence for a chat reply."""
    text = text.strip()
    return (text[:1].upper() + text[1:]) if text else text
