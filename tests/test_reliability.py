"""Crashes and concurrency: a killed indexer loses nothing, questions keep flowing during a rebuild."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from index.embedders import Embedder
from index.engine import Engine
from index.store.embedded.generations import current_generation
from tests.commandline import ARTICLEBOT, cli_environment
from tests.support import REPO, SEED, SHARED_EVAL, make_config


def _add_eval_articles(corpus: Path, copies: int = 1) -> int:
    """Copy the two shared SQuAD articles in (`copies` times each): enough text that embedding takes seconds."""
    articles = sorted(SHARED_EVAL.glob("squad-*/corpus/*.md"))
    if len(articles) < 2:
        pytest.skip(f"the shared eval set is not at {SHARED_EVAL}")
    for copy in range(copies):
        for article in articles:
            shutil.copy(article, corpus / f"{article.stem}-{copy}{article.suffix}")
    return copies * len(articles)


def _cli(*args: str) -> subprocess.Popen[str]:
    """`articlebot ARGS` started in its own process, to be killed while it works."""
    return subprocess.Popen([*ARTICLEBOT, *args], cwd=REPO, env=cli_environment(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow  # about a minute: indexes copies of the shared eval articles
def test_killing_the_indexer_at_any_moment_keeps_the_previous_index(tmp_path: Path,
                                                                   real_embedder: Embedder) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    config = make_config(corpus, index_dir)
    Engine.from_config(config, real_embedder).rebuild()
    live = current_generation(index_dir)
    added = _add_eval_articles(corpus, copies=4)  # ~450 chunks: 10 s or more of embedding
    for delay in (0.5, 2.0, 5.0):  # while importing, while loading the model, while embedding
        process = _cli("index", "--corpus", str(corpus), "--index-dir", str(index_dir))
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert current_generation(index_dir) == live, f"killed after {delay} s, the live index changed"
        answer = Engine.from_config(config, real_embedder).ask("who was released?")
        assert "three political prisoners" in answer.citations[0].quote
    finished = _cli("index", "--corpus", str(corpus), "--index-dir", str(index_dir))
    out, err = finished.communicate(timeout=300)
    assert finished.returncode == 0, err
    assert f"{added} added" in out
    assert [p.name for p in index_dir.glob("gen-*")] == [current_generation(index_dir).name]  # type: ignore[union-attr]


@pytest.mark.slow  # about a minute: indexes copies of the shared eval articles
def test_hundreds_of_questions_during_a_rebuild_are_all_answered(tmp_path: Path,
                                                                real_embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    engine = Engine.from_config(make_config(corpus, tmp_path / "index"), real_embedder)
    engine.rebuild()
    _add_eval_articles(corpus)
    questions = ["who was released?", "Who visited Minsk?", "Which NFL team won Super Bowl 50?"] * 100
    with ThreadPoolExecutor(max_workers=1) as builder, ThreadPoolExecutor(max_workers=8) as askers:
        rebuild = builder.submit(engine.rebuild)
        answers = list(askers.map(engine.ask, questions))
        report = rebuild.result(timeout=300)
    assert report.added
    assert len(answers) == len(questions)
    assert all(a.citations for a in answers)
    released = [a for q, a in zip(questions, answers, strict=True) if q == "who was released?"]
    assert all("three political prisoners" in a.citations[0].quote for a in released)
    assert any(c.source == "super-bowl-50-0.md" for c in engine.ask("Which NFL team won Super Bowl 50?").citations)


@pytest.mark.parametrize("vanish", ["deleted", "replaced"])
def test_files_that_vanish_or_change_while_indexing(tmp_path: Path, vanish: str) -> None:
    from index.articles.corpus import read_article, scan_corpus

    (tmp_path / "a.txt").write_text("Alpha story\nThe alpha council met on Monday.", "utf-8")
    files, _ = scan_corpus(tmp_path, max_bytes=10**6)
    if vanish == "deleted":
        (tmp_path / "a.txt").unlink()
    else:
        (tmp_path / "a.txt").write_text("Something else entirely.", "utf-8")
    article = read_article(files[0])  # read from the bytes that were hashed: consistent with its hash
    assert "alpha council" in article.text
