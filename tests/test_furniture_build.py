"""Repetition across a site's pages, as the index counts it: incremental, and shown by `articlebot show --furniture`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from index.embedders import HashEmbedder
from index.engine import Engine
from index.store.embedded.generations import current_generation, read_manifest
from index.store.embedded.repetition_table import COUNTS, IDS
from tests.support import REPO, make_config

# A site's line that reads like prose (no rule or shape gives it away), on every page of one site.
PROMPT = "Our reporting is paid for by readers like you. Thank you for reading."
STORIES = [
    "The harbour authority said on Monday it would close the northern quay for six weeks of repairs.",
    "The council voted on Tuesday to close the old bridge after engineers found cracks in two piers.",
    "Hospitals in the region reported a sharp rise in admissions over the weekend, officials said.",
    "The ferry company said it would add two sailings a day from next month to meet demand.",
]


class CountingEmbedder(HashEmbedder):
    """Records what it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return super().encode(texts)


def _page(folder: Path, n: int, *, site: str = "news.example") -> None:
    (folder / f"story-{n}.md").write_text(
        f"---\ntitle: Story {n}\nurl: https://www.{site}/story-{n}\n---\n\n{STORIES[n]}\n\n{PROMPT}\n", "utf-8")


def test_a_third_page_turns_a_line_of_the_older_pages_into_furniture(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    _page(corpus, 0)
    _page(corpus, 1)
    _page(corpus, 3, site="other.example")  # another site's page does not count towards news.example's
    embedder = CountingEmbedder()
    engine = Engine.from_config(make_config(corpus, index), embedder)
    engine.rebuild()
    assert any(PROMPT in c for c in _chunks(engine))  # on two pages of its site: still the article's

    embedder.embedded.clear()
    _page(corpus, 2)
    report = engine.rebuild()
    assert report.added == ("story-2.md",)
    assert set(report.unchanged) == {"story-0.md", "story-1.md", "story-3.md"}
    # The older pages of the site were chunked again (their files did not change); the other site's was not.
    assert sorted(t.split("\n")[0] for t in embedder.embedded) == ["Story 0", "Story 1", "Story 2"]
    chunks = _chunks(engine)
    assert [c for c in chunks if "Our reporting" in c] == [f"{STORIES[3]}\n\n{PROMPT}"]  # only other.example's
    assert all(any(story in c for c in chunks) for story in STORIES)
    # The counts are kept with the generation, checksummed with its other files.
    assert {IDS, COUNTS} <= set(read_manifest(index).files)
    assert all((current_generation(index) / name).is_file() for name in (IDS, COUNTS))  # type: ignore[operator]

    embedder.embedded.clear()
    (corpus / "story-2.md").unlink()  # back to two pages: the line is the article's again
    engine.rebuild()
    assert sorted(t.split("\n")[0] for t in embedder.embedded) == ["Story 0", "Story 1"]
    assert sum(PROMPT in c for c in _chunks(engine)) == 3


def test_show_furniture_prints_what_was_left_out_and_why(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for n in range(3):
        _page(corpus, n)
    (corpus / "scraped.txt").write_text(
        "Opinion      Opinion\n\nSign up for our daily newsletter\n\nTom Reyes | Harbour Gazette The ferry company "
        "said it would add two sailings a day from next month to meet demand.\n", "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARTICLEBOT_", "DISCORD_"))}
    env["PYTHONPATH"] = str(REPO)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args, "--corpus", str(corpus), "--index-dir",
                               str(index)], env=env, capture_output=True, text=True, timeout=300, cwd=REPO)

    assert run("index").returncode == 0
    shown = run("show", "--furniture", "story-1.md")
    assert shown.returncode == 0, shown.stderr
    assert "repeated on the site" in shown.stdout
    assert "Our reporting is paid for by readers like you." in shown.stdout
    assert STORIES[1][:30] not in shown.stdout  # the article's sentence is kept, so not listed
    scraped = run("show", "--furniture", "scraped.txt").stdout
    lines = scraped.splitlines()
    assert any("rule: phrase" in line and "Sign up for our daily newsletter" in line for line in lines)
    assert any("classifier" in line and "Opinion" in line for line in lines)
    assert any("glued scrap" in line and "Tom Reyes | Harbour Gazette" in line for line in lines)
    assert "line 5" in scraped  # where the glued scrap is, as an editor counts lines
    plain = run("show", "scraped.txt")
    assert plain.stdout == (corpus / "scraped.txt").read_text("utf-8")  # without the option: the text, as before


def _chunks(engine: Engine) -> list[str]:
    with engine.snapshot() as snapshot:
        return [snapshot.chunk(i).text for i in range(len(snapshot))]
