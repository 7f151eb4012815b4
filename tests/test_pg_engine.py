"""`[index] store = "postgres"`: the engine, the build and the command line on a real PostgreSQL with pgvector.

The server is the session's (`postgres_server` in tests/conftest.py); each test gets a database of
its own (`postgres_url`). Answers are checked against the embedded store's with the real model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from index.articles.corpus import SHARED_PREFIX
from index.config import load_config
from index.embedders import Embedder, HashEmbedder
from index.engine import Engine
from index.errors import CorpusError, IndexMismatchError, IndexMissingError
from tests.commandline import cli_environment, run_articlebot
from tests.pg_support import postgres_config, race
from tests.support import SEED
from tests.two_servers import EAST, NORTH, NORTH_ARTICLE, QUESTION, servers
from tests.website import CANONICAL, LIGHTHOUSE, page

PASSWORD = "s3cret-pw"


@pytest.fixture
def engine(corpus_dir: Path, tmp_path: Path, postgres_url: str, real_embedder: Embedder) -> Iterator[Engine]:
    """An engine over the seed article in a database of its own, not yet built."""
    with Engine(postgres_config(corpus_dir, tmp_path / "index", postgres_url), real_embedder) as opened:
        yield opened


def test_the_command_line_indexes_into_postgres_and_answers_from_it(tmp_path: Path, postgres_url: str) -> None:
    url = postgres_url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")  # trust ignores it
    (tmp_path / "corpus").mkdir()
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    (tmp_path / "pg.toml").write_text("[index]\nstore = 'postgres'\ncorpus_dir = 'corpus'\nindex_dir = 'data'\n")
    (tmp_path / "files.toml").write_text("[index]\ncorpus_dir = 'corpus'\nindex_dir = 'files'\n")
    pg, files = ("--config", "pg.toml"), ("--config", "files.toml")
    said = []

    def ok(*args: str) -> subprocess.CompletedProcess[str]:
        result = run_articlebot("-v", *args, cwd=tmp_path, env=cli_environment(ARTICLEBOT_DATABASE_URL=url))
        said.append(result.stdout + result.stderr)
        assert result.returncode == 0, result.stderr
        return result

    assert "1 added" in ok("index", *pg).stdout
    assert not (tmp_path / "data" / "CURRENT").exists()  # nothing of the index is kept in files
    assert "already up to date" in ok("index", *pg).stdout
    ok("index", *files)
    answer = json.loads(ok("ask", *pg, "--json", "who was released?").stdout)
    assert "three political prisoners" in answer["answer"]
    for citation in answer["citations"]:
        assert SEED.read_text("utf-8")[citation["start"]:citation["end"]] == citation["quote"]
    embedded = json.loads(ok("ask", *files, "--json", "who was released?").stdout)
    for reply in (answer, embedded):
        reply.pop("elapsed_ms")
    assert answer == embedded  # the same answer, citations, scores and highlight from either store
    assert ok("sources", *pg).stdout.startswith(f"{SEED.name}: Quiet Diplomatic Shift")
    assert ok("show", *pg, SEED.name).stdout == SEED.read_text("utf-8")

    (tmp_path / "regatta.txt").write_text(NORTH_ARTICLE, encoding="utf-8")
    added = ok("add", *pg, str(tmp_path / "regatta.txt")).stdout
    assert "added: regatta.txt" in added
    assert "1 added, 0 changed, 0 removed, 1 unchanged" in added
    assert "Anna Berg" in json.loads(ok("ask", *pg, "--json", QUESTION).stdout)["answer"]
    assert "0 added, 0 changed, 1 removed, 1 unchanged" in ok("remove", *pg, "regatta.txt").stdout
    assert ok("sources", *pg).stdout.count("\n") == 1
    (tmp_path / "corpus" / SEED.name).write_text(SEED.read_text("utf-8") + "\nA line added later.\n", "utf-8")
    shown = run_articlebot("-v", "show", *pg, SEED.name, cwd=tmp_path, env=cli_environment(ARTICLEBOT_DATABASE_URL=url))
    assert "changed since it was indexed" in shown.stderr
    assert "1 changed" in ok("index", *pg).stdout
    assert all(PASSWORD not in text for text in said)  # -v logs every step: never the password


def test_an_unreachable_database_is_a_plain_error_without_its_password(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    url = f"postgresql://bot:{PASSWORD}@/articles?host={tmp_path / 'nowhere'}&connect_timeout=2"
    (tmp_path / "pg.toml").write_text("[index]\nstore = 'postgres'\ncorpus_dir = 'corpus'\n")
    for command in (["index"], ["ask", "who was released?"], ["sources"]):
        result = run_articlebot("-v", *command, "--config", "pg.toml", cwd=tmp_path,
                                env=cli_environment(ARTICLEBOT_DATABASE_URL=url))
        assert result.returncode == 2, command
        assert "articlebot: cannot reach the index database (database 'articles' on the socket in" in result.stderr
        assert PASSWORD not in result.stdout + result.stderr


def test_questions_and_status_come_from_the_database(engine: Engine) -> None:
    with pytest.raises(IndexMissingError, match="no index of the shared corpus in the database"):
        engine.ask("who was released?")
    assert not engine.indexed  # known missing, without asking the database again
    report = engine.rebuild()
    assert (report.added, report.chunks_total) == ((SEED.name,), report.chunks_embedded)
    assert engine.indexed
    status = engine.status()
    assert (status.articles, status.chunks, status.model) == (1, report.chunks_total, engine.embedder.name)
    assert status.index_dir.startswith("the shared corpus in the database")
    assert "three political prisoners" in engine.ask("who was released?").text
    assert engine.rebuild().chunks_embedded == 0  # unchanged: nothing embedded, nothing written
    with engine.snapshot() as snapshot:  # the engine reads both stores the same way
        assert snapshot.manifest.chunks == report.chunks_total


def test_a_build_in_its_own_process_writes_the_database(engine: Engine) -> None:
    """What the bot's /reindex does: the child connects to the database itself, and the engine serves what it wrote."""
    report = engine.rebuild(separate_process=True)
    assert report.added == (SEED.name,)
    assert report.chunks_embedded == report.chunks_total > 0
    assert engine.indexed
    assert "three political prisoners" in engine.ask("who was released?").text
    assert engine.rebuild(separate_process=True).chunks_embedded == 0


