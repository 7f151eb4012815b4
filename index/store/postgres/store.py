"""The index in PostgreSQL with pgvector: `[index] store = "postgres"`, for several bots sharing one index.

What the embedded store keeps in a generation folder lives here in tables of the schema `articlebot`
(index/store/postgres/schema.py creates and migrates them):

    generations   one per corpus build: its manifest (model, backend, dimension, chunking settings,
                  versions, skipped files, built_at) and its BM25 totals (passages, total length)
    corpora       per corpus ('' the shared one, a guild id for a server's own), its live generation
    articles      per generation: the ArticleInfo of each article and, for HTML, its extracted text
    passages      per generation: the chunks, their length in terms and their vector (HNSW, cosine)
    terms         the vocabulary: one integer per stem, shared by every corpus
    posting_blocks  per generation, term and block of passage ids: the term's postings there, packed
                  (each passage's id, the term's frequency in it and its length; index/store/postgres/postings.py)
    passage_terms per generation and passage: the terms it holds (what removing it rewrites)
    term_df       per generation and term: how many passages hold it

A corpus is a column and a filter, not a database: questions read the passages of their corpus's
live generation. Writes go one article per transaction (`replace_article`, `remove_article`),
so a reader sees an article whole before its update or whole after it. A build that cannot reuse
the live generation (another model or chunking) writes a new one beside it (`replace_articles`,
many articles per transaction: nobody reads it yet), invisible to readers until `publish` points
the corpus at it in one statement — the embedded store's CURRENT, in SQL.

Why BM25 is computed from term statistics kept in tables, and not by PostgreSQL's full-text search:
`ts_rank` ignores how rare a word is across the corpus (it has no idf) and normalises length its
own way, so its ranking is not BM25 and answers would change. Stored BM25 weights, as bm25s keeps
them, would not do either: a weight depends on the corpus's passage count, its average passage
length and the term's document frequency, which every article written changes, so writing one
article would rewrite the weights of every passage sharing a word with it. What one article changes
is local instead: its postings (term frequency and passage length per term), +-1 on the document
frequency of each of its terms, and two totals on the generation row. A question (index/store/postgres/snapshot.py)
reads only the postings of its terms, a few rows of packed blocks each, and scores them with exactly
LexicalIndex's formula, tokenizer (`lexical.stems`) and parameters (`lexical.K1`, `lexical.B`) —
the same work as LexicalIndex.search's sum over its stored runs.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import contextmanager
from typing import Any, Iterator, NamedTuple, Sequence

import numpy as np
import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from index.articles.chunking import Chunk
from index.errors import IndexDatabaseError, IndexMismatchError, IndexMissingError, ReindexInProgressError
from index.store.embedded.generations import Snapshot
from index.store.lexical import passage_text, stems
from index.store.manifest import Manifest
from index.store.postgres.postings import BLOCK_BITS, Block, pack, without
from index.store.postgres.schema import describe, ensure_dimension, open_connection, prepare, scrub
from index.store.postgres.snapshot import PgSnapshot, corpus_name
from index.types import ArticleInfo, SkippedFile

log = logging.getLogger(__name__)

# Passages written per transaction into a generation that no reader sees yet.
WRITE_BATCH = 2000
# A namespace for the advisory locks of builds (one per corpus), apart from other programs' locks.
_BUILD_LOCK = 0x62756C64  # "buld"


def connect(url: str, *, ef_search: int = 64, max_connections: int = 4,
            connect_timeout: int = 10) -> PgStore:
    """Open the index database at `url`: check it, create or migrate its schema; raises IndexDatabaseError.

    `ef_search` is pgvector's HNSW search width for questions; `max_connections` bounds the pool:
    one per question answered at once, plus two per build (one holds its write_lock).
    """
    with open_connection(url, connect_timeout=connect_timeout, autocommit=True) as conn:
        version = prepare(conn, url)
    pool = ConnectionPool(url, min_size=1, max_size=max_connections, timeout=connect_timeout,
                          kwargs={"autocommit": True, "connect_timeout": connect_timeout},
                          configure=_configure, check=ConnectionPool.check_connection, open=False,
                          name="articlebot")  # checked when lent: a restarted server costs no failed question
    pool.open()
    log.info("index database: %s, schema version %d", describe(url), version)
    return PgStore(pool, url, ef_search=ef_search)


def _configure(conn: psycopg.Connection[Any]) -> None:
    from pgvector.psycopg import register_vector

    register_vector(conn)
    conn.execute("SELECT '[1]'::vector")  # loads pgvector now, so its settings apply from the first question


class ArticlePassages(NamedTuple):
    """One article as written to the database: its description, passages, their unit vectors and, for HTML, the
    extracted text its offsets refer to."""

    article: ArticleInfo
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    extracted: str | None = None


class PgStore:
    """The index database: corpora, their generations, articles, passages, vectors and BM25 statistics."""

    def __init__(self, pool: ConnectionPool[Any], url: str, *, ef_search: int = 64) -> None:
        self._pool = pool
        self._url = url  # kept for messages only, through scrub()
        self.where = describe(url)
        self.ef_search = ef_search

    def __repr__(self) -> str:
        return f"PgStore({self.where})"

    def close(self) -> None:
        """Close every connection of the pool."""
        self._pool.close()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout:
            raise IndexDatabaseError(f"cannot reach the index database ({self.where}): no connection could be "
                                     f"made within {self._pool.timeout:g} s") from None
        except psycopg.OperationalError as e:
            raise IndexDatabaseError(
                f"lost the index database ({self.where}): {scrub(str(e).strip(), self._url)}") from None

    def schema_version(self) -> int:
        """The schema version the database is at."""
        with self._connection() as conn:
            row = conn.execute("SELECT max(version) FROM articlebot.schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # Reading

    @contextmanager
    def snapshot(self, corpus: str, *, ef_search: int | None = None) -> Iterator[PgSnapshot]:
        """The corpus's live index, consistent for the block; raises IndexMissingError when it has none."""
        with self._connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            conn.execute("SELECT set_config('hnsw.ef_search', %s, true), "
                         "set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                         (str(ef_search or self.ef_search),))
            row = conn.execute(
                """SELECT g.id, g.model, g.backend, g.dimension, g.settings, g.versions, g.skipped, g.built_at,
                          g.passages, g.total_length
                   FROM articlebot.corpora c JOIN articlebot.generations g ON g.id = c.live
                   WHERE c.corpus = %s""", (corpus,)).fetchone()
            if row is None:
                raise IndexMissingError(
                    f"no index of {corpus_name(corpus)} in the {self.where} yet; build it with `articlebot index`")
            snapshot = PgSnapshot(conn, corpus, row, self.where)
            try:
                yield snapshot
            finally:
                snapshot.closed = True

    def manifest(self, corpus: str) -> Manifest:
        """The live manifest of a corpus; raises IndexMissingError when it has none."""
        with self.snapshot(corpus) as snapshot:
            return snapshot.manifest

    def live_generation(self, corpus: str) -> int | None:
        """The generation questions about `corpus` are answered from, or None before its first publish."""
        with self._connection() as conn:
            row = conn.execute("SELECT live FROM articlebot.corpora WHERE corpus = %s", (corpus,)).fetchone()
        return int(row[0]) if row else None

    def corpora(self) -> list[str]:
        """The corpora with a live index."""
        with self._connection() as conn:
            return [row[0] for row in conn.execute("SELECT corpus FROM articlebot.corpora ORDER BY corpus")]

    # Writing

    @contextmanager
    def write_lock(self, corpus: str) -> Iterator[None]:
        """Hold the corpus's build lock (on every host), or raise ReindexInProgressError if a build holds it."""
        with self._connection() as conn:
            key = (_BUILD_LOCK, corpus)
            row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", key).fetchone()
            if not (row and row[0]):
                raise ReindexInProgressError(
                    f"another build of {corpus_name(corpus)} is running; try again when it has finished")
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", key)

    def new_generation(self, corpus: str, *, model: str, backend: str, dimension: int, settings: dict[str, Any],
                       versions: dict[str, str]) -> int:
        """Start an empty generation of `corpus`, not yet live; returns its id for the writes that fill it."""
        with self._connection() as conn, conn.transaction():
            ensure_dimension(conn, dimension, self.where)
            row = conn.execute(
                """INSERT INTO articlebot.generations (corpus, model, backend, dimension, settings, versions)
                   VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
                (corpus, model, backend, dimension, Jsonb(settings), Jsonb(versions))).fetchone()
        assert row is not None
        return int(row[0])

    def replace_article(self, generation: int, article: ArticleInfo, chunks: Sequence[Chunk], vectors: np.ndarray,
                        *, extracted: str | None = None) -> None:
        """Write one article's passages, vectors and term statistics in one transaction, replacing its old ones."""
        self.replace_articles(generation, [ArticlePassages(article, chunks, vectors, extracted)])

    def replace_articles(self, generation: int, articles: Sequence[ArticlePassages]) -> None:
        """Write several articles in one transaction, replacing their old ones.

        For a generation no reader sees yet (a new build's), where one transaction per article would
        only add round trips and commits; a live generation is written one article per transaction.
        """
        sources = [a.article.source for a in articles]
        if len(set(sources)) != len(sources):
            raise ValueError("an article was given twice")
        chunks = [c for a in articles for c in a.chunks]
        if any(c.source != a.article.source for a in articles for c in a.chunks):
            raise ValueError("chunks were given with another article than their own")
        blocks = [np.asarray(a.vectors, dtype=np.float32).reshape(len(a.chunks), -1) for a in articles]
        terms = stems([passage_text(a.article.title, c.text) for a in articles for c in a.chunks])
        with self._connection() as conn, conn.transaction():
            dimension = self._lock(conn, generation)
            if any(len(b) and b.shape[1] != dimension for b in blocks):
                raise IndexMismatchError(f"vectors of {next(b.shape[1] for b in blocks if len(b))} dimensions were "
                                         f"given to a generation of {dimension}; rebuild with one model")
            _, removed, removed_length, change = _delete_articles(conn, generation, sources)
            with conn.cursor() as cursor:
                cursor.executemany(
                    """INSERT INTO articlebot.articles
                       (generation, source, title, url, date, author, sha256, chunks, extracted)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    [(generation, a.article.source, a.article.title, a.article.url, a.article.date, a.article.author,
                      a.article.sha256, len(a.chunks), a.extracted) for a in articles])
            ids = sorted(row[0] for row in conn.execute(
                "SELECT nextval('articlebot.passage_ids') FROM generate_series(1, %s)", (len(chunks),)))
            vectors = [vector for block in blocks for vector in block]
            with conn.cursor() as cursor:
                cursor.executemany(
                    """INSERT INTO articlebot.passages
                       (id, generation, source, start, "end", paragraph, text, length, embedding)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %b)""",
                    [(i, generation, c.source, c.start, c.end, c.paragraph, c.text, len(row), vector)
                     for i, c, row, vector in zip(ids, chunks, terms, vectors, strict=True)])
            term_id = _term_ids(conn, {s for row in terms for s in row if s})
            postings = [(term_id[stem], passage, tf, len(row))
                        for passage, row in zip(ids, terms, strict=True)
                        for stem, tf in Counter(s for s in row if s).items()]
            _append_postings(conn, generation, postings)
            change.update(term for term, *_ in postings)
            _change_df(conn, generation, change)
            conn.execute(
                """UPDATE articlebot.generations SET passages = passages + %s, total_length = total_length + %s
                   WHERE id = %s""",
                (len(chunks) - removed, sum(len(row) for row in terms) - removed_length, generation))

    def import_snapshot(self, corpus: str, snapshot: Snapshot) -> int:
        """Copy an embedded index into a new generation of `corpus` and publish it; returns the generation."""
        manifest = snapshot.manifest
        generation = self.new_generation(corpus, model=manifest.model, backend=manifest.backend,
                                         dimension=manifest.dimension, settings=manifest.settings,
                                         versions=manifest.versions)
        batch: list[ArticlePassages] = []
        for info in manifest.articles:
            chunks, vectors = snapshot.chunks_of(info.source)
            batch.append(ArticlePassages(info, chunks, vectors, snapshot.extracted.get(info.source)))
            if sum(len(a.chunks) for a in batch) >= WRITE_BATCH:
                self.replace_articles(generation, batch)
                batch = []
        self.replace_articles(generation, batch)
        self.finish(generation, skipped=manifest.skipped)
        self.publish(generation)
        return generation

    def remove_article(self, generation: int, source: str) -> bool:
        """Delete one article from a generation in one transaction; False when it was not there."""
        with self._connection() as conn, conn.transaction():
            self._lock(conn, generation)
            gone, removed, removed_length, change = _delete_articles(conn, generation, [source])
            _change_df(conn, generation, change)
            conn.execute(
                """UPDATE articlebot.generations SET passages = passages - %s, total_length = total_length - %s
                   WHERE id = %s""", (removed, removed_length, generation))
            return bool(gone)

    def finish(self, generation: int, *, skipped: Sequence[SkippedFile], versions: dict[str, str] | None = None
               ) -> None:
        """Record a build's end in the generation's manifest: the files it skipped, when, with what versions."""
        with self._connection() as conn:
            conn.execute(
                """UPDATE articlebot.generations
                   SET skipped = %s, versions = coalesce(%s, versions), built_at = now() WHERE id = %s""",
                (Jsonb([s.__dict__ for s in skipped]), Jsonb(versions) if versions is not None else None,
                 generation))

    def publish(self, generation: int) -> None:
        """Make a generation its corpus's live one in one statement, then delete the generations it replaces.

        The tables' statistics are then refreshed: a new generation may have changed their size many
        times over, and the planner chooses how to read them by what it last counted.
        """
        with self._connection() as conn:
            row = conn.execute(
                """INSERT INTO articlebot.corpora (corpus, live)
                   SELECT corpus, id FROM articlebot.generations WHERE id = %s
                   ON CONFLICT (corpus) DO UPDATE SET live = excluded.live RETURNING corpus""",
                (generation,)).fetchone()
            if row is None:
                raise ValueError(f"no generation {generation} in the {self.where}")
            older = [r[0] for r in conn.execute(
                "SELECT id FROM articlebot.generations WHERE corpus = %s AND id < %s", (row[0], generation))]
        for old in older:
            self._drop_generation(old)
        with self._connection() as conn:
            conn.execute("ANALYZE articlebot.passages, articlebot.posting_blocks, articlebot.passage_terms, "
                         "articlebot.term_df, articlebot.articles")

    def remove_stale_generations(self, corpus: str) -> None:
        """Delete every generation of `corpus` but the live one (leftovers of killed builds); hold write_lock."""
        with self._connection() as conn:
            stale = [r[0] for r in conn.execute(
                """SELECT g.id FROM articlebot.generations g LEFT JOIN articlebot.corpora c ON c.live = g.id
                   WHERE g.corpus = %s AND c.live IS NULL""", (corpus,))]
        for generation in stale:
            self._drop_generation(generation)

    def drop_corpus(self, corpus: str) -> None:
        """Delete a corpus and all its generations."""
        with self._connection() as conn:
            conn.execute("DELETE FROM articlebot.corpora WHERE corpus = %s", (corpus,))
        self.remove_stale_generations(corpus)

    def _drop_generation(self, generation: int) -> None:
        with self._connection() as conn, conn.transaction():
            for table in ("posting_blocks", "passage_terms", "term_df", "passages", "articles"):
                conn.execute(f"DELETE FROM articlebot.{table} WHERE generation = %s", (generation,))
            conn.execute("DELETE FROM articlebot.generations WHERE id = %s", (generation,))

    def _lock(self, conn: psycopg.Connection[Any], generation: int) -> int:
        """Lock a generation's row for this transaction (writers of one generation take turns); its dimension."""
        row = conn.execute("SELECT dimension FROM articlebot.generations WHERE id = %s FOR NO KEY UPDATE",
                           (generation,)).fetchone()
        if row is None:
            raise ValueError(f"no generation {generation} in the {self.where}")
        return int(row[0])


def _delete_articles(conn: psycopg.Connection[Any], generation: int, sources: Sequence[str]
                     ) -> tuple[set[str], int, int, Counter[int]]:
    """Delete articles' rows: (the sources that were there, passages removed, their total length, -1 per term
    per passage removed)."""
    gone = conn.execute(
        "DELETE FROM articlebot.passages WHERE generation = %s AND source = ANY(%s::text[]) RETURNING id, length",
        (generation, list(sources))).fetchall()
    change: Counter[int] = Counter()
    if gone:
        removed = np.asarray([row[0] for row in gone], dtype=np.int64)
        touched: set[tuple[int, int]] = set()
        for passage, terms in conn.execute(
                """DELETE FROM articlebot.passage_terms WHERE generation = %s AND passage = ANY(%s::bigint[])
                   RETURNING passage, terms""", (generation, removed.tolist())):
            change.subtract(terms)
            touched.update((term, passage >> BLOCK_BITS) for term in terms)
        _remove_postings(conn, generation, sorted(touched), removed)
    existed = {row[0] for row in conn.execute(
        "DELETE FROM articlebot.articles WHERE generation = %s AND source = ANY(%s::text[]) RETURNING source",
        (generation, list(sources)))}
    return existed, len(gone), sum(row[1] for row in gone), change


def _append_postings(conn: psycopg.Connection[Any], generation: int, postings: Sequence[tuple[int, int, int, int]]
                     ) -> None:
    """Add postings (term, passage, tf, length) to their terms' blocks, and each passage's terms to passage_terms."""
    if not postings:
        return
    columns = np.asarray(postings, dtype=np.int64).T
    blocks = pack(*columns)
    conn.execute(
        """INSERT INTO articlebot.posting_blocks AS b (generation, term, block, passages, tfs, lengths)
           SELECT %s, * FROM unnest(%s::integer[], %s::bigint[], %b::bytea[], %b::bytea[], %b::bytea[])
           ON CONFLICT (generation, term, block) DO UPDATE SET passages = b.passages || excluded.passages,
               tfs = b.tfs || excluded.tfs, lengths = b.lengths || excluded.lengths""",
        (generation, *map(list, zip(*blocks, strict=True))))
    terms: dict[int, list[int]] = {}
    for term, passage, _, _ in postings:
        terms.setdefault(passage, []).append(term)
    with conn.cursor() as cursor, cursor.copy(
            "COPY articlebot.passage_terms (generation, passage, terms) FROM STDIN") as copy:
        for passage, held in terms.items():
            copy.write_row((generation, passage, sorted(held)))


def _remove_postings(conn: psycopg.Connection[Any], generation: int, touched: Sequence[tuple[int, int]],
                     removed: np.ndarray) -> None:
    """Take the postings of removed passages out of the blocks (term, block) that hold them."""
    rows = [Block(*row) for row in conn.execute(
        """SELECT b.term, b.block, b.passages, b.tfs, b.lengths FROM articlebot.posting_blocks b
           JOIN unnest(%s::integer[], %s::bigint[]) AS t (term, block) USING (term, block)
           WHERE b.generation = %s ORDER BY b.term, b.block""",
        ([t for t, _ in touched], [b for _, b in touched], generation), binary=True)]
    rest = [(row, without(row, removed)) for row in rows]
    kept = [block for _, block in rest if block is not None]
    emptied = [row for row, block in rest if block is None]
    if kept:
        conn.execute(
            """UPDATE articlebot.posting_blocks b SET passages = n.passages, tfs = n.tfs, lengths = n.lengths
               FROM unnest(%s::integer[], %s::bigint[], %b::bytea[], %b::bytea[], %b::bytea[])
                    AS n (term, block, passages, tfs, lengths)
               WHERE b.generation = %s AND b.term = n.term AND b.block = n.block""",
            (*map(list, zip(*kept, strict=True)), generation))
    if emptied:
        conn.execute(
            """DELETE FROM articlebot.posting_blocks b USING unnest(%s::integer[], %s::bigint[]) AS n (term, block)
               WHERE b.generation = %s AND b.term = n.term AND b.block = n.block""",
            ([r.term for r in emptied], [r.block for r in emptied], generation))


def _term_ids(conn: psycopg.Connection[Any], wanted: set[str]) -> dict[str, int]:
    """The vocabulary ids of these stems, adding the new ones (in sorted order: concurrent writers never deadlock)."""
    ordered = sorted(wanted)
    conn.execute(
        """INSERT INTO articlebot.terms (stem)
           SELECT s FROM unnest(%s::text[]) AS s
           WHERE NOT EXISTS (SELECT 1 FROM articlebot.terms t WHERE t.stem = s) ORDER BY s
           ON CONFLICT (stem) DO NOTHING""", (ordered,))
    return dict(conn.execute("SELECT stem, id FROM articlebot.terms WHERE stem = ANY(%s::text[])", (ordered,)))


def _change_df(conn: psycopg.Connection[Any], generation: int, change: Counter[int]) -> None:
    """Add each term's change to its document frequency; a term no passage holds any more leaves the table."""
    moved = sorted((t, n) for t, n in change.items() if n)
    if not moved:
        return
    terms, amounts = [t for t, _ in moved], [n for _, n in moved]
    conn.execute(
        """INSERT INTO articlebot.term_df AS d (generation, term, df)
           SELECT %s, term, amount FROM unnest(%s::integer[], %s::integer[]) AS x (term, amount) ORDER BY term
           ON CONFLICT (generation, term) DO UPDATE SET df = d.df + excluded.df""",
        (generation, terms, amounts))
    conn.execute("DELETE FROM articlebot.term_df WHERE generation = %s AND term = ANY(%s::integer[]) AND df <= 0",
                 (generation, terms))
