"""/add, /remove and /feeds, over real sockets: the real bot against the fake Discord, which serves the
attachments, and a real web site on loopback for links and feeds (tests/website.py)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest
from fakediscord import ADMINISTRATOR, FakeInteraction, Sent

from index.articles import feeds
from index.config import FeedConfig, FetchConfig
from index.engine import Engine
from tests.support import pdf_bytes, until
from tests.website import Site

NOTE = ("---\ntitle: Harbour dredging report\n---\n\nThe harbour authority dredged the eastern channel to a depth of "
        "twelve metres in March, so that the new grain ships can berth at any tide, its annual report says.\n")


def fetching(engine: Engine, *followed: FeedConfig) -> Engine:
    """The engine's configuration, allowed to fetch from the tests' loopback site, following `followed`."""
    engine.config = replace(engine.config, fetch=FetchConfig(allow_private_addresses=True, timeout_seconds=5),
                            feeds=followed)
    return engine


async def answered(it: FakeInteraction, timeout: float = 120) -> Sent:
    """The deferred command's one answer: the edit of its thinking message."""
    await it.callback()
    return await it.edit(lambda s: bool(s.content), timeout)


async def test_add_by_link_answers_in_one_message_and_the_article_is_then_cited(
        start_bot: Any, make_engine: Any, site: Site) -> None:
    engine = fetching(make_engine({}))
    fake = (await start_bot(engine)).fake
    admin = fake.user("root", permissions=ADMINISTRATOR)

    refused = await fake.slash("add", fake.user("member"), url=site.url("/a/lighthouse"))
    assert (await refused.callback()).ephemeral
    assert "Only server administrators" in (await refused.callback()).content
    assert not site.asked("/a/")

    it = await fake.slash("add", admin, url=site.url("/a/lighthouse"))
    assert (await it.callback()).body["type"] == 5
    reply = await answered(it)
    assert reply.content.startswith("Added [Lighthouse keeper retires after forty years](<")
    assert "lighthouse-keeper-retires-after-forty-years.md" in reply.content
    assert "indexed" in reply.content
    assert [s.kind for s in it.sent] == ["callback", "edit"]  # one message
    ask = await fake.slash("ask", fake.user("ann"), question="How long could the supply boat not land?")
    assert "nine weeks" in (await ask.followup()).content

    again = await answered(await fake.slash("add", admin, url=site.url("/a/lighthouse")))
    assert again.content.startswith("Already in the corpus")
    assert "Nothing changed" in again.content
    menu = await answered(await fake.slash("add", admin, url=site.url("/a/menu")))
    assert menu.content.startswith("Not added:")
    assert "No article text was found" in menu.content
    both = await fake.slash("add", admin)
    assert "either a link" in (await both.callback()).content


async def test_add_an_uploaded_file_with_checks_on_name_type_size_and_content(
        start_bot: Any, make_engine: Any) -> None:
    engine = fetching(make_engine({}))
    corpus = engine.config.index.corpus_dir
    fake = (await start_bot(engine)).fake
    admin = fake.user("root", permissions=ADMINISTRATOR)

    upload = fake.attachment("../../harbour.md", NOTE.encode(), "text/markdown; charset=utf-8")
    reply = await answered(await fake.slash("add", admin, file=upload))
    assert reply.content.startswith("Added Harbour dredging report (`harbour.md`)"), reply.content
    assert (corpus / "harbour.md").read_text("utf-8") == NOTE
    assert not (corpus.parent.parent / "harbour.md").exists()
    ask = await fake.slash("ask", fake.user("ann"), question="How deep was the eastern channel dredged?")
    assert "twelve metres" in (await ask.followup()).content

    leaflet = pdf_bytes([["The new ferry timetable starts on the first of June, with a boat every twenty",
                          "minutes from the harbour to the island between six in the morning and midnight."]],
                        title="Ferry timetable leaflet")
    upload = fake.attachment("ferry timetable.pdf", leaflet, "application/pdf")
    reply = await answered(await fake.slash("add", admin, file=upload))
    assert reply.content.startswith("Added Ferry timetable leaflet (`ferry-timetable.pdf`)"), reply.content
    ask = await fake.slash("ask", fake.user("ann"), question="How often will the ferry sail to the island?")
    assert "a boat every twenty minutes" in (await ask.followup()).content

    downloads = len(fake.downloads)
    for attachment, why in [
        (fake.attachment("tool.exe", b"MZ\x90\x00", "application/x-msdownload"), ".exe files are not accepted"),
        (fake.attachment("big.txt", b"x", size=11_000_000), "larger than the 10 MB limit"),
        (fake.attachment("photo.txt", b"\x89PNG\r\n", "image/png"), "It is image/png, not text"),
    ]:
        refused = await answered(await fake.slash("add", admin, file=attachment))
        assert refused.content.startswith("Not added:"), refused.content
        assert why in refused.content, refused.content
    assert len(fake.downloads) == downloads  # refused before downloading anything

    binary = await answered(await fake.slash("add", admin, file=fake.attachment("data.txt", b"\x00\x01\x02" * 50)))
    assert "Not added" in binary.content
    assert "cannot be indexed" in binary.content
    same = await answered(await fake.slash("add", admin, file=fake.attachment("copy.md", NOTE.encode())))
    assert same.content.startswith("Already in the corpus")
    assert "harbour.md" in same.content
    assert sorted(p.name for p in corpus.iterdir()) == ["ferry-timetable.pdf", "harbour.md",
                                                        "us-diplomat-visits-belarus.txt"]