def test_an_update_is_seen_whole_by_a_concurrent_reader(corpus_dir: Path, tmp_path: Path, postgres_url: str) -> None:
    """While builds rewrite an article over and over, every question sees one version of it, all of it."""
    story = corpus_dir / "story.txt"

    def version(v: int) -> str:
        return "The story\n\n" + "\n\n".join(f"Version {v} of the story says paragraph {p} here, in words enough "
                                             f"for a passage of its own about version {v}." for p in range(3 + v))

    story.write_text(version(0), "utf-8")
    config = postgres_config(corpus_dir, tmp_path / "index", postgres_url, min_chunk_words=0)
    stop, failures, seen = threading.Event(), [], set()
    with Engine(config, HashEmbedder()) as writer, Engine(config, HashEmbedder()) as reader:
        writer.rebuild()

        def write() -> None:
            v = 0
            while not stop.is_set():
                v = (v + 1) % 4
                story.write_text(version(v), "utf-8")
                writer.rebuild()

        def read() -> None:
            while not stop.is_set():
                with reader.snapshot() as snapshot:
                    chunks, vectors = snapshot.chunks_of("story.txt")
                    versions = {c.text.split()[1] for c in chunks if c.text.startswith("Version")}
                    info = next(a for a in snapshot.manifest.articles if a.source == "story.txt")
                    if len(versions) != 1 or len(chunks) != info.chunks or len(vectors) != len(chunks):
                        failures.append(f"{len(chunks)} passages of versions {versions}; the manifest: {info.chunks}")
                    else:
                        v = int(versions.pop())
                        seen.add(v)
                        if sum(c.text.startswith("Version") for c in chunks) != 3 + v:
                            failures.append(f"version {v} in {len(chunks)} passages")
                answer = reader.ask("What does version 2 of the story say?", top_k=5)
                if len({c.quote.split()[1] for c in answer.citations if c.quote.startswith("Version")}) > 1:
                    failures.append(f"one answer quotes several versions: {[c.quote for c in answer.citations]}")

        race(write, read, stop, 4.0)
    assert failures == []
    assert len(seen) >= 2  # the readers did see the article change


