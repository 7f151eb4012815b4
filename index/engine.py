"""The engine's one entry point: ask questions, rebuild the index, describe it.

`Engine` is synchronous and thread-safe. It reads and builds one corpus's index through a `Store`
(index/store/base.py): generation folders under index_dir, or a corpus in the index database
(`[index] store = "postgres"`); it never asks which. Either way a question sees the index whole,
before or after a rebuild, never half of one. Callers that must not block (the Discord bot) run
these methods in their own executor.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Collection
from contextlib import AbstractContextManager
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
from index.articles.repetition import for_page
from index.config import Config
from index.embedders import Embedder, make_embedder
from index.errors import QuestionError, ReindexInProgressError
from index.store.base import Store, open_store
from index.store.build_process import build_in_subprocess
from index.store.manifest import Manifest
from index.store.repetition_counts import lines_of
from index.store.searchable import StoreSnapshot
from index.types import Answer, ArticleInfo, BuildProgress, BuildReport, IndexStatus

if TYPE_CHECKING:
    from index.store.postgres.database import Database

log = logging.getLogger(__name__)

# Passages fetched per question; more than are cited, so duplicates can be dropped.
_FETCH = 10


class Engine:
    """Answers questions about one corpus from its index, kept in files or in the index database.

    With `[index] store = "postgres"`, `database` is the handle the engines of one process's corpora
    share (its owner closes it); without one, the engine's store opens its own and `close()` closes it.
    """

    def __init__(self, config: Config, embedder: Embedder, *, database: Database | None = None) -> None:
        self.config = config
        self.embedder = embedder
        self.store: Store = open_store(config.index, embedder, database=database)
        self.reader: Reader | None = shared_reader() if config.answer.reader else None
        self.models: Models | None = shared_models() if config.answer.reader else None
        self.weights: Weights = WEIGHTS
        self._build_lock = threading.Lock()
        self._lines = ArticleLines(self._indexed_text)

    @classmethod
    def from_config(cls, config: Config, embedder: Embedder | None = None) -> Engine:
        """An engine for this configuration; the model is loaded on first use, not here, and so is the database."""
        return cls(config, embedder or make_embedder(config.index))

    def close(self) -> None:
        """Release what the store opened (the index database, if this engine's store connected to it)."""
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def database(self) -> Database | None:
        """The index database, for the engines of other corpora of this process to share; None for files."""
        return self.store.database

    @property
    def index_dir(self) -> Path:
        """Where the index lives (with the database, where the question record and feed state live)."""
        return self.config.index.index_dir

    @property
    def indexed(self) -> bool:
        """Whether this corpus has an index (a server's own corpus may have none yet); never waits."""
        return self.store.indexed

    def recheck_indexed(self) -> None:
        """Ask again whether a corpus found without an index has one now (blocks: not on the loop)."""
        self.store.recheck_indexed()

    def snapshot(self) -> AbstractContextManager[StoreSnapshot]:
        """The index questions are answered from, for one block.

        Raises IndexMissingError when there is none yet, IndexMismatchError when it was built with
        another model, backend or chunking, IndexDatabaseError when the database cannot be reached.
        """
        return self.store.snapshot()

    def ask(self, question: str, *, top_k: int | None = None, before: Turn | None = None) -> Answer:
        """Answer one question; `before` is the conversation's previous exchange, for a follow-up."""
        return self.ask_many([question], top_k=top_k, before=before)[0]

    def ask_many(self, questions: Sequence[str], *, top_k: int | None = None,
                 before: Turn | None = None) -> list[Answer]:
        """Answer several questions, embedding them in one batch (each read after `before`, if given)."""
        for question in questions:
            self.check_question(question)
        k = top_k or self.config.answer.top_k
        with self.snapshot() as snapshot:
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
        with self.snapshot() as snapshot:
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
                separate_process: bool = False, changed: Collection[str] | None = None) -> BuildReport:
        """Bring the index up to date with the corpus and serve the result; the old index serves meanwhile.

        With `separate_process`, the index is built by a child process (index/store/build_process.py) that
        makes the embedder the configuration names (and, with the database, its own connection), if
        this engine's embedder is that one; the engine then serves what the child published.
        `changed`: the sources the caller changed (added, replaced or removed), when it knows them all;
        the embedded store then reads only those (None: every file is checked).
        """
        if not self._build_lock.acquire(blocking=False):
            raise ReindexInProgressError("the index is already being rebuilt; try again when it has finished")
        try:
            if separate_process and self._embedder_is_configured():
                report = build_in_subprocess(self.config.index, progress, changed=changed)
                self.store.built_elsewhere()
            else:
                report = self.store.build(progress, changed=changed)
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
        if self.store.serves_as_is():
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
        return self.store.where

    def manifest(self) -> Manifest:
        """The served index's manifest: what it holds, built with what."""
        with self.snapshot() as snapshot:
            return snapshot.manifest

    def sources(self) -> list[ArticleInfo]:
        """The indexed articles, in corpus order."""
        return list(self.manifest().articles)

    def article_text(self, source: str) -> str:
        """The text an article's citation offsets refer to: the file's text, or for HTML the extracted text."""
        with self.snapshot() as snapshot:
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
        repeated = for_page(lines_of(article), self.store.repeated_on(source))
        return article.text, [w for p in article.paragraphs
                              for w in left_out(article.text, p.span, repeated=repeated, title=article.title)]

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
        with self.snapshot() as snapshot:
            extracted = snapshot.extracted.get(source)  # one query with the database, where `in` and [] are two
        if extracted is not None:
            return extracted
        return decode(article_path(self.config.index, source).read_bytes())[0]

    def changed_since_indexed(self, source: str) -> bool:
        """Whether the text the article's citation offsets refer to may have changed since it was indexed.

        True when its file now holds other bytes than were indexed, or is gone; never for an HTML
        article, whose extracted text the index keeps (its offsets refer to that).
        """
        with self.snapshot() as snapshot:
            if source in snapshot.extracted:
                return False
            indexed = next((a.sha256 for a in snapshot.manifest.articles if a.source == source), None)
        try:
            data = article_path(self.config.index, source).read_bytes()
        except OSError:
            return True
        return indexed is not None and hashlib.sha256(data).hexdigest() != indexed
