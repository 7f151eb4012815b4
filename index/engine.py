"""The engine's one entry point: ask questions, rebuild the index, describe it.

`Engine` is synchronous and thread-safe. With the embedded store, questions are answered from an
immutable `Snapshot`; a rebuild prepares a new one on disk while questions keep using the old,
then swaps the reference, so nobody ever sees half an index. With `[index] store = "postgres"`,
each question reads its corpus's live generation in a read transaction of its own (a
`PgSnapshot`), and a rebuild writes one article per transaction (index/store/postgres/build.py), so a
question sees each article whole, before or after its update. Callers that must not block (the
Discord bot) run these methods in their own executor.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from index import heap
from index.answering.answer import WEIGHTS, Gathered, Weights, compose, gather
from index.answering.followup import Turn, in_context
from index.answering.ranking import Models, shared_models
from index.answering.reader import Reader, shared_reader
from index.answering.retrieval import search
from index.articles.corpus import CorpusFile, article_path, decode, read_article
from index.articles.furniture import LeftOut, left_out
from index.articles.lines import ArticleLines
from index.config import Config
from index.embedders import Embedder, make_embedder
from index.errors import (
    ArticlebotError,
    IndexMismatchError,
    IndexMissingError,
    QuestionError,
    ReindexInProgressError,
)
from index.store import repetition_counts
from index.store.build import build_index, chunk_settings
from index.store.build_process import build_in_subprocess
from index.store.embedded.generations import Manifest, Snapshot, current_generation, load_snapshot
from index.store.postgres.database import Database
from index.types import Answer, ArticleInfo, BuildProgress, BuildReport, IndexStatus

if TYPE_CHECKING:
    from index.store.postgres.snapshot import PgSnapshot

log = logging.getLogger(__name__)

# Passages fetched per question; more than are cited, so duplicates can be dropped.
_FETCH = 10
# Seconds a corpus found without an index in the database is taken to have none before
# `recheck_indexed` asks the database again (another process may have built it meanwhile).
_MISSING_FOR = 5.0


class Engine:
    """Answers questions about one corpus from its index: files in index_dir, or a corpus in the index database.

    With `[index] store = "postgres"` the engine reads and writes through `database`: given (the
    engines of one process's corpora share one, and its owner closes it) or opened on first use
    and closed by `close()`.
    """

    def __init__(self, config: Config, embedder: Embedder, *, database: Database | None = None) -> None:
        self.config = config
        self.embedder = embedder
        self._snapshot: Snapshot | None = None
        self.reader: Reader | None = shared_reader() if config.answer.reader else None
        self.models: Models | None = shared_models() if config.answer.reader else None
        self.weights: Weights = WEIGHTS
        self._open_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._owns_database = database is None and config.index.uses_database
        self.database = Database.from_config(config.index) if self._owns_database else database
        if self.database is not None and not config.index.uses_database:
            raise ValueError("a database was given for an index that is kept in files (index.store = 'embedded')")
        self._missing_since: float | None = None
        self._lines = ArticleLines(self._indexed_text)

    @classmethod
    def from_config(cls, config: Config, embedder: Embedder | None = None) -> Engine:
        """An engine for this configuration; the model is loaded on first use, not here, and so is the database."""
        return cls(config, embedder or make_embedder(config.index))

    def close(self) -> None:
        """Close the index database if this engine opened it (nothing to do for an index in files)."""
        if self._owns_database and self.database is not None:
            self.database.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def index_dir(self) -> Path:
        """Where the index lives (with the database, where the question record and feed state live)."""
        return self.config.index.index_dir

    @property
    def indexed(self) -> bool:
        """Whether this corpus has an index (a server's own corpus may have none yet).

        Read on the event loop for every question, so it never waits: once the embedded index is open
        it reads nothing from disk, and with the database it asks nothing: a corpus is without an index
        from when this engine found it so (a question, ensure_index) until it builds one or
        `recheck_indexed` finds one.
        """
        if self.database is not None:
            return self._missing_since is None
        return self._snapshot is not None or current_generation(self.index_dir) is not None

    def recheck_indexed(self) -> None:
        """With the database, ask again whether a corpus found without an index has one now (blocks: not on the loop).

        Another process (`articlebot index --guild`, another shard's /add) may have built it. Asks at
        most every few seconds; a database that cannot be reached leaves the answer as it was.
        """
        missing = self._missing_since
        if self.database is None or missing is None or time.monotonic() - missing < _MISSING_FOR:
            return
        try:
            live = self.database.store().live_generation(self.config.index.corpus_key)
        except ArticlebotError as e:
            log.warning("%s: could not ask the index database whether it has an index now: %s", self.where, e)
            live = None
        self._missing_since = None if live is not None else time.monotonic()

    @contextmanager
    def reading(self) -> Iterator[Snapshot | PgSnapshot]:
        """The index questions are answered from, for one block: the open Snapshot, or a read transaction.

        Raises IndexMissingError when there is none yet, IndexMismatchError when it was built with
        another model, backend or chunking, IndexDatabaseError when the database cannot be reached.
        """
        if self.database is None:
            yield self.snapshot()
            return
        corpus = self.config.index.corpus_key
        try:
            with self.database.store().snapshot(corpus) as snapshot:
                self._missing_since = None
                snapshot.check(model=self.embedder.name, backend=self.embedder.backend,
                               settings=chunk_settings(self.config.index))
                yield snapshot
        except IndexMissingError:
            self._missing_since = time.monotonic()
            raise

    def snapshot(self) -> Snapshot:
        """The generation CURRENT names, opened on first use and again whenever CURRENT moves on.

        Another process (`articlebot index` beside a running bot) may publish a newer generation and
        remove the one served here; one small read of CURRENT per call notices it. Raises if the
        index is missing or does not fit. Only for an index in files; `reading()` serves both stores.
        """
        if self.database is not None:
            raise TypeError("the index is in the database (index.store = 'postgres'): read it with Engine.reading()")
        snapshot = self._snapshot
        if snapshot is not None and current_generation(self.index_dir) in (snapshot.folder, None):
            return snapshot
        if snapshot is None:
            self._open_lock.acquire()
        elif not self._open_lock.acquire(blocking=False):
            return snapshot  # another thread is opening the new one; this one serves meanwhile
        try:
            if self._snapshot is None or current_generation(self.index_dir) not in (self._snapshot.folder, None):
                replacing = self._snapshot is not None
                self._snapshot = self._open()
                if replacing:
                    heap.trim()  # the old generation's arrays are garbage now
            return self._snapshot
        finally:
            self._open_lock.release()

    def _open(self) -> Snapshot:
        snapshot = load_snapshot(self.index_dir, ef_search=self.config.index.hnsw_ef_search, warm=True)
        manifest = snapshot.manifest
        if manifest.model != self.embedder.name:
            raise IndexMismatchError(
                f"the index in {self.index_dir} was built with model {manifest.model!r} but the configuration "
                f"names {self.embedder.name!r}; run `articlebot index` to rebuild it")
        if manifest.backend != self.embedder.backend:
            raise IndexMismatchError(
                f"the index in {self.index_dir} was embedded with backend {manifest.backend!r} but the "
                f"configuration names {self.embedder.backend!r}; run `articlebot index` to rebuild it")
        if manifest.settings != chunk_settings(self.config.index):
            raise IndexMismatchError(
                f"the index in {self.index_dir} was built with other chunking settings "
                f"({manifest.settings}); run `articlebot index` to rebuild it")
        return snapshot

    def ask(self, question: str, *, top_k: int | None = None, before: Turn | None = None) -> Answer:
        """Answer one question; `before` is the conversation's previous exchange, for a follow-up."""
        return self.ask_many([question], top_k=top_k, before=before)[0]

    def ask_many(self, questions: Sequence[str], *, top_k: int | None = None,
                 before: Turn | None = None) -> list[Answer]:
        """Answer several questions, embedding them in one batch (each read after `before`, if given)."""
        for question in questions:
            self.check_question(question)
        k = top_k or self.config.answer.top_k
        with self.reading() as snapshot:
            _ = self.embedder.dimension  # loads the model first, so its load is not counted as answer time
            began = time.perf_counter()
            texts = [in_context(q.strip(), before) for q in questions]
            queries = self.embedder.encode(texts)
            embedding_ms = (time.perf_counter() - began) * 1000 / max(1, len(questions))
            answers = []
            for question, text, query in zip(questions, texts, queries, strict=True):
                started = time.perf_counter()
                hits = search(snapshot, text, query, max(_FETCH, 3 * k))
                answer = compose(snapshot, self.embedder, text, query, hits, settings=self.config.answer,
                                 top_k=k, reader=self.reader, weights=self.weights, models=self.models)
                elapsed_ms = embedding_ms + (time.perf_counter() - started) * 1000
                answers.append(replace(answer, question=question.strip(), elapsed_ms=elapsed_ms))
        return answers

    def gather_many(self, questions: Sequence[str]) -> list[Gathered | None]:
        """Each question's candidate sentences and their signals, exactly as `ask_many` reaches them.

        What the ranker chooses from: training/train_ranker.py learns the choice from these.
        """
        k = self.config.answer.top_k
        with self.reading() as snapshot:
            queries = self.embedder.encode([q.strip() for q in questions])
            return [gather(snapshot, self.embedder, q.strip(), query, search(snapshot, q.strip(), query,
                                                                              max(_FETCH, 3 * k)),
                           reader=self.reader, reader_candidates=self.config.answer.reader_candidates,
                           weights=self.weights)
                    for q, query in zip(questions, queries, strict=True)]

    def check_question(self, question: str) -> None:
        """Raise QuestionError, in plain words, for a question that cannot be asked."""
        text = question.strip()
        limit = self.config.answer.max_question_chars
        if not text:
            raise QuestionError("the question is empty; ask something about the articles")
        if len(text) > limit:
            raise QuestionError(f"the question is {len(text)} characters long; please keep it under {limit}")
        if not any(ch.isalnum() for ch in text):
            raise QuestionError("the question has no words in it; ask something about the articles")
        if any("\ud800" <= ch <= "\udfff" for ch in text):  # bytes that were not UTF-8, or JSON's "\ud800"
            raise QuestionError("the question holds bytes that are not text (not valid UTF-8, or half of a "
                                "character); type it again")

    def rebuild(self, progress: Callable[[BuildProgress], None] | None = None, *,
                separate_process: bool = False) -> BuildReport:
        """Bring the index up to date with the corpus and serve the result; the old index serves meanwhile.

        With `separate_process`, the index is built by a child process (index/store/build_process.py) that
        makes the embedder the configuration names (and, with the database, its own connection), if
        this engine's embedder is that one; the engine then serves what the child published.
        """
        if not self._build_lock.acquire(blocking=False):
            raise ReindexInProgressError("the index is already being rebuilt; try again when it has finished")
        try:
            if separate_process and self._embedder_is_configured():
                report = build_in_subprocess(self.config.index, progress)
            elif self.database is not None:
                from index.store.postgres.build import build_in_database

                report = build_in_database(self.config.index, self.embedder, self.database.store(), progress)
            else:
                report = build_index(self.config.index, self.embedder, progress)
            if self.database is not None:
                self._missing_since = None
            else:
                self.snapshot()  # serves what CURRENT names now, whoever published it
            return report
        finally:
            self._build_lock.release()
            heap.trim()

    def _embedder_is_configured(self) -> bool:
        """Whether the embedder the configuration names makes the same vectors as this engine's (not a test's)."""
        return (self.embedder.name, self.embedder.backend) == (self.config.index.model, self.config.index.backend)

    def ensure_index(self, progress: Callable[[BuildProgress], None] | None = None) -> BuildReport | None:
        """Build the index if it is missing or stale for the corpus (cheap when it is current), then open it.

        With the database, a process on a host without the corpus folder (nor, for a server's own
        corpus, the shared one) serves the corpus as the database holds it, and returns None: the
        folder is needed only to build it.
        """
        if self.database is not None:
            live = self.database.store().live_generation(self.config.index.corpus_key) is not None
            self._missing_since = None if live else time.monotonic()
            folders = (self.config.index.corpus_dir, self.config.index.shared_corpus_dir)
            if live and not any(folder is not None and folder.is_dir() for folder in folders):
                log.info("%s: no corpus folder %s on this host; serving the corpus as the database holds it",
                         self.where, self.config.index.corpus_dir)
                return None
        return self.rebuild(progress)

    def status(self) -> IndexStatus:
        """Counts and provenance of the index being served."""
        manifest = self.manifest()
        return IndexStatus(articles=len(manifest.articles), chunks=manifest.chunks, model=manifest.model,
                           backend=manifest.backend,
                           dimension=manifest.dimension, built_at=manifest.built_at,
                           index_dir=self.where, skipped=manifest.skipped)

    @property
    def where(self) -> str:
        """Where the index is, for people: its folder, or its corpus in the database (never the password)."""
        if self.database is None:
            return str(self.index_dir)
        from index.store.postgres.schema import describe
        from index.store.postgres.snapshot import corpus_name

        return f"{corpus_name(self.config.index.corpus_key)} in the {describe(self.config.index.database_url)}"

    def manifest(self) -> Manifest:
        """The served index's manifest: what it holds, built with what."""
        with self.reading() as snapshot:
            return snapshot.manifest

    def sources(self) -> list[ArticleInfo]:
        """The indexed articles, in corpus order."""
        return list(self.manifest().articles)

    def article_text(self, source: str) -> str:
        """The text an article's citation offsets refer to: the file's text, or for HTML the extracted text."""
        with self.reading() as snapshot:
            if source in snapshot.extracted:
                return snapshot.extracted[source]
            if not any(a.source == source for a in snapshot.manifest.articles):
                raise QuestionError(f"{source} is not in the index (see `articlebot sources`)")
        return decode(article_path(self.config.index, source).read_bytes())[0]

    def furniture(self, source: str) -> tuple[str, list[LeftOut]]:
        """An indexed article's text and what its passages leave out as site furniture, each part with why."""
        self.article_text(source)  # refuses an article that is not indexed
        path = article_path(self.config.index, source)
        data = path.read_bytes()
        article = read_article(CorpusFile(source, path, hashlib.sha256(data).hexdigest(), data))
        if not self.config.index.skip_furniture:
            return article.text, []
        counts = None if self.config.index.uses_database else repetition_counts.load(
            current_generation(self.index_dir))
        repeated = counts.repeated_on(source) if counts and source in counts.pages else frozenset()
        return article.text, [w for p in article.paragraphs
                              for w in left_out(article.text, p.span, repeated=repeated)]

    def locate(self, answer: Answer) -> Answer:
        """The answer with each citation's line in its article's text (blocks: reads articles not read lately).

        Kept apart from `ask` because only what is shown to people needs it: an eval or a benchmark
        asks thousands of questions and reads no article. A citation whose text cannot be read
        (a host serving the index database without the corpus folder) is left without a line.
        """
        return self._lines.locate(answer)

    def _indexed_text(self, source: str) -> str:
        """`article_text` without its check that the source is indexed, which lists every article: a
        citation names an indexed one, and its quote is checked against the text read."""
        with self.reading() as snapshot:
            extracted = snapshot.extracted.get(source)  # one query with the database, where `in` and [] are two
        if extracted is not None:
            return extracted
        return decode(article_path(self.config.index, source).read_bytes())[0]

    def changed_since_indexed(self, source: str) -> bool:
        """Whether the text the article's citation offsets refer to may have changed since it was indexed.

        True when its file now holds other bytes than were indexed, or is gone; never for an HTML
        article, whose extracted text the index keeps (its offsets refer to that).
        """
        with self.reading() as snapshot:
            if source in snapshot.extracted:
                return False
            indexed = next((a.sha256 for a in snapshot.manifest.articles if a.source == source), None)
        try:
            data = article_path(self.config.index, source).read_bytes()
        except OSError:
            return True
        return indexed is not None and hashlib.sha256(data).hexdigest() != indexed
