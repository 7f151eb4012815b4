"""Who may do what, and how often: the admin check, per-user cooldowns, the per-server cap on work."""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict, deque
from contextlib import contextmanager
from typing import Callable, Iterator

import discord

from bot.errors import GuildBusy, OnCooldown
from index import DiscordConfig


def is_admin(interaction: discord.Interaction, config: DiscordConfig) -> bool:
    """Whether the user is an admin: a listed user; in a server, a listed role, Administrator or Manage Server."""
    user = interaction.user
    if user.id in config.admin_user_ids:
        return True
    if interaction.guild_id is None or not isinstance(user, discord.Member):
        # In DMs there is no server whose permissions could count.
        return False
    if any(role.id in config.admin_role_ids for role in user.roles):
        return True
    permissions = interaction.permissions
    return permissions.administrator or permissions.manage_guild


class Cooldowns:
    """At most `questions` questions per user in any `seconds`-long window."""

    def __init__(self, questions: int, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if questions < 1 or seconds < 0:
            raise ValueError("questions must be at least 1 and seconds 0 or more")
        self.questions = questions
        self.seconds = seconds
        self._clock = clock
        # Each user's recent questions, the user who asked least recently first: a user whose latest
        # question has expired is forgotten as soon as anyone asks, so memory follows the users of
        # the last `seconds`, not every user ever seen (a deque is ~600 bytes: 5,000 users held
        # 3 MB in the soak, issue 15).
        self._asked: OrderedDict[int, deque[float]] = OrderedDict()

    def retry_after(self, user_id: int) -> float:
        """Seconds until this user may ask again; 0 when they may ask now."""
        if self.seconds == 0:
            return 0.0
        now = self._clock()
        asked = self._asked.get(user_id)
        if asked is None:
            return 0.0
        while asked and asked[0] <= now - self.seconds:
            asked.popleft()
        if not asked:
            del self._asked[user_id]
            return 0.0
        return asked[0] + self.seconds - now if len(asked) >= self.questions else 0.0

    def hit(self, user_id: int) -> None:
        """Count a question, or raise OnCooldown (counting nothing) if the user must wait."""
        wait = self.retry_after(user_id)
        if wait > 0:
            raise OnCooldown(wait)
        if self.seconds > 0:
            now = self._clock()
            self._asked.setdefault(user_id, deque()).append(now)
            self._asked.move_to_end(user_id)
            while (oldest := next(iter(self._asked.values()))) and oldest[-1] <= now - self.seconds:
                self._asked.popitem(last=False)

    @property
    def users(self) -> int:
        """How many users are remembered now."""
        return len(self._asked)


class GuildSlots:
    """A cap on how many questions one server (or one DM user) has in progress at once."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self.limit = limit
        self._busy: dict[tuple[str, int], int] = defaultdict(int)

    @staticmethod
    def key(guild_id: int | None, user_id: int) -> tuple[str, int]:
        """Servers share a cap; outside a server each user has their own."""
        return ("guild", guild_id) if guild_id is not None else ("user", user_id)

    def check(self, key: tuple[str, int]) -> None:
        """Raise GuildBusy if no slot is free for this key."""
        if self._busy[key] >= self.limit:
            raise GuildBusy(self.limit)

    @contextmanager
    def hold(self, key: tuple[str, int]) -> Iterator[None]:
        """Take a slot for the duration of the block, or raise GuildBusy if none is free."""
        self.check(key)
        self._busy[key] += 1
        try:
            yield
        finally:
            self._busy[key] -= 1
            if not self._busy[key]:
                del self._busy[key]

    def in_use(self, key: tuple[str, int]) -> int:
        """How many slots the key holds now."""
        return self._busy.get(key, 0)
