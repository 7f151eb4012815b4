"""`articlebot run`, the real command in its own process, configured only by config.toml and DISCORD_TOKEN."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from asyncio.subprocess import Process
from pathlib import Path

import pytest
from discord_fixtures import TOKEN
from fakediscord import ADMINISTRATOR, FakeDiscord

from tests.commandline import ARTICLEBOT, cli_environment
from tests.support import SEED

pytestmark = pytest.mark.discord  # each test runs the real discord.py client, in its own process


def bot_config(fake: FakeDiscord) -> str:
    """The [discord] table pointing the bot at the fake Discord, in its one server."""
    return (f'[discord]\nguild_ids = [{fake.guild_id}]\napi_base_url = "{fake.api_url}"\n'
            f'gateway_url = "{fake.gateway_url}"\nguild_ready_timeout = 0.1\n')


async def start_bot(cwd: Path, *args: str) -> tuple[Process, list[bytes], asyncio.Task[None]]:
    """`articlebot ARGS` in its own process with DISCORD_TOKEN set, its output collected line by line."""
    env = cli_environment(DISCORD_TOKEN=TOKEN)
    process = await asyncio.create_subprocess_exec(
        *ARTICLEBOT, *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output: list[bytes] = []

    async def read() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            output.append(line)

    return process, output, asyncio.create_task(read())


async def test_articlebot_run_answers_guards_and_stops_cleanly(tmp_path: Path) -> None:
    fake = FakeDiscord(TOKEN)
    await fake.start()
    (tmp_path / "corpus").mkdir()
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    config = tmp_path / "config.toml"
    config.write_text('[index]\ncorpus_dir = "corpus"\nindex_dir = "data/index"\n\n' + bot_config(fake),
                      encoding="utf-8")
    process, output, reader = await start_bot(tmp_path, "--verbose", "run", "--config", str(config))
    try:
        started = asyncio.create_task(fake.ready(timeout=120))  # the first run builds the index first
        await asyncio.wait({started, asyncio.create_task(process.wait())}, return_when=asyncio.FIRST_COMPLETED)
        assert process.returncode is None, b"".join(output).decode(errors="replace")
        await started
        assert (tmp_path / "data" / "index").is_dir(), "the index was built before going online"

        it = await fake.slash("ask", fake.user("ava"), question="Who was released?")
        assert (await it.callback()).body == {"type": 5}
        assert "political prisoners" in (await it.followup()).content

        asked = await fake.post(f"<@{fake.me.id}> who visited Minsk?", fake.user("ben"), mentions=(fake.me,))
        reply = (await fake.wait_for(fake.replies, 30, "the reply"))[0]
        assert reply.body["message_reference"]["message_id"] == asked
        assert "Smith" in reply.content

        refused = await (await fake.slash("reindex", fake.user("cat"))).callback()
        assert refused.ephemeral
        assert "administrators" in refused.content
        done = await (await fake.slash("reindex", fake.user("dee", permissions=ADMINISTRATOR))).edit(
            lambda s: "finished" in s.content, 60)
        assert "0 added, 0 changed, 0 removed, 0 skipped" in done.content

        # SIGTERM while an answer is on its way: the answer is still delivered, then the bot exits 0.
        fake.callback_delay = 0.5
        last = await fake.slash("ask", fake.user("eli"), question="Who visited Minsk?")
        await fake.wait_for(lambda: any(r.endswith("/callback") and str(last.id) in r for r in fake.requests),
                            10, "the last question's defer")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert "Smith" in (await last.followup(timeout=1)).content
        assert fake.close_codes, "the bot closed its gateway connection"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await reader
        await fake.stop()
    log = b"".join(output).decode(errors="replace")
    assert TOKEN not in log, "the token must never be logged"
    assert "voice will NOT be supported" not in log  # the bot has no voice: no warning that it has none
    fake.check()
    assert not fake.unknown


async def test_a_token_discord_refuses_is_reported_without_being_shown(tmp_path: Path) -> None:
    fake = FakeDiscord("the-real-token")
    await fake.start()
    (tmp_path / "corpus").mkdir()
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    (tmp_path / "config.toml").write_text(
        f'[discord]\napi_base_url = "{fake.api_url}"\ngateway_url = "{fake.gateway_url}"\n', encoding="utf-8")
    env = cli_environment(DISCORD_TOKEN=TOKEN)
    try:
        process = await asyncio.create_subprocess_exec(
            *ARTICLEBOT, "run", "--config", "config.toml", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(process.communicate(), 120)
    finally:
        await fake.stop()
    assert process.returncode == 1
    assert b"DISCORD_TOKEN" in out
    assert TOKEN.encode() not in out
    assert not (tmp_path / "data" / "index").exists(), "a wrong token fails before any indexing"
    assert any("Authorization" in problem for problem in fake.problems)


async def test_an_unreachable_discord_is_reported_plainly(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[discord]\napi_base_url = "http://127.0.0.1:9/api/v10"\ngateway_url = "ws://127.0.0.1:9/"\n', encoding="utf-8")
    env = cli_environment(DISCORD_TOKEN=TOKEN)
    process = await asyncio.create_subprocess_exec(
        *ARTICLEBOT, "run", "--config", "config.toml", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 1, out
    assert b"could not reach Discord at http://127.0.0.1:9/api/v10" in out
    assert b"Traceback" not in out


class SilentAPI:
    """A server on loopback that accepts every connection and never answers: a Discord that hangs."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self._held: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        """Start listening; returns the API base URL to configure."""
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/v10"

    async def _hold(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._held.append(writer)
        self.connected.set()

    async def stop(self) -> None:
        """Drop the connections held and stop listening."""
        for writer in self._held:
            writer.close()
        self._server.close()
        await self._server.wait_closed()


async def start_against_silent_api(tmp_path: Path, login_timeout: float) -> tuple[SilentAPI, Process]:
    """`articlebot -v run` configured to log in at a SilentAPI; returns once the login's connection is held."""
    api = SilentAPI()
    url = await api.start()
    (tmp_path / "config.toml").write_text(
        f'[discord]\napi_base_url = "{url}"\ngateway_url = "ws://127.0.0.1:9/"\nlogin_timeout = {login_timeout}\n',
        encoding="utf-8")
    env = cli_environment(DISCORD_TOKEN=TOKEN)
    process = await asyncio.create_subprocess_exec(
        *ARTICLEBOT, "run", "--config", "config.toml", "-v", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    waiting = asyncio.ensure_future(api.connected.wait())
    await asyncio.wait({waiting, asyncio.ensure_future(process.wait())}, timeout=120,
                       return_when=asyncio.FIRST_COMPLETED)
    if not waiting.done():
        waiting.cancel()
        if process.returncode is None:
            process.kill()
        out, _ = await process.communicate()
        await api.stop()
        raise AssertionError(f"the bot never connected to log in: {out.decode(errors='replace')}")
    return api, process


async def test_a_discord_that_never_answers_the_login_is_given_up_on_after_login_timeout(tmp_path: Path) -> None:
    api, process = await start_against_silent_api(tmp_path, login_timeout=2)
    began = time.monotonic()
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
        await api.stop()
    assert process.returncode == 1, out
    assert time.monotonic() - began < 2 + 8, "given up at the timeout, not minutes later"
    assert b"Discord did not answer the login within 2 s (discord.login_timeout)" in out
    assert b"Traceback" not in out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_during_the_login_ends_the_bot_at_once(tmp_path: Path, signum: int) -> None:
    api, process = await start_against_silent_api(tmp_path, login_timeout=300)
    try:
        process.send_signal(signum)
        began = time.monotonic()
        out, _ = await asyncio.wait_for(process.communicate(), 30)
        stopped_after = time.monotonic() - began
    finally:
        if process.returncode is None:
            process.kill()
        await api.stop()
    assert stopped_after < 5, out
    assert process.returncode == 0, out
    assert b"stopping: before Discord answered the login" in out
    assert b"Traceback" not in out


async def test_a_stop_signal_during_the_first_index_build_ends_the_bot_within_seconds(tmp_path: Path) -> None:
    fake = FakeDiscord(TOKEN)
    await fake.start()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    story = SEED.read_text("utf-8")
    for n in range(100):  # minutes of embedding on 2 cores: the signal comes long before the end
        (corpus / f"story-{n}.txt").write_text(f"Dispatch number {n}\n\n{story}", "utf-8")
    (tmp_path / "config.toml").write_text(
        f'[discord]\napi_base_url = "{fake.api_url}"\ngateway_url = "{fake.gateway_url}"\n', encoding="utf-8")
    env = cli_environment(DISCORD_TOKEN=TOKEN)
    process = await asyncio.create_subprocess_exec(
        *ARTICLEBOT, "run", "--config", "config.toml", "-v", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output: list[bytes] = []
    try:
        assert process.stdout is not None
        async with asyncio.timeout(120):
            async for line in process.stdout:
                output.append(line)
                if b"checking the index" in line:
                    break
        await asyncio.sleep(3)  # into the build: reading the articles, then embedding them
        process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        rest, _ = await asyncio.wait_for(process.communicate(), 60)
        stopped_after = time.monotonic() - began
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await fake.stop()
    log = (b"".join(output) + rest).decode(errors="replace")
    # The build stops at its next progress report: within a second of embedding on an idle machine, but
    # a signal during the model's load waits for the load and one slice (seconds more on a busy one).
    assert stopped_after < 10, log
    assert process.returncode == 0, log
    assert "the index build was stopped" in log
    assert not (tmp_path / "data" / "index" / "CURRENT").exists(), "nothing half-built was published"
    assert "Traceback" not in log


async def test_a_stop_signal_during_a_reindex_stops_its_build_process_too(tmp_path: Path) -> None:
    fake = FakeDiscord(TOKEN)
    await fake.start()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    (tmp_path / "config.toml").write_text(bot_config(fake), encoding="utf-8")
    process, output, reader = await start_bot(tmp_path, "run", "--config", "config.toml", "-v")
    try:
        await fake.ready(timeout=120)
        live = (tmp_path / "data" / "index" / "CURRENT").read_text()
        story = SEED.read_text("utf-8")
        for n in range(100):  # minutes of embedding in the build's own process (index.build_in_subprocess)
            (corpus / f"story-{n}.txt").write_text(f"Dispatch number {n}\n\n{story}", "utf-8")
        reindex = await fake.slash("reindex", fake.user("dee", permissions=ADMINISTRATOR))
        await reindex.edit(lambda m: "embedding passages" in m.content, 120)
        process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        assert await asyncio.wait_for(process.wait(), 60) == 0
        stopped_after = time.monotonic() - began
        told = await reindex.edit(lambda m: "Reindex failed" in m.content, 1)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await reader
        await fake.stop()
    log = b"".join(output).decode(errors="replace")
    assert stopped_after < 10, log  # not the minutes the build would have taken
    assert "stopped before it finished" in told.content
    assert (tmp_path / "data" / "index" / "CURRENT").read_text() == live, "the index served is unchanged"
    assert "Traceback" not in log


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)])
async def test_a_second_stop_signal_does_not_wait_for_the_answers_in_progress(
        tmp_path: Path, signum: int, status: int) -> None:
    fake = FakeDiscord(TOKEN)
    await fake.start()
    (tmp_path / "corpus").mkdir()
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    (tmp_path / "config.toml").write_text(bot_config(fake), encoding="utf-8")
    process, output, reader = await start_bot(tmp_path, "run", "--config", "config.toml", "-v")
    try:
        await fake.ready(timeout=120)
        fake.callback_delay = 12  # Discord is slow to take the answer's first step: it stays in progress
        asked = await fake.slash("ask", fake.user("eli"), question="Who visited Minsk?")
        await fake.wait_for(lambda: any(r.endswith("/callback") and str(asked.id) in r for r in fake.requests),
                            30, "the question's defer")
        process.send_signal(signum)
        await fake.wait_for(lambda: any(b"a second Ctrl-C" in line for line in output), 10, "the first stop")
        await asyncio.sleep(0.5)
        assert process.returncode is None, "the first signal waits for the answer in progress"
        process.send_signal(signum)
        began = time.monotonic()
        assert await asyncio.wait_for(process.wait(), 30) == status
        stopped_after = time.monotonic() - began
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await reader
        await fake.stop()
    log = b"".join(output).decode(errors="replace")
    assert stopped_after < 5, log
    assert "Traceback" not in log
