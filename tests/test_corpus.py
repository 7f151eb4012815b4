"""Reading articles: titles, markup, repeats, metadata, and files that cannot be read."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from index.articles.corpus import ArticleSkipped, read_article, scan_corpus
from index.errors import CorpusError
from tests.support import SEED, pdf_bytes

MB = 1_000_000


def _read(folder: Path, name: str):  # type: ignore[no-untyped-def]
    files, skipped = scan_corpus(folder, max_bytes=10 * MB)
    (file,) = [f for f in files if f.source == name]
    return read_article(file)


def test_seed_article_title_markup_and_repeats(corpus_dir: Path) -> None:
    article = _read(corpus_dir, SEED.name)
    assert article.title == "Quiet Diplomatic Shift: U.S. Engages with Belarusian Leadership"
    texts = [article.text[p.span.start:p.span.end] for p in article.paragraphs]
    assert not any("image" in t for t in texts), "the markup line must not be indexed"
    assert len(texts) == len(set(texts)), "repeated paragraphs are kept once"
    assert len(texts) == 7  # lead, title, subtitle and four body paragraphs (the three repeats dropped)
    released = next(p for p in article.paragraphs
                    if "three political prisoners" in article.text[p.span.start:p.span.end])
    assert released.number == 6
    assert article.text == SEED.read_text("utf-8")


def test_markdown_front_matter(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "---\ntitle: \"Budget agreed\"\nurl: https://example.com/budget\ndate: 2025-03-01\nauthor: Jane Roe\n---\n"
        "# Ignored heading\n\nThe council agreed the budget on Tuesday.\n", "utf-8")
    article = _read(tmp_path, "a.md")
    assert (article.title, article.url, article.date, article.author) == (
        "Budget agreed", "https://example.com/budget", "2025-03-01", "Jane Roe")
    assert all(p.span.start > article.text.index("---\n#") for p in article.paragraphs)


def test_html_main_text_without_scripts_styles_or_navigation(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><head><title>Site | Story</title><link rel='canonical' href='https://news.example/story'>"
        "<style>.x{color:red}</style><script>var secret = 'do not index';</script></head><body>"
        "<nav><a href='/'>Home</a> <a href='/about'>About us</a></nav><article><h1>Mayor signs budget</h1>"
        "<p>The mayor signed the city budget on Tuesday after a long debate in the council chamber.</p>"
        "<p>The budget raises spending on schools and parks by ten percent over last year.</p></article>"
        "<footer>Contact us</footer></body></html>", "utf-8")
    article = _read(tmp_path, "page.html")
    assert "The mayor signed the city budget on Tuesday" in article.text
    for junk in ("secret", "color:red", "About us", "Contact us"):
        assert junk not in article.text
    assert article.url == "https://news.example/story"
    assert article.title


def test_pdf_text_is_read_as_paragraphs_with_its_title_and_author(tmp_path: Path) -> None:
    (tmp_path / "harbour.pdf").write_bytes(pdf_bytes([
        ["Harbour dredging report", "",
         "The eastern channel of the harbour was dredged to a depth of twelve metres over the",
         "summer, the port authority said on Monday, so that larger ferries can berth at the",
         "new terminal.",
         "Work on the western channel begins in the spring and will take about six weeks to",
         "finish, weather permitting."],
        ["The dredging cost 4.2 million euros, paid by the port authority and the regional",
         "government in equal shares."],
    ], title="Harbour dredging report", author="Port Authority"))
    article = _read(tmp_path, "harbour.pdf")
    assert (article.title, article.author) == ("Harbour dredging report", "Port Authority")
    texts = [article.text[p.span.start:p.span.end] for p in article.paragraphs]
    assert texts == [
        "Harbour dredging report",
        "The eastern channel of the harbour was dredged to a depth of twelve metres over the summer, the port "
        "authority said on Monday, so that larger ferries can berth at the new terminal.",
        "Work on the western channel begins in the spring and will take about six weeks to finish, weather "
        "permitting.",
        "The dredging cost 4.2 million euros, paid by the port authority and the regional government in equal "
        "shares.",
    ]


def test_unreadable_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("", "utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PNG" * 100)
    noise = random.Random(34).randbytes(20_000).replace(b"\x00", b"\x01")  # no NUL byte to give it away
    (tmp_path / "noise.txt").write_bytes(noise)
    (tmp_path / "big.txt").write_text("word " * 300_000, "utf-8")
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 owners met the mayor.".encode("cp1252"))
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4 truncated")
    (tmp_path / "scan.pdf").write_bytes(pdf_bytes([[]], title="A scanned page"))
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    outside = tmp_path.parent / "outside-secret.txt"
    outside.write_text("This secret lives outside the corpus.", "utf-8")
    os.symlink(outside, tmp_path / "link.txt")
    files, skipped = scan_corpus(tmp_path, max_bytes=MB)
    reasons = {s.source: s.reason for s in skipped}
    assert "larger than" in reasons["big.txt"]
    assert "symbolic link" in reasons["link.txt"]
    by_name = {f.source: f for f in files}
    assert "image.png" not in by_name
    with pytest.raises(ArticleSkipped, match="not a readable PDF"):
        read_article(by_name["notes.pdf"])
    with pytest.raises(ArticleSkipped, match="holds no text"):
        read_article(by_name["scan.pdf"])
    with pytest.raises(ArticleSkipped, match="empty"):
        read_article(by_name["empty.txt"])
    with pytest.raises(ArticleSkipped, match="binary"):
        read_article(by_name["binary.txt"])
    with pytest.raises(ArticleSkipped, match=r"binary file, not text \(1\d% of its characters are control codes"):
        read_article(by_name["noise.txt"])  # was indexed as 57 passages of Windows-1252 garbage
    latin = read_article(by_name["latin.txt"])
    assert latin.text.startswith("Café")
    assert latin.warning
    assert "UTF-8" in latin.warning


def test_missing_corpus_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        scan_corpus(tmp_path / "nope", max_bytes=MB)


def test_nested_folders_and_sources_relative_to_the_corpus(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "story.txt").write_text("A story from deep in the tree.", "utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.txt").write_text("hidden", "utf-8")
    files, _ = scan_corpus(tmp_path, max_bytes=MB)
    assert [f.source for f in files] == ["a/b/c/story.txt"]
