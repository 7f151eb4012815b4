"""Merging the embedded index's segments: few enough of them that questions stay fast, deleted passages purged.

Each change adds a small segment, so without merging a bot fed all day would search hundreds. The
policy is log-structured, as Lucene's LogMergePolicy: a segment's level is the order of magnitude
of its live passages in base `merge_factor` (everything under _FLOOR passages is level 0); when
`merge_factor` segments share a level they are merged into one of the next level. A segment whose
passages are mostly deleted is rewritten without them. No merge makes a segment bigger than
`max_merged_passages` (a full build writes one segment of any size). Every passage is written a
number of times that grows with the logarithm of the index's size, not with its size.

A merge copies the live articles' passages and vectors as they are (nothing is embedded again),
builds the new segment's postings and, above `approximate_above` passages, its HNSW graph, then
publishes a generation naming it in place of the merged ones. It runs in the build, after the
build's own change is published (so that change is served at once, whatever the merge costs),
under the build lock, in the build's process: the bot's builds run in a child process, so a merge
never blocks a question. The merged segments' vectors are hashed first: damaged ones are never
copied (the index is marked damaged instead, and the next build starts from scratch).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Sequence

from index.config import IndexConfig
from index.store.embedded.generations import (
    SEGMENTS,
    current_generation,
    load_snapshot,
    mark_damaged,
    publish,
    write_generation,
)
from index.store.embedded.segment import Segment, SegmentArticle, write_segment
from index.store.embedded.segmented import Snapshot

log = logging.getLogger(__name__)

# Segments under this many live passages all share the lowest level.
_FLOOR = 1_000
# A segment with more than this share of its passages deleted is rewritten without them.
_MOSTLY_DELETED = 0.5


@dataclass(frozen=True)
class Merge:
    """One merge done: how many segments became one, the passages written, and what it took."""

    segments: int
    passages: int
    seconds: float


def level(live: int, factor: int) -> int:
    """A segment's level: 0 under _FLOOR live passages, then one more for each `factor` times as many."""
    if live < _FLOOR:
        return 0
    return 1 + math.floor(math.log(live / _FLOOR) / math.log(factor) + 1e-9)


def choose(sizes: Sequence[tuple[int, int]], *, factor: int, max_merged: int) -> list[int] | None:
    """The positions of the segments to merge next, or None; `sizes` holds each segment's (live, all) passages."""
    levels = [level(live, factor) for live, _ in sizes]
    for lowest in sorted(set(levels)):
        group = sorted((i for i, lv in enumerate(levels) if lv == lowest), key=lambda i: (sizes[i][0], i))
        if len(group) < factor:
            continue
        chosen: list[int] = []
        total = 0
        for i in group:
            if total + sizes[i][0] > max_merged:
                break
            chosen.append(i)
            total += sizes[i][0]
        if len(chosen) >= 2:
            return sorted(chosen)
    for i, (live, every) in enumerate(sizes):
        if every and (every - live) / every > _MOSTLY_DELETED and live <= max_merged:
            return [i]
    return None


def merge_segments(config: IndexConfig, *, into_one: bool = False) -> list[Merge]:
    """Merge the live generation's segments as the policy says, publishing each merge; returns what was done.

    `into_one`: merge every segment into one, whatever the policy (as Lucene's forceMerge; the
    benchmarks compare such an index with the segmented one).

    The caller holds the build lock. A damaged segment stops merging (with a warning, the index
    marked damaged for the next build): the index served is left as it is.
    """
    done: list[Merge] = []
    index_dir = config.index_dir
    while True:
        snapshot = load_snapshot(index_dir)
        if not isinstance(snapshot, Snapshot):
            return done
        sizes = [(len(s) if live is None else int(live.sum()), len(s))
                 for s, live in zip(snapshot.segments, snapshot.live, strict=True)]
        if into_one:
            deleted = any(live < every for live, every in sizes)
            group = list(range(len(sizes))) if len(sizes) > 1 or deleted else None
        else:
            group = choose(sizes, factor=config.merge_factor, max_merged=config.max_merged_passages)
        if group is None:
            return done
        began = time.perf_counter()
        problems = [p for i in group for p in snapshot.segments[i].verify(full=True)]
        if problems:  # the next build starts from scratch
            log.warning("segments not merged, the index is damaged: %s", "; ".join(problems[:3]))
            mark_damaged(index_dir, problems)
            return done
        merged = _write_merged(config, snapshot, group)
        kept: list[tuple[Segment, Collection[int]]] = [
            (s, snapshot.deleted[i]) for i, s in enumerate(snapshot.segments) if i not in group]
        kept.insert(min(group), (merged, ()))
        folder, _ = write_generation(index_dir, snapshot.raw_manifest, kept, more=_carried(index_dir))
        publish(index_dir, folder)
        done.append(Merge(len(group), len(merged), time.perf_counter() - began))
        log.info("merged %d segments into one of %d passages in %.1f s", len(group), len(merged), done[-1].seconds)


def _write_merged(config: IndexConfig, snapshot: Snapshot, group: Sequence[int]) -> Segment:
    """Write the live articles of the segments at `group` as one new segment, and open it."""
    articles = []
    for at in group:
        segment, deleted = snapshot.segments[at], snapshot.deleted[at]
        for number in range(len(segment.sources)):
            if number in deleted:
                continue
            passages = segment.passages_of(number)
            articles.append(SegmentArticle(segment.article_info(number), [segment.chunk(i) for i in passages],
                                           segment.vectors[passages.start:passages.stop], segment.extracted(number),
                                           segment.seen_of(number), segment.repetition_of(number)))
    name = write_segment(config.index_dir / SEGMENTS, articles, snapshot.raw_manifest.dimension,
                         approximate_above=config.approximate_above, ef_search=config.hnsw_ef_search)
    return Segment(config.index_dir / SEGMENTS / name, ef_search=config.hnsw_ef_search)


def _carried(index_dir: Path) -> dict[str, bytes]:
    """The live generation's other files (the repetition counts), which a merge does not change."""
    folder = current_generation(index_dir)
    assert folder is not None
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != "manifest.json"}
