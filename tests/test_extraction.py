"""Extracting articles from HTML within bounds: hostile markup is refused or given up on, never waited for."""

from __future__ import annotations

import time

import pytest

from index.articles import extraction
from index.articles.extraction import ExtractionRefused, extract

STORY = ("<p>The council agreed the budget on Tuesday after a long debate in the chamber, and the mayor said "
         "the new library would open in the spring.</p>")


def page(body: str) -> str:
    return f"<html><head><title>Budget agreed</title></head><body><article>{STORY * 3}{body}</article></body></html>"


def test_an_ordinary_page_is_extracted_here_and_in_a_child_alike() -> None:
    here = extract(page(""))
    assert "the new library would open in the spring" in here["text"]
    assert here["title"] == "Budget agreed"
    assert extract(page(""), isolated=True) == here


@pytest.mark.parametrize(("markup", "why"), [
    ("<table><tr>" + "<td>x</td>" * 120_000 + "</tr></table>", "one <tr> element of the page holds 120,000 others"),
    ("<p>" + "<span>w</span>" * 300_000 + "</p>", "one <p> element of the page holds 300,000 others"),
    (("<ul>" + "<li>x</li>" * 100 + "</ul>") * 600, "more than 50,000 HTML elements"),
])
@pytest.mark.parametrize("declaration", ["", '<?xml version="1.0" encoding="utf-8"?>'])
def test_markup_that_would_make_extraction_slow_is_refused_at_once(markup: str, why: str, declaration: str) -> None:
    began = time.monotonic()
    with pytest.raises(ExtractionRefused, match=why):
        extract(declaration + page(markup), isolated=True)  # a str with an XML declaration, which lxml refuses
    assert time.monotonic() - began < 5  # unguarded, these took 43 s, 17 s and about 5 s


def test_the_child_is_stopped_at_its_processor_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extraction, "CPU_SECONDS", 1)
    slow = page(("<p>" + "<span>w</span>" * 45 + "</p>") * 1_000)  # within the guard; about 3 s of extraction
    began = time.monotonic()
    with pytest.raises(ExtractionRefused, match=r"broke the limits it is read within \(1 s of processor time"):
        extract(slow, isolated=True)
    assert time.monotonic() - began < 10


def test_the_child_is_stopped_at_its_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extraction, "MEMORY_BYTES", 64 * 1024 ** 2)  # an ordinary page needs about 47 MB
    with pytest.raises(ExtractionRefused, match="needed more than 64 MB of memory, so it was given up"):
        extract(page(("<div>" + STORY * 500 + "</div>") * 20), isolated=True)  # 1.4 MB of prose: about 86 MB
