"""The PostgreSQL store against a real PostgreSQL 18 with pgvector, started by the tests (tests/pg_support.py)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import psycopg
import pytest

from index.articles.chunking import Chunk
from index.articles.text import sentences
from index.config import Config
from index.embedders import Embedder
from index.engine import Engine
from index.errors import IndexDatabaseError, IndexMismatchError, IndexMissingError, ReindexInProgressError
from index.store.build import built_with
from index.store.lexical import LexicalIndex, passage_text
from index.store.manifest import BuiltWith, check_built_with
from index.store.postgres import postings as pg_postings
from index.store.postgres import schema as pg_schema
from index.store.postgres.postings import BLOCK_BITS, Postings
from index.store.postgres.schema import SCHEMA_VERSION
from index.store.postgres.snapshot import top_bm25
from index.store.postgres.store import ArticlePassages, PgStore, connect
from index.types import ArticleInfo, SkippedFile
from tests.pg_support import Postgres, ask, race, running_postgres
from tests.support import SEED

DIMENSION = 16
SETTINGS = {"max_tokens": 200, "min_chunk_words": 3}
QUESTIONS = [
    "who was released?",
    "Which U.S. diplomat visited Belarus and met Lukashenko?",
    "political prisoners released prisoners",  # a repeated word counts twice
    "released prisoners prisoners prisoners",  # and thrice
    "foreign policy toward Belarus and Russia",
    "Lukashenko",
    "the of and",  # only stop words
    "quantum chromodynamics",  # words the index never saw
]
ANSWERED = [
    "who was released?",
    "Which U.S. diplomat visited Belarus?",
    "How many political prisoners were released?",
    "what did Lukashenko say about the talks?",
    "who won the football world cup?",  # declined
]


@pytest.fixture
def server(postgres_server: Postgres) -> Postgres:
    """The session's server (tests/conftest.py)."""
    return postgres_server


@pytest.fixture
def url(postgres_url: str) -> str:
    """A fresh database of the session's server."""
    return postgres_url


@pytest.fixture
def store(url: str) -> Iterator[PgStore]:
    with connect(url) as opened:
        yield opened


def unit(rows: int, seed: int, dimension: int = DIMENSION) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def article(source: str, texts: list[str], title: str = "A title") -> tuple[ArticleInfo, list[Chunk]]:
    chunks, start = [], 0
    for paragraph, text in enumerate(texts):
        chunks.append(Chunk(source, start, start + len(text), paragraph, text))
        start += len(text) + 2
    return ArticleInfo(source, title, None, None, None, f"sha-{source}-{hash(tuple(texts))}", len(chunks)), chunks


def new_corpus(store: PgStore, corpus: str = "", *, model: str = "test-model", dimension: int = DIMENSION) -> int:
    return store.new_generation(corpus, model=model, backend="onnx", dimension=dimension, settings=SETTINGS,
                                versions={"articlebot": "0.1.0"})


def seed_sentences() -> list[str]:
    text = SEED.read_text("utf-8")
    return [text[s.start:s.end] for s in sentences(text)]


def write_seed(store: PgStore, corpus: str = "", parts: int = 3) -> tuple[int, list[tuple[ArticleInfo, list[Chunk]]]]:
    """The seed article's sentences as `parts` articles of one corpus, published."""
    texts = seed_sentences()
    generation = new_corpus(store, corpus)
    written = []
    for n in range(parts):
        info, chunks = article(f"part-{n}.txt", texts[n::parts], title=f"Belarus part {n}")
        store.replace_article(generation, info, chunks, unit(len(chunks), n))
        written.append((info, chunks))
    store.publish(generation)
    return generation, written


def embedded_lexical(articles: list[tuple[ArticleInfo, list[Chunk]]]) -> tuple[LexicalIndex, list[tuple[str, int]]]:
    """LexicalIndex over the same passages, in source order, and the (source, start) of each of its ids."""
    passages = [(info, c) for info, chunks in sorted(articles, key=lambda a: a[0].source) for c in chunks]
    index = LexicalIndex.build([passage_text(info.title, c.text) for info, c in passages])
    return index, [(c.source, c.start) for _, c in passages]