async def test_remove_autocompletes_indexed_titles_for_admins_only(start_bot: Any, make_engine: Any) -> None:
    engine = fetching(make_engine({"harbour.md": NOTE}))
    fake = (await start_bot(engine)).fake
    admin = fake.user("root", permissions=ADMINISTRATOR)

    typed = await fake.autocomplete("remove", admin, "article", "harb")
    choices = (await typed.callback()).body["data"]["choices"]
    assert choices == [{"name": "Harbour dredging report (harbour.md)", "value": "harbour.md"}]
    everything = await fake.autocomplete("remove", admin, "article", "")
    assert len((await everything.callback()).body["data"]["choices"]) == 2
    member = await fake.autocomplete("remove", fake.user("member"), "article", "harb")
    assert (await member.callback()).body["data"]["choices"] == []

    reply = await answered(await fake.slash("remove", admin, article="harbour.md"))
    assert reply.content.startswith("Removed Harbour dredging report (harbour.md)")
    assert not (engine.config.index.corpus_dir / "harbour.md").exists()
    assert [a.source for a in engine.sources()] == ["us-diplomat-visits-belarus.txt"]
    missing = await answered(await fake.slash("remove", admin, article="harbour.md"))
    assert missing.content.startswith("Not removed")
    assert "is not an article" in missing.content
    last = await answered(await fake.slash("remove", admin, article="us-diplomat-visits-belarus.txt"))
    assert "last article" in last.content


async def test_feeds_followed_in_discord_are_polled_announced_once_and_persist(
        start_bot: Any, make_engine: Any, site: Site) -> None:
    engine = fetching(make_engine({}), FeedConfig(site.url("/broken.xml"), name="Broken wire"))
    bot = await start_bot(engine)
    fake = bot.fake
    admin = fake.user("root", permissions=ADMINISTRATOR)

    followed = await answered(await fake.slash("feeds", admin, subcommand="add", url=site.url("/rss.xml"),
                                               name="Coast News"))
    assert followed.content.startswith("Following Coast News (2 entries now)")
    assert "announced here" in followed.content
    news = await fake.wait_for(lambda: [m for m in fake.replies() if m.channel_id == fake.channel_id], 120,
                               "the feed's announcement")
    assert len(news) == 1
    text = news[0].content
    assert text.startswith("2 new articles from Coast News:")
    assert f"[Lighthouse keeper retires after forty years](<{site.url('/a/lighthouse')}>)" in text
    assert "Village bakery wins the national bread prize" in text
    assert news[0].body["flags"] & 4
    await fake.wait_for(lambda: len(engine.sources()) == 3, 60, "the feed's articles in the index")
    assert any("feed Broken wire failed (1 time in a row)" in line for line in bot.logs.lines)

    listed = await answered(await fake.slash("feeds", admin, subcommand="list"))
    assert "Coast News" in listed.content
    assert f"<#{fake.channel_id}>" in listed.content
    assert "Broken wire" in listed.content
    assert "(config file): failing, 1 time in a row" in listed.content
    status = await fake.slash("status", fake.user("ann"))
    fields = {f["name"]: f["value"] for f in (await status.followup()).embeds[0]["fields"]}
    assert fields["Feeds"] == "2 followed, 1 failing"
    assert "Broken wire: failed 1 time in a row (the server answered 500" in fields["Failing feeds (1)"]

    assert [f.url for f in feeds.feeds(bot.config)] == [site.url("/broken.xml"), site.url("/rss.xml")]
    choices = (await (await fake.autocomplete("feeds", admin, "feed", "coast", subcommand="remove")).callback())
    assert choices.body["data"]["choices"] == [{"name": "Coast News", "value": site.url("/rss.xml")}]
    kept = await answered(await fake.slash("feeds", admin, subcommand="remove", feed=site.url("/broken.xml")))
    assert "configuration file" in kept.content
    gone = await answered(await fake.slash("feeds", admin, subcommand="remove", feed=site.url("/rss.xml")))
    assert gone.content.startswith("No longer following Coast News")
    assert [f.url for f in feeds.feeds(bot.config)] == [site.url("/broken.xml")]
    member = await fake.slash("feeds", fake.user("member"), subcommand="list")
    assert "Only server administrators" in (await member.callback()).content
    assert len([m for m in fake.replies() if m.channel_id == fake.channel_id]) == 1


