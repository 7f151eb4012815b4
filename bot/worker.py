"""The one place that owns the bot's threads: every blocking engine call runs here, off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import threading
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Callable, TypeVar

from index import (
    Answer,
    ArticleInfo,
    BuildProgress,
    BuildReport,
    BuildStoppedError,
    Citation,
    Config,
    Entry,
    FeedHealth,
    Gap,
    IndexStatus,
    Record,
    ReindexInProgressError,
    Summary,
    Turn,
    heap,
)
from index.articles import feeds

if TYPE_CHECKING:
    from index import Engine

T = TypeVar("T")

log = logging.getLogger(__name__)

# Questions answered at once; more wait their turn in the queue, never on the event loop.
QUESTION_THREADS = 4
# Seconds between two tries to build an index whose build lock another process holds.
OTHER_BUILD_POLL = 1.0
# Questions between two hand-backs of the C heap's free pages (heap.trim, 1-3 ms). Questions free
# as much as they allocate, but reuse the heap's free chunks unevenly, so ever more of its free
# pages get touched: under the soak the bot's resident size crept up by ~20 MB over 11,000 questions
# while glibc's count of bytes in use stayed flat, and one malloc_trim took it down by 7 MB (issue 15).
TRIM_EVERY = 50


class Threads:
    """The threads that questions and rebuilds run in, shared by the workers of every corpus.

    Questions from every server share one small pool, so the CPU is never asked for more answers at
    once than it has room for; rebuilds run in one thread, one at a time, so that several servers'
    indexes are never built at once (a build holds its new vectors and the model's batches in memory).
    """

    def __init__(self, questions: int = QUESTION_THREADS) -> None:
        if questions < 1:
            raise ValueError(f"questions must be at least 1, not {questions}")
        self.questions = ThreadPoolExecutor(max_workers=questions, thread_name_prefix="articlebot-ask")
        self.rebuilds = ThreadPoolExecutor(max_workers=1, thread_name_prefix="articlebot-rebuild")
        self._answered = itertools.count(1)

    def answered(self) -> None:
        """Count a question answered (in its question thread); every TRIM_EVERY, trim the C heap."""
        if next(self._answered) % TRIM_EVERY == 0:
            heap.trim()

    def shutdown(self) -> None:
        """Let running work finish, then stop the threads (blocks: call it from a thread)."""
        self.questions.shutdown(wait=True, cancel_futures=True)
        self.rebuilds.shutdown(wait=True, cancel_futures=True)


class Worker:
    """Runs one engine's blocking calls in threads, so the gateway heartbeat never waits on them.

    Questions share a small pool; rebuilds run in a thread of their own, so questions keep being
    answered from the old index while one runs. Both may be shared with the workers of other
    corpora (`threads`: then a rebuild waits for another corpus's to finish); changes of the corpus
    folder get one thread per worker. Use it as an async context manager: leaving it waits for
    running work to finish and stops the threads it owns.
    """

    def __init__(self, engine: Engine, *, record: Record | None = None, threads: Threads | None = None) -> None:
        self.engine = engine
        self.record = record  # the question record, None when it is turned off
        self._own_threads = threads is None
        self.threads = threads or Threads()
        self._questions = self.threads.questions
        self._rebuilds = self.threads.rebuilds
        # Adding and removing articles (fetching pages and feeds included), one at a time: two adds
        # of the same link cannot both find it new, and a slow fetch never holds up a question.
        self._ingests = ThreadPoolExecutor(max_workers=1, thread_name_prefix="articlebot-ingest")
        self._rebuild: asyncio.Future[BuildReport] | None = None
        self._rebuilds_started = 0
        # The sources changed (by /add, /remove, feeds) that no started rebuild has read yet; None when
        # anything may have changed (the next rebuild then checks every file).
        self._pending: set[str] | None = set()
        # Set when the bot stops: a build in progress then ends at its next progress report, a feed
        # poll before its next page (both read it in their threads, hence a threading.Event), so that
        # stopping never waits for a long build or a feed of slow pages.
        self._stopping = threading.Event()

    @property
    def config(self) -> Config:
        """The configuration of this worker's corpus (for a server with its own: Config.for_guild's)."""
        return self.engine.config

    async def __aenter__(self) -> Worker:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Let running work finish, then stop the threads (without blocking the event loop)."""
        await asyncio.to_thread(self._shutdown)

    def stop(self) -> None:
        """The bot is stopping: a build in progress (or started later) raises BuildStoppedError at its next
        progress report, and a feed poll leaves the pages it has not fetched yet for the next poll.

        Nothing of a stopped build is published; the index being served stays as it was.
        """
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called."""
        return self._stopping.is_set()

    def _stoppable(self, progress: Callable[[BuildProgress], None]) -> Callable[[BuildProgress], None]:
        """`progress` for a build in the rebuild thread, passed on to the event loop unless the builds were stopped."""
        on_loop = _on_loop(asyncio.get_running_loop(), progress)

        def report(update: BuildProgress) -> None:
            if self._stopping.is_set():
                raise BuildStoppedError("the index build was stopped before it finished (the bot is stopping)")
            on_loop(update)

        return report

    def _shutdown(self) -> None:
        self._ingests.shutdown(wait=True, cancel_futures=True)
        if self._own_threads:
            self.threads.shutdown()

    def check_question(self, question: str) -> None:
        """Raise QuestionError if the engine would refuse this question; cheap, safe on the event loop."""
        self.engine.check_question(question)

    async def ask(self, question: str, *, before: Turn | None = None) -> Answer:
        """Answer a question in a worker thread, its citations' lines found there too (they may read articles);
        `before`: the exchange it follows up, if any."""
        def answer() -> Answer:
            try:
                return self.engine.locate(self.engine.ask(question, before=before))
            finally:
                self.threads.answered()

        return await self._in_thread(answer)

    async def remember(self, answer: Answer, *, asker: int, guild: int | None, channel: int | None) -> int | None:
        """Record a question and what was said, in a worker thread; its record id, or None with the record off."""
        if self.record is None:
            return None
        record = self.record
        return await self._in_thread(lambda: record.add(answer, asker=asker, guild=guild, channel=channel))

    async def vote(self, asked: int, voter: int, *, up: bool) -> bool:
        """Record a vote on a recorded answer; False if it is not (or no longer) recorded."""
        if self.record is None:
            return False
        record = self.record
        return await self._in_thread(lambda: record.vote(asked, voter, up=up))

    async def entry(self, asked: int) -> Entry | None:
        """A recorded question and its citations, or None."""
        if self.record is None:
            return None
        record = self.record
        return await self._in_thread(lambda: record.entry(asked))

    async def more_sources(self, question: str, shown: int, more: int) -> list[Citation]:
        """The passages after the first `shown` for a question: it is asked again for `shown + more` citations."""
        answer = await self._in_thread(lambda: self.engine.locate(self.engine.ask(question, top_k=shown + more)))
        return list(answer.citations[shown:])

    async def summary(self, days: int = 7) -> Summary | None:
        """Answers, declines and votes of the last `days` days, or None with the record off."""
        if self.record is None:
            return None
        record = self.record
        return await self._in_thread(lambda: record.summary(days))

    async def gaps(self, days: int, guild: int | None = None) -> list[Gap]:
        """What the articles left unanswered over `days` days, grouped (the model embeds the questions)."""
        if self.record is None:
            return []
        record = self.record
        return await self._in_thread(lambda: record.gaps(self.engine.embedder, days, guild=guild))

    async def feed_health(self) -> list[FeedHealth]:
        """How each feed of this corpus fares (read from its feed state file), in a worker thread."""
        config = self.config
        return await self._in_thread(lambda: feeds.health(config))

    async def _in_thread(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._questions, call)

    async def status(self) -> IndexStatus:
        """The served index's description, read in a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._questions, self.engine.status)

    async def sources(self) -> list[ArticleInfo]:
        """The indexed articles, read in a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._questions, self.engine.sources)

    def recheck_indexed(self) -> None:
        """Have a question thread ask whether the corpus has an index now (Engine.recheck_indexed); returns at once."""
        with contextlib.suppress(RuntimeError):  # the threads have stopped: the bot is shutting down
            self._questions.submit(self.engine.recheck_indexed)

    @property
    def rebuilding(self) -> bool:
        """Whether a rebuild started here is still running."""
        return self._rebuild is not None and not self._rebuild.done()

    def start_rebuild(self, progress: Callable[[BuildProgress], None], *, only_pending: bool = False
                      ) -> asyncio.Future[BuildReport]:
        """Start rebuilding the index and return its future; `progress` is called on the event loop.

        `only_pending`: read only the sources changed since the last rebuild started (when every
        change since was noted by `update_index`); otherwise every file is checked (/reindex).
        Raises ReindexInProgressError at once, before anything starts, if a rebuild is running.
        It is a plain function, not a coroutine, so that checking and starting cannot be interleaved.
        """
        if self.rebuilding:
            raise ReindexInProgressError("the index is already being rebuilt; try again when it has finished")
        loop = asyncio.get_running_loop()
        changed = self._pending if only_pending else None
        self._pending = set()
        rebuild = functools.partial(self.engine.rebuild, self._stoppable(progress),
                                    separate_process=self.config.index.build_in_subprocess, changed=changed)
        self._rebuild = loop.run_in_executor(self._rebuilds, rebuild)
        self._rebuild.add_done_callback(functools.partial(self._after_rebuild, changed))
        self._rebuilds_started += 1
        return self._rebuild

    def _after_rebuild(self, changed: set[str] | None, job: asyncio.Future[BuildReport]) -> None:
        """A rebuild that failed read nothing for good: what it was to read is pending again."""
        if job.cancelled() or job.exception() is not None:
            self._pending = None if changed is None or self._pending is None else self._pending | changed

    async def ingest(self, call: Callable[[], T]) -> T:
        """Run a change of the corpus folder (index.ingest, index.feeds) in the ingest thread, one at a time."""
        return await asyncio.get_running_loop().run_in_executor(self._ingests, call)

    async def update_index(self, changed: Collection[str] | None = None) -> BuildReport:
        """Bring the index up to date after the corpus folder changed, off the event loop.

        `changed`: the sources the change wrote or removed, when known: the rebuild then reads only
        the files changed since the last one started (at a million passages, checking every file
        took seconds). A rebuild already running may have read the folder before the change, so it
        is waited for and another one started; changes made meanwhile by others share that one. So
        is a build of the same index by another process (another shard of the bot, `articlebot index`).
        """
        self._pending = None if changed is None or self._pending is None else self._pending | set(changed)
        changed_after = self._rebuilds_started
        waits = 0
        while True:
            job = self._rebuild
            if job is not None and self._rebuilds_started > changed_after:
                try:
                    return await asyncio.shield(job)  # started after the change: it sees it
                except ReindexInProgressError:
                    # This process builds one index at a time (one rebuild thread), so the lock is
                    # another process's, whose build may have read the folder before the change.
                    await self._wait_for_other_build(waits)
                    waits += 1
                    changed_after = self._rebuilds_started
                    continue
            if job is not None and not job.done():
                await asyncio.wait({job})
                continue
            self.start_rebuild(_ignore, only_pending=True)

    async def ensure_index(self, progress: Callable[[BuildProgress], None]) -> BuildReport | None:
        """Build the index if it is missing or stale (cheap when it is current), in the rebuild thread.

        When another process is building the same index (the processes of a sharded bot starting
        together), its build is waited for, and the index then checked again. `stop` ends it early.
        """
        loop = asyncio.get_running_loop()
        report = self._stoppable(progress)
        waits = 0
        while True:
            try:
                return await loop.run_in_executor(self._rebuilds, self.engine.ensure_index, report)
            except ReindexInProgressError:
                await self._wait_for_other_build(waits)
                waits += 1

    async def _wait_for_other_build(self, waits: int) -> None:
        """Give another process's build of this index a moment (said in the log the first time)."""
        log.log(logging.DEBUG if waits else logging.INFO,
                "another process is building the index in %s; waiting for it", self.engine.index_dir)
        await asyncio.sleep(OTHER_BUILD_POLL)


def _ignore(progress: BuildProgress) -> None:
    pass


def _on_loop(
    loop: asyncio.AbstractEventLoop, callback: Callable[[BuildProgress], None]
) -> Callable[[BuildProgress], None]:
    """Wrap a callback so that calling it from a worker thread runs it on the event loop's thread."""

    def call(update: BuildProgress) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is listening any more
            loop.call_soon_threadsafe(callback, update)

    return call
