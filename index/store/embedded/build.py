"""Building the embedded index: what a build prepared, written as a new segment and published as a new generation.

The steps both stores share (scan, plan, read, embed) are index/store/build.py's. Here the new and
changed articles become one new segment (index/store/embedded/segment.py), the replaced and removed
ones are marked deleted in the segments that hold them, and a generation naming the lot is
published atomically (index/store/embedded/generations.py): the work grows with the change, not
with the index. Then the segments are merged if the policy says so (index/store/embedded/merging.py).

A build with nothing reusable (no index, one built with another model or settings, a damaged one)
writes every article as one segment. An index written before segments (formats 1 and 2) is
converted the same way, its passages and vectors copied as they are: nothing is embedded again.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import PurePosixPath

from index.articles.corpus import CorpusFile, locations, read_file
from index.config import IndexConfig
from index.embedders import Embedder
from index.errors import ArticlebotError
from index.store import repetition_counts
from index.store.build import Indexed, Prepared, Progress, built_with, prepare, scan, versions
from index.store.embedded.generations import (
    DAMAGED,
    SEGMENTS,
    build_lock,
    found_damaged,
    load_snapshot,
    publish,
    remove_stale_generations,
    write_generation,
)
from index.store.embedded.legacy import LegacySnapshot
from index.store.embedded.merging import merge_segments
from index.store.embedded.repetition_table import RepetitionTable
from index.store.embedded.segment import Segment, SegmentArticle, write_segment
from index.store.embedded.segmented import Snapshot
from index.store.manifest import BuiltWith, Manifest
from index.types import BuildProgress, BuildReport, SkippedFile

log = logging.getLogger(__name__)


def build_index(config: IndexConfig, embedder: Embedder, progress: Progress | None = None, *,
                changed: Collection[str] | None = None) -> BuildReport:
    """Bring the index in `config.index_dir` up to date with `config.corpus_dir` (and a server's shared articles).

    `changed`: the only sources that changed, when the caller knows them (/add, /remove, feeds): just
    those files are read, the index's record standing for every other (see `_as_indexed`). None: every
    file is listed and checked.
    """
    notify = progress or (lambda _: None)
    with build_lock(config.index_dir):
        # A build told what changed is the quick one (/add, feeds): it hashes only what it reads of the
        # live index. One that checks every file (`articlebot index`) checks the index whole too, so
        # that it repairs a damaged one.
        previous = _reusable(config, embedder, thorough=changed is None)
        held = previous.indexed() if isinstance(previous, Snapshot) else None
        if changed is not None and held is not None:
            files, skipped = _as_indexed(config, held, changed)
        else:
            known = previous.known_files() if isinstance(previous, Snapshot) and config.trust_file_times else None
            files, skipped = scan(config, known)
        # Lines repeated across a site's pages (#36): their counts are kept with each generation;
        # without them (an index from before they were kept) nothing of the old index is trusted.
        counts = _counts(previous) if config.skip_furniture else None
        if config.skip_furniture and counts is None:
            previous, held, counts = None, None, RepetitionTable()
        indexed = held if isinstance(previous, Snapshot) else previous.manifest if previous else None
        prepared = prepare(config, embedder, files, skipped, indexed, notify, counts=counts)
        if isinstance(previous, Snapshot) and prepared.work.nothing_to_do:
            remove_stale_generations(config.index_dir)
            _merge(config)
            return prepared.unchanged(len(previous))
        if isinstance(previous, LegacySnapshot):
            log.info("converting the index to segments (index format 3); nothing is embedded again")
        notify(BuildProgress("writing", 0, 1))
        if isinstance(previous, Snapshot):
            total = _write_change(config, prepared, previous, counts)
        else:
            total = _write_whole(config, embedder, prepared, previous, counts)
        notify(BuildProgress("writing", 1, 1))
        _merge(config)
    return prepared.report(total)


def _as_indexed(config: IndexConfig, held: Indexed, changed: Collection[str]
                ) -> tuple[list[CorpusFile], list[SkippedFile]]:
    """The corpus as the index holds it, but for the `changed` sources, read from the folder now.

    At a million passages (333,000 files), listing the folder and checking every file's size and
    modification time took seconds; a caller that changed the corpus itself knows what it changed.
    """
    changed = {s for s in changed if not PurePosixPath(s).is_absolute() and ".." not in PurePosixPath(s).parts}
    location = locations(config)
    files = [CorpusFile(source, location(source), sha256, None)
             for source, sha256 in held.hashes.items() if source not in changed]
    skipped = [s for s in held.skipped if s.source not in changed]
    max_bytes = int(config.max_file_mb * 1_000_000)
    for source in sorted(changed):
        found = read_file(source, location(source), max_bytes=max_bytes)
        if isinstance(found, CorpusFile):
            files.append(found)
        elif found is not None:
            skipped.append(found)
    return files, skipped


def _counts(previous: Snapshot | LegacySnapshot | None) -> RepetitionTable | None:
    """The live index's repetition counts, or None when it has none (or there is no index)."""
    if isinstance(previous, Snapshot):
        return RepetitionTable.load(previous.folder, previous)
    if isinstance(previous, LegacySnapshot):  # kept in Python sets, as index format 2 kept them
        old = repetition_counts.load(previous.folder)
        return RepetitionTable.converted(old) if old is not None else None
    return None


def _fresh_articles(prepared: Prepared, counts: RepetitionTable | None) -> list[SegmentArticle]:
    """The articles a build read and embedded, each with its vectors, how its file was found and its line keys."""
    seen = {f.source: f.seen for f in (*prepared.work.fresh, *prepared.work.kept)}
    articles, first = [], 0
    for info, chunks, text in prepared.fresh:
        articles.append(SegmentArticle(info, chunks, prepared.vectors[first:first + len(chunks)], text,
                                       seen.get(info.source), counts.ids_of(info.source) if counts else None))
        first += len(chunks)
    return articles


def _write_change(config: IndexConfig, prepared: Prepared, previous: Snapshot, counts: RepetitionTable | None
                  ) -> int:
    """Publish the live generation's segments plus one of the fresh articles, the replaced and removed ones deleted."""
    deleted = [set(d) for d in previous.deleted]
    for source in [*prepared.gone, *(info.source for info, _, _ in prepared.fresh)]:
        found = previous.find(source)
        if found is not None:
            deleted[found[0]].add(found[1])
    segments: list[tuple[Segment, set[int]]] = [
        (s, d) for s, d in zip(previous.segments, deleted, strict=True) if len(d) < len(s.sources)]
    fresh = _fresh_articles(prepared, counts)
    if fresh:
        segments.append((_new_segment(config, fresh, previous.raw_manifest.dimension), set()))
    return _publish(config, _manifest(previous.raw_manifest.built_with, previous.raw_manifest.dimension, prepared),
                    segments, counts)


def _write_whole(config: IndexConfig, embedder: Embedder, prepared: Prepared, previous: LegacySnapshot | None,
                 counts: RepetitionTable | None) -> int:
    """Publish every article as one segment: the kept ones copied from `previous` (an older format), the fresh ones."""
    articles = _fresh_articles(prepared, counts)
    for file in prepared.work.kept:
        assert previous is not None
        chunks, vectors = previous.chunks_of(file.source)
        articles.append(SegmentArticle(prepared.known[file.source], chunks, vectors,
                                       previous.extracted.get(file.source), file.seen,
                                       counts.ids_of(file.source) if counts else None))
    if len(prepared.vectors):
        dimension = int(prepared.vectors.shape[1])
    else:
        dimension = previous.manifest.dimension if previous else embedder.dimension
    wanted = built_with(config, embedder)
    total = _publish(config, _manifest(wanted, dimension, prepared),
                     [(_new_segment(config, articles, dimension), set())], counts)
    (config.index_dir / DAMAGED).unlink(missing_ok=True)
    return total


def _new_segment(config: IndexConfig, articles: list[SegmentArticle], dimension: int) -> Segment:
    """Write a segment of `articles` and open it."""
    name = write_segment(config.index_dir / SEGMENTS, articles, dimension,
                         approximate_above=config.approximate_above, ef_search=config.hnsw_ef_search)
    return Segment(config.index_dir / SEGMENTS / name, ef_search=config.hnsw_ef_search)


def _manifest(wanted: BuiltWith, dimension: int, prepared: Prepared) -> Manifest:
    """The new generation's manifest (its segments, counts and checksums are added as it is written)."""
    return Manifest(model=wanted.model, backend=wanted.backend, dimension=dimension, settings=wanted.settings,
                    built_at=datetime.now(UTC).isoformat(timespec="seconds"), versions=versions(),
                    articles=(), skipped=tuple(prepared.skipped), chunks=0)


def _publish(config: IndexConfig, manifest: Manifest, segments: list[tuple[Segment, set[int]]],
             counts: RepetitionTable | None) -> int:
    """Write a generation of `segments` (each with its deleted articles), make it the live one; its passages."""
    folder, written = write_generation(config.index_dir, manifest, [(s, sorted(d)) for s, d in segments],
                                       more=counts.files() if counts is not None else None)
    publish(config.index_dir, folder)
    return written.chunks


def _merge(config: IndexConfig) -> None:
    """Merge segments as the policy says (after the build's change is published: it is served meanwhile)."""
    try:
        merge_segments(config)
    except ArticlebotError as e:  # the change is published; a merge that cannot be done waits for the next build
        log.warning("segments not merged: %s", e)


def _reusable(config: IndexConfig, embedder: Embedder, *, thorough: bool) -> Snapshot | LegacySnapshot | None:
    """The live index if it can be built on; None when missing, damaged or built otherwise.

    An index of an older format is hashed whole (its vectors are copied into the new one); a
    segmented one as serving opens it when `thorough`, else only what the build reads of it (its
    segments are kept, not copied; a merge hashes what it copies; serving checks the rest).
    """
    damaged = found_damaged(config.index_dir)
    if damaged is not None:
        log.info("building from scratch: the index was found damaged (%s)", damaged.splitlines()[0])
        return None
    try:
        previous = load_snapshot(config.index_dir, ef_search=config.hnsw_ef_search, for_build=not thorough)
        if isinstance(previous, LegacySnapshot):
            previous = load_snapshot(config.index_dir, full_check=True)  # never copy damaged vectors
    except ArticlebotError as e:
        log.info("building from scratch: %s", e)
        return None
    if previous.built_with != built_with(config, embedder):
        log.info("building from scratch: the index was built with other settings, model or backend")
        return None
    return previous