def test_an_index_built_otherwise_is_refused_until_rebuilt(corpus_dir: Path, tmp_path: Path, postgres_url: str,
                                                           real_embedder: Embedder) -> None:
    config = postgres_config(corpus_dir, tmp_path / "index", postgres_url)
    with Engine(config, HashEmbedder(dimension=real_embedder.dimension)) as hashed:
        hashed.rebuild()
    with Engine(config, real_embedder) as engine:
        with pytest.raises(IndexMismatchError, match=r"the index of the shared corpus in the database .* was "
                                                     r"built with model 'hash.*' but the configuration names"):
            engine.ask("who was released?")
        report = engine.rebuild()  # a new generation, written beside the old and published whole
        assert (report.added, report.chunks_embedded) == ((SEED.name,), report.chunks_total)
        assert "three political prisoners" in engine.ask("who was released?").text
    shorter = postgres_config(corpus_dir, tmp_path / "index", postgres_url, max_tokens=128)
    with Engine(shorter, real_embedder) as engine, pytest.raises(IndexMismatchError, match="other chunking settings"):
        engine.sources()
    with psycopg.connect(postgres_url) as conn:  # the replaced generation is gone
        assert conn.execute("SELECT count(*) FROM articlebot.generations").fetchone() == (1,)


def test_two_servers_corpora_in_one_database_answer_differently(tmp_path: Path, postgres_url: str,
                                                                real_embedder: Embedder) -> None:
    servers(tmp_path)
    config = load_config(tmp_path / "config.toml", environ={"ARTICLEBOT_DATABASE_URL": postgres_url},
                         overrides={"index": {"store": "postgres"}})
    with Engine(config, real_embedder) as shared:
        shared.rebuild()
        north_config, east_config = config.for_guild(NORTH), config.for_guild(EAST)
        assert north_config is not None
        assert east_config is not None
        north = Engine(north_config, real_embedder, database=shared.database)
        east = Engine(east_config, real_embedder, database=shared.database)
        for engine in (north, east):
            engine.ensure_index()
        with psycopg.connect(postgres_url) as conn:
            corpora = conn.execute("SELECT corpus FROM articlebot.corpora ORDER BY corpus").fetchall()
        assert corpora == [("",), (str(NORTH),), (str(EAST),)]  # keys of one database

        in_north, in_east = north.ask(QUESTION, top_k=5), east.ask(QUESTION, top_k=5)
        assert "Anna Berg" in in_north.text
        assert "Tomas Lind" not in in_north.text
        assert "Tomas Lind" in in_east.text
        assert "Anna Berg" not in in_east.text
        assert all("Tomas Lind" not in c.quote for c in in_north.citations)
        assert all(c.source in ("regatta.txt", SHARED_PREFIX + SEED.name) for c in in_north.citations)
        assert [a.source for a in north.sources()] == ["regatta.txt", SHARED_PREFIX + SEED.name]
        assert [a.source for a in shared.sources()] == [SEED.name]
        assert "Smith" in north.ask("Who visited Minsk?").text
        shared_answer = shared.ask(QUESTION, top_k=5)
        assert "Anna Berg" not in shared_answer.text
        assert "Tomas Lind" not in shared_answer.text
        north.close()  # it does not own the database: the others keep answering
        assert "Tomas Lind" in east.ask(QUESTION).text


