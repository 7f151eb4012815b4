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
from index.model import Answer, ArticleInfo, BuildProgress, BuildReport, Citation, IndexStatus, SkippedFile

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
