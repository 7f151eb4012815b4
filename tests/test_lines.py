"""Citations' lines: counted in the article text, read once while kept, never given wrong after a change.

The reading itself is the engine's (tests/test_cli.py asks the real command for lines); here a dict
stands for the corpus, so that what is read, and when, can be counted and changed.
"""

from __future__ import annotations

from index.articles.lines import ArticleLines, line_at
from index.types import Answer, Citation

TEXT = "Title\n\nFirst paragraph.\nSecond paragraph, which answers.\n"


def cite(n: int, text: str, quote: str, source: str = "a.txt") -> Citation:
    start = text.index(quote)
    return Citation(n, source, "T", None, start, start + len(quote), quote, 0.5, n)


def test_a_line_is_counted_as_editors_count_them() -> None:
    assert line_at(TEXT, 0) == 1
    assert line_at(TEXT, TEXT.index("First")) == 3
    assert line_at(TEXT, TEXT.index("Second")) == 4


def test_each_article_is_read_once_while_kept_and_a_changed_one_is_read_again() -> None:
    corpus = {"a.txt": TEXT}
    reads: list[str] = []

    def read(source: str) -> str:
        reads.append(source)
        return corpus[source]

    lines = ArticleLines(read)
    answer = Answer("q", "x", False, (cite(1, TEXT, "Second paragraph"), cite(2, TEXT, "First paragraph.")))
    located = lines.locate(answer)
    assert [c.line for c in located.citations] == [4, 3]
    assert reads == ["a.txt"]
    assert located.citations[0].quote == answer.citations[0].quote  # nothing else changes
    # The article was rebuilt with a line before: the kept text no longer holds the new offsets' quote.
    corpus["a.txt"] = "New line\n" + TEXT
    moved = cite(1, corpus["a.txt"], "Second paragraph")
    assert lines.citation(moved).line == 5
    assert reads == ["a.txt", "a.txt"]


def test_no_line_is_given_rather_than_a_wrong_one() -> None:
    corpus = {"a.txt": TEXT}

    def read(source: str) -> str:
        if source not in corpus:
            raise FileNotFoundError(source)
        return corpus[source]

    lines = ArticleLines(read)
    stale = cite(1, TEXT, "Second paragraph")
    corpus["a.txt"] = TEXT.replace("Second", "Later")  # edited since it was indexed
    assert lines.citation(stale).line is None
    assert lines.citation(cite(1, TEXT, "First paragraph.", source="gone.txt")).line is None


def test_texts_beyond_the_kept_size_are_dropped_oldest_first() -> None:
    reads: list[str] = []

    def read(source: str) -> str:
        reads.append(source)
        return TEXT

    lines = ArticleLines(read, keep_chars=2 * len(TEXT))
    for source in ("a.txt", "b.txt", "c.txt", "c.txt", "a.txt"):
        assert lines.citation(cite(1, TEXT, "First paragraph.", source=source)).line == 3
    assert reads == ["a.txt", "b.txt", "c.txt", "a.txt"]  # a.txt was the oldest when c.txt came
