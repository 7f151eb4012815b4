"""The real bot over real sockets with `[index] store = "postgres"`: /ask, /reindex, /add and /remove read and
write the corpora in the index database (a key per server), and nothing of the index is kept in files."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from discord_fixtures import ask
from fakediscord import ADMINISTRATOR, FakeDiscord

import index.store.postgres.corpus
from bot import render
from index.embedders import Embedder
from index.engine import Engine
from tests.pg_support import postgres_config
from tests.support import SEED
from tests.two_servers import NORTH_ARTICLE, QUESTION, corpora

LIGHTHOUSE = ("Lighthouse keeper retires\n\nAfter forty-one years, Margarethe Olsen, the keeper of the Skagen "
              "lighthouse, retired on Friday. She climbed the tower's 210 steps every night to tend the lamp.\n")


@pytest.fixture
def pg_engine(tmp_path: Path, postgres_url: str, real_embedder: Embedder) -> Iterator[Engine]:
    """An engine over the seed article in a database of its own, built, closed after the bot has stopped."""
    (tmp_path / "corpus").mkdir()
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    with Engine(postgres_config(tmp_path / "corpus", tmp_path / "index", postgres_url), real_embedder) as engine:
        engine.ensure_index()
        yield engine


async def finished(it: Any, what: str = "finished") -> str:
    await it.callback()
    return str((await it.edit(lambda s: what in s.content or s.content.startswith(("Added", "Removed", "Not")),
                              120)).content)


async def test_each_server_reads_and_writes_its_own_corpus_in_the_database(
        pg_engine: Engine, start_bot: Any, tmp_path: Path, postgres_url: str) -> None:
    fake: FakeDiscord = (await start_bot(pg_engine, servers=3, corpora=corpora(tmp_path))).fake
    north, east, third = fake.guild_ids
    admin = fake.user("root", permissions=ADMINISTRATOR)
    in_north, in_east = await ask(fake, QUESTION, guild_id=north), await ask(fake, QUESTION, guild_id=east)
    assert "Anna Berg" in in_north.text
    assert "Tomas Lind" not in in_north.text
    assert "Tomas Lind" in in_east.text
    assert "Smith" in (await ask(fake, "Who visited Minsk?", guild_id=third)).content  # the shared corpus
    with psycopg.connect(postgres_url) as conn:
        keys = [row[0] for row in conn.execute("SELECT corpus FROM articlebot.corpora ORDER BY corpus")]
    assert keys == ["", str(north), str(east)]
    assert not list((tmp_path / "index").rglob("CURRENT"))  # nothing of the index in files

    # /add and /remove in one server change its corpus alone.
    upload = fake.attachment("late-result.txt", NORTH_ARTICLE.replace("Anna Berg", "Ines Marr").encode())
    assert (await finished(await fake.slash("add", admin, file=upload, guild_id=east))).startswith("Added")
    assert "late-result.txt" in (await (await fake.slash("sources", admin, guild_id=east)).followup()).text
    assert "late-result.txt" not in (await (await fake.slash("sources", admin, guild_id=north)).followup()).text
    removed = await finished(await fake.slash("remove", admin, article="regatta-east.txt", guild_id=east))
    assert removed.startswith("Removed")
    assert "Tomas Lind" not in (await ask(fake, QUESTION, guild_id=east)).text

    # /reindex in the shared corpus serves an article dropped into its folder.
    (pg_engine.config.index.corpus_dir / "lighthouse.txt").write_text(LIGHTHOUSE, "utf-8")
    done = await finished(await fake.slash("reindex", admin, guild_id=third))
    assert "1 added, 0 changed, 0 removed, 0 skipped" in done
    assert "Olsen" in (await ask(fake, "Who kept the Skagen lighthouse?", guild_id=third)).content


async def test_a_server_indexed_by_another_process_is_answered_without_a_restart(
        pg_engine: Engine, start_bot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index.store.postgres.corpus, "_MISSING_FOR", 0.0)
    newcomer = tmp_path / "corpora" / "newcomer"  # configured, no folder yet: nothing to index
    bot = await start_bot(pg_engine, servers=2, share_corpus=False,
                          corpora=lambda fake: {fake.guild_ids[0]: newcomer})
    fake: FakeDiscord = bot.fake
    new = fake.guild_ids[0]
    it = await fake.slash("ask", fake.user("ola"), question=QUESTION, guild_id=new)
    assert "no articles yet" in (await it.callback()).content

    # `articlebot index --guild` on another host: the same database, its own engine.
    newcomer.mkdir(parents=True)
    (newcomer / "regatta.txt").write_text(NORTH_ARTICLE, "utf-8")
    own = bot.config.for_guild(new)
    assert own is not None
    with Engine(own, pg_engine.embedder) as elsewhere:
        elsewhere.rebuild()

    # The first question after it may still be told "no articles yet": it has the database asked again.
    for _ in range(20):
        it = await fake.slash("ask", fake.user("ola"), question=QUESTION, guild_id=new)
        if "no articles yet" not in (await it.callback()).content:
            break
        await asyncio.sleep(0.25)
    assert "Anna Berg" in (await it.followup()).text


async def test_a_database_that_fails_is_an_apology_to_users_and_its_details_stay_in_the_log(
        pg_engine: Engine, start_bot: Any, postgres_url: str, postgres_server: Any) -> None:
    bot = await start_bot(pg_engine)
    bot.logs.expected.append("the index database failed")
    fake: FakeDiscord = bot.fake
    asker = fake.user("ola")
    assert "Minsk" in (await (await fake.slash("ask", asker, question="Where did the diplomat fly?")).followup()).text

    database = psycopg.conninfo.conninfo_to_dict(postgres_url)["dbname"]
    with postgres_server.admin() as admin:  # the database goes away under the running bot
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
    try:
        it = await fake.slash("ask", asker, question="Where did the diplomat fly?")
        await it.callback()
        reply = str((await it.edit(lambda s: bool(s.content), 60)).content)
        assert reply == render.DATABASE_APOLOGY
        assert database not in reply
        logged = "\n".join(bot.logs.lines)
        assert f"the index database failed: cannot reach the index database (database '{database}'" in logged
    finally:
        with postgres_server.admin() as admin:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