def assert_same_bm25(store: PgStore, articles: list[tuple[ArticleInfo, list[Chunk]]], corpus: str = "") -> None:
    index, keys = embedded_lexical(articles)
    with store.snapshot(corpus) as snapshot:
        for question in QUESTIONS:
            expected_ids, expected = index.search(question, 10)
            ids, scores = snapshot.lexical.search(question, 10)
            assert scores == pytest.approx(expected, rel=1e-6, abs=1e-7), question
            got = {(snapshot.chunk(i).source, snapshot.chunk(i).start): s for i, s in zip(ids, scores, strict=True)}
            want = {keys[i]: s for i, s in zip(expected_ids, expected, strict=True)}
            # Passages tied with the last one kept may be kept or not, by either.
            last = expected[-1] if len(expected) == 10 else -1.0
            assert {k: s for k, s in got.items() if s > last * (1 + 1e-6)} == pytest.approx(
                {k: s for k, s in want.items() if s > last * (1 + 1e-6)}, rel=1e-6), question
            # The statistics sentence scoring reads: idf of each term, and the words never seen.
            (terms,), (embedded_terms,) = snapshot.lexical.terms([question]), index.terms([question])
            assert [snapshot.lexical.idf(t) for t in terms] == pytest.approx(
                [index.idf(t) for t in embedded_terms], rel=1e-7), question
            assert snapshot.lexical.unknown_words(question) == index.unknown_words(question), question
            assert snapshot.lexical.idf(-1) == pytest.approx(index.idf(-1), rel=1e-12)


def assert_postings_consistent(store: PgStore, generation: int, *, spans_blocks: bool = False) -> None:
    """The packed postings hold exactly one posting per term of each live passage, in the passage's block,
    with no empty block, as passage_terms and term_df count them."""
    with psycopg.connect(store._url) as conn:
        lengths = dict(conn.execute("SELECT id, length FROM articlebot.passages WHERE generation = %s",
                                    (generation,)).fetchall())
        held = {(term, passage) for passage, terms in conn.execute(
            "SELECT passage, terms FROM articlebot.passage_terms WHERE generation = %s", (generation,))
            for term in terms}
        df = dict(conn.execute("SELECT term, df FROM articlebot.term_df WHERE generation = %s", (generation,)))
        postings = []
        for term, block, *packed in conn.execute(
                "SELECT term, block, passages, tfs, lengths FROM articlebot.posting_blocks WHERE generation = %s",
                (generation,), binary=True):
            passages, tfs, sizes = pg_postings.unpack(block, *packed)
            assert len(passages) > 0
            assert (passages >> BLOCK_BITS == block).all()
            assert (tfs >= 1).all()
            assert sizes.tolist() == [lengths[p] for p in passages.tolist()]
            postings += [(term, p) for p in passages.tolist()]
    assert len(postings) == len(set(postings))
    assert set(postings) == held
    assert {passage for _, passage in held} <= set(lengths)  # a passage of stop words only holds no term
    assert Counter(term for term, _ in postings) == df
    if spans_blocks:
        assert len({passage >> BLOCK_BITS for passage in lengths}) > 1


# Schema and connections