def test_a_host_without_the_corpus_folder_serves_what_the_database_holds(engine: Engine, corpus_dir: Path,
                                                                        real_embedder: Embedder) -> None:
    engine.rebuild()
    elsewhere = Engine(postgres_config(corpus_dir.parent / "absent", corpus_dir.parent / "elsewhere",
                                       engine.config.index.database_url), real_embedder)
    with elsewhere:
        assert elsewhere.ensure_index() is None  # nothing to build from here, and nothing built
        assert "three political prisoners" in elsewhere.ask("who was released?").text
    shutil.rmtree(corpus_dir)
    with Engine(engine.config, real_embedder) as nowhere:
        assert nowhere.database is not None
        nowhere.database.store().drop_corpus("")
        with pytest.raises(CorpusError, match="does not exist"):
            nowhere.ensure_index()


def test_eval_scores_the_database_store_in_a_corpus_of_its_own_dropped_after(
        tmp_path: Path, postgres_url: str, real_embedder: Embedder) -> None:
    from index.evaluate import evaluate

    (tmp_path / "corpus").mkdir()
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    text = SEED.read_text("utf-8")
    rows = []
    for question, gold in (("who was released?", "three political prisoners"),
                           ("Who is the president of Belarus?", "Aleksandr G. Lukashenko")):
        start = text.index(gold)
        rows.append({"question": question, "article": SEED.name, "impossible": False,
                     "answers": [{"text": gold, "start": start, "end": start + len(gold)}]})
    rows.append({"question": "Who won the chess tournament?", "article": SEED.name, "answers": [], "impossible": True})
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    offtopic = tmp_path / "offtopic.txt"
    offtopic.write_text("What is the boiling point of tungsten?\nHow do I bake sourdough bread?\n", "utf-8")
    with Engine(postgres_config(tmp_path / "corpus", tmp_path / "index", postgres_url), real_embedder) as bot:
        bot.rebuild()  # the bot's own corpus, which the eval must leave alone
    reports = {}
    for store in ("embedded", "postgres"):
        config = postgres_config(tmp_path / "corpus", tmp_path / "index", postgres_url, store=store)
        reports[store] = evaluate(config, tmp_path / "corpus", [questions], offtopic=offtopic)
    assert reports["postgres"]["store"] == "postgres"
    quality = {store: {k: v for k, v in report["systems"]["articlebot"].items() if not k.startswith("latency")}
               for store, report in reports.items()}
    # Compared as JSON: a figure over no questions (no answer sure enough for the tier "answer") is NaN in both.
    assert json.dumps(quality["postgres"], sort_keys=True) == json.dumps(quality["embedded"], sort_keys=True)
    assert quality["postgres"]["cite@1"] == 1.0
    with psycopg.connect(postgres_url) as conn:  # the eval's corpus is gone; the bot's is untouched
        assert conn.execute("SELECT corpus FROM articlebot.corpora").fetchall() == [("",)]
        assert conn.execute("SELECT count(*) FROM articlebot.generations").fetchone() == (1,)


def test_an_html_article_is_removed_by_the_url_the_database_holds(engine: Engine, corpus_dir: Path) -> None:
    from index.articles.ingest import remove

    (corpus_dir / "lighthouse.html").write_bytes(page(LIGHTHOUSE, canonical=CANONICAL))
    engine.rebuild()
    assert engine.article_text("lighthouse.html").startswith("Lighthouse keeper")  # the extracted text, kept there
    assert not engine.changed_since_indexed("lighthouse.html")
    # Only the index knows an HTML file's URL without extracting it again: read from the database.
    assert [r.source for r in remove(engine.config, CANONICAL)] == ["lighthouse.html"]
    assert engine.rebuild().removed == ("lighthouse.html",)
    assert [a.source for a in engine.sources()] == [SEED.name]
