"""The embedded index in segments (#38): a change writes a small segment, and questions get what one index would give.

Every comparison is against an index built in one go from the same final corpus (`_one_segment`):
BM25 scores equal to the last bit, the same dense neighbours (small segments are searched exactly),
the same term statistics, the same answers. Then deletions, merges, a build killed in the middle of
a merge, the conversion of an index written before segments (tests/data/index-format-2, written by
articlebot of 2026-12-06), and `articlebot index --check` over segments.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index.config import Config
from index.embedders import HashEmbedder
from index.engine import Engine
from index.errors import IndexMismatchError
from index.store.embedded.generations import SEGMENTS, current_generation
from index.store.embedded.merging import choose, level
from index.store.embedded.segmented import Snapshot
from tests.commandline import articlebot_in_process
from tests.support import HARBOUR, REPO, SEED, make_config, settings_as_written

FORMAT_2 = REPO / "tests" / "data" / "index-format-2"
QUESTIONS = ["who was released?", "Who visited Minsk?", "political prisoners", "harbour lanterns pier",
             "What did the State Department say?", "sanctions on potash", "the town council of Brellin",
             "Lukashenko pardoned", "fishing boats returned on Saturday", "the the of", "zebra quantum"]


def _sentences() -> list[str]:
    text = SEED.read_text("utf-8") + "\n" + HARBOUR
    return [s.strip() + "." for line in text.splitlines() for s in line.split(". ") if len(s.split()) > 4]


def _write_articles(corpus: Path, first: int, count: int, seed: int = 0) -> list[Path]:
    """`count` articles of shuffled real sentences, numbered from `first` (each a few paragraphs)."""
    rng = random.Random(seed + first)
    sentences = _sentences()
    written = []
    for number in range(first, first + count):
        paragraphs = [" ".join(rng.sample(sentences, rng.randint(2, 5))) for _ in range(rng.randint(1, 4))]
        path = corpus / f"article-{number:03d}.txt"
        path.write_text(f"Story number {number}\n\n" + "\n\n".join(paragraphs) + "\n", "utf-8")
        written.append(path)
    return written


def _config(corpus: Path, index_dir: Path, **index: object) -> Config:
    config = make_config(corpus, index_dir)
    return replace(config, index=replace(config.index, **index))  # type: ignore[arg-type]


def _one_segment(corpus: Path, tmp_path: Path, **index: object) -> Engine:
    """An engine over an index built in one go from `corpus` as it is now."""
    engine = Engine.from_config(_config(corpus, tmp_path / f"one-{time.monotonic_ns()}", **index), HashEmbedder())
    engine.rebuild()
    return engine


def _segments(engine: Engine) -> int:
    with engine.snapshot() as snapshot:
        assert isinstance(snapshot, Snapshot)
        return len(snapshot.segments)


def _ranked(snapshot: object, ids: np.ndarray, scores: np.ndarray) -> list[tuple[float, str, int]]:
    """Search results as (score, source, start), best first; passages that tie in the order of their place in the
    corpus (the two indexes number passages differently, and break ties by number)."""
    chunks = [snapshot.chunk(int(i)) for i in ids]  # type: ignore[attr-defined]
    return sorted(((-float(s), c.source, c.start) for s, c in zip(scores, chunks, strict=True)))


def _same_as_one_index(engine: Engine, one: Engine) -> None:
    """BM25 (scores equal to the bit), dense neighbours, term statistics and answers equal to `one`'s."""
    rng = np.random.default_rng(0)
    with engine.snapshot() as got, one.snapshot() as want:
        assert len(got) == len(want)
        assert got.manifest.articles == want.manifest.articles
        for question in QUESTIONS:  # every passage that scores: the scores equal to the bit
            assert _ranked(got, *got.lexical.search(question, len(got))) == \
                   _ranked(want, *want.lexical.search(question, len(want))), question
            (terms,), (one_terms,) = got.lexical.terms([question]), want.lexical.terms([question])
            assert [got.lexical.idf(t) for t in terms] == [want.lexical.idf(t) for t in one_terms]
            assert got.lexical.unknown_words(question) == want.lexical.unknown_words(question)
        for _ in range(5):
            query = rng.normal(size=len(got.vectors[0])).astype(np.float32)
            query /= np.linalg.norm(query)
            ranked = _ranked(got, *got.dense.search(query, 10))
            one_ranked = _ranked(want, *want.dense.search(query, 10))
            assert [r[1:] for r in ranked] == [r[1:] for r in one_ranked]
            assert np.allclose([r[0] for r in ranked], [r[0] for r in one_ranked], atol=1e-6)
    for question in QUESTIONS:
        answer, one_answer = engine.ask(question), one.ask(question)
        assert answer.text == one_answer.text, question
        assert [(c.source, c.start, c.end) for c in answer.citations] == \
               [(c.source, c.start, c.end) for c in one_answer.citations], question


