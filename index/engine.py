"""The engine's one entry point: ask questions, rebuild the index, describe it.

`Engine` is synchronous and thread-safe. Questions are answered from an immutable `Snapshot`;
a rebuild prepares a new one on disk while questions keep using the old, then swaps the
reference, so nobody ever sees half an index. Callers that must not block (the Discord bot)
run these methods in their own executor.
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from index.answer import WEIGHTS, Weights, compose
from index.build import build_index, chunk_settings
from index.config import Config
from index.corpus import article_path, decode
from index.embedding import Embedder, make_embedder
from index.errors import IndexMismatchError, QuestionError, ReindexInProgressError
from index.followup import Turn, in_context
from index.model import Answer, ArticleInfo, BuildProgress, BuildReport, IndexStatus
from index.reader import Reader, shared_reader
from index.retrieval import search
from index.store import Snapshot, current_generation, load_snapshot

# Passages fetched per question; more than are cited, so duplicates can be dropped.
_FETCH = 10


class Engine:
    """Answers questions about the corpus from the index on disk."""

    def __init__(self, config: Config, embedder: Embedder) -> None:
        self.config = config
        self.embedder = embedder
        self._snapshot: Snapshot | None = None
        self.reader: Reader | None = shared_reader() if config.answer.reader else None
        self.weights: Weights = WEIGHTS
        self._open_lock = threading.Lock()
        self._build_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config, embedder: Embedder | None = None) -> Engine:
        """An engine for this configuration; the model is loaded on first use, not here."""
        return cls(config, embedder or make_embedder(config.index))

    @property
    def index_dir(self) -> Path:
        """Where the index lives."""
        return self.config.index.index_dir

    @property
    def indexed(self) -> bool:
        """Whether an index has been built here (a server's own corpus may have none yet); once open, no disk read."""
        return self._snapshot is not None or current_generation(self.index_dir) is not None

    def snapshot(self) -> Snapshot:
        """The generation CURRENT names, opened on first use and again whenever CURRENT moves on.

        Another process (`articlebot index` beside a running bot) may publish a newer generation and
        remove the one served here; one small read of CURRENT per call notices it. Raises if the
        index is missing or does not fit.
        """
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
                    release_free_memory()  # the old generation's arrays are garbage now
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
        snapshot = self.snapshot()
        k = top_k or self.config.answer.top_k
        _ = self.embedder.dimension  # loads the model first, so its load is not counted as answer time
        began = time.perf_counter()
        texts = [in_context(q.strip(), before) for q in questions]
        queries = self.embedder.encode(texts)
        embedding_ms = (time.perf_counter() - began) * 1000 / max(1, len(questions))
        answers = []
        for question, text, query in zip(questions, texts, queries, strict=True):
            started = time.perf_counter()
            hits = search(snapshot, text, query, max(_FETCH, 3 * k))
            answer = compose(snapshot, self.embedder, text, query, hits,
                             top_k=k, min_relevance=self._min_relevance(),
                             reader=self.reader, weights=self.weights,
                             reader_candidates=self.config.answer.reader_candidates,
                             reader_threshold=self.config.answer.reader_threshold)
            elapsed_ms = embedding_ms + (time.perf_counter() - started) * 1000
            answers.append(replace(answer, question=question.strip(), elapsed_ms=elapsed_ms))
        return answers

    def _min_relevance(self) -> float:
        answer = self.config.answer
        return answer.reader_min_relevance if self.reader is not None else answer.min_relevance

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

    def rebuild(self, progress: Callable[[BuildProgress], None] | None = None) -> BuildReport:
        """Bring the index up to date with the corpus and serve the result; the old index serves meanwhile."""
        if not self._build_lock.acquire(blocking=False):
            raise ReindexInProgressError("the index is already being rebuilt; try again when it has finished")
        try:
            report = build_index(self.config.index, self.embedder, progress)
            self.snapshot()  # serves what CURRENT names now, whoever published it
            return report
        finally:
            self._build_lock.release()
            release_free_memory()

    def ensure_index(self, progress: Callable[[BuildProgress], None] | None = None) -> BuildReport:
        """Build the index if it is missing or stale for the corpus (cheap when it is current), then open it."""
        return self.rebuild(progress)

    def status(self) -> IndexStatus:
        """Counts and provenance of the index being served."""
        snapshot = self.snapshot()
        manifest = snapshot.manifest
        return IndexStatus(articles=len(manifest.articles), chunks=manifest.chunks, model=manifest.model,
                           backend=manifest.backend,
                           dimension=manifest.dimension, built_at=manifest.built_at,
                           index_dir=str(self.index_dir), skipped=manifest.skipped)

    def sources(self) -> list[ArticleInfo]:
        """The indexed articles, in corpus order."""
        return list(self.snapshot().manifest.articles)

    def article_text(self, source: str) -> str:
        """The text an article's citation offsets refer to: the file's text, or for HTML the extracted text."""
        snapshot = self.snapshot()
        if source in snapshot.extracted:
            return snapshot.extracted[source]
        if not any(a.source == source for a in snapshot.manifest.articles):
            raise QuestionError(f"{source} is not in the index (see `articlebot sources`)")
        return decode(article_path(self.config.index, source).read_bytes())[0]

    def changed_since_indexed(self, source: str) -> bool:
        """Whether the article's file now holds other bytes than were indexed (or is gone)."""
        indexed = next((a.sha256 for a in self.snapshot().manifest.articles if a.source == source), None)
        try:
            data = article_path(self.config.index, source).read_bytes()
        except OSError:
            return True
        return indexed is not None and hashlib.sha256(data).hexdigest() != indexed


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc only; elsewhere nothing).

    A build, or a new generation loaded beside the old one, frees tens of MB of arrays and
    tokenizer buffers; glibc keeps such freed memory in its per-thread arenas, so a bot's resident
    size would keep each reindex's peak for good. malloc_trim hands it back (a few ms).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.malloc_trim(0)
