"""One bot, many servers: each server's corpus and index, the shared corpus in them, and `--guild` on the CLI.

Two servers whose articles answer the same question differently (tests/two_servers.py), with the real
model: neither server's answers, citations or sources ever hold the other's articles.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from index.articles.corpus import SHARED_PREFIX
from index.articles.ingest import add_data, remove
from index.config import Config
from index.embedders import Embedder
from index.engine import Engine
from index.errors import IngestError
from tests.commandline import run_articlebot
from tests.support import SEED
from tests.two_servers import EAST, EAST_ARTICLE, NORTH, NORTH_ARTICLE, QUESTION, servers


def engine_of(config: Config, guild_id: int, embedder: Embedder) -> Engine:
    own = config.for_guild(guild_id)
    assert own is not None
    engine = Engine(own, embedder)
    engine.ensure_index()
    return engine


def test_each_server_answers_from_its_own_articles_and_the_shared_ones(tmp_path: Path,
                                                                        real_embedder: Embedder) -> None:
    config = servers(tmp_path)
    north, east = engine_of(config, NORTH, real_embedder), engine_of(config, EAST, real_embedder)

    assert [a.source for a in north.sources()] == ["regatta.txt", SHARED_PREFIX + SEED.name]
    assert [a.source for a in east.sources()] == ["regatta.txt", SHARED_PREFIX + SEED.name]
    assert north.index_dir == tmp_path / "data" / "index" / "guilds" / str(NORTH)
    assert north.status().articles == 2

    in_north, in_east = north.ask(QUESTION, top_k=5), east.ask(QUESTION, top_k=5)
    assert "Anna Berg" in in_north.text
    assert "Tomas Lind" in in_east.text
    for answer, other in ((in_north, "Tomas Lind"), (in_east, "Anna Berg")):
        assert other not in answer.text
        assert all(other not in c.quote for c in answer.citations)
    # Each quote is exactly in the file its source names: the server's own, or the shared one.
    for engine, folder in ((north, tmp_path / "corpora" / "north"), (east, tmp_path / "corpora" / "east")):
        for citation in engine.ask(QUESTION, top_k=5).citations + engine.ask("Who visited Minsk?").citations:
            path = (tmp_path / "corpus" / citation.source.removeprefix(SHARED_PREFIX)
                    if citation.source.startswith(SHARED_PREFIX) else folder / citation.source)
            assert path.read_text("utf-8")[citation.start:citation.end] == citation.quote
    minsk = north.ask("Who visited Minsk?")
    assert "Smith" in minsk.text
    assert minsk.citations[0].source == SHARED_PREFIX + SEED.name
    assert north.article_text(SHARED_PREFIX + SEED.name) == SEED.read_text("utf-8")
    assert not north.changed_since_indexed(SHARED_PREFIX + SEED.name)


def test_without_sharing_a_server_sees_only_its_own_articles(tmp_path: Path, real_embedder: Embedder) -> None:
    config = servers(tmp_path, share=False)
    north = engine_of(config, NORTH, real_embedder)
    assert [a.source for a in north.sources()] == ["regatta.txt"]
    assert "Anna Berg" in north.ask(QUESTION).text
    assert all(c.source == "regatta.txt" for c in north.ask("Who visited Minsk?").citations)


def test_a_folder_named_shared_in_a_servers_own_corpus_is_left_out_and_reported(
        tmp_path: Path, real_embedder: Embedder) -> None:
    config = servers(tmp_path)
    (tmp_path / "corpora" / "north" / "shared").mkdir()
    (tmp_path / "corpora" / "north" / "shared" / SEED.name).write_text(EAST_ARTICLE, encoding="utf-8")
    north = engine_of(config, NORTH, real_embedder)
    assert [a.source for a in north.sources()] == ["regatta.txt", SHARED_PREFIX + SEED.name]
    assert north.article_text(SHARED_PREFIX + SEED.name) == SEED.read_text("utf-8")  # the shared one
    assert [(s.source, "rename the folder" in s.reason) for s in north.status().skipped] == [(SHARED_PREFIX, True)]
    assert "Tomas Lind" not in north.ask(QUESTION, top_k=5).text


def test_a_server_without_a_folder_yet_has_the_shared_articles(tmp_path: Path, real_embedder: Embedder) -> None:
    config = servers(tmp_path)
    shutil.rmtree(tmp_path / "corpora" / "north")
    north = engine_of(config, NORTH, real_embedder)
    assert [a.source for a in north.sources()] == [SHARED_PREFIX + SEED.name]


def test_adding_and_removing_change_only_the_servers_own_folder(tmp_path: Path, real_embedder: Embedder) -> None:
    config = servers(tmp_path)
    own = config.for_guild(NORTH)
    assert own is not None
    north = engine_of(config, NORTH, real_embedder)
    shared_before = sorted(p.name for p in (tmp_path / "corpus").iterdir())

    added = add_data(own, "race-report.txt", EAST_ARTICLE.replace("Tomas Lind", "Ines Marr").encode())
    assert (added.outcome, added.source) == ("added", "race-report.txt")
    assert (tmp_path / "corpora" / "north" / "race-report.txt").is_file()
    present = add_data(own, "copy.txt", SEED.read_bytes())  # a shared article is already there
    assert (present.outcome, present.source) == ("present", SHARED_PREFIX + SEED.name)

    with pytest.raises(IngestError, match="one of the shared articles"):
        remove(own, SHARED_PREFIX + SEED.name)
    assert [r.source for r in remove(own, "regatta.txt")] == ["regatta.txt"]
    north.rebuild()
    assert [a.source for a in north.sources()] == ["race-report.txt", SHARED_PREFIX + SEED.name]
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == shared_before
    assert (tmp_path / "corpora" / "east" / "regatta.txt").is_file()


def test_the_shared_corpus_itself_may_hold_a_folder_named_shared(config: Config) -> None:
    (config.index.corpus_dir / "shared").mkdir()
    (config.index.corpus_dir / "shared" / "regatta.txt").write_text(NORTH_ARTICLE, encoding="utf-8")
    assert [r.source for r in remove(config, "shared/regatta.txt")] == ["shared/regatta.txt"]


# --- the command line -----------------------------------------------------------------------------

def test_the_cli_acts_on_a_servers_corpus_with_guild(tmp_path: Path) -> None:
    config_file = str(tmp_path / "config.toml")
    servers(tmp_path)

    for guild in (NORTH, EAST):
        built = run_articlebot("index", "--config", config_file, "--guild", str(guild))
        assert built.returncode == 0, built.stderr
        assert f"added: {SHARED_PREFIX}{SEED.name}" in built.stdout
    assert (tmp_path / "data" / "index" / "guilds" / str(NORTH) / "CURRENT").is_file()
    assert not (tmp_path / "data" / "index" / "CURRENT").exists()  # the main index is not built by --guild

    north = json.loads(run_articlebot("ask", "--config", config_file, "--guild", str(NORTH), "--json", QUESTION).stdout)
    east = json.loads(run_articlebot("ask", "--config", config_file, "--guild", str(EAST), "--json", QUESTION).stdout)
    assert "Anna Berg" in north["answer"]
    assert "Tomas Lind" in east["answer"]
    assert "Tomas Lind" not in json.dumps(north)
    assert "Anna Berg" not in json.dumps(east)

    sources = run_articlebot("sources", "--config", config_file, "--guild", str(NORTH))
    assert [line.split(":")[0] for line in sources.stdout.splitlines()] == ["regatta.txt", SHARED_PREFIX + SEED.name]
    shown = run_articlebot("show", "--config", config_file, "--guild", str(NORTH), SHARED_PREFIX + SEED.name)
    assert shown.stdout == SEED.read_text("utf-8")
    assert run_articlebot("show", "--config", config_file, "--guild", str(EAST), "regatta.txt").stdout == EAST_ARTICLE

    note = tmp_path / "race-report.txt"
    note.write_text(EAST_ARTICLE.replace("Tomas Lind", "Ines Marr"), encoding="utf-8")
    added = run_articlebot("add", "--config", config_file, "--guild", str(NORTH), str(note))
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "corpora" / "north" / "race-report.txt").is_file()
    assert not (tmp_path / "corpora" / "east" / "race-report.txt").exists()
    assert not (tmp_path / "corpus" / "race-report.txt").exists()

    refused = run_articlebot("remove", "--config", config_file, "--guild", str(NORTH), SHARED_PREFIX + SEED.name)
    assert refused.returncode == 1
    assert "one of the shared articles" in refused.stderr
    assert (tmp_path / "corpus" / SEED.name).is_file()
    removed = run_articlebot("remove", "--config", config_file, "--guild", str(EAST), "regatta.txt")
    assert removed.returncode == 0, removed.stderr
    assert "removed: regatta.txt" in removed.stdout
    assert [line.split(":")[0] for line in run_articlebot("sources", "--config", config_file, "--guild", str(EAST)
                                                   ).stdout.splitlines()] == [SHARED_PREFIX + SEED.name]


def test_the_cli_refuses_a_server_the_config_does_not_name(tmp_path: Path) -> None:
    servers(tmp_path)
    result = run_articlebot("sources", "--config", str(tmp_path / "config.toml"), "--guild", "333333333333333333")
    assert result.returncode == 2
    assert "server 333333333333333333 has no corpus of its own" in result.stderr
    assert f"{NORTH}, {EAST}" in result.stderr
    bad = run_articlebot("ask", "--guild", "newsroom", "who?")
    assert bad.returncode == 2
    assert "is not a server id" in bad.stderr