async def test_concurrent_adds_beside_a_reindex_lose_nothing_and_questions_are_answered(
        start_bot: Any, make_engine: Any, site: Site) -> None:
    engine = fetching(make_engine({}))
    fake = (await start_bot(engine)).fake
    admin = fake.user("root", permissions=ADMINISTRATOR)
    reindex = await fake.slash("reindex", admin)
    adds = [await fake.slash("add", admin, url=site.url(path)) for path in ("/a/bakery", "/a/chess", "/a/ferry")]
    upload = await fake.slash("add", admin, file=fake.attachment("harbour.md", NOTE.encode()))
    asks = [await fake.slash("ask", fake.user(f"u{i}"), question="Who visited Minsk?") for i in range(3)]
    for ask in asks:
        assert "Smith" in (await ask.followup(120)).content
    replies = await asyncio.gather(*(answered(it, 240) for it in [*adds, upload]))
    assert all(r.content.startswith("Added") for r in replies), [r.content for r in replies]
    await reindex.edit(lambda s: "finished" in s.content, 240)
    sources = {a.source for a in engine.sources()}
    assert sources == {"us-diplomat-visits-belarus.txt", "village-bakery-wins-the-national-bread-prize.md",
                       "schoolgirl-wins-the-regional-chess-final.md", "river-ferry-changes-its-timetable.md",
                       "harbour.md"}
    assert not [p for p in engine.config.index.corpus_dir.iterdir() if p.name.startswith(".")]



async def test_the_bot_polls_its_feeds_again_on_its_interval_and_an_unchanged_feed_costs_a_304(
        start_bot: Any, make_engine: Any, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The poller's own timer, not a command, brings a new entry in (the interval cut to a second for the test)."""
    from bot import app
    from bot.polling import FeedPoller

    class EverySecond(FeedPoller):
        def __init__(self, bot: Any) -> None:
            super().__init__(bot)
            assert self.interval == 30 * 60, "the default interval is 30 minutes"
            self.interval = 1.0

    monkeypatch.setattr(app, "FeedPoller", EverySecond)
    engine = fetching(make_engine({}), FeedConfig(site.url("/rss.xml"), name="Coast News"))
    bot = await start_bot(engine)
    await until(lambda: len(engine.sources()) == 3, 120, "the feed's first two entries in the index")
    polled = len(site.asked("/rss.xml"))
    await until(lambda: len(site.asked("/rss.xml")) >= polled + 2, 30, "two more polls on the timer")
    again = [headers for path, headers in site.requests if path == "/rss.xml"][polled:]
    assert all(h.get("If-None-Match") == '"v2"' for h in again), "an unchanged feed is asked for conditionally"
    pages = len(site.asked("/a/"))

    site.rss_items.append("/a/chess")
    await until(lambda: len(engine.sources()) == 4, 120, "the new entry, found by the next timed poll")
    assert site.asked("/a/")[pages:] == ["/a/chess"], "only the new entry's page is fetched"
    assert any("feed Coast News: 1 new article(s)" in line for line in bot.logs.lines)


async def test_a_stopping_bot_does_not_wait_for_a_feed_of_slow_pages(
        start_bot: Any, make_engine: Any, site: Site) -> None:
    engine = fetching(make_engine({}), FeedConfig(site.url("/slow.xml"), name="Slow news"))
    bot = await start_bot(engine)
    await until(lambda: site.asked("/a/slow/"), 30, "the first poll's first page")
    began = time.monotonic()
    await bot.finish(timeout=15)  # the poll would take 20 s more
    assert time.monotonic() - began < 5
    assert len(site.asked("/a/slow/")) < 6, "the pages left are the next poll's"
