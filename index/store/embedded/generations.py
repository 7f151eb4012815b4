"""The embedded index on disk: immutable segments, generations that list them, and an atomic pointer to the live one.

Layout of the index directory (index format 3):

    CURRENT               name of the live generation (replaced atomically with os.replace)
    gen-<time>-<id>/      one generation, small:
        manifest.json     model, chunking settings, versions, skipped files, the live passages' count;
                          the segments, oldest first, each with the SHA-256 of its segment.json and
                          the articles deleted from it since it was written; the other files' sums
        repetition_*.npy  the furniture repetition counts (index/store/embedded/repetition_table.py)
    segments/seg-…/       the segments (index/store/embedded/segment.py), never changed once written
    DAMAGED               what `articlebot index --check` or a merge found damaged, until a build rebuilds
    .lock                 held while a build or a merge writes

A build writes its new and changed articles as one new segment, then a generation naming the
segments of the live one plus the new, with the replaced and removed articles marked deleted, and
only then points CURRENT at it: a reader sees the old index or the new one, never half of one.
A build killed midway leaves an orphan segment or generation, which the next build removes, as it
removes the segments no live generation names any more. Questions keep what they opened: the files
of a removed segment stay readable through the mappings of the processes that opened it.

Opening a generation checks its files, each segment's segment.json against the SHA-256 the
generation records, and each segment's files against segment.json: the sizes of all, the SHA-256
of all but the vectors and the graph (those are hashed before a merge copies them and by
`articlebot index --check`). A process hashes a segment once: segments never change. What
--check or a merge finds damaged is written to DAMAGED, and the next build starts from scratch.

Indexes written before segments (formats 1 and 2) are still read (index/store/embedded/legacy.py)
until the next build converts them, passages and vectors copied as they are.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Collection, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from index.errors import IndexMismatchError, IndexMissingError, ReindexInProgressError
from index.store.embedded import legacy
from index.store.embedded.legacy import LegacySnapshot
from index.store.embedded.segment import (
    BUILD_READS,
    LARGE_FILES,
    Segment,
    check_files,
    file_sums,
    fsync_dir,
    fsync_tree,
    read_meta,
    recorded_files,
    sha256_of,
)
from index.store.embedded.segmented import Snapshot
from index.store.manifest import Manifest, SegmentRef

_CURRENT = "CURRENT"
_MANIFEST = "manifest.json"
SEGMENTS = "segments"
DAMAGED = "DAMAGED"
# How often opening a generation is tried again when a build replaced it (and removed one of its
# segments) while it was being opened.
_OPEN_TRIES = 3


def current_generation(index_dir: Path) -> Path | None:
    """The live generation folder, or None when no index was ever published here."""
    try:
        name = (index_dir / _CURRENT).read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    return index_dir / name


def _read_generation(index_dir: Path) -> tuple[Path, Manifest]:
    """The live generation folder and its manifest as written (format 3: without articles)."""
    folder = current_generation(index_dir)
    if folder is None:
        raise IndexMissingError(f"no index in {index_dir} yet; build it with `articlebot index`")
    try:
        return folder, Manifest.from_json(json.loads((folder / _MANIFEST).read_text("utf-8")))
    except IndexMismatchError as e:
        raise IndexMismatchError(f"{e}; rebuild it with `articlebot index`") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise IndexMismatchError(
            f"the index in {index_dir} is damaged ({type(e).__name__}: {e}); rebuild it with `articlebot index`"
        ) from None


def index_format(index_dir: Path) -> int:
    """The format the live index was written in; raises IndexMissingError or IndexMismatchError (unreadable)."""
    return _read_generation(index_dir)[1].format


def read_manifest(index_dir: Path) -> Manifest:
    """The live index's manifest, its articles included; raises IndexMissingError or IndexMismatchError."""
    folder, manifest = _read_generation(index_dir)
    if manifest.format < 3:
        return manifest
    return load_snapshot(index_dir).manifest


