"""Reading one corpus's index from PostgreSQL: the same questions a `Snapshot` answers, asked in SQL.

A `PgSnapshot` lives inside one REPEATABLE READ, READ ONLY transaction (opened by
`PgStore.snapshot`), so everything it reads comes from one moment: an article replaced meanwhile
is seen whole before or whole after, and the chunk ids a search returns still resolve afterwards.
It offers what retrieval and answer composition use of a `Snapshot` (`dense.search`,
`lexical.search/terms/idf/unknown_words`, `vectors[...]`, `chunk`, `article`, `manifest`,
`extracted`), under the same names. Rows are fetched in batches and kept for the transaction: a
question costs a dense search, a BM25 search, one fetch of the candidates, and a term look-up.

BM25 is computed here from the statistics PgStore keeps (see index/store/postgres/store.py): the postings of
the question's terms are read as packed blocks (index/store/postgres/postings.py: a few hundred rows for a word
in most of a million passages) and summed with numpy (`top_bm25`), with the Lucene variant, k1 and
b of index/store/lexical.py, and bm25s' rounding of each term's weight to 32 bits, so the scores are
LexicalIndex.search's. Every posting of the question's words is read: the top k is exact.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Sequence

import numpy as np
import psycopg

from index.articles.chunking import Chunk
from index.store.lexical import stems, top_bm25
from index.store.manifest import BuiltWith, Manifest
from index.store.postgres.postings import Postings, unpacked
from index.types import ArticleInfo, SkippedFile

# A query's postings: one row per term, its blocks joined in order on the server (fewer rows to
# send and to parse than one per block: 9 ms instead of 12 for half a million postings), with each
# block's id and how many postings it holds, from which `unpacked` restores the passage ids.
_POSTINGS = """SELECT term, array_agg(block ORDER BY block), array_agg(octet_length(tfs) / 4 ORDER BY block),
                      string_agg(passages, ''::bytea ORDER BY block), string_agg(tfs, ''::bytea ORDER BY block),
                      string_agg(lengths, ''::bytea ORDER BY block)
               FROM articlebot.posting_blocks WHERE generation = %s AND term = ANY(%s::integer[])
               GROUP BY term"""


# A passage with its article, as PgSnapshot.remember reads it.
_COLUMNS = """p.id, p.source, p.start, p."end", p.paragraph, p.text, p.embedding,
              a.title, a.url, a.date, a.author, a.sha256, a.chunks"""
_ROWS = f"""SELECT {_COLUMNS}
            FROM articlebot.passages p JOIN articlebot.articles a USING (generation, source)
            WHERE p.generation = %s AND p.id = ANY(%s::bigint[])"""
# The nearest passages first (through the HNSW index), their articles joined to those few after.
_NEAREST = f"""SELECT {_COLUMNS}, p.distance
               FROM (SELECT *, embedding <=> %(query)b AS distance FROM articlebot.passages
                     WHERE generation = %(generation)s ORDER BY embedding <=> %(query)b LIMIT %(k)s) p
               JOIN articlebot.articles a USING (generation, source)"""


def corpus_name(corpus: str) -> str:
    """How messages name a corpus."""
    return "the shared corpus" if corpus == "" else f"corpus {corpus!r}"


class PgSnapshot:
    """One corpus's live index as one read transaction sees it: what questions are answered from."""

    def __init__(self, conn: psycopg.Connection[Any], corpus: str, row: tuple[Any, ...], where: str) -> None:
        self._conn = conn
        self.corpus = corpus
        self.where = where
        (self.generation, self._model, self._backend, self._dimension, self._settings, self._versions,
         self._skipped, self._built_at, self._passages, self._total_length) = row
        self._rows: dict[int, tuple[Chunk, np.ndarray]] = {}
        self._articles: dict[str, ArticleInfo] = {}
        self.closed = False
        self.vectors = PgVectors(self)
        self.dense = PgDense(self)
        self.lexical = PgLexical(self)
        self.extracted = PgExtracted(self)

    def __len__(self) -> int:
        return int(self._passages)

    @cached_property
    def manifest(self) -> Manifest:
        """The corpus's manifest, as the embedded store records it (articles in source order)."""
        articles = tuple(ArticleInfo(*row) for row in self.execute(
            """SELECT source, title, url, date, author, sha256, chunks FROM articlebot.articles
               WHERE generation = %s ORDER BY source""", (self.generation,)))
        built: datetime = self._built_at
        return Manifest(model=self._model, backend=self._backend, dimension=int(self._dimension),
                        settings=dict(self._settings), built_at=built.astimezone(UTC).isoformat(timespec="seconds"),
                        versions=dict(self._versions), articles=articles,
                        skipped=tuple(SkippedFile(**s) for s in self._skipped), chunks=len(self))

    @property
    def built_with(self) -> BuiltWith:
        """The model, backend and settings the corpus was built with (no query: the generation's row has them)."""
        return BuiltWith(self._model, self._backend, dict(self._settings))

    def article(self, chunk_id: int) -> ArticleInfo:
        """The article a chunk belongs to."""
        return self._articles[self._row(chunk_id)[0].source]

    def chunk(self, chunk_id: int) -> Chunk:
        """A chunk by id, its text included."""
        return self._row(chunk_id)[0]

    def chunks_of(self, source: str) -> tuple[list[Chunk], np.ndarray]:
        """All chunks of one article, in order, and their vectors."""
        ids = [row[0] for row in self.execute(
            "SELECT id FROM articlebot.passages WHERE generation = %s AND source = %s ORDER BY id",
            (self.generation, source))]
        self.fetch(ids)
        if not ids:
            return [], np.zeros((0, self._dimension), dtype=np.float32)
        return [self._rows[i][0] for i in ids], np.stack([self._rows[i][1] for i in ids])

    def _row(self, chunk_id: int) -> tuple[Chunk, np.ndarray]:
        chunk_id = int(chunk_id)
        if chunk_id not in self._rows:
            self.fetch([chunk_id])
        try:
            return self._rows[chunk_id]
        except KeyError:
            raise KeyError(f"no chunk {chunk_id} in {corpus_name(self.corpus)}") from None

    def fetch(self, ids: Sequence[int]) -> None:
        """Read the chunks, vectors and articles of these ids that were not read yet, in one query."""
        missing = sorted({int(i) for i in ids} - self._rows.keys())
        if missing:
            self.remember(self.execute(_ROWS, (self.generation, missing), binary=True))

    def remember(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Keep rows selected as in _ROWS (a search may select them with its results)."""
        for (id_, source, start, end, paragraph, text, embedding, *article) in rows:
            vector = np.asarray(embedding.to_numpy() if hasattr(embedding, "to_numpy") else embedding, np.float32)
            self._rows[int(id_)] = (Chunk(source, start, end, paragraph, text), vector)
            if source not in self._articles:
                self._articles[source] = ArticleInfo(source, *article)

    def execute(self, query: Any, params: Any = None, *, binary: bool = False) -> list[tuple[Any, ...]]:
        """Run one query in this snapshot's transaction and return its rows."""
        with self._cursor(binary=binary) as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    def _cursor(self, *, binary: bool) -> psycopg.Cursor[Any]:
        """A cursor in this snapshot's transaction, which must still be open."""
        if self.closed:
            raise RuntimeError("this PgSnapshot's transaction has ended; open another with PgStore.snapshot")
        return self._conn.cursor(binary=binary)

    def postings(self, terms: Sequence[int]) -> dict[int, Postings]:
        """Each term's postings in this generation: passage ids, term frequencies, passage lengths."""
        rows = self.execute(_POSTINGS, (self.generation, sorted(terms)), binary=True)
        return {int(term): unpacked(*packed) for term, *packed in rows}

    @property
    def average_length(self) -> float:
        """The passages' mean length in terms, as BM25 normalises by it."""
        return float(self._total_length) / max(1, int(self._passages))


class PgVectors:
    """`snapshot.vectors[ids]`: unit vectors by chunk id, read from the database on first use."""

    def __init__(self, snapshot: PgSnapshot) -> None:
        self._snapshot = snapshot

    @property
    def shape(self) -> tuple[int, int]:
        """(chunks, dimension), as a Snapshot's vectors array."""
        return len(self._snapshot), int(self._snapshot._dimension)

    def __len__(self) -> int:
        return len(self._snapshot)

    def __getitem__(self, ids: Any) -> np.ndarray:
        if np.ndim(ids) == 0:
            return self._snapshot._row(int(ids))[1]
        wanted = [int(i) for i in np.asarray(ids).ravel()]
        self._snapshot.fetch(wanted)
        if not wanted:
            return np.zeros((0, self.shape[1]), dtype=np.float32)
        return np.stack([self._snapshot._row(i)[1] for i in wanted])


class PgDense:
    """Nearest passages by cosine, through pgvector's HNSW index (exact when the planner finds that cheaper)."""

    def __init__(self, snapshot: PgSnapshot) -> None:
        self._snapshot = snapshot

    def __len__(self) -> int:
        return len(self._snapshot)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest passages to one unit query vector: (ids, cosines), best first."""
        k = min(k, len(self._snapshot))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        vector = np.ascontiguousarray(query, dtype=np.float32).ravel()
        rows = self._snapshot.execute(
            _NEAREST, {"query": vector, "generation": self._snapshot.generation, "k": k}, binary=True)
        # relaxed_order iterative scans may return neighbours slightly out of order; the join, in any order.
        rows.sort(key=lambda row: (row[-1], row[0]))
        self._snapshot.remember([row[:-1] for row in rows])
        ids = np.asarray([row[0] for row in rows], dtype=np.int64)
        return ids, np.asarray([1.0 - row[-1] for row in rows], dtype=np.float32)


class PgLexical:
    """BM25 over the corpus's passages from its postings in the database, and the term statistics sentences reuse."""

    def __init__(self, snapshot: PgSnapshot) -> None:
        self._snapshot = snapshot
        self._known: dict[str, tuple[int, int] | None] = {}  # stem -> (term id, document frequency)
        self._df: dict[int, int] = {}

    def _look_up(self, wanted: set[str]) -> None:
        missing = sorted(s for s in wanted if s and s not in self._known)
        if not missing:
            return
        for stem in missing:
            self._known[stem] = None
        for stem, term, df in self._snapshot.execute(
                """SELECT t.stem, t.id, d.df FROM articlebot.terms t
                   JOIN articlebot.term_df d ON d.term = t.id AND d.generation = %s
                   WHERE t.stem = ANY(%s::text[])""", (self._snapshot.generation, missing)):
            self._known[stem] = (int(term), int(df))
            self._df[int(term)] = int(df)

    def terms(self, texts: Sequence[str]) -> list[list[int]]:
        """Term ids of each text (stemmed, stop words out); words the corpus never saw are dropped."""
        rows = stems(texts)
        self._look_up({s for row in rows for s in row})
        return [[known[0] for s in row if (known := self._known.get(s))] for row in rows]

    def idf(self, term: int) -> float:
        """How informative a term is; unknown terms count as the rarest."""
        documents = max(1, len(self._snapshot))
        df = self._df.get(term)
        if df is None:
            return math.log(1.0 + documents)
        return float(np.float32(math.log(1.0 + (documents - df + 0.5) / (df + 0.5))))

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best passages for a query: (ids, BM25 scores), best first; zero scores dropped."""
        (terms,) = self.terms([query])
        if not terms or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        times = Counter(terms)
        asked = {t: (times[t], self.idf(t)) for t in times}
        return top_bm25(self._snapshot.postings(list(times)), asked, self._snapshot.average_length, k)

    def unknown_words(self, text: str) -> int:
        """How many informative words of a text the corpus never saw (a question about other things has many)."""
        (row,) = stems([text])
        self._look_up(set(row))
        return sum(1 for s in row if s and self._known.get(s) is None)


class PgExtracted(Mapping[str, str]):
    """The extracted text of HTML articles by source (what their citations' offsets refer to)."""

    def __init__(self, snapshot: PgSnapshot) -> None:
        self._snapshot = snapshot

    def __getitem__(self, source: str) -> str:
        rows = self._snapshot.execute(
            """SELECT extracted FROM articlebot.articles
               WHERE generation = %s AND source = %s AND extracted IS NOT NULL""",
            (self._snapshot.generation, source))
        if not rows:
            raise KeyError(source)
        return str(rows[0][0])

    def __iter__(self) -> Iterator[str]:
        return iter([row[0] for row in self._snapshot.execute(
            """SELECT source FROM articlebot.articles WHERE generation = %s AND extracted IS NOT NULL
               ORDER BY source""", (self._snapshot.generation,))])

    def __len__(self) -> int:
        rows = self._snapshot.execute(
            "SELECT count(*) FROM articlebot.articles WHERE generation = %s AND extracted IS NOT NULL",
            (self._snapshot.generation,))
        return int(rows[0][0])
