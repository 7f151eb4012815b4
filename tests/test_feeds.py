"""Feeds: `articlebot feeds sync` and index/articles/feeds.py, against a real web server the tests start on loopback.

The server (tests/website.py) serves an RSS feed that honours If-None-Match, an Atom feed that honours
If-Modified-Since, a feed that fails, an HTML page posing as a feed, a feed whose pages are slow, and
the article pages the feeds link to. Nothing here reaches the internet.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from index.articles import feeds
from index.articles.fetch import fetch_feed
from index.config import FeedConfig, load_config
from index.errors import ConfigError, FetchError, IngestError
from tests.commandline import articlebot_in_process, run_articlebot
from tests.support import SEED, state
from tests.website import CANONICAL, LIGHTHOUSE, MODIFIED, Site, write_config


def with_feeds(config: Path, *feeds_: dict[str, Any]) -> Path:
    """Append [[feeds]] tables to a config file written by write_config."""
    lines = [config.read_text("utf-8")]
    for feed in feeds_:
        lines.append("[[feeds]]\n" + "".join(f"{k} = {v!r}\n" if isinstance(v, str) else f"{k} = {v}\n"
                                             for k, v in feed.items()))
    config.write_text("\n".join(lines), "utf-8")
    return config


def test_sync_adds_rss_and_atom_entries_then_an_unchanged_feed_costs_one_304(
        site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = with_feeds(write_config(tmp_path), {"url": site.url("/rss.xml"), "name": "Coast News"},
                        {"url": site.url("/atom.xml")}, {"url": site.url("/broken.xml"), "name": "Broken"})
    (tmp_path / "corpus" / SEED.name).write_bytes(SEED.read_bytes())
    status, out, err = articlebot_in_process(capsys, "feeds", "sync", "--config", str(config))
    assert status == 0, err  # one feed failed, the others were read
    assert "Coast News: added lighthouse-keeper-retires-after-forty-years.md" in out
    assert "Coast News: added village-bakery-wins-the-national-bread-prize.md" in out
    assert f"{site.url('/atom.xml')}: added schoolgirl-wins-the-regional-chess-final.md" in out
    assert "Broken: failed: the server answered 500" in err
    assert "index updated" in out
    status, out, _ = articlebot_in_process(capsys, "sources", "--config", str(config))
    assert "schoolgirl-wins-the-regional-chess-final.md: Schoolgirl wins" in out  # the Atom entry's relative link

    before, asked = state(tmp_path), len(site.requests)
    status, out, err = articlebot_in_process(capsys, "feeds", "sync", "--config", str(config))
    assert status == 0, err
    assert "Coast News: unchanged since the last sync" in out
    assert "index already up to date" not in out
    conditional = site.requests[asked:]
    assert [p for p, _ in conditional if p != "/robots.txt"] == ["/rss.xml", "/atom.xml", "/broken.xml"]
    headers = dict(conditional)
    assert headers["/rss.xml"]["If-None-Match"] == '"v2"'
    assert headers["/atom.xml"]["If-Modified-Since"] == MODIFIED
    assert state(tmp_path) == before  # nothing fetched but the feeds, nothing changed

    site.rss_items.append("/a/ferry")  # a new entry: only its page is fetched
    asked = len(site.requests)
    status, out, err = articlebot_in_process(capsys, "feeds", "sync", "--config", str(config))
    assert status == 0, err
    assert "Coast News: added river-ferry-changes-its-timetable.md" in out
    assert "lighthouse" not in out
    assert site.asked("/a/")[-1:] == ["/a/ferry"]
    assert len(site.asked("/a/")) == 4
    assert [p for p, _ in site.requests[asked:] if p.startswith("/a/")] == ["/a/ferry"]

    status, out, _ = articlebot_in_process(capsys, "feeds", "list", "--config", str(config))
    assert "Coast News (" in out
    assert "last read" in out
    assert "Broken (" in out
    assert "failing (3 in a row)" in out


def test_when_every_feed_fails_sync_exits_1_and_changes_nothing(
        site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = with_feeds(write_config(tmp_path), {"url": site.url("/broken.xml")}, {"url": site.url("/html-feed")},
                        {"url": site.url("/missing.xml")})
    before = state(tmp_path)
    status, out, err = articlebot_in_process(capsys, "feeds", "sync", "--config", str(config))
    assert status == 1
    assert "the server answered 500" in err
    assert "the server answered 404" in err
    assert "it is text/html, and it does not look like an RSS or Atom feed" in err
    assert state(tmp_path) == before
    assert not (tmp_path / "index" / "CURRENT").exists()

    (tmp_path / "strict").mkdir()
    (tmp_path / "none").mkdir()
    private = with_feeds(write_config(tmp_path / "strict", allow_private_addresses=False),
                         {"url": site.url("/rss.xml")})
    asked = len(site.requests)
    status, _, err = articlebot_in_process(capsys, "feeds", "sync", "--config", str(private))
    assert status == 1
    assert "a loopback address, which is not fetched" in err
    assert len(site.requests) == asked

    status, _, err = articlebot_in_process(capsys, "feeds", "sync", "--config", str(write_config(tmp_path / "none")))
    assert status == 1
    assert "no feeds are followed" in err


def test_the_real_command_says_each_failure_and_each_addition_once(site: Site, tmp_path: Path) -> None:
    config = with_feeds(write_config(tmp_path), {"url": site.url("/rss.xml"), "name": "Coast News"},
                        {"url": site.url("/broken.xml"), "name": "Broken"})
    (tmp_path / "corpus" / SEED.name).write_bytes(SEED.read_bytes())
    result = run_articlebot("feeds", "sync", "--config", str(config))  # its own process: its log goes to stderr
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("the server answered 500") == 1, result.stderr
    assert "articlebot feeds sync: Broken: failed: the server answered 500" in result.stderr
    assert result.stdout.count("lighthouse-keeper-retires-after-forty-years.md") == 1, result.stdout
    assert "index updated: 3 added" in result.stdout


def test_a_failing_feed_waits_longer_each_time(site: Site, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), environ={})
    config = replace(config, feeds=(FeedConfig(site.url("/broken.xml"), name="Broken"),))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    tries = []
    for minutes in (0, 1, 29, 31, 60, 92, 150, 400):
        asked = len(site.requests)
        [run] = feeds.sync(config, now=start + timedelta(minutes=minutes), wait_after_failures=True)
        if len(site.requests) > asked:
            tries.append((minutes, run.failures, run.retry_at - start if run.retry_at else None))
        else:
            assert run.outcome == "waiting"
            assert "500" in (run.error or "")
    m = timedelta(minutes=1)
    assert tries == [(0, 1, 30 * m), (31, 2, 91 * m), (92, 3, 212 * m), (400, 4, 640 * m)]
    [h] = feeds.health(config)
    assert h.failures == 4
    assert "500" in (h.error or "")
    assert h.last_read is None


def test_an_entry_whose_page_is_refused_is_tried_again_then_given_up(site: Site, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), environ={})
    config = replace(config, feeds=(FeedConfig(site.url("/menu.xml")),))
    for attempt in range(1, 5):
        [run] = feeds.sync(config)
        assert run.outcome == "read"
        assert not run.added
        if attempt < 3:
            assert run.refused
            assert "no article text" in run.refused[0][1]
        elif attempt == 3:
            assert "given up after 3 tries" in run.refused[0][1]
        else:
            assert not run.refused
    assert site.asked("/a/menu") == ["/a/menu"] * 3
    assert list((tmp_path / "corpus").iterdir()) == []


def test_an_entry_claiming_another_sites_article_is_not_taken_for_it(site: Site, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), environ={})
    config = replace(config, feeds=(FeedConfig(site.url("/claims.xml")),))
    known = tmp_path / "corpus" / "lighthouse.md"
    known.write_text(f"---\ntitle: Lighthouse keeper retires\nurl: {CANONICAL}\n---\n\n{LIGHTHOUSE}\n", "utf-8")
    [run] = feeds.sync(config)
    assert [a.outcome for a in run.added] == ["added"]  # was "already in the corpus", as the lighthouse story
    assert run.added[0].url == site.url("/a/claims")
    assert "Priya Nair" in (tmp_path / "corpus" / run.added[0].source).read_text("utf-8")
    assert "Marta Olsen" in known.read_text("utf-8")


def test_feeds_follow_the_fetch_rules(site: Site, tmp_path: Path) -> None:
    fetch = load_config(write_config(tmp_path), environ={}).fetch
    document = fetch_feed(site.url("/rss.xml"), fetch)
    assert document is not None
    assert document.etag == '"v2"'
    assert [e.link for e in feeds.read_entries(document)] == [site.url("/a/bakery"), site.url("/a/lighthouse")]
    assert fetch_feed(site.url("/rss.xml"), fetch, etag='"v2"') is None
    with pytest.raises(FetchError, match="robots.txt does not allow"):
        fetch_feed(site.url("/private/rss.xml"), fetch)
    with pytest.raises(FetchError, match="not an http or https link"):
        fetch_feed("file:///etc/passwd", fetch)


def test_followed_feeds_persist_and_config_feeds_cannot_be_unfollowed(site: Site, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), environ={})
    config = replace(config, feeds=(FeedConfig(site.url("/atom.xml")),))
    feed, entries = feeds.follow(config, site.url("/rss.xml"), name="Coast", channel_id=42)
    assert (feed.title, feed.channel_id, entries) == ("Coast", 42, 2)
    assert [f.url for f in feeds.feeds(config)] == [site.url("/atom.xml"), site.url("/rss.xml")]
    with pytest.raises(IngestError, match="already followed"):
        feeds.follow(config, site.url("/rss.xml"))
    with pytest.raises(FetchError, match="does not look like an RSS or Atom feed"):
        feeds.follow(config, site.url("/html-feed"))
    with pytest.raises(IngestError, match="configuration file"):
        feeds.unfollow(config, site.url("/atom.xml"))
    assert feeds.unfollow(config, site.url("/rss.xml")).name == "Coast"
    assert [f.url for f in feeds.feeds(config)] == [site.url("/atom.xml")]


@pytest.mark.parametrize(("text", "message"), [
    ("[[feeds]]\nname = 'x'\n", "has no url"),
    ("[[feeds]]\nurl = 'ftp://x.example/feed'\n", "feeds.url must be an http or https link"),
    ("[[feeds]]\nurl = 'https://x.example/feed'\nchannel = 3\n", "unknown key"),
    ("[[feeds]]\nurl = 'https://x.example/feed'\nchannel_id = 'general'\n", "feeds.channel_id"),
    ("[[feeds]]\nurl = 'https://x.example/f'\n[[feeds]]\nurl = 'https://x.example/f'\n", "listed twice"),
    ("[feeds]\nurl = 'https://x.example/f'\n", "each written [[feeds]]"),
    ("[fetch]\nfeed_interval_minutes = 0\n", "fetch.feed_interval_minutes"),
])
def test_feed_settings_are_validated(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path, environ={})