def load_snapshot(index_dir: Path, *, ef_search: int | None = None, warm: bool = False, full_check: bool = False,
                  for_build: bool = False, opened: MutableMapping[str, Segment] | None = None
                  ) -> Snapshot | LegacySnapshot:
    """Open the live index; raises IndexMissingError, or IndexMismatchError when it is damaged.

    `ef_search` overrides the HNSW search width saved with a graph; `warm` reads the graphs now (to
    serve questions) instead of on first use; `full_check` hashes the vectors and graphs too;
    `for_build` hashes only what a build reads of the segments it keeps (their articles' hashes,
    records and line keys: at a million passages, hashing the passages and postings too took half a
    second of a build that adds one article; what serves questions hashes them when it opens them).
    `opened` holds segments this process opened before (by name): they are used again, unhashed,
    and the ones opened now are added.
    """
    for attempt in range(_OPEN_TRIES):
        folder, manifest = _read_generation(index_dir)
        try:
            return _open(index_dir, folder, manifest, ef_search=ef_search, warm=warm, full_check=full_check,
                         for_build=for_build, opened=opened)
        except IndexMismatchError as e:
            if current_generation(index_dir) != folder:
                if attempt + 1 < _OPEN_TRIES:
                    continue  # replaced while it was being opened: open the new one
            elif isinstance(e, _Damaged):  # the live index itself: the next build must not build on it
                mark_damaged(index_dir, e.problems)
            raise
    raise AssertionError("unreachable")


class _Damaged(IndexMismatchError):
    """Files of the live index that do not hold what was written."""

    def __init__(self, index_dir: Path, problems: Sequence[str]) -> None:
        super().__init__(f"the index in {index_dir} is damaged ({'; '.join(problems[:3])}); "
                         "rebuild it with `articlebot index`")
        self.problems = list(problems)


def _open(index_dir: Path, folder: Path, manifest: Manifest, *, ef_search: int | None, warm: bool,
          full_check: bool, for_build: bool, opened: MutableMapping[str, Segment] | None) -> Snapshot | LegacySnapshot:
    def damaged(problems: Sequence[str]) -> IndexMismatchError:
        return _Damaged(index_dir, problems)

    try:
        if manifest.format < 3:
            problems = legacy.verify(folder, manifest, full=full_check)
            if problems:
                raise damaged(problems)
            old = LegacySnapshot(folder, manifest, ef_search=ef_search)
            if warm:
                old.dense  # noqa: B018
            return old
        problems = check_files(folder, manifest.files, full=True, large=frozenset())
        segments = []
        for ref in manifest.segments:
            segment = opened.get(ref.name) if opened is not None else None
            if segment is None or full_check:
                segment = _open_segment(index_dir, ref, ef_search=ef_search, full_check=full_check,
                                        for_build=for_build, problems=problems)
                if segment is None:
                    continue
            segments.append(segment)
        if problems:
            raise damaged(problems)
        snapshot = Snapshot(folder, manifest, segments, [r.deleted for r in manifest.segments])
        if snapshot.live_passages != manifest.chunks:
            raise ValueError(f"its manifest counts {manifest.chunks} passages, its segments hold "
                             f"{snapshot.live_passages} live ones")
        if warm:
            for segment in segments:
                segment.dense  # noqa: B018
        if opened is not None:
            opened.update((s.name, s) for s in segments)
        return snapshot
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:  # FAISS raises RuntimeError
        raise IndexMismatchError(
            f"the index in {index_dir} is damaged ({type(e).__name__}: {e}); rebuild it with `articlebot index`"
        ) from None


def _open_segment(index_dir: Path, ref: SegmentRef, *, ef_search: int | None, full_check: bool,
                  problems: list[str], for_build: bool = False) -> Segment | None:
    """Open and check one segment; None (with `problems` said) when it is damaged."""
    folder = index_dir / SEGMENTS / ref.name
    try:
        written = sha256_of(folder / "segment.json")
    except OSError:
        problems.append(f"segment {ref.name} is missing")
        return None
    if written != ref.sha256:
        problems.append(f"{ref.name}/segment.json does not hold the bytes written (its checksum differs)")
        return None
    # The files are checked before they are mapped: a damaged header would otherwise say less.
    files = recorded_files(read_meta(folder))
    unhashed = frozenset(n for n in files if n not in BUILD_READS) if for_build and not full_check else LARGE_FILES
    found = check_files(folder, files, full=full_check, large=unhashed, label=f"{ref.name}/")
    problems.extend(found)
    return None if found else Segment(folder, ef_search=ef_search)


