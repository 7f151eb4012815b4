"""An index build in a process of its own (what the bot does on /reindex): served, reported, and safe when it fails."""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index.config import Config
from index.embedders import Embedder, HashEmbedder
from index.engine import Engine
from index.errors import CorpusError
from index.store.build_process import BuildProcessError
from index.store.embedded.generations import current_generation, load_snapshot
from index.types import BuildProgress
from tests.support import make_config


def test_the_child_builds_what_the_engine_then_serves(config: Config, corpus_dir: Path, real_embedder: Embedder,
                                                      tmp_path: Path) -> None:
    engine = Engine.from_config(config, real_embedder)
    progress: list[BuildProgress] = []
    report = engine.rebuild(progress.append, separate_process=True)

    assert report.added == ("us-diplomat-visits-belarus.txt",)
    assert report.chunks_embedded == report.chunks_total > 0
    assert {p.stage for p in progress} >= {"embedding", "writing"}  # passed on from the child as it went
    answer = engine.ask("What city did the diplomat fly into?")
    assert not answer.declined
    assert "Minsk" in answer.text

    # The child made the embedder the configuration names: the same vectors as a build in this process.
    here = make_config(corpus_dir, tmp_path / "built-here")
    Engine.from_config(here, real_embedder).rebuild()
    child, own = load_snapshot(config.index.index_dir), load_snapshot(here.index.index_dir)
    np.testing.assert_allclose(child.vectors[np.arange(len(child))], own.vectors[np.arange(len(own))], atol=1e-5)

    (corpus_dir / "lanterns.txt").write_text("The harbour lanterns were lit by Mira Kovac on Tuesday.\n", "utf-8")
    again = engine.rebuild(separate_process=True)
    assert again.added == ("lanterns.txt",)
    assert again.unchanged == ("us-diplomat-visits-belarus.txt",)
    assert "Mira Kovac" in engine.ask("Who lit the harbour lanterns?").text


def test_an_error_in_the_child_is_raised_as_itself_and_the_index_keeps_serving(
        config: Config, corpus_dir: Path, real_embedder: Embedder) -> None:
    engine = Engine.from_config(config, real_embedder)
    engine.rebuild(separate_process=True)
    served = current_generation(config.index.index_dir)
    shutil.rmtree(corpus_dir)

    with pytest.raises(CorpusError, match="does not exist"):
        engine.rebuild(separate_process=True)
    assert current_generation(config.index.index_dir) == served
    assert "Minsk" in engine.ask("What city did the diplomat fly into?").text


def test_a_child_that_ends_without_a_report_is_an_error_in_plain_words(
        config: Config, real_embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine.from_config(config, real_embedder)
    engine.rebuild()
    served = current_generation(config.index.index_dir)
    false = shutil.which("false")
    assert false is not None
    monkeypatch.setattr(sys, "executable", false)  # the child's interpreter exits at once, with status 1

    with pytest.raises(BuildProcessError, match=r"stopped before it finished .*exit status 1.*unchanged"):
        engine.rebuild(separate_process=True)
    assert current_generation(config.index.index_dir) == served
    assert not engine.ask("who was released?").declined


def test_a_build_past_its_deadline_is_stopped_and_the_index_keeps_serving(
        config: Config, real_embedder: Embedder) -> None:
    engine = Engine.from_config(config, real_embedder)
    engine.rebuild()
    served = current_generation(config.index.index_dir)
    (config.index.corpus_dir / "lanterns.txt").write_text("The harbour lanterns were lit on Tuesday.\n", "utf-8")
    # 0.3 s: the child cannot even load its modules in that time, let alone build
    hurried = Engine.from_config(replace(config, index=replace(config.index, build_timeout_minutes=0.005)),
                                 real_embedder)

    began = time.monotonic()
    with pytest.raises(BuildProcessError, match=r"took longer than 0.005 minutes \(index.build_timeout_minutes\) "
                                                r"and was stopped; the index being served is unchanged"):
        hurried.rebuild(separate_process=True)
    assert time.monotonic() - began < 5
    assert current_generation(config.index.index_dir) == served
    assert "Minsk" in engine.ask("What city did the diplomat fly into?").text


def test_an_engine_given_another_embedder_builds_in_its_own_thread(config: Config,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # A test's embedder makes other vectors than the configured model a child would load.
    monkeypatch.setattr(sys, "executable", os.devnull)  # a child could not even start
    report = Engine.from_config(config, HashEmbedder()).rebuild(separate_process=True)
    assert report.added == ("us-diplomat-visits-belarus.txt",)