def test_schema_is_created_once_and_versioned(url: str) -> None:
    with connect(url) as store:
        assert store.schema_version() == SCHEMA_VERSION
    with connect(url) as store:  # a second process finds it current and changes nothing
        assert store.schema_version() == SCHEMA_VERSION
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM articlebot.schema_version").fetchone() == (SCHEMA_VERSION,)
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'").fetchone() == ("vector",)
        conn.execute("INSERT INTO articlebot.schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(IndexDatabaseError, match=f"schema version {SCHEMA_VERSION + 1}, newer than"):
        connect(url)


def as_schema(url: str, version: int) -> None:
    """Rewrite a database of this schema as schema 1 or 2 left it: one row per posting, in schema 1's table."""
    with psycopg.connect(url) as conn:
        rows = [(generation, term, passage, tf, length)
                for generation, term, block, *packed in conn.execute(
                    "SELECT generation, term, block, passages, tfs, lengths FROM articlebot.posting_blocks",
                    binary=True)
                for passage, tf, length in zip(*(a.tolist() for a in pg_postings.unpack(block, *packed)),
                                               strict=True)]
        for statement in pg_schema.MIGRATIONS[0]:
            if "articlebot.postings" in statement:
                conn.execute(statement)
        with conn.cursor().copy("COPY articlebot.postings (generation, term, passage, tf, length) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if version == 2:  # the index schema 2 added
            conn.execute("""CREATE INDEX postings_impact ON articlebot.postings (generation, term,
                            (tf::float8 / (tf + 0.375::float8 + 0.0140625::float8 * length)) DESC)
                            INCLUDE (passage, tf, length)""")
        conn.execute("DROP TABLE articlebot.posting_blocks, articlebot.passage_terms")
        conn.execute("DELETE FROM articlebot.schema_version WHERE version > %s", (version,))


@pytest.mark.parametrize("earlier", [1, 2])
def test_a_database_of_an_earlier_schema_is_migrated_with_its_index_kept(url: str, earlier: int) -> None:
    with connect(url) as store:
        with psycopg.connect(url, autocommit=True) as conn:  # passages on both sides of a block's end
            conn.execute("SELECT setval('articlebot.passage_ids', %s)", ((1 << BLOCK_BITS) - 8,))
        generation, written = write_seed(store, parts=4)
    as_schema(url, earlier)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT max(version) FROM articlebot.schema_version").fetchone() == (earlier,)
    with connect(url) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert_same_bm25(store, written)
        assert_postings_consistent(store, generation, spans_blocks=True)
        # The packed postings are written and rewritten as the bot's own: an article changed, one removed.
        changed = article("part-1.txt", [t.upper() for t in seed_sentences()[:6]], title="Changed")
        store.replace_article(generation, *changed, unit(6, 7))
        assert store.remove_article(generation, "part-2.txt")
        assert_same_bm25(store, [written[0], changed, written[3]])
        assert_postings_consistent(store, generation, spans_blocks=True)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT version FROM articlebot.schema_version ORDER BY version").fetchall() == [
            (v,) for v in range(1, SCHEMA_VERSION + 1)]
        assert conn.execute("SELECT to_regclass('articlebot.postings')").fetchone() == (None,)


def test_processes_starting_together_migrate_once(url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            connect(url).close()
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM articlebot.schema_version").fetchone() == (SCHEMA_VERSION,)


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(IndexDatabaseError) as refused:
        connect("postgresql://bot:s3cret-pw@127.0.0.1:1/articles", connect_timeout=2)
    message = str(refused.value)
    assert "cannot reach the index database (database 'articles' on 127.0.0.1:1 as user 'bot')" in message
    assert "s3cret-pw" not in message
    with pytest.raises(IndexDatabaseError, match="on the socket in .*missing") as refused:
        connect(f"postgresql://bot:s3cret-pw@/articles?host={tmp_path / 'missing'}", connect_timeout=2)
    assert "s3cret-pw" not in str(refused.value)
    with pytest.raises(IndexDatabaseError, match="not a PostgreSQL connection URL") as refused:
        connect("postgresql://bot:s3cret-pw@host/db?nonsense=1")
    assert "s3cret-pw" not in str(refused.value)


def test_the_password_stays_out_of_reprs_and_logs(server: Postgres, caplog: pytest.LogCaptureFixture) -> None:
    server.create_database("passworded")
    caplog.set_level(logging.DEBUG)
    with connect(server.url("passworded", password="s3cret-pw")) as store:  # trust authentication ignores it
        assert "s3cret-pw" not in repr(store)
        assert "passworded" in repr(store)
    assert "s3cret-pw" not in caplog.text


def test_a_connection_the_server_dropped_is_replaced(store: PgStore, server: Postgres, url: str) -> None:
    write_seed(store)
    with server.admin() as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                     (psycopg.conninfo.conninfo_to_dict(url)["dbname"],))
    with store.snapshot("") as snapshot:
        assert len(snapshot) > 0


@pytest.mark.postgres  # starts a server of its own, not the session's
def test_a_database_gone_away_is_an_index_database_error() -> None:
    with running_postgres() as gone:
        store = connect(gone.url(), connect_timeout=1)
        write_seed(store)
    began = time.perf_counter()
    with pytest.raises(IndexDatabaseError, match="cannot reach the index database") as refused, \
            store.snapshot(""):
        pass
    assert time.perf_counter() - began < 5
    assert "database 'postgres' on the socket in" in str(refused.value)
    store.close()


@pytest.mark.postgres  # starts a server of its own, not the session's
def test_a_server_without_pgvector_is_refused_clearly() -> None:
    with running_postgres(pgvector=False) as bare, pytest.raises(
            IndexDatabaseError, match="lacks the pgvector extension: install pgvector 0.8 or newer"):
        connect(bare.url())


def test_a_user_who_may_not_enable_pgvector_is_told_what_to_run(server: Postgres) -> None:
    with server.admin() as conn:
        conn.execute("CREATE ROLE reader LOGIN")
        conn.execute("CREATE DATABASE no_vector")
        conn.execute("GRANT CREATE ON DATABASE no_vector TO reader")
    with pytest.raises(IndexDatabaseError, match=r"may not enable it: run `CREATE EXTENSION vector;`"):
        connect(server.url("no_vector", user="reader"))


# Manifest and mismatches


def test_manifest_is_written_and_read_per_corpus(store: PgStore) -> None:
    with pytest.raises(IndexMissingError, match="no index of the shared corpus"):
        store.manifest("")
    generation, written = write_seed(store)
    store.finish(generation, skipped=[SkippedFile("empty.txt", "the file is empty", "abc")])
    manifest = store.manifest("")
    assert (manifest.model, manifest.backend, manifest.dimension, manifest.settings) == (
        "test-model", "onnx", DIMENSION, SETTINGS)
    assert manifest.articles == tuple(info for info, _ in written)
    assert manifest.chunks == sum(len(c) for _, c in written)
    assert manifest.skipped == (SkippedFile("empty.txt", "the file is empty", "abc"),)
    assert manifest.built_at.endswith("+00:00")
    with pytest.raises(IndexMissingError, match="no index of corpus '42'"):
        store.manifest("42")
    assert store.corpora() == [""]


def test_another_model_backend_or_chunking_is_refused(store: PgStore) -> None:
    write_seed(store)
    with store.snapshot("") as snapshot:
        check_built_with(snapshot.built_with, BuiltWith("test-model", "onnx", SETTINGS), "the index")
        with pytest.raises(IndexMismatchError, match="built with model 'test-model' but the configuration names 'b'"):
            check_built_with(snapshot.built_with, BuiltWith("b", "onnx", SETTINGS), "the index")
        with pytest.raises(IndexMismatchError, match="backend 'onnx' but the configuration names 'torch'"):
            check_built_with(snapshot.built_with, BuiltWith("test-model", "torch", SETTINGS), "the index")
        with pytest.raises(IndexMismatchError, match="other chunking settings"):
            check_built_with(snapshot.built_with, BuiltWith("test-model", "onnx", {**SETTINGS, "max_tokens": 100}),
                             "the index")
    # One database holds one width of vectors: another model's is refused while passages are stored.
    with pytest.raises(IndexMismatchError, match="holds vectors of 16 dimensions and this model gives 32"):
        new_corpus(store, "42", dimension=32)
    store.drop_corpus("")
    assert new_corpus(store, "42", dimension=32) > 0


# BM25


def test_bm25_scores_are_lexical_index_scores(store: PgStore) -> None:
    _, written = write_seed(store)
    assert_same_bm25(store, written)


def test_top_bm25_keeps_the_best_by_score_then_passage_id() -> None:
    postings = {7: Postings(np.array([30, 10, 20, 40]), np.array([1, 1, 1, 2]), np.array([10, 10, 10, 10])),
                9: Postings(np.array([20]), np.array([1]), np.array([10])),
                11: Postings(np.array([], dtype=np.int64), np.array([], dtype=np.int32), np.array([], dtype=np.int32))}
    query = {7: (1, 1.0), 9: (3, 2.0), 11: (1, 5.0)}
    ids, scores = top_bm25(postings, query, 10.0, 3)
    # 20 has both terms (the second asked three times); 40 twice the first; 10 and 30 tie, 10 first.
    one = 1 / (1 + 1.5)  # tf 1 at the average length: tf / (tf + k1)
    assert ids.tolist() == [20, 40, 10]
    assert scores == pytest.approx([one + 3 * 2 * one, 2 / (2 + 1.5), one], rel=1e-6)
    assert top_bm25(postings, query, 10.0, 10)[0].tolist() == [20, 40, 10, 30]
    assert len(top_bm25({11: postings[11]}, query, 10.0, 5)[0]) == 0
    # Ids far apart (summed through np.unique rather than by offset) rank the same.
    far = {term: lists._replace(passages=lists.passages * 10**9) for term, lists in postings.items()}
    far_ids, far_scores = top_bm25(far, query, 10.0, 10)
    assert far_ids.tolist() == [20 * 10**9, 40 * 10**9, 10 * 10**9, 30 * 10**9]
    assert far_scores.tolist() == top_bm25(postings, query, 10.0, 10)[1].tolist()


def test_postings_are_packed_by_block_and_rewritten_where_articles_change(store: PgStore, url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:  # the seed's passages across a block's end
        conn.execute("SELECT setval('articlebot.passage_ids', %s)", ((1 << BLOCK_BITS) - 8,))
    generation, written = write_seed(store, parts=6)
    assert_postings_consistent(store, generation, spans_blocks=True)
    texts = seed_sentences()
    # A block emptied of one article and one half emptied; later passages appended to existing blocks.
    assert store.remove_article(generation, "part-0.txt")
    changed = article("part-3.txt", [t.upper() for t in texts[:4]], title="Changed")
    store.replace_article(generation, *changed, unit(4, 3))
    added = [article(f"more-{n}.txt", [*texts[n::5], "the of and"], title=f"More {n}") for n in range(3)]
    store.replace_articles(generation, [ArticlePassages(info, chunks, unit(len(chunks), 20 + n))
                                        for n, (info, chunks) in enumerate(added)])
    now = [*written[1:3], changed, *written[4:], *added]
    assert_same_bm25(store, now)
    assert_postings_consistent(store, generation, spans_blocks=True)
    for info, _ in now:
        assert store.remove_article(generation, info.source)
    with psycopg.connect(url) as conn:  # nothing is left of the generation's postings
        for table in ("posting_blocks", "passage_terms", "term_df"):
            assert conn.execute(f"SELECT count(*) FROM articlebot.{table}").fetchone() == (0,), table


def test_packed_postings_round_trip() -> None:
    rng = np.random.default_rng(5)
    terms = rng.integers(1, 6, 500)
    passages = rng.choice(np.arange(3 << BLOCK_BITS), 500, replace=False)
    tfs, lengths = rng.integers(1, 4, 500), rng.integers(1, 300, 500)
    blocks = pg_postings.pack(terms, passages, tfs, lengths)
    assert len({(b.term, b.block) for b in blocks}) == len(blocks)
    got = {(b.term, int(p), int(t), int(n)) for b in blocks for p, t, n in zip(*pg_postings.unpack(*b[1:]),
                                                                                strict=True)}
    assert got == set(zip(terms.tolist(), passages.tolist(), tfs.tolist(), lengths.tolist(), strict=True))
    removed = passages[::3]
    left = [kept for b in blocks if (kept := pg_postings.without(b, removed)) is not None]
    remaining = {(b.term, int(p)) for b in left for p in pg_postings.unpack(*b[1:]).passages}
    assert remaining == {(t, p) for t, p in zip(terms.tolist(), passages.tolist(), strict=True)
                         if p not in set(removed.tolist())}
    with pytest.raises(ValueError, match="out of range"):
        pg_postings.pack(terms[:1], passages[:1], [0], [5])


def test_bm25_statistics_follow_each_article_written_or_removed(store: PgStore) -> None:
    generation, written = write_seed(store, parts=4)
    texts = seed_sentences()
    # Replace one article with other text, remove another, add one of a single empty-of-words passage.
    replaced = article("part-1.txt", [t.upper() + " Lukashenko released." for t in texts[:5]], title="Changed")
    store.replace_article(generation, *replaced, unit(5, 9))
    assert store.remove_article(generation, "part-2.txt")
    assert not store.remove_article(generation, "part-2.txt")
    stop_words = article("stop-words.txt", ["the of and", "released"], title="and")
    store.replace_article(generation, *stop_words, unit(2, 10))
    now = [written[0], replaced, written[3], stop_words]
    assert_same_bm25(store, now)
    with psycopg.connect(store._url) as conn:  # no term is left with a document frequency of 0
        assert conn.execute("SELECT count(*) FROM articlebot.term_df WHERE df <= 0").fetchone() == (0,)
    # Back to nothing: the totals return to zero.
    for info, _ in now:
        assert store.remove_article(generation, info.source)
    with store.snapshot("") as snapshot:
        assert len(snapshot) == 0
        assert len(snapshot.lexical.search("released", 10)[0]) == 0
        assert snapshot.dense.search(unit(1, 0)[0], 10)[0].size == 0


def test_articles_written_in_one_transaction_keep_the_same_statistics(store: PgStore) -> None:
    texts = seed_sentences()
    generation = new_corpus(store)
    written = [article(f"part-{n}.txt", texts[n::3], title=f"Belarus part {n}") for n in range(3)]
    store.replace_articles(generation, [ArticlePassages(info, chunks, unit(len(chunks), n))
                                        for n, (info, chunks) in enumerate(written)])
    store.publish(generation)
    assert_same_bm25(store, written)
    # A batch may replace articles already there, beside new ones.
    replaced = article("part-1.txt", [t.upper() for t in texts[:4]], title="Changed")
    added = article("part-3.txt", ["Lukashenko released them.", "the of and"], title="Added")
    store.replace_articles(generation, [ArticlePassages(*replaced, unit(4, 7)), ArticlePassages(*added, unit(2, 8))])
    assert_same_bm25(store, [written[0], replaced, written[2], added])
    assert store.manifest("").chunks == sum(len(c) for _, c in (written[0], replaced, written[2], added))
    with pytest.raises(ValueError, match="an article was given twice"):
        store.replace_articles(generation, [ArticlePassages(*added, unit(2, 8))] * 2)


# Dense search


def test_dense_search_agrees_with_exact_search(store: PgStore) -> None:
    vectors = unit(600, 1)
    generation = new_corpus(store)
    for n in range(6):
        info, chunks = article(f"a{n}.txt", [f"passage {i}" for i in range(100)])
        store.replace_article(generation, info, chunks, vectors[n * 100:(n + 1) * 100])
    store.publish(generation)
    queries = unit(20, 2)

    def recall(*, hnsw: bool) -> float:
        with store.snapshot("", ef_search=100) as snapshot:
            if hnsw:  # the planner reads 600 rows rather than walk a graph: make it walk the graph
                snapshot.execute("SELECT set_config(name, 'off', true) FROM pg_settings "
                                 "WHERE name IN ('enable_seqscan', 'enable_sort', 'enable_bitmapscan')")
            assert snapshot.execute("SHOW hnsw.ef_search") == [("100",)]
            assert snapshot.execute("SHOW hnsw.iterative_scan") == [("relaxed_order",)]
            plan = "\n".join(r[0] for r in snapshot.execute(
                "EXPLAIN SELECT id FROM articlebot.passages WHERE generation = %s ORDER BY embedding <=> %s LIMIT 10",
                (generation, str(queries[0].tolist()))))
            assert ("passages_embedding" in plan) == hnsw, plan
            index_of = {i: n for n, i in enumerate(sorted(r[0] for r in snapshot.execute(
                "SELECT id FROM articlebot.passages")))}
            found = 0
            for query in queries:
                exact = np.argsort(-(vectors @ query), kind="stable")[:10]
                ids, cosines = snapshot.dense.search(query, 10)
                positions = [index_of[int(i)] for i in ids]
                found += len(set(positions) & set(exact.tolist()))
                assert cosines == pytest.approx(vectors[positions] @ query, abs=1e-5)
                assert np.all(np.diff(cosines) <= 1e-6)  # best first
                assert np.asarray(snapshot.vectors[ids]) == pytest.approx(vectors[positions], abs=1e-7)
            return found / (10 * len(queries))

    assert recall(hnsw=False) == 1.0
    assert recall(hnsw=True) >= 0.98


# Corpora


def test_corpora_are_a_column_and_a_filter(store: PgStore) -> None:
    _, shared = write_seed(store, "")
    guild = new_corpus(store, "1234")
    info, chunks = article("part-0.txt", ["Minsk hosted a chess tournament.", "Grandmasters released a statement."])
    store.replace_article(guild, info, chunks, unit(2, 5))
    store.publish(guild)
    assert store.corpora() == ["", "1234"]
    with store.snapshot("1234") as snapshot:
        assert len(snapshot) == 2
        ids, _ = snapshot.lexical.search("released statement", 10)
        assert {snapshot.chunk(i).text for i in ids} == {"Grandmasters released a statement."}
        ids, _ = snapshot.dense.search(unit(1, 3)[0], 10)
        assert {snapshot.chunk(i).text for i in ids} == set(info_text for info_text in (c.text for c in chunks))
        assert snapshot.lexical.unknown_words("Lukashenko") == 1  # a word of the other corpus only
        assert [a.source for a in snapshot.manifest.articles] == ["part-0.txt"]
    assert_same_bm25(store, shared, "")  # its statistics are its own
    store.drop_corpus("1234")
    assert store.corpora() == [""]
    assert_same_bm25(store, shared, "")


# Atomicity


def test_a_reader_sees_an_article_whole_before_or_after_its_update(store: PgStore) -> None:
    generation = new_corpus(store)
    versions = [article("story.txt", [f"version {v} paragraph {p}" for p in range(3 + v)]) for v in range(4)]
    store.replace_article(generation, *versions[0], unit(3, 0))
    store.publish(generation)
    stop = threading.Event()
    failures: list[str] = []
    seen: set[int] = set()

    def write() -> None:
        for v in itertools.cycle(range(4)):
            if stop.is_set():
                return
            info, chunks = versions[v]
            store.replace_article(generation, info, chunks, unit(len(chunks), v))

    def read() -> None:
        while not stop.is_set():
            with store.snapshot("") as snapshot:
                chunks, vectors = snapshot.chunks_of("story.txt")
                kinds = {c.text.split(" paragraph")[0] for c in chunks}
                version = int(next(iter(kinds)).split()[-1]) if len(kinds) == 1 else -1
                seen.add(version)
                if len(kinds) != 1 or len(chunks) != 3 + version or len(snapshot) != len(chunks):
                    failures.append(f"{len(chunks)} chunks of {kinds}, the corpus counting {len(snapshot)}")
                if snapshot.manifest.articles[0].chunks != len(chunks) or len(vectors) != len(chunks):
                    failures.append("the manifest and the passages disagree")
                ids, _ = snapshot.lexical.search(f"version {version}", 50)
                if len(ids) != len(chunks):
                    failures.append(f"BM25 found {len(ids)} of {len(chunks)} passages")

    race(write, read, stop, 2.0)
    assert failures == []
    assert len(seen) >= 2  # the readers did see the article change


def test_a_new_generation_is_invisible_until_published(store: PgStore) -> None:
    old, _ = write_seed(store)
    new = store.new_generation("", model="other-model", backend="onnx", dimension=DIMENSION, settings=SETTINGS,
                               versions={})
    info, chunks = article("fresh.txt", ["A fresh article about chess."])
    store.replace_article(new, info, chunks, unit(1, 7))
    assert store.manifest("").model == "test-model"
    with store.snapshot("") as before:
        store.publish(new)
        assert before.manifest.model == "test-model"  # a reader keeps what it started with
        assert before.lexical.search("chess", 5)[0].size == 0
    assert store.manifest("").model == "other-model"
    assert store.live_generation("") == new
    with psycopg.connect(store._url) as conn:  # the replaced generation is gone
        assert conn.execute("SELECT count(*) FROM articlebot.passages WHERE generation = %s", (old,)).fetchone() == (0,)
    abandoned = new_corpus(store)  # a build killed midway leaves a generation that was never published
    store.remove_stale_generations("")
    with pytest.raises(ValueError, match=f"no generation {abandoned}"):
        store.remove_article(abandoned, "fresh.txt")
    assert store.live_generation("") == new


def test_one_build_per_corpus_at_a_time(store: PgStore) -> None:
    with store.write_lock(""):
        with pytest.raises(ReindexInProgressError, match="another build of the shared corpus"), store.write_lock(""):
            pass
        with store.write_lock("1234"):
            pass
    with store.write_lock(""):
        pass


def test_a_snapshot_cannot_be_used_after_its_transaction(store: PgStore) -> None:
    write_seed(store)
    with store.snapshot("") as snapshot:
        pass
    with pytest.raises(RuntimeError, match="transaction has ended"):
        snapshot.lexical.search("released", 5)


def test_extracted_text_of_html_articles(store: PgStore) -> None:
    generation = new_corpus(store)
    info, chunks = article("page.html", ["Extracted text."])
    store.replace_article(generation, info, chunks, unit(1, 0), extracted="Extracted text.\n\nMore.")
    info, chunks = article("notes.txt", ["Plain."])
    store.replace_article(generation, info, chunks, unit(1, 1))
    store.publish(generation)
    with store.snapshot("") as snapshot:
        assert dict(snapshot.extracted) == {"page.html": "Extracted text.\n\nMore."}
        assert "notes.txt" not in snapshot.extracted


# Answers


def test_answers_from_postgres_are_the_embedded_answers(store: PgStore, config: Config,
                                                        real_embedder: Embedder) -> None:
    engine = Engine(config, real_embedder)
    engine.rebuild()
    store.import_snapshot("", engine.store.current())
    with store.snapshot("") as snapshot:
        check_built_with(snapshot.built_with, built_with(config.index, real_embedder), "the index")
        assert snapshot.manifest.articles == engine.store.current().manifest.articles
        for question in ANSWERED:
            expected, got = engine.ask(question), ask(engine, snapshot, question)
            assert (got.text, got.declined, got.note) == (expected.text, expected.declined, expected.note), question
            assert [replace(c, score=0.0) for c in got.citations] == [
                replace(c, score=0.0) for c in expected.citations], question
            assert [c.score for c in got.citations] == pytest.approx([c.score for c in expected.citations], abs=1e-6)
            assert got.relevance == pytest.approx(expected.relevance, abs=1e-6)
