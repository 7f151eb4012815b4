"""Fast tests of what the bot sends: every rendered message fits Discord's limits and can never ping."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fakediscord import limit_problems, live_mentions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import render
from index.types import (
    Answer,
    AnswerSentence,
    ArticleInfo,
    BuildProgress,
    BuildReport,
    Citation,
    IndexStatus,
    SkippedFile,
)

# Text that stresses escaping: markdown, mentions, links, long words, newlines, non-Latin scripts.
NASTY = st.sampled_from([
    "@everyone", "@here", "<@123456789012345678>", "<@!123456789012345678>", "<@&123456789012345678>",
    "**", "__", "~~", "||", "`", "```", "> ", "# ", "- ", "[x](https://e.com)", "\\", "\n", "\n\n", " ",
    "https://example.org/a_b*c", "—", "…", "Zürich", "東京", "🙂", "a" * 300,
])
TEXT = st.lists(st.one_of(NASTY, st.text(max_size=30)), max_size=40).map("".join)
URL = st.one_of(st.none(), st.just("https://example.org/article"), st.just("https://example.org/a#part"),
                st.just("https://example.org/@everyone"), st.text(max_size=30).map(lambda s: "https://x.org/" + s))


def citation(n: int) -> st.SearchStrategy[Citation]:
    return st.builds(Citation, n=st.just(n), source=TEXT, title=TEXT, url=URL, start=st.just(0), end=st.just(1),
                     quote=TEXT, score=st.floats(0, 1), paragraph=st.integers(1, 999))


ANSWERS = st.integers(0, 25).flatmap(lambda k: st.builds(
    Answer, question=TEXT, text=TEXT, declined=st.booleans(),
    citations=st.tuples(*(citation(n) for n in range(1, k + 1)))))


def payload(reply: render.Reply) -> dict[str, Any]:
    return {"content": reply.content, "embeds": [e.to_dict() for e in reply.embeds]}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANSWERS)
def test_any_answer_renders_within_every_limit_and_pings_no_one(answer: Answer) -> None:
    reply = render.answer_reply(answer)
    message = payload(reply)
    assert limit_problems(message) == []
    assert live_mentions(message) == []
    assert reply.content, "Discord refuses an empty message"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.builds(ArticleInfo, source=TEXT, title=TEXT, url=URL, date=st.none() | TEXT,
                          author=st.none() | TEXT, sha256=st.just("0"), chunks=st.integers(0, 9)), max_size=40),
       st.integers(-3, 10))
def test_any_page_of_sources_fits_and_pings_no_one(articles: list[ArticleInfo], page: int) -> None:
    message = {"embeds": [render.sources_page(articles, page).to_dict()]}
    assert limit_problems(message) == []
    assert live_mentions(message) == []


@settings(max_examples=100, deadline=None)
@given(st.builds(BuildReport, added=st.lists(TEXT, max_size=50).map(tuple),
                 changed=st.lists(TEXT, max_size=5).map(tuple),
                 removed=st.lists(TEXT, max_size=5).map(tuple),
                 skipped=st.lists(st.builds(SkippedFile, source=TEXT, reason=TEXT), max_size=30).map(tuple)))
def test_any_reindex_report_fits_and_always_gives_the_counts(report: BuildReport) -> None:
    text = render.report_text(report)
    assert limit_problems({"content": text}) == []
    assert live_mentions({"content": text}) == []
    assert (f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
            f"{len(report.skipped)} skipped") in text


@settings(max_examples=100, deadline=None)
@given(st.builds(IndexStatus, articles=st.integers(0, 10**6), chunks=st.integers(0, 10**7), model=TEXT,
                 dimension=st.integers(1, 4096), built_at=st.one_of(TEXT, st.just("2025-02-14T10:00:00+00:00")),
                 index_dir=TEXT, skipped=st.lists(st.builds(SkippedFile, source=TEXT, reason=TEXT), max_size=50)
                 .map(tuple)))
def test_any_status_fits(status: IndexStatus) -> None:
    message = {"embeds": [render.status_embed(status, dt.timedelta(seconds=3725)).to_dict()]}
    assert limit_problems(message) == []
    assert live_mentions(message) == []


@given(TEXT, st.integers(1, 3000))
def test_fit_never_exceeds_its_limit_and_keeps_short_text_whole(text: str, limit: int) -> None:
    fitted = render.fit(text, limit)
    assert len(fitted) <= limit
    if len(render.escape(text)) <= limit:
        assert fitted == render.escape(text)
    else:
        assert fitted.endswith("…")


def test_escaping_shows_the_articles_text_literally() -> None:
    assert render.escape("**bold** _it_ @everyone <@123456789012345678>") == (
        "\\*\\*bold\\*\\* \\_it\\_ @\u200beveryone <@\u200b123456789012345678>")


def test_declined_answers_label_the_nearest_passages_as_such() -> None:
    near = Citation(1, "a.txt", "Title", None, 0, 5, "Some passage.", 0.2, 3)
    reply = render.answer_reply(Answer("q", "I could not find an answer to that in the articles.", True, (near,)))
    embed = reply.embeds[0]
    assert "Nearest passages" in (embed.title or "")
    assert "do not answer" in (embed.title or "")
    assert embed.fields[0].name == "Passage 1: Title (paragraph 3)"
    assert render.answer_reply(Answer("q", "No.", True, ())).embeds == ()


def shown_text(value: str) -> str:
    """A field's blockquote as the article's text: "> ", the bold stars and "…" taken off, escaping undone."""
    text = "\n".join(line[2:] for line in value.split("\n") if line.startswith(">")).replace("@\u200b", "@")
    # Left to right, as markdown reads it: an escaped character stands for itself, a bare "**" is bold.
    return re.sub(r"\\(.)|\*\*", lambda m: m.group(1) or "", text).strip("…")


def test_a_source_is_shown_around_its_answer_sentence_with_the_answering_phrase_in_bold() -> None:
    before = "The *old* pier was rebuilt with granite from the quarry above the town. " * 12
    sentence = "At dusk the lanterns were lit by Mira Kovac, the harbour master's daughter."
    quote = before + sentence + " The band played on the quay." * 40
    start = 1000
    cited = Citation(1, "harbour.txt", "Harbour", None, start, start + len(quote), quote, 0.9, 4, line=7)
    at = start + len(before)
    said = AnswerSentence(sentence, 1, at, at + len(sentence), (sentence.index("Mira"), sentence.index(",")))
    reply = render.answer_reply(Answer("Who lit the lanterns?", f"{sentence} [1]", False, (cited,), (said,)))
    (field,) = reply.embeds[0].fields
    assert field.name == "[1] Harbour (line 7)"
    value = field.value or ""
    assert "At dusk the lanterns were lit by **Mira Kovac**, the harbour master's daughter." in value
    assert value.startswith("> …"), "cut before, and marked so"
    assert value.endswith("…"), "cut after, and marked so"
    assert "\\*old\\*" in value, "the article's own markdown is still escaped"
    assert shown_text(value) in quote
    # With no answer sentence pointing to it, a source shows its opening, as before.
    opening = render.answer_reply(Answer("q", "x", True, (cited,))).embeds[0].fields[0].value or ""
    assert opening.startswith("> The \\*old\\* pier")
    assert opening.endswith("…")
    assert "**" not in opening
    # A quote spanning lines names them all, as `articlebot show` numbers them.
    two_lines = Citation(2, "a.txt", "A", None, 0, 9, "one\ntwo.", 0.5, 1, line=3)
    assert render.answer_reply(Answer("q", "x", True, (two_lines,))).embeds[0].fields[0].name == (
        "Passage 1: A (lines 3–4)")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_answer_sentence_renders_within_the_limits_as_the_articles_own_text(data: st.DataObject) -> None:
    # Without links: escape_markdown leaves a URL as it is, so `shown_text` could not undo its escaping
    # (answers with links are held to the limits by the test above).
    quotes = data.draw(st.lists(TEXT.filter(lambda t: t.strip() and "://" not in t), min_size=1, max_size=12))
    citations, sentences = [], []
    for n, quote in enumerate(quotes, start=1):
        citations.append(Citation(n, "a.md", "T", None, 50, 50 + len(quote), quote, 0.5, 1))
        a = data.draw(st.integers(0, len(quote) - 1))
        b = data.draw(st.integers(a + 1, len(quote)))
        h0 = data.draw(st.integers(0, b - a))
        h1 = data.draw(st.integers(h0, b - a))
        sentences.append(AnswerSentence(quote[a:b], n, 50 + a, 50 + b, (h0, h1) if h1 > h0 else None))
    reply = render.answer_reply(Answer("q", "x", False, tuple(citations), tuple(sentences)))
    message = payload(reply)
    assert limit_problems(message) == []
    assert live_mentions(message) == []
    for field, quote in zip(reply.embeds[0].fields, quotes, strict=False):
        assert shown_text(field.value or "").strip() in quote


def test_sources_link_to_the_quote_with_a_text_fragment() -> None:
    cited = Citation(1, "a.md", "Title", "https://example.org/news", 0, 5, "Three - prisoners, & one American", 0.9, 2)
    value = render.answer_reply(Answer("q", "Yes [1]", False, (cited,))).embeds[0].fields[0].value
    link = re.search(r"\(<(.+)>\)", value or "")
    assert link
    assert link.group(1) == "https://example.org/news#:~:text=Three%20%2D%20prisoners%2C%20%26%20one%20American"


@pytest.mark.parametrize(("url", "quote", "expected"), [
    ("https://e.org/a", "short quote", "https://e.org/a#:~:text=short%20quote"),
    ("https://e.org/a#top", "short quote", "https://e.org/a#top:~:text=short%20quote"),
    ("https://e.org/a", "one two three four five six seven eight nine ten eleven",
     "https://e.org/a#:~:text=one%20two%20three%20four%20five,seven%20eight%20nine%20ten%20eleven"),
    ("https://e.org/a", "first para words here\n\nsecond para ends here",
     "https://e.org/a#:~:text=first%20para%20words%20here,second%20para%20ends%20here"),
])
def test_fragment_links(url: str, quote: str, expected: str) -> None:
    assert render.fragment_link(url, quote) == expected


def test_progress_and_help_texts() -> None:
    assert "embedding passages: 3/10" in render.progress_text(BuildProgress("embedding", 3, 10))
    assert "Reindexing" in render.progress_text(None)
    assert "/ask" in render.help_text("articlebot")
    assert render.duration(dt.timedelta(days=2, hours=3)) == "2 d 3 h"
    assert render.duration(dt.timedelta(seconds=75)) == "1 min 15 s"


def test_the_bot_never_allows_mentions() -> None:
    assert render.NO_MENTIONS.to_dict() == {"parse": []}
