"""Feeds: `articlebot feeds sync` and index/articles/feeds.py, against a real web server the tests start on loopback.

The server (http.server in a thread, on 127.0.0.1) serves an RSS feed that honours If-None-Match,
an Atom feed that honours If-Modified-Since, a feed that fails, an HTML page posing as a feed, a feed
whose pages are slow, and the article pages the feeds link to. Nothing here reaches the internet.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from index.articles import feeds
from index.articles.fetch import fetch_feed
from index.config import FeedConfig, load_config
from index.errors import ConfigError, FetchError, IngestError
from tests.support import REPO, SEED
from tests.test_cli import run
from tests.test_ingest import BAKERY, CANONICAL, CHESS, FERRY, LIGHTHOUSE, articlebot, page, state, write_config

PAGES = {"/a/lighthouse": page(LIGHTHOUSE), "/a/bakery": page(BAKERY), "/a/chess": page(CHESS),
         "/a/ferry": page(FERRY.format(schedule="every hour")),
         "/a/claims": page(CHESS, canonical=CANONICAL),  # claims to be another site's article
         "/a/menu": b"<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a></nav></body></html>"}
MODIFIED = "Wed, 05 Mar 2024 10:00:00 GMT"


class FeedSite(ThreadingHTTPServer):
    """Feeds and their pages on loopback; `rss_items` can change while it runs; `requests` records what was asked."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FeedHandler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.rss_items = ["/a/lighthouse", "/a/bakery"]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """The full link to a path on this site."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def asked(self, prefix: str = "/") -> list[str]:
        """The paths requested so far, starting with `prefix`."""
        return [path for path, _ in self.requests if path.startswith(prefix)]

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()


