"""Fixtures and helpers for the Discord tests: real engines, and the real bot running against a fake Discord.

Pulled in by `tests/conftest.py` with `pytest_plugins = ["discord_fixtures"]`; uses its `real_embedder`
(the real model, loaded once per session) and `seed_engine` (the seed article, indexed once).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from fakediscord import FakeDiscord, Sent

from bot.app import serve
from index.config import Config, DiscordConfig, GuildConfig
from index.embedders import Embedder
from index.engine import Engine
from tests.support import SEED, make_config

# Distinctive, so a test can prove it never reaches a log line.
TOKEN = "FAKE.discord-token.never-log-me-8c1f4e"
# The loggers whose every record (DEBUG included) is checked for the token and for errors.
WATCHED_LOGGERS = ("discord", "bot", "index", "asyncio", "aiohttp")


def build_engine(embedder: Embedder, corpus: Path, index: Path, **answer: Any) -> Engine:
    """A real engine on a real index of `corpus`, built now."""
    engine = Engine.from_config(make_config(corpus, index, **answer), embedder)
    engine.ensure_index()
    return engine


@pytest.fixture
def make_engine(real_embedder: Embedder, tmp_path: Path) -> Callable[..., Engine]:
    """Build a real engine over articles given as {file name: text}, plus the seed corpus if asked."""
    count = 0

    def make(articles: dict[str, str], *, with_seed: bool = True, **answer: Any) -> Engine:
        nonlocal count
        count += 1
        corpus = tmp_path / f"corpus{count}"
        corpus.mkdir()
        if with_seed:
            shutil.copy(SEED, corpus / SEED.name)
        for name, text in articles.items():
            (corpus / name).write_text(text, encoding="utf-8")
        return build_engine(real_embedder, corpus, tmp_path / f"index{count}", **answer)

    return make


class LogWatch(logging.Handler):
    """Fails the running fake Discord on any error the bot logs, and keeps every record to check for the token."""

    def __init__(self, fake: FakeDiscord, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.DEBUG)
        self.fake = fake
        self.loop = loop
        self.lines: list[str] = []
        self.expected: list[str] = []  # substrings of error messages a test provokes on purpose
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record; an unexpected error fails the test at its next wait (records may come from threads)."""
        text = self.format(record)
        self.lines.append(text)
        if record.levelno >= logging.ERROR and not any(e in text for e in self.expected):
            self.loop.call_soon_threadsafe(self.fake.fail, f"the bot logged an error:\n{text}")


@dataclass
class RunningBot:
    """The real bot, running against a fake Discord until the test ends."""

    fake: FakeDiscord
    config: Config
    logs: LogWatch
    stop: asyncio.Event
    task: asyncio.Task[None]
    users: dict[str, Any] = field(default_factory=dict)

    async def finish(self, timeout: float = 30) -> None:
        """Stop the bot as SIGTERM would, and wait until it has closed."""
        self.stop.set()
        await asyncio.wait_for(asyncio.shield(self.task), timeout)


@pytest.fixture
async def start_bot(seed_engine: Engine) -> AsyncIterator[Callable[..., Awaitable[RunningBot]]]:
    """Start the real bot (`bot.app.serve`) on a new fake Discord; keyword arguments override [discord] keys.

    `servers`: how many servers the fake has, or their ids (the commands are synced to each); `corpora`: a function
    of the fake giving servers their own corpus folders ([guilds] tables); `share_corpus`: index.share_corpus.
    """
    running: list[RunningBot] = []
    saved_levels = {name: logging.getLogger(name).level for name in WATCHED_LOGGERS}

    async def start(engine: Engine | None = None, *, heartbeat_interval: float = 41.25, servers: int | list[int] = 1,
                    corpora: Callable[[FakeDiscord], Mapping[int, Path]] | None = None, share_corpus: bool = True,
                    **discord: Any) -> RunningBot:
        engine = engine or seed_engine
        fake = FakeDiscord(TOKEN, heartbeat_interval=heartbeat_interval, guilds=servers)
        await fake.start()
        logs = LogWatch(fake, asyncio.get_running_loop())
        for name in WATCHED_LOGGERS:
            logging.getLogger(name).addHandler(logs)
            logging.getLogger(name).setLevel(logging.DEBUG)
        settings: dict[str, Any] = {"guild_ids": tuple(fake.guild_ids), "api_base_url": fake.api_url,
                                    "gateway_url": fake.gateway_url, "guild_ready_timeout": 0.05,
                                    "cooldown_questions": 100, "cooldown_seconds": 60.0}
        # A value may depend on the fake's ids: pass a function of the fake.
        settings.update({k: v(fake) if callable(v) else v for k, v in discord.items()})
        guilds = tuple(GuildConfig(guild, folder) for guild, folder in (corpora(fake) if corpora else {}).items())
        config = replace(engine.config, discord=DiscordConfig(**settings), guilds=guilds,
                         index=replace(engine.config.index, share_corpus=share_corpus))
        stop = asyncio.Event()
        task = asyncio.create_task(serve(config, engine, TOKEN, stop=stop))
        bot = RunningBot(fake, config, logs, stop, task)
        running.append(bot)
        ready = asyncio.create_task(fake.ready())
        await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            task.result()  # the bot failed to start: raise why
            raise AssertionError("the bot stopped during start-up")
        await ready
        return bot

    yield start

    try:
        for bot in running:
            if not bot.task.done():
                await bot.finish()
            bot.task.result()
            bot.fake.check()
            assert not bot.fake.unknown, f"the bot called routes the fake does not know: {bot.fake.unknown}"
            leaked = [line for line in bot.logs.lines if TOKEN in line]
            assert not leaked, f"the token appeared in the log: {leaked[:3]}"
    finally:
        for bot in running:
            await bot.fake.stop()
            for name in WATCHED_LOGGERS:
                logging.getLogger(name).removeHandler(bot.logs)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
def unescape() -> Iterator[Callable[[str], str]]:
    """Undo the bot's escaping (markdown backslashes, zero-width spaces after @) to compare with article text."""
    import re

    def undo(text: str) -> str:
        return re.sub(r"\\(.)", r"\1", text.replace("@\u200b", "@"))

    return undo


def mention(fake: FakeDiscord) -> str:
    """How a message mentions the bot."""
    return f"<@{fake.me.id}>"


async def ask(fake: FakeDiscord, question: str, *, guild_id: int | None = None, user: Any = None) -> Sent:
    """/ask `question` (in the fake's first server unless `guild_id` names another); the answer that follows."""
    it = await fake.slash("ask", user or fake.user("asker"), question=question, guild_id=guild_id)
    return await it.followup()


def buttons(sent: Sent) -> dict[str, dict[str, Any]]:
    """The message's buttons by label (or emoji)."""
    out = {}
    for row in sent.data.get("components") or []:
        for button in row["components"]:
            out[button.get("label") or button["emoji"]["name"]] = button
    return out
