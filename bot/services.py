"""What the cogs and the feed poller are given: `Services`, built once by the client, handed to each in `__init__`.

Nothing in bot/ reaches back through the Discord client for the configuration, the corpora or the
admission: whatever needs them is given this object, so the modules that use it need not know the client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord

from index import Config

if TYPE_CHECKING:
    from bot.admission import Admission
    from bot.conversations import Conversations
    from bot.corpora import Corpora


@dataclass(frozen=True)
class Services:
    """Everything the slash commands, the @mention answers, the answer buttons and the feed poller use."""

    config: Config
    corpora: Corpora
    admission: Admission
    conversations: Conversations
    # The connection to Discord, as discord.py's own client: who the bot is, and channels to post in.
    client: discord.Client
    started_at: dt.datetime
    # Set by /feeds add: the feed poller (in the process that runs one) polls again as soon as it can.
    feeds_changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def uptime(self) -> dt.timedelta:
        """How long the bot has been up."""
        return dt.datetime.now(dt.UTC) - self.started_at
