"""The index database's schema: created and migrated by the bot itself, checked on every connection.

Everything lives in the PostgreSQL schema `articlebot`, so the database can be shared with other
programs. `articlebot.schema_version` holds one row per migration applied; a process that finds
migrations it lacks applies them, all in one transaction under an advisory lock, so several bots
starting at once migrate once. A database migrated by a newer articlebot is refused, never guessed at.

The width of `passages.embedding` (and so its HNSW index) is fixed by the first model that writes;
see `ensure_dimension`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from index.errors import IndexDatabaseError, IndexMismatchError
from index.store.postgres.postings import BLOCK_BITS

log = logging.getLogger(__name__)

# pgvector 0.8 brought iterative index scans: an HNSW search filtered to one corpus still finds k rows.
PGVECTOR_MINIMUM = (0, 8)
# Any constant: the key of the advisory lock that serialises migrations.
_MIGRATION_LOCK = 0x61727469636C65  # "article"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: generations (one per corpus build, with its manifest), the live one per corpus, articles,
    # passages with their vectors, and the lexical index: vocabulary, postings, document frequencies.
    (
        """CREATE TABLE articlebot.generations (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            corpus text NOT NULL,
            model text NOT NULL,
            backend text NOT NULL,
            dimension integer NOT NULL,
            settings jsonb NOT NULL,
            versions jsonb NOT NULL,
            skipped jsonb NOT NULL DEFAULT '[]',
            built_at timestamptz NOT NULL DEFAULT now(),
            passages bigint NOT NULL DEFAULT 0,
            total_length bigint NOT NULL DEFAULT 0)""",
        "CREATE INDEX generations_corpus ON articlebot.generations (corpus)",
        """CREATE TABLE articlebot.corpora (
            corpus text PRIMARY KEY,
            live bigint NOT NULL REFERENCES articlebot.generations (id))""",
        """CREATE TABLE articlebot.articles (
            generation bigint NOT NULL REFERENCES articlebot.generations (id),
            source text NOT NULL,
            title text NOT NULL,
            url text,
            date text,
            author text,
            sha256 text NOT NULL,
            chunks integer NOT NULL,
            extracted text,
            PRIMARY KEY (generation, source))""",
        "CREATE SEQUENCE articlebot.passage_ids AS bigint",
        """CREATE TABLE articlebot.passages (
            id bigint PRIMARY KEY DEFAULT nextval('articlebot.passage_ids'),
            generation bigint NOT NULL,
            source text NOT NULL,
            start integer NOT NULL,
            "end" integer NOT NULL,
            paragraph integer NOT NULL,
            text text NOT NULL,
            length integer NOT NULL,
            embedding vector NOT NULL,
            FOREIGN KEY (generation, source) REFERENCES articlebot.articles (generation, source))""",
        "CREATE INDEX passages_article ON articlebot.passages (generation, source, id)",
        """CREATE TABLE articlebot.terms (
            id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            stem text NOT NULL UNIQUE)""",
        """CREATE TABLE articlebot.term_df (
            generation bigint NOT NULL,
            term integer NOT NULL,
            df integer NOT NULL,
            PRIMARY KEY (generation, term))""",
        """CREATE TABLE articlebot.postings (
            generation bigint NOT NULL,
            term integer NOT NULL,
            passage bigint NOT NULL,
            tf integer NOT NULL,
            length integer NOT NULL,
            PRIMARY KEY (generation, term, passage) INCLUDE (tf, length))""",
        "CREATE INDEX postings_passage ON articlebot.postings (passage)",
    ),
    # 2 (schema 2 added an index of each term's postings by their BM25 weight, for a partial read of
    # long lists; 3 replaced the table it indexed, so it is no longer built.)
    (),
    # 3: postings packed by term and block of passage ids (index/store/postgres/postings.py), what a question's
    # BM25 reads, and each passage's terms, what removing it rewrites. The rows of schema 1's
    # postings are packed in SQL, then dropped.
    (
        """CREATE TABLE articlebot.posting_blocks (
            generation bigint NOT NULL,
            term integer NOT NULL,
            block bigint NOT NULL,
            passages bytea NOT NULL,
            tfs bytea NOT NULL,
            lengths bytea NOT NULL,
            PRIMARY KEY (generation, term, block))""",
        # Stored as they are: reading a common word's blocks costs no decompression on the shared server.
        """ALTER TABLE articlebot.posting_blocks ALTER passages SET STORAGE EXTERNAL,
               ALTER tfs SET STORAGE EXTERNAL, ALTER lengths SET STORAGE EXTERNAL""",
        """CREATE TABLE articlebot.passage_terms (
            generation bigint NOT NULL,
            passage bigint NOT NULL,
            terms integer[] NOT NULL,
            PRIMARY KEY (generation, passage))""",
        f"""INSERT INTO articlebot.posting_blocks (generation, term, block, passages, tfs, lengths)
            SELECT generation, term, passage >> {BLOCK_BITS},
                   string_agg(int2send((passage & {(1 << BLOCK_BITS) - 1})::int2), ''::bytea ORDER BY passage),
                   string_agg(int4send(tf), ''::bytea ORDER BY passage),
                   string_agg(int4send(length), ''::bytea ORDER BY passage)
            FROM articlebot.postings GROUP BY generation, term, passage >> {BLOCK_BITS}""",
        """INSERT INTO articlebot.passage_terms (generation, passage, terms)
            SELECT generation, passage, array_agg(term ORDER BY term) FROM articlebot.postings
            GROUP BY generation, passage""",
        "DROP TABLE articlebot.postings",
        "ANALYZE articlebot.posting_blocks, articlebot.passage_terms",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def describe(url: str) -> str:
    """Where a connection URL points, for messages and logs: never its password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unreadable database_url"
    host = parts.get("host") or parts.get("hostaddr") or os.environ.get("PGHOST") or "the local socket"
    port = parts.get("port") or os.environ.get("PGPORT") or "5432"
    user = parts.get("user") or os.environ.get("PGUSER")
    database = parts.get("dbname") or os.environ.get("PGDATABASE") or user or "the default database"
    place = f"{host}:{port}" if not str(host).startswith("/") else f"the socket in {host}"
    return f"database {database!r} on {place}" + (f" as user {user!r}" if user else "")


