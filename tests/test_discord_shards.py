"""A sharded bot: each process runs the shards it is given and answers the servers on them.

The fake Discord shards as Discord does (one gateway connection per shard, each server's events on
shard `(guild_id >> 22) % shard_count`, DMs on shard 0). Tested in one process running both shards
of two, in two `articlebot run` processes with one shard each over one index (a folder, or one
PostgreSQL database), and the pieces:
waiting for another process's build of the same index, and /status's shard line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
from discord_fixtures import TOKEN
from fakediscord import ADMINISTRATOR, FakeDiscord, limit_problems, snowflake_on_shard

from bot import render
from bot.shards import Shards
from bot.worker import Worker
from index.embedders import HashEmbedder
from index.engine import Engine
from index.store.embedded.generations import build_lock
from index.types import IndexStatus
from tests.commandline import ARTICLEBOT, cli_environment
from tests.support import SEED, make_config
from tests.two_servers import NORTH_ARTICLE, QUESTION


def servers_on_two_shards() -> list[int]:
    """Two server ids, the first on shard 0 of 2 and the second on shard 1."""
    return [snowflake_on_shard(0, 2), snowflake_on_shard(1, 2)]


def field(sent: Any, name: str) -> str:
    return next(f["value"] for f in sent.embeds[0]["fields"] if f["name"] == name)


async def test_one_process_running_both_shards_answers_every_server_on_its_own_connection(start_bot: Any) -> None:
    bot = await start_bot(servers=servers_on_two_shards(), shard_count=2)
    fake: FakeDiscord = bot.fake
    await fake.ready(shards=(0, 1))
    on_zero, on_one = fake.guild_ids
    assert sorted(fake.identified) == [(0, 2), (1, 2)]
    assert (fake.shard_of(on_zero), fake.shard_of(on_one)) == (0, 1)

    for guild in (on_zero, on_one):
        answer = await (await fake.slash("ask", fake.user("ann"), question="Who visited Minsk?",
                                         guild_id=guild)).followup()
        assert "Smith" in answer.content
    asked = await fake.post("who was released?", fake.user("dora"), dm=True)  # on shard 0
    reply = await fake.wait_for(lambda: next((r for r in fake.replies()
                                              if r.body["message_reference"]["message_id"] == asked), None), 30)
    assert "political prisoners" in reply.content

    status = await (await fake.slash("status", fake.user("sam"), guild_id=on_one)).followup()
    shards = field(status, "Shards")
    assert shards.startswith("Here: shard 1 of 2 · this process runs 0 (")
    assert ", 1 (" in shards
    assert any("shard 1 of 2 ready with 1 guild(s)" in line for line in bot.logs.lines)


async def test_without_shard_settings_status_shows_no_shards(start_bot: Any) -> None:
    fake = (await start_bot()).fake
    status = await (await fake.slash("status", fake.user("sam"))).followup()
    assert "Shards" not in {f["name"] for f in status.embeds[0]["fields"]}
    assert fake.identified == [(0, 1)], "a bot that is not sharded identifies without a shard field"


def test_the_shard_line_of_status_fits_and_says_when_a_shard_has_no_heartbeat_yet() -> None:
    status = IndexStatus(articles=1, chunks=2, model="m", backend="onnx", dimension=384,
                         built_at="2025-01-01T00:00:00+00:00", index_dir="/x", skipped=())
    many = Shards(count=1000, latencies=tuple((n, 0.0421) for n in range(500)) + ((500, float("inf")),), here=7)
    embed = render.status_embed(status, dt.timedelta(seconds=5), shards=many)
    assert not limit_problems({"embeds": [embed.to_dict()]})
    assert render.shards_text(Shards(2, ((1, 0.0421),), here=1)) == "Here: shard 1 of 2 · this process runs 1 (42 ms)"
    assert "0 (no heartbeat yet)" in render.shards_text(Shards(2, ((0, float("inf")),), here=0))


async def test_a_worker_waits_for_another_processs_build_of_the_same_index(tmp_path: Path, corpus_dir: Path) -> None:
    engine = Engine(make_config(corpus_dir, tmp_path / "index"), HashEmbedder())
    async with Worker(engine) as worker:
        with build_lock(engine.index_dir):  # as another process building it holds it
            starting = asyncio.ensure_future(worker.ensure_index(lambda _: None))
            await asyncio.sleep(1.5)
            assert not starting.done(), "the index is built once the other build has finished"
        report = await asyncio.wait_for(starting, 30)
        assert report is not None
        assert report.added
        (corpus_dir / "regatta.txt").write_text(NORTH_ARTICLE, encoding="utf-8")
        with build_lock(engine.index_dir):
            updating = asyncio.ensure_future(worker.update_index())
            await asyncio.sleep(1.5)
            assert not updating.done()
        report = await asyncio.wait_for(updating, 30)
        assert list(report.added) == ["regatta.txt"]
    assert engine.indexed


@pytest.mark.discord  # its own fake Discord, and the bot in two processes
@pytest.mark.parametrize("store", ["embedded", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_two_processes_with_one_shard_each_answer_their_own_servers_from_one_index(
        tmp_path: Path, store: str, request: pytest.FixtureRequest) -> None:
    """Two `articlebot run` processes, shard 0 and shard 1 of 2, one config file and one index.

    The index is one folder (embedded) or one PostgreSQL database (postgres), as docs/discord.md tells
    to run several hosts.

    Started together on a corpus never indexed, one builds the index and the other waits for it. Each
    answers the server on its shard; only shard 0's process syncs the commands and polls the feeds; an
    article added in shard 1's server is answered by shard 0's process from the index generation
    shard 1's process published; and stopping one process leaves the other answering.
    """
    fake = FakeDiscord(TOKEN, guilds=servers_on_two_shards())
    await fake.start()
    on_zero, on_one = fake.guild_ids
    (tmp_path / "corpus").mkdir()
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    config = tmp_path / "config.toml"
    database = ""
    if store == "postgres":
        database = f'store = "postgres"\ndatabase_url = "{request.getfixturevalue("postgres_url")}"\n'
    config.write_text(
        f'[index]\ncorpus_dir = "corpus"\nindex_dir = "data/index"\n{database}\n'
        f"[discord]\nguild_ids = [{on_zero}, {on_one}]\nshard_count = 2\n"
        f'api_base_url = "{fake.api_url}"\ngateway_url = "{fake.gateway_url}"\nguild_ready_timeout = 0.1\n',
        encoding="utf-8")
    processes: list[asyncio.subprocess.Process] = []
    output: list[list[bytes]] = [[], []]
    readers = []

    async def read(process: asyncio.subprocess.Process, lines: list[bytes]) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            lines.append(line)

    def log(shard: int) -> str:
        return b"".join(output[shard]).decode(errors="replace")

    async def logged(shard: int, text: str, timeout: float = 30) -> None:
        for _ in range(int(timeout * 10)):
            if text in log(shard):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"shard {shard}'s process never logged {text!r}:\n{log(shard)}")

    try:
        for shard in (0, 1):
            env = cli_environment(DISCORD_TOKEN=TOKEN, ARTICLEBOT_SHARD_IDS=str(shard))
            process = await asyncio.create_subprocess_exec(
                *ARTICLEBOT, "--verbose", "run", "--config", str(config),
                cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            processes.append(process)
            readers.append(asyncio.create_task(read(process, output[shard])))
        started = asyncio.create_task(fake.ready(180, shards=(0, 1)))
        exited = [asyncio.create_task(p.wait()) for p in processes]
        await asyncio.wait({started, *exited}, return_when=asyncio.FIRST_COMPLETED)
        assert all(p.returncode is None for p in processes), log(0) + log(1)
        await started
        assert sorted(fake.identified) == [(0, 2), (1, 2)]
        # The index was built once: one process built it, and the other either waited for that build or,
        # starting later, found it current (which happens first depends on how fast each process starts).
        assert sum("index ready: 1 added" in log(shard) for shard in (0, 1)) == 1, log(0) + log(1)
        assert any("another process is building the index" in log(shard)
                   or "index ready: 0 added, 0 changed, 0 removed, 1 unchanged" in log(shard)
                   for shard in (0, 1)), log(0) + log(1)
        current = tmp_path / "data" / "index" / "CURRENT"
        assert current.exists() == (store == "embedded"), "with PostgreSQL the index lives in the database only"
        await logged(0, "shard 0 of 2 ready with 1 guild(s)")
        await logged(1, "shard 1 of 2 ready with 1 guild(s)")
        syncs = [r for r in fake.requests if r.startswith("PUT ") and r.endswith("/commands")]
        assert len(syncs) == 2, f"shard 0's process syncs once per configured server: {syncs}"
        assert "the slash commands are synced by the process that runs shard 0" in log(1)
        assert "the feeds are polled by the process that runs shard 0" in log(1)
        assert "the feeds are polled" not in log(0)

        for guild in (on_zero, on_one):
            answer = await (await fake.slash("ask", fake.user("ava"), question="Who was released?",
                                             guild_id=guild)).followup(60)
            assert "political prisoners" in answer.content
        status = await (await fake.slash("status", fake.user("sam"), guild_id=on_one)).followup()
        assert field(status, "Shards").startswith("Here: shard 1 of 2 · this process runs 1 (")

        # Shard 1's process adds an article; shard 0's process answers from the generation it published.
        upload = fake.attachment("regatta.txt", NORTH_ARTICLE.encode())
        added = await fake.slash("add", fake.user("root", permissions=ADMINISTRATOR), file=upload, guild_id=on_one)
        assert (await added.edit(lambda s: bool(s.content), 120)).content.startswith("Added")
        regatta = await (await fake.slash("ask", fake.user("ava"), question=QUESTION, guild_id=on_zero)).followup(60)
        assert "Anna Berg" in regatta.text

        # Stopping shard 1's process leaves shard 0's answering its server.
        processes[1].send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(processes[1].wait(), 60) == 0
        await fake.wait_for(lambda: fake.connected() == {0}, 10, "shard 1's connection to close")
        answer = await (await fake.slash("ask", fake.user("ava"), question="Who visited Minsk?",
                                         guild_id=on_zero)).followup(60)
        assert "Smith" in answer.content
        processes[0].send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(processes[0].wait(), 60) == 0
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await asyncio.gather(*readers)
        await fake.stop()
    assert TOKEN not in log(0) + log(1), "the token must never be logged"
    fake.check()
    assert not fake.unknown