def test_each_change_is_a_segment_and_questions_see_one_index(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    # Furniture off: the articles share sentences, and lines repeated on many pages of a site would
    # have older pages chunked again (tested below, with furniture on).
    engine = Engine.from_config(_config(corpus, tmp_path / "index", merge_factor=1000, skip_furniture=False),
                                HashEmbedder())
    engine.rebuild()
    for batch in range(4):
        _write_articles(corpus, batch * 5, 5)
        report = engine.rebuild()
        assert len(report.added) == 5
        # Only the new articles are written: the older segments are named again, not copied.
        assert report.chunks_embedded == sum(
            len(engine.store.current().chunks_of(s)[0]) for s in report.added)
    assert _segments(engine) >= 4
    _same_as_one_index(engine, _one_segment(corpus, tmp_path, skip_furniture=False))


def test_changed_and_removed_articles_are_deleted_from_their_segments(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    written = _write_articles(corpus, 0, 12)
    (corpus / "harbour.txt").write_text(HARBOUR, "utf-8")
    engine = Engine.from_config(_config(corpus, tmp_path / "index", merge_factor=1000), HashEmbedder())
    engine.rebuild()
    written[3].write_text("Story number 3, rewritten\n\nThe zeppelin landed beside the granary at noon.\n", "utf-8")
    written[5].unlink()
    (corpus / "harbour.txt").unlink()
    report = engine.rebuild()
    assert report.changed == ("article-003.txt",)
    assert set(report.removed) == {"article-005.txt", "harbour.txt"}
    with engine.snapshot() as snapshot:
        assert isinstance(snapshot, Snapshot)
        assert sum(len(d) for d in snapshot.deleted) >= 3  # and pages chunked again as repetition changed
        assert len(snapshot) == sum(a.chunks for a in snapshot.manifest.articles)
        ids, _ = snapshot.lexical.search("harbour lanterns Brellin", 50)
        assert "harbour.txt" not in {snapshot.chunk(int(i)).source for i in ids}
        ids, _ = snapshot.dense.search(np.asarray(snapshot.vectors[0]), len(snapshot))
        sources = [snapshot.chunk(int(i)).source for i in ids]
        assert len(ids) == len(snapshot)
        assert not {"harbour.txt", "article-005.txt"} & set(sources)
        chunks, _ = snapshot.chunks_of("article-003.txt")
        assert "zeppelin" in " ".join(c.text for c in chunks)
    assert "zeppelin" in engine.ask("What landed beside the granary?").citations[0].quote
    _same_as_one_index(engine, _one_segment(corpus, tmp_path))


def test_the_merge_policy() -> None:
    assert [level(n, 10) for n in (0, 999, 1_000, 9_999, 10_000, 99_999, 100_000)] == [0, 0, 1, 1, 2, 2, 3]
    assert choose([(10, 10)] * 9, factor=10, max_merged=10**6) is None
    assert choose([(10, 10)] * 10, factor=10, max_merged=10**6) == list(range(10))
    # Segments of another level are left alone; a group is cut at the biggest merge allowed.
    sizes = [(50_000, 50_000)] + [(100, 100)] * 10
    assert choose(sizes, factor=10, max_merged=10**6) == list(range(1, 11))
    assert choose(sizes, factor=10, max_merged=450) == [1, 2, 3, 4]
    # A segment mostly deleted is rewritten alone.
    assert choose([(5_000, 5_000), (100, 900)], factor=10, max_merged=10**6) == [1]


def test_merges_keep_few_segments_and_change_no_answer(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    engine = Engine.from_config(_config(corpus, tmp_path / "index", merge_factor=3), HashEmbedder())
    written = []
    for batch in range(9):
        written += _write_articles(corpus, batch * 2, 2)
        engine.rebuild()
        assert _segments(engine) < 3 + 2  # merged whenever three of a level gather
    for path in written[:7]:
        path.unlink()
    engine.rebuild()
    with engine.snapshot() as snapshot:
        assert isinstance(snapshot, Snapshot)
        on_disk = sorted(p.name for p in (tmp_path / "index" / SEGMENTS).iterdir())
        assert on_disk == sorted(s.name for s in snapshot.segments)  # merged segments are removed
    _same_as_one_index(engine, _one_segment(corpus, tmp_path))


_MERGE_FOREVER = """
import sys, time
from pathlib import Path
from index.store.embedded import merging
from index.store.embedded.generations import build_lock
from index.config import IndexConfig
config = IndexConfig(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]), merge_factor=2)
written = merging.write_segment
def slow(*args, **kwargs):
    name = written(*args, **kwargs)
    print("written", name, flush=True)
    time.sleep(60)  # killed here: the merged segment is on disk, no generation names it yet
    return name
merging.write_segment = slow
with build_lock(config.index_dir):
    merging.merge_segments(config)
"""


def test_a_merge_killed_midway_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    config = _config(corpus, tmp_path / "index", merge_factor=1000)
    engine = Engine.from_config(config, HashEmbedder())
    for batch in range(3):
        _write_articles(corpus, batch * 3, 3)
        engine.rebuild()
    live = current_generation(config.index.index_dir)
    before = [engine.ask(q).text for q in QUESTIONS]
    serving = {p.name for p in (tmp_path / "index" / SEGMENTS).iterdir()}
    assert len(serving) >= 2
    merging = subprocess.Popen([sys.executable, "-c", _MERGE_FOREVER, str(corpus), str(config.index.index_dir)],
                               cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert merging.stdout is not None
    assert merging.stdout.readline().startswith("written seg-")
    merging.send_signal(signal.SIGKILL)
    merging.wait()
    assert current_generation(config.index.index_dir) == live
    assert len({p.name for p in (tmp_path / "index" / SEGMENTS).iterdir()} - serving) == 1  # the orphan
    asking = Engine.from_config(config, HashEmbedder())
    assert [asking.ask(q).text for q in QUESTIONS] == before
    # The next build merges for real (merge_factor 2 now) and removes the orphan.
    merged = Engine.from_config(_config(corpus, config.index.index_dir, merge_factor=2), HashEmbedder())
    merged.rebuild()
    assert _segments(merged) == 1
    assert len(list((tmp_path / "index" / SEGMENTS).iterdir())) == 1
    assert [merged.ask(q).text for q in QUESTIONS] == before


def test_an_index_written_before_segments_is_read_then_converted(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(FORMAT_2, tmp_path / "old")
    corpus, index_dir = tmp_path / "old" / "corpus", tmp_path / "old" / "index"
    settings_as_written(monkeypatch, index_dir)
    config = _config(corpus, index_dir)
    old = Engine.from_config(config, HashEmbedder())
    before = [old.ask(q) for q in QUESTIONS]  # served as it is
    assert json.loads((current_generation(index_dir) / "manifest.json").read_text("utf-8"))["format"] == 2  # type: ignore[operator]
    report = Engine.from_config(config, HashEmbedder()).rebuild()
    assert (report.chunks_embedded, report.chunks_total) == (0, 7)  # converted, nothing embedded again
    assert json.loads((current_generation(index_dir) / "manifest.json").read_text("utf-8"))["format"] == 3  # type: ignore[operator]
    assert not list(index_dir.glob("gen-*/vectors.npy"))
    converted = Engine.from_config(config, HashEmbedder())
    for question, answer in zip(QUESTIONS, before, strict=True):
        again = converted.ask(question)
        assert (again.text, [c.quote for c in again.citations]) == (answer.text, [c.quote for c in answer.citations])
    assert converted.store.check() == []
    _same_as_one_index(converted, _one_segment(corpus, tmp_path))


def test_index_check_hashes_every_segment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    config = _config(corpus, tmp_path / "index", merge_factor=1000)
    engine = Engine.from_config(config, HashEmbedder())
    engine.rebuild()
    _write_articles(corpus, 0, 3)
    engine.rebuild()
    toml = tmp_path / "config.toml"
    toml.write_text(f"[index]\ncorpus_dir = {str(corpus)!r}\nindex_dir = {str(tmp_path / 'index')!r}\n", "utf-8")
    status, out, err = articlebot_in_process(capsys, "index", "--check", "--config", str(toml))
    assert (status, out.strip()) == (0, f"index OK: {tmp_path / 'index'}"), err
    segment = sorted((tmp_path / "index" / SEGMENTS).iterdir())[0]
    vectors = segment / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-3] ^= 0xFF
    vectors.write_bytes(bytes(data))
    # The vectors are hashed by --check (and before a merge copies them), not on every open.
    assert Engine.from_config(config, HashEmbedder()).ask("who was released?").citations
    status, out, err = articlebot_in_process(capsys, "index", "--check", "--config", str(toml))
    assert status == 1
    assert f"{segment.name}/vectors.npy does not hold the bytes written" in err
    # What --check found damaged, the next build does not build on: it starts again.
    report = Engine.from_config(config, HashEmbedder()).rebuild()
    assert report.chunks_embedded == report.chunks_total > 0
    assert Engine.from_config(config, HashEmbedder()).store.check() == []
    _write_articles(corpus, 10, 2)
    Engine.from_config(config, HashEmbedder()).rebuild()
    segment = sorted((tmp_path / "index" / SEGMENTS).iterdir())[0]
    texts = segment / "texts.bin"
    data = bytearray(texts.read_bytes())
    data[len(data) // 2] ^= 0xFF
    texts.write_bytes(bytes(data))
    with pytest.raises(IndexMismatchError, match=f"damaged \\({segment.name}/texts.bin does not hold"):
        Engine.from_config(config, HashEmbedder()).ask("who was released?")
    # A build does not build on a damaged index: it starts again, and the result is sound.
    report = Engine.from_config(config, HashEmbedder()).rebuild()
    assert report.chunks_embedded == report.chunks_total > 0
    assert Engine.from_config(config, HashEmbedder()).store.check() == []


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the article files read from now on (the list fills as they are)."""
    from index.articles import corpus as corpus_module

    read: list[str] = []
    reading = corpus_module._read_regular

    def counted(path: Path | str, limit: int) -> bytes:
        read.append(Path(path).name)
        return reading(path, limit)

    monkeypatch.setattr(corpus_module, "_read_regular", counted)
    return read


def test_files_the_index_saw_unchanged_are_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    written = _write_articles(corpus, 0, 6)
    past = time.time() - 60
    for path in written:
        os.utime(path, (past, past))
    fresh = _write_articles(corpus, 6, 1)[0]  # modified just now: read again by the next scan (it could change
    config = _config(corpus, tmp_path / "index")  # within the same clock tick as it was read)
    Engine.from_config(config, HashEmbedder()).rebuild()
    read = _count_reads(monkeypatch)
    report = Engine.from_config(config, HashEmbedder()).rebuild()
    assert not report.changed_anything
    assert read == [fresh.name]
    read.clear()
    written[2].write_text(written[2].read_text("utf-8") + "\nThe zeppelin landed beside the granary.\n", "utf-8")
    report = Engine.from_config(config, HashEmbedder()).rebuild()
    assert report.changed == (written[2].name,)
    assert sorted(set(read)) == sorted({written[2].name, fresh.name})


def test_deleted_passages_are_filtered_inside_a_segments_graph(tmp_path: Path) -> None:
    """Segments above approximate_above passages are searched through their HNSW graph: passages of deleted
    articles are never returned, and the k nearest live ones still are."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    written = _write_articles(corpus, 0, 40)
    engine = Engine.from_config(_config(corpus, tmp_path / "index", approximate_above=20, merge_factor=1000,
                                        skip_furniture=False), HashEmbedder())
    engine.rebuild()
    for path in written[::3]:
        path.unlink()
    engine.rebuild()
    with engine.snapshot() as snapshot:
        assert isinstance(snapshot, Snapshot)
        (graph,) = [s for s in snapshot.segments if s.dense is not None]
        assert snapshot.deleted[snapshot.segments.index(graph)]
        gone = {p.name for p in written[::3]}
        live_ids = [i for i in range(int(snapshot.bases[-1])) if snapshot.article(i).source not in gone]
        live = snapshot.vectors[np.asarray(live_ids)]
        for row in range(0, len(live), 7):
            ids, _ = snapshot.dense.search(live[row], 10)
            assert len(ids) == 10
            assert not {snapshot.chunk(int(i)).source for i in ids} & gone
            exact = np.asarray(live_ids)[np.argsort(-(live @ live[row]), kind="stable")[:10]]
            assert len(set(ids.tolist()) & set(exact.tolist())) >= 8


def test_a_build_told_what_changed_reads_only_that(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/add, /remove and the feeds know which files they changed: the build reads those alone (every other
    article stands as the index holds it), and its result equals a build that checked every file."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    written = _write_articles(corpus, 0, 8)
    engine = Engine.from_config(_config(corpus, tmp_path / "index"), HashEmbedder())
    engine.rebuild()
    read = _count_reads(monkeypatch)
    added = _write_articles(corpus, 8, 1)[0]
    written[1].unlink()
    hand = written[2]
    hand.write_text(hand.read_text("utf-8") + "\nA line written by hand.\n", "utf-8")
    report = engine.rebuild(changed=[added.name, written[1].name, "../outside.txt", "/etc/passwd"])
    assert (report.added, report.removed, report.changed) == ((added.name,), (written[1].name,), ())
    assert added.name in read
    assert not {hand.name, written[3].name} & set(read)
    # The file changed by hand is found by the next build that checks every file.
    assert Engine.from_config(_config(corpus, tmp_path / "index"), HashEmbedder()).rebuild().changed == (hand.name,)
    _same_as_one_index(engine, _one_segment(corpus, tmp_path))


def test_damage_found_by_a_question_is_rebuilt_by_the_next_build_even_a_quick_one(tmp_path: Path) -> None:
    """A build told what changed hashes only what it reads of the index; damage that serving finds is recorded,
    and the next build, quick or not, starts from scratch."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write_articles(corpus, 0, 5)
    config = _config(corpus, tmp_path / "index")
    Engine.from_config(config, HashEmbedder()).rebuild()
    (segment,) = (tmp_path / "index" / SEGMENTS).iterdir()
    texts = segment / "texts.bin"
    data = bytearray(texts.read_bytes())
    data[len(data) // 2] ^= 0xFF
    texts.write_bytes(bytes(data))
    with pytest.raises(IndexMismatchError, match="texts.bin does not hold the bytes written"):
        Engine.from_config(config, HashEmbedder()).ask("who was released?")
    added = _write_articles(corpus, 5, 1)[0]
    report = Engine.from_config(config, HashEmbedder()).rebuild(changed=[added.name])
    assert report.chunks_embedded == report.chunks_total > 0
    assert not (tmp_path / "index" / "DAMAGED").exists()
    assert Engine.from_config(config, HashEmbedder()).store.check() == []