def scrub(message: str, url: str) -> str:
    """`message` without the URL's password, should a driver ever repeat it."""
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        return message
    return message.replace(str(password), "<redacted>") if password else message


def open_connection(url: str, *, connect_timeout: int = 10, **options: Any) -> psycopg.Connection[Any]:
    """One connection to the index database; raises IndexDatabaseError, saying where, when it cannot be made."""
    try:
        return psycopg.connect(url, connect_timeout=connect_timeout, **options)
    except psycopg.ProgrammingError as e:  # a URL libpq cannot parse; its text may hold the password
        raise IndexDatabaseError(f"database_url is not a PostgreSQL connection URL ({scrub(str(e), url)})") from None
    except psycopg.OperationalError as e:
        reason = scrub(str(e).strip(), url)
        raise IndexDatabaseError(f"cannot reach the index database ({describe(url)}): {reason}") from None


def prepare(conn: psycopg.Connection[Any], url: str) -> int:
    """Enable pgvector and bring the schema up to date, in one transaction; returns the schema version."""
    where = describe(url)
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            _ensure_pgvector(conn, where)
            conn.execute("CREATE SCHEMA IF NOT EXISTS articlebot")
            conn.execute("""CREATE TABLE IF NOT EXISTS articlebot.schema_version (
                version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())""")
            row = conn.execute("SELECT coalesce(max(version), 0) FROM articlebot.schema_version").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise IndexDatabaseError(
                    f"the index database ({where}) has schema version {version}, newer than this articlebot's "
                    f"{SCHEMA_VERSION}: upgrade articlebot on this host")
            for number in range(version + 1, SCHEMA_VERSION + 1):
                if version:
                    log.info("migrating the index database (%s) to schema version %d; with a large index "
                             "this takes minutes, and other processes wait for it", where, number)
                for statement in MIGRATIONS[number - 1]:
                    conn.execute(statement)
                conn.execute("INSERT INTO articlebot.schema_version (version) VALUES (%s)", (number,))
            return SCHEMA_VERSION
    except psycopg.errors.InsufficientPrivilege as e:
        raise IndexDatabaseError(
            f"the index database ({where}) refused to create articlebot's tables ({e.diag.message_primary}): "
            "grant the user CREATE on the database, or run articlebot once as its owner") from None


def _ensure_pgvector(conn: psycopg.Connection[Any], where: str) -> None:
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    if row is None:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is None:
            raise IndexDatabaseError(
                f"the PostgreSQL server of the index database ({where}) lacks the pgvector extension: "
                "install pgvector 0.8 or newer on it (https://github.com/pgvector/pgvector)")
        try:
            with conn.transaction():  # a savepoint: the error below must not end the outer transaction
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.InsufficientPrivilege:
            raise IndexDatabaseError(
                f"pgvector is installed on the server but not enabled in the index database ({where}), and "
                "this user may not enable it: run `CREATE EXTENSION vector;` in that database as a superuser"
            ) from None
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        assert row is not None
    version = str(row[0])
    if _version(version) < PGVECTOR_MINIMUM:
        raise IndexDatabaseError(
            f"the index database ({where}) has pgvector {version}; articlebot needs 0.8 or newer: "
            "install it on the server, then run `ALTER EXTENSION vector UPDATE;` in that database")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("-")[0].split(".") if part.isdigit())


def ensure_dimension(conn: psycopg.Connection[Any], dimension: int, where: str) -> None:
    """Make `passages.embedding` hold vectors of `dimension`, with its HNSW index; call inside a transaction.

    The column is untyped until the first vectors are written: an HNSW index needs one width, and
    one database holds one model's vectors. A model of another width is refused while any passage is
    stored; with none left the column is retyped.
    """
    row = conn.execute("""SELECT atttypmod FROM pg_attribute
        WHERE attrelid = 'articlebot.passages'::regclass AND attname = 'embedding'""").fetchone()
    current = int(row[0]) if row else -1
    if current == dimension:
        return
    conn.execute("LOCK TABLE articlebot.passages IN ACCESS EXCLUSIVE MODE")
    if current > 0 and conn.execute("SELECT 1 FROM articlebot.passages LIMIT 1").fetchone() is not None:
        raise IndexMismatchError(
            f"the index database ({where}) holds vectors of {current} dimensions and this model gives "
            f"{dimension}: one database holds one model's vectors; drop its corpora first, or use another database")
    conn.execute("DROP INDEX IF EXISTS articlebot.passages_embedding")
    conn.execute(f"ALTER TABLE articlebot.passages ALTER COLUMN embedding TYPE vector({int(dimension)})")
    # Cosine distance, as the embedded store's inner product over unit vectors; pgvector's default
    # graph (m 16, ef_construction 64).
    conn.execute("CREATE INDEX passages_embedding ON articlebot.passages USING hnsw (embedding vector_cosine_ops)")
