"""Building the index: incremental, atomic, and safe when things go wrong."""

from __future__ import annotations

import itertools
import json
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

from index.config import Config
from index.embedders import HashEmbedder
from index.engine import Engine
from index.errors import CorpusError, IndexMismatchError, IndexMissingError, ReindexInProgressError
from index.store.build import embed
from index.store.embedded.build import build_index
from index.store.embedded.generations import current_generation
from tests.support import make_config


class CountingEmbedder(HashEmbedder):
    """Counts what it is asked to embed, and can be told to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []
        self.fail = False

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail and len(texts) and "harbour" in texts[0]:
            raise RuntimeError("the model crashed")
        self.embedded.extend(texts)
        return super().encode(texts)


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, "utf-8")


def test_rebuild_embeds_only_what_changed(config: Config, corpus_dir: Path) -> None:
    embedder = CountingEmbedder()
    engine = Engine.from_config(config, embedder)
    first = engine.rebuild()
    assert first.added == ("us-diplomat-visits-belarus.txt",)
    assert first.chunks_embedded == first.chunks_total > 0

    embedder.embedded.clear()
    again = engine.rebuild()
    assert not again.changed_anything
    assert embedder.embedded == []
    assert again.chunks_embedded == 0

    _write(corpus_dir, "budget.txt", "City budget agreed\nThe council agreed the city budget on Tuesday.")
    added = engine.rebuild()
    assert added.added == ("budget.txt",)
    assert added.unchanged == ("us-diplomat-visits-belarus.txt",)
    assert all("budget" in t for t in embedder.embedded)

    embedder.embedded.clear()
    _write(corpus_dir, "budget.txt", "City budget agreed\nThe council rejected the city budget on Wednesday.")
    changed = engine.rebuild()
    assert changed.changed == ("budget.txt",)
    assert len(embedder.embedded) == 1
    assert "rejected" in engine.ask("what did the council do with the budget?").citations[0].quote

    (corpus_dir / "budget.txt").unlink()
    removed = engine.rebuild()
    assert removed.removed == ("budget.txt",)
    assert all(c.source != "budget.txt" for c in engine.ask("budget council").citations)


def test_an_unchanged_corpus_is_checked_without_loading_the_model(config: Config) -> None:
    from index.embedders import make_embedder

    Engine.from_config(config, make_embedder(config.index)).rebuild()
    embedder = make_embedder(config.index)
    report = Engine.from_config(config, embedder).rebuild()
    assert not report.changed_anything
    assert not embedder.loaded()


def test_changing_the_backend_re_embeds_everything(config: Config) -> None:
    from dataclasses import replace

    from index.embedders import make_embedder

    Engine.from_config(config, make_embedder(config.index)).rebuild()
    other = replace(config, index=replace(config.index, backend="torch"))
    with pytest.raises(IndexMismatchError, match="backend 'onnx'.*articlebot index"):
        Engine.from_config(other, make_embedder(other.index)).ask("who was released?")
    report = Engine.from_config(other, make_embedder(other.index)).rebuild()
    assert report.added == ("us-diplomat-visits-belarus.txt",)


def test_skipped_files_are_reported_and_the_rest_indexed(config: Config, corpus_dir: Path) -> None:
    (corpus_dir / "empty.md").write_text("", "utf-8")
    (corpus_dir / "junk.txt").write_bytes(b"\x00\xff" * 50)
    report = Engine.from_config(config, CountingEmbedder()).rebuild()
    assert {s.source for s in report.skipped} == {"empty.md", "junk.txt"}
    assert report.added == ("us-diplomat-visits-belarus.txt",)


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for corpus, message in ((tmp_path / "missing", "does not exist"), (tmp_path / "empty", "holds no articles")):
        engine = Engine.from_config(make_config(corpus, tmp_path / "index"), CountingEmbedder())
        with pytest.raises(CorpusError, match=message):
            engine.rebuild()


def test_a_failed_rebuild_leaves_the_previous_index_serving(config: Config, corpus_dir: Path) -> None:
    embedder = CountingEmbedder()
    engine = Engine.from_config(config, embedder)
    engine.rebuild()
    live = current_generation(config.index.index_dir)
    _write(corpus_dir, "new.txt", "Fresh news\nA brand new article about harbour cranes.")
    embedder.fail = True
    with pytest.raises(RuntimeError):
        engine.rebuild()
    assert current_generation(config.index.index_dir) == live
    assert "three political prisoners" in engine.ask("who was released?").citations[0].quote
    reopened = Engine.from_config(config, CountingEmbedder())
    assert {a.source for a in reopened.sources()} == {"us-diplomat-visits-belarus.txt"}
    embedder.fail = False
    assert engine.rebuild().added == ("new.txt",)
    assert len([p for p in config.index.index_dir.iterdir() if p.name.startswith("gen-")]) == 1


def test_a_killed_build_leaves_an_orphan_that_the_next_build_removes(config: Config) -> None:
    engine = Engine.from_config(config, CountingEmbedder())
    engine.rebuild()
    orphan = config.index.index_dir / "gen-19990101T000000-deadbeef"
    orphan.mkdir()
    (orphan / "vectors.npy").write_bytes(b"half")
    engine.rebuild()
    assert not orphan.exists()


def test_opening_an_index_of_another_model_or_a_damaged_one_says_to_reindex(config: Config) -> None:
    Engine.from_config(config, CountingEmbedder()).rebuild()
    with pytest.raises(IndexMismatchError, match="articlebot index"):
        Engine.from_config(config, HashEmbedder(dimension=32)).status()
    folder = current_generation(config.index.index_dir)
    assert folder is not None
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["chunks"] += 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="damaged.*articlebot index"):
        Engine.from_config(config, CountingEmbedder()).status()
    shutil.rmtree(folder)
    with pytest.raises(IndexMismatchError, match="damaged"):
        Engine.from_config(config, CountingEmbedder()).status()


def test_no_index_yet_says_how_to_build_it(config: Config) -> None:
    with pytest.raises(IndexMissingError, match="articlebot index"):
        Engine.from_config(config, CountingEmbedder()).ask("anything?")


def test_a_second_rebuild_at_the_same_time_is_refused(config: Config) -> None:
    import threading

    started, release = threading.Event(), threading.Event()

    class SlowEmbedder(CountingEmbedder):
        def encode(self, texts: Sequence[str]) -> np.ndarray:
            started.set()
            release.wait(10)
            return super().encode(texts)

    engine = Engine.from_config(config, SlowEmbedder())
    worker = threading.Thread(target=engine.rebuild)
    worker.start()
    assert started.wait(10)
    with pytest.raises(ReindexInProgressError):
        engine.rebuild()
    with pytest.raises(ReindexInProgressError):  # another process (engine) on the same folder
        Engine.from_config(config, SlowEmbedder()).rebuild()
    release.set()
    worker.join()


def test_reused_chunks_and_vectors_belong_to_their_own_article(config: Config, corpus_dir: Path) -> None:
    from index.store.embedded.generations import load_snapshot

    _write(corpus_dir, "a.txt", "Alpha\nThe alpha council met on Monday.\nIt agreed on roads.")
    _write(corpus_dir, "m.txt", "Middle\nThe middle paragraph is about harbours.")
    engine = Engine.from_config(config, CountingEmbedder())
    engine.rebuild()
    before = load_snapshot(config.index.index_dir)
    _write(corpus_dir, "m.txt", "Middle\nThe middle paragraph now speaks of bridges.\nAnd of tunnels.")
    engine.rebuild()
    after = load_snapshot(config.index.index_dir)
    for source in ("a.txt", "us-diplomat-visits-belarus.txt"):
        (old_chunks, old_vectors), (new_chunks, new_vectors) = before.chunks_of(source), after.chunks_of(source)
        assert new_chunks == old_chunks
        assert all(c.source == source for c in new_chunks)
        assert np.array_equal(old_vectors, new_vectors)
    assert "bridges" in after.chunks_of("m.txt")[0][0].text


def test_an_unreadable_file_does_not_make_every_build_rewrite_the_index(tmp_path: Path) -> None:
    from index.store.embedded.generations import current_generation

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# Harbour\n\nThe harbour opened in 1901 after years of building.\n", "utf-8")
    (corpus / "broken.txt").write_bytes(b"\x00\x01\x00 not text")
    config = make_config(corpus, tmp_path / "index")
    first = build_index(config.index, HashEmbedder())
    assert [s.source for s in first.skipped] == ["broken.txt"]
    live = current_generation(config.index.index_dir)

    again = build_index(config.index, HashEmbedder())
    assert not again.changed_anything
    assert [s.source for s in again.skipped] == ["broken.txt"]  # still reported
    assert current_generation(config.index.index_dir) == live  # nothing was written

    (corpus / "broken.txt").write_text("The lighthouse keeper rang the bell at dawn.\n", "utf-8")  # mended
    mended = build_index(config.index, HashEmbedder())
    assert mended.changed_anything
    assert not mended.skipped
    (corpus / "broken.txt").unlink()
    (corpus / "worse.txt").write_bytes(b"")
    build_index(config.index, HashEmbedder())
    (corpus / "worse.txt").unlink()
    assert [s.source for s in build_index(config.index, HashEmbedder()).skipped] == []


class SlowEmbedder(HashEmbedder):
    """Takes a steady time per text, as a model does, and keeps the size of each call."""

    def __init__(self, seconds_per_text: float) -> None:
        super().__init__()
        self.seconds_per_text = seconds_per_text
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        time.sleep(self.seconds_per_text * len(texts))
        return super().encode(texts)


@pytest.mark.parametrize(("seconds_per_text", "step"), [(0.01, 32), (0.3, 4)])
def test_embedding_reports_progress_about_every_second_in_whole_batches(seconds_per_text: float, step: int) -> None:
    texts = [f"passage {i} " + "word " * (i % 50) for i in range(400 if step == 32 else 24)]
    embedder = SlowEmbedder(seconds_per_text)  # 100 texts a second, or 3: a fast model, or long passages on a slow one
    reports: list[tuple[float, int]] = []
    vectors = embed(texts, embedder, lambda p: reports.append((time.monotonic(), p.done)), batch_size=32)
    np.testing.assert_array_equal(vectors, HashEmbedder().encode(texts))  # in the order given
    assert embedder.calls[0] == 4  # the first report after one onnx run, not after 256 texts
    # Whole batches of 32 when a second holds that many, else whole onnx runs of full-length passages.
    assert all(size % step == 0 for size in embedder.calls[1:-1]), embedder.calls
    assert max(embedder.calls) < 256, embedder.calls
    assert [done for _, done in reports] == [sum(embedder.calls[:n]) for n in range(len(embedder.calls) + 1)]
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(reports)]
    assert sorted(gaps)[len(gaps) // 2] < 1.5, gaps  # typically about a second (this machine may be busy)