def verify(index_dir: Path, *, full: bool = True) -> list[str]:
    """What is wrong with the live index's files (every segment's, hashed whole with `full`); [] when sound.

    What is found is also written to DAMAGED, for the next build to start from scratch.
    """
    folder, manifest = _read_generation(index_dir)
    if manifest.format < 3:
        problems = legacy.verify(folder, manifest, full=full)
    else:
        problems = check_files(folder, manifest.files, full=True, large=frozenset())
        for ref in manifest.segments:
            _open_segment(index_dir, ref, ef_search=None, full_check=full, problems=problems)
    if problems:
        mark_damaged(index_dir, problems)
    return problems


def mark_damaged(index_dir: Path, problems: Sequence[str]) -> None:
    """Record that the live index is damaged (and how), so that the next build does not build on it."""
    (index_dir / DAMAGED).write_text("\n".join(problems) + "\n", "utf-8")


def found_damaged(index_dir: Path) -> str | None:
    """What was found damaged in the live index since it was last built whole, or None."""
    try:
        return (index_dir / DAMAGED).read_text("utf-8").strip() or "damaged"
    except FileNotFoundError:
        return None


def write_generation(index_dir: Path, manifest: Manifest, segments: Sequence[tuple[Segment, Collection[int]]],
                     more: Mapping[str, bytes] | None = None) -> tuple[Path, Manifest]:
    """Write a new generation folder (not yet live) listing `segments` (each with its deleted articles);
    returns it and the manifest written.

    `more` holds other files by name (the furniture repetition counts), checksummed with the rest.
    The manifest's passage count is worked out here, from the segments.
    """
    folder = index_dir / f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    for name, data in (more or {}).items():
        (folder / name).write_bytes(data)
    refs, live = [], 0
    for segment, deleted in segments:
        gone = sorted({int(a) for a in deleted})
        refs.append(SegmentRef(segment.name, sha256_of(segment.folder / "segment.json"), tuple(gone)))
        live += len(segment) - (int(np.isin(np.asarray(segment.article_numbers), gone).sum()) if gone else 0)
    manifest = replace(manifest, articles=(), chunks=live, segments=tuple(refs), files=file_sums(folder))
    (folder / _MANIFEST).write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=1), "utf-8")
    fsync_tree(folder)
    return folder, manifest


def publish(index_dir: Path, folder: Path) -> None:
    """Make `folder` the live generation atomically, then delete what it no longer needs."""
    pointer = index_dir / f".{_CURRENT}.{uuid.uuid4().hex[:8]}"
    with open(pointer, "w", encoding="utf-8") as f:
        f.write(folder.name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(pointer, index_dir / _CURRENT)
    fsync_dir(index_dir)
    remove_stale_generations(index_dir)


def remove_stale_generations(index_dir: Path) -> None:
    """Delete every generation folder but the live one, and every segment it does not name.

    Only under the build lock: a build's new segment is named by no generation until it is published.
    """
    live = current_generation(index_dir)
    for entry in index_dir.glob("gen-*"):
        if entry.is_dir() and (live is None or entry.name != live.name):
            shutil.rmtree(entry, ignore_errors=True)
    for entry in index_dir.glob(f".{_CURRENT}.*"):
        entry.unlink(missing_ok=True)
    try:
        names = {r.name for r in _read_generation(index_dir)[1].segments} if live is not None else set()
    except (IndexMissingError, IndexMismatchError):
        return  # a damaged live generation: keep every segment, a rebuild will say what it needs
    for entry in (index_dir / SEGMENTS).glob("seg-*"):
        if entry.is_dir() and entry.name not in names:
            shutil.rmtree(entry, ignore_errors=True)


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index directory's build lock, or raise ReindexInProgressError if another process has it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReindexInProgressError(
                f"another build of {index_dir} is running; try again when it has finished") from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