class FeedHandler(BaseHTTPRequestHandler):
    server: FeedSite

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self.server.requests.append((self.path, dict(self.headers)))
        if self.path == "/rss.xml":
            etag = f'"v{len(self.server.rss_items)}"'
            if self.headers.get("If-None-Match") == etag:
                return self.not_modified()
            items = "".join(f"<item><title>Story {i}</title><link>{self.server.url(p)}</link><guid>{p}</guid></item>"
                            for i, p in enumerate(reversed(self.server.rss_items)))
            body = f"<?xml version='1.0'?><rss version='2.0'><channel><title>Coast News</title>{items}</channel></rss>"
            return self.send(body.encode(), "application/rss+xml; charset=utf-8", ETag=etag)
        if self.path == "/atom.xml":
            if self.headers.get("If-Modified-Since") == MODIFIED:
                return self.not_modified()
            body = ("<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
                    "<title>Chess Weekly</title><id>urn:chess</id><updated>2024-03-05T10:00:00Z</updated>"
                    "<entry><title>Final</title><id>urn:chess:final</id><link href='/a/chess'/>"
                    "<updated>2024-03-05T10:00:00Z</updated></entry></feed>")
            return self.send(body.encode(), "application/atom+xml", **{"Last-Modified": MODIFIED})
        if self.path == "/menu.xml":  # one entry, whose page has no article on it
            body = (f"<rss version='2.0'><channel><title>Menus</title><item><title>Menu</title>"
                    f"<link>{self.server.url('/a/menu')}</link></item></channel></rss>")
            return self.send(body.encode(), "text/xml")
        if self.path == "/claims.xml":  # one entry, whose page names another site's article as its canonical
            body = (f"<rss version='2.0'><channel><title>Claims</title><item><title>Chess</title>"
                    f"<link>{self.server.url('/a/claims')}</link></item></channel></rss>")
            return self.send(body.encode(), "text/xml")
        if self.path == "/slow.xml":  # twenty entries whose pages take a second each
            items = "".join(f"<item><title>Ferry {n}</title><link>{self.server.url(f'/a/slow/{n}')}</link></item>"
                            for n in range(20))
            return self.send(f"<rss version='2.0'><channel><title>Slow</title>{items}</channel></rss>".encode(),
                             "application/rss+xml")
        if self.path.startswith("/a/slow/"):
            time.sleep(1)
            schedule = f"every {self.path.rsplit('/', 1)[1]} minutes"
            return self.send(page(FERRY.format(schedule=schedule)), "text/html; charset=utf-8")
        if self.path == "/html-feed":
            return self.send(page(BAKERY), "text/html")
        if self.path in PAGES:
            return self.send(PAGES[self.path], "text/html; charset=utf-8")
        if self.path == "/robots.txt":
            return self.send(b"User-agent: *\nDisallow: /private/\n", "text/plain")
        self.send_error(500 if self.path == "/broken.xml" else 404)
        return None

    def not_modified(self) -> None:
        self.send_response(304)
        self.end_headers()

    def send(self, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def site() -> Iterator[FeedSite]:
    server = FeedSite()
    yield server
    server.stop()


def with_feeds(config: Path, *feeds_: dict[str, Any]) -> Path:
    """Append [[feeds]] tables to a config file written by write_config."""
    lines = [config.read_text("utf-8")]
    for feed in feeds_:
        lines.append("[[feeds]]\n" + "".join(f"{k} = {v!r}\n" if isinstance(v, str) else f"{k} = {v}\n"
                                             for k, v in feed.items()))
    config.write_text("\n".join(lines), "utf-8")
    return config


def test_sync_adds_rss_and_atom_entries_then_an_unchanged_feed_costs_one_304(
        site: FeedSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = with_feeds(write_config(tmp_path), {"url": site.url("/rss.xml"), "name": "Coast News"},
                        {"url": site.url("/atom.xml")}, {"url": site.url("/broken.xml"), "name": "Broken"})
    (tmp_path / "corpus" / SEED.name).write_bytes(SEED.read_bytes())
    status, out, err = articlebot(capsys, "feeds", "sync", "--config", str(config))
    assert status == 0, err  # one feed failed, the others were read
    assert "Coast News: added lighthouse-keeper-retires-after-forty-years.md" in out
    assert "Coast News: added village-bakery-wins-the-national-bread-prize.md" in out
    assert f"{site.url('/atom.xml')}: added schoolgirl-wins-the-regional-chess-final.md" in out
    assert "Broken: failed: the server answered 500" in err
    assert "index updated" in out
    status, out, _ = articlebot(capsys, "sources", "--config", str(config))
    assert "schoolgirl-wins-the-regional-chess-final.md: Schoolgirl wins" in out  # the Atom entry's relative link

    before, asked = state(tmp_path), len(site.requests)
    status, out, err = articlebot(capsys, "feeds", "sync", "--config", str(config))
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
    status, out, err = articlebot(capsys, "feeds", "sync", "--config", str(config))
    assert status == 0, err
    assert "Coast News: added river-ferry-changes-its-timetable.md" in out
    assert "lighthouse" not in out
    assert site.asked("/a/")[-1:] == ["/a/ferry"]
    assert len(site.asked("/a/")) == 4
    assert [p for p, _ in site.requests[asked:] if p.startswith("/a/")] == ["/a/ferry"]

    status, out, _ = articlebot(capsys, "feeds", "list", "--config", str(config))
    assert "Coast News (" in out
    assert "last read" in out
    assert "Broken (" in out
    assert "failing (3 in a row)" in out


def test_when_every_feed_fails_sync_exits_1_and_changes_nothing(
        site: FeedSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = with_feeds(write_config(tmp_path), {"url": site.url("/broken.xml")}, {"url": site.url("/html-feed")},
                        {"url": site.url("/missing.xml")})
    before = state(tmp_path)
    status, out, err = articlebot(capsys, "feeds", "sync", "--config", str(config))
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
    status, _, err = articlebot(capsys, "feeds", "sync", "--config", str(private))
    assert status == 1
    assert "a loopback address, which is not fetched" in err
    assert len(site.requests) == asked

    status, _, err = articlebot(capsys, "feeds", "sync", "--config", str(write_config(tmp_path / "none")))
    assert status == 1
    assert "no feeds are followed" in err


def test_the_real_command_says_each_failure_and_each_addition_once(site: FeedSite, tmp_path: Path) -> None:
    config = with_feeds(write_config(tmp_path), {"url": site.url("/rss.xml"), "name": "Coast News"},
                        {"url": site.url("/broken.xml"), "name": "Broken"})
    (tmp_path / "corpus" / SEED.name).write_bytes(SEED.read_bytes())
    result = run("feeds", "sync", "--config", str(config))  # its own process: its log goes to stderr
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("the server answered 500") == 1, result.stderr
    assert "articlebot feeds sync: Broken: failed: the server answered 500" in result.stderr
    assert result.stdout.count("lighthouse-keeper-retires-after-forty-years.md") == 1, result.stdout
    assert "index updated: 3 added" in result.stdout


def test_a_failing_feed_waits_longer_each_time(site: FeedSite, tmp_path: Path) -> None:
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


def test_an_entry_whose_page_is_refused_is_tried_again_then_given_up(site: FeedSite, tmp_path: Path) -> None:
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


def test_an_entry_claiming_another_sites_article_is_not_taken_for_it(site: FeedSite, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path), environ={})
    config = replace(config, feeds=(FeedConfig(site.url("/claims.xml")),))
    known = tmp_path / "corpus" / "lighthouse.md"
    known.write_text(f"---\ntitle: Lighthouse keeper retires\nurl: {CANONICAL}\n---\n\n{LIGHTHOUSE}\n", "utf-8")
    [run] = feeds.sync(config)
    assert [a.outcome for a in run.added] == ["added"]  # was "already in the corpus", as the lighthouse story
    assert run.added[0].url == site.url("/a/claims")
    assert "Priya Nair" in (tmp_path / "corpus" / run.added[0].source).read_text("utf-8")
    assert "Marta Olsen" in known.read_text("utf-8")


def test_feeds_follow_the_fetch_rules(site: FeedSite, tmp_path: Path) -> None:
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


def test_followed_feeds_persist_and_config_feeds_cannot_be_unfollowed(site: FeedSite, tmp_path: Path) -> None:
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


def test_the_example_config_documents_feeds() -> None:
    config = load_config(REPO / "config.example.toml", environ={})
    assert config.fetch.feed_interval_minutes == 30
    assert config.feeds == ()
    text = (REPO / "config.example.toml").read_text("utf-8")
    assert "[[feeds]]" in text
    assert "feed_interval_minutes" in text
