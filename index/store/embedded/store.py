"""The embedded store: one corpus's index in segments under index_dir, mapped by every process that serves it.

Questions are answered from an immutable `Snapshot`; a build writes a new segment and generation on
disk while questions keep using the old one, then CURRENT is swapped, so nobody ever sees half an
index. Another process (`articlebot index` beside a running bot, the build child) may publish a
newer generation at any time: one small read of CURRENT per question notices it, and opening it
costs only its new segments (the others stay open, and were checked when they were opened).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from index import heap
from index.config import IndexConfig
from index.embedders import Embedder
from index.store import repetition_counts
from index.store.build import Progress, built_with
from index.store.embedded.build import build_index
from index.store.embedded.generations import current_generation, index_format, load_snapshot, verify
from index.store.embedded.legacy import LegacySnapshot
from index.store.embedded.repetition_table import RepetitionTable
from index.store.embedded.segment import Segment
from index.store.embedded.segmented import Snapshot
from index.store.manifest import check_built_with
from index.types import BuildReport

if TYPE_CHECKING:
    from index.store.postgres.database import Database


class EmbeddedStore:
    """The index in `config.index_dir`: opened on first use, and again whenever CURRENT moves on."""

    database: Database | None = None

    def __init__(self, config: IndexConfig, embedder: Embedder) -> None:
        self.config = config
        self.embedder = embedder
        self._snapshot: Snapshot | LegacySnapshot | None = None
        self._open_lock = threading.Lock()
        self._segments: dict[str, Segment] = {}  # the segments opened (and checked) so far, by name

    @property
    def where(self) -> str:
        """The index folder."""
        return str(self.config.index_dir)

    @property
    def indexed(self) -> bool:
        """Whether a generation is open or published (one small stat when none is open yet)."""
        return self._snapshot is not None or current_generation(self.config.index_dir) is not None

    def recheck_indexed(self) -> None:
        """Nothing to do: `indexed` looks at the folder itself."""

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot | LegacySnapshot]:
        """The generation CURRENT names, for one block (it stays valid after: a Snapshot is immutable)."""
        yield self.current()

    def current(self) -> Snapshot | LegacySnapshot:
        """The generation CURRENT names, opened on first use and again whenever CURRENT moves on.

        Raises if the index is missing, damaged or built with another model, backend or chunking.
        """
        index_dir = self.config.index_dir
        snapshot = self._snapshot
        if snapshot is not None and current_generation(index_dir) in (snapshot.folder, None):
            return snapshot
        if snapshot is None:
            self._open_lock.acquire()
        elif not self._open_lock.acquire(blocking=False):
            return snapshot  # another thread is opening the new one; this one serves meanwhile
        try:
            if self._snapshot is None or current_generation(index_dir) not in (self._snapshot.folder, None):
                replacing = self._snapshot is not None
                self._snapshot = self._open()
                if replacing:
                    heap.trim()  # the old generation's arrays are garbage now
            return self._snapshot
        finally:
            self._open_lock.release()

    def _open(self) -> Snapshot | LegacySnapshot:
        snapshot = load_snapshot(self.config.index_dir, ef_search=self.config.hnsw_ef_search, warm=True,
                                 opened=self._segments)
        check_built_with(snapshot.built_with, built_with(self.config, self.embedder),
                         f"the index in {self.where}")
        if isinstance(snapshot, Snapshot):  # forget the segments no longer served (questions under way keep theirs)
            self._segments = {s.name: s for s in snapshot.segments}
        return snapshot

    def build(self, progress: Progress | None = None, *, changed: Collection[str] | None = None) -> BuildReport:
        """Build a new generation in this process, then serve it (`changed`: see index/store/embedded/build.py)."""
        report = build_index(self.config, self.embedder, progress, changed=changed)
        self.current()
        return report

    def built_elsewhere(self) -> None:
        """Serve what CURRENT names now, whoever published it."""
        self.current()

    def serves_as_is(self) -> bool:
        """Never: the embedded index is built where it is served (a build of an unchanged corpus costs little)."""
        return False

    def repeated_on(self, source: str) -> frozenset[str]:
        """From the counts kept beside the live generation (none when it has none, or furniture is kept)."""
        snapshot = self.current()
        if isinstance(snapshot, LegacySnapshot):
            counts = repetition_counts.load(snapshot.folder)
            return counts.repeated_on(source) if counts is not None and source in counts.pages else frozenset()
        table = RepetitionTable.load(snapshot.folder, snapshot)
        return table.repeated_on(source) if table is not None else frozenset()

    def check(self) -> list[str]:
        """Every file of the live generation against the sizes and checksums its manifest records."""
        index_dir = self.config.index_dir
        if index_format(index_dir) == 1:  # raises IndexMissingError, or IndexMismatchError when unreadable
            return ["it records no checksums (written before index format 2): run `articlebot index` once to "
                    "convert it to the current format (nothing is embedded again)"]
        return verify(index_dir, full=True)

    def drop(self) -> None:
        """Delete the index folder."""
        self._snapshot = None
        self._segments = {}
        shutil.rmtree(self.config.index_dir, ignore_errors=True)

    def close(self) -> None:
        """Nothing to release: the arrays go with the store."""
