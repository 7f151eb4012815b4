"""`articlebot add` and `articlebot remove`, against a real web server the tests start on loopback.

The server (http.server in a thread, on 127.0.0.1) serves articles, redirect chains, a slow page,
oversized pages, an image, a page of links only, a page that changes and a robots.txt. Nothing here
reaches the internet. The CLI runs in-process through its real entry point, with the real model.
"""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from bot.cli import main
from index.articles import fetch
from index.articles.ingest import add_url, slug, url_key
from index.config import FetchConfig, load_config
from index.errors import ConfigError, FetchError
from tests.support import REPO, SEED, pdf_bytes

CANONICAL = "https://coast-news.example/2024/lighthouse-keeper-retires"  # in a local file, whose canonical is believed
CANONICAL_PATH = "/2024/lighthouse-keeper-retires"  # the lighthouse page's canonical link on the test site
LIGHTHOUSE = """
<h1>Lighthouse keeper retires after forty years</h1>
<p>Marta Olsen, the keeper of the Skerry Point lighthouse, retired on Friday after forty years of service on
the island, the coastal authority said in a statement.</p>
<p>She said the hardest winter was 1987, when the supply boat could not land for nine weeks and she lived on
tinned herring and tea until the storms passed.</p>
<p>The lighthouse will now be run automatically from the mainland, and the keeper's cottage will become a
small museum about the island's history.</p>
"""
BAKERY = """
<h1>Village bakery wins the national bread prize</h1>
<p>The Corner Loaf bakery in Ashby won the national bread prize on Tuesday for its rye sourdough, beating
two hundred bakeries from across the country in a blind tasting.</p>
<p>Its owner, Tomas Reyes, said the starter dough was kept alive by his grandmother for sixty years and
travelled with the family in a jam jar when they moved to Ashby.</p>
"""
CHESS = """
<h1>Schoolgirl wins the regional chess final</h1>
<p>Eleven-year-old Priya Nair won the regional chess final in Leeds on Sunday, beating the reigning
champion in a long endgame that lasted almost three hours in front of a crowded hall.</p>
<p>Her coach said she had practised endgames every evening since the spring and would play in the
national championship in October.</p>
"""
CAFE = """
<h1>Café Noël reopens in the old town</h1>
<p>The Café Noël in the old town reopened on Tuesday after a long winter, its owner said, and the crème
brûlée is back on the menu for everyone who missed it during the months of building work.</p>
<p>The council’s résumé of the works says the façade was restored with stone from the old quarry.</p>
"""
FERRY = """
<h1>River ferry changes its timetable</h1>
<p>The river ferry between Northam and Westport will run {schedule} from next month, the operator said on
Monday after a survey of passengers who use the crossing every day.</p>
<p>Tickets will keep their price, and bicycles will still travel free on every crossing of the river.</p>
"""


def page(body: str, *, title: str = "Coast News", canonical: str | None = None, nav: str = "") -> bytes:
    """A news page: navigation, the article, a footer."""
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (f"<!doctype html><html><head><title>{title}</title>{link}"
            '<meta name="author" content="Ada Brook"><meta property="article:published_time" content="2024-03-05">'
            f"</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a>{nav}</nav>"
            f"<article>{body}</article><footer>Subscribe to our newsletter</footer></body></html>").encode()


class Site(ThreadingHTTPServer):
    """A small web site on loopback; `pages` can change while it runs, `requests` records what was asked."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the slow and oversized pages) is expected, not a failure

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), Handler)
        self.requests: list[str] = []
        self.agents: list[str] = []
        self.ferry = "every half hour"
        self.elsewhere = "/"  # where /elsewhere redirects to
        self.robots_status = 200
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """The full link to a path on this site."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    server: Site

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures anyway
        pass

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self.server.requests.append(self.path)
        self.server.agents.append(self.headers.get("User-Agent", ""))
        path = self.path
        if path == "/robots.txt" and self.server.robots_status != 200:
            self.send_error(self.server.robots_status)
            return None
        if path == "/robots.txt":
            return self.send(b"User-agent: *\nDisallow: /private/\n", "text/plain")
        canonical = self.server.url(CANONICAL_PATH)
        if path in ("/article", "/private/article"):
            return self.send(page(LIGHTHOUSE, canonical=canonical))
        if path == "/article-amp":  # another version of the same story: the same canonical URL
            return self.send(page(LIGHTHOUSE.replace("on Friday", "this Friday"), canonical=canonical))
        if path.startswith("/canon?"):  # the chess story, claiming to be whatever link ?u= names
            return self.send(page(CHESS, canonical=parse_qs(urlsplit(path).query)["u"][0]))
        if path == "/mirror":  # the same story under another address, no canonical URL
            return self.send(page(LIGHTHOUSE, nav=" <a href='/sport'>Sport</a>"))
        if path == "/bakery":
            return self.send(page(BAKERY))
        if path == "/chess-escape":  # a title that tries to climb out of the corpus folder
            return self.send(page(CHESS.replace("Schoolgirl wins the regional chess final", "../../../tmp/escape")))
        if path == "/ferry":
            return self.send(page(FERRY.format(schedule=self.server.ferry)))
        if path.startswith("/hop/"):  # /hop/N redirects N times, then lands on the bakery story
            n = int(path.rsplit("/", 1)[1])
            target = "/bakery" if n <= 1 else (f"hop/{n - 1}" if n % 2 else self.server.url(f"/hop/{n - 1}"))
            self.send_response(302 if n % 2 else 301)
            self.send_header("Location", target)
            self.end_headers()
            return None
        if path == "/elsewhere":
            self.send_response(302)
            self.send_header("Location", self.server.elsewhere)
            self.end_headers()
            return None
        if path.startswith("/slow-hop/"):  # like /hop/N, each hop slow but quicker than fetch.timeout_seconds
            time.sleep(0.6)
            n = int(path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", "/bakery" if n <= 1 else f"/slow-hop/{n - 1}")
            self.end_headers()
            return None
        if path == "/race":  # slow enough that two adds at once both fetch it before either writes
            time.sleep(0.5)
            return self.send(page(CHESS.replace("Schoolgirl", "Race: schoolgirl")))
        if path == "/slow":
            time.sleep(3)
            return self.send(page(BAKERY))
        if path == "/huge":  # declares its size
            return self.send(page(BAKERY + "<p>more words</p>" * 3000))
        if path == "/huge-streamed":  # does not: the size shows only while reading
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"<p>more words and more words</p>" * 30)
            return None
        if path == "/gzipped":
            return self.send(gzip.compress(page(BAKERY)), encoding="gzip")
        if path == "/bomb":  # 2 KB on the wire, 10 MB unpacked
            return self.send(gzip.compress(b"<html>" + b" " * 10_000_000), encoding="gzip")
        if path == "/wide-row":  # one table row of 120,000 cells: 43 s of extraction, unguarded
            return self.send(page(BAKERY + "<table><tr>" + "<td>x</td>" * 120_000 + "</tr></table>"))
        if path == "/cut-short":  # announces the whole page, sends half of it, and closes the connection
            body = page(BAKERY + "<p>And the rest of the story, which never arrives in full.</p>" * 5)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.close_connection = True
            return None
        if path == "/cafe-1252":  # Windows-1252, declared nowhere
            return self.send(page(CAFE).decode().encode("cp1252"), "text/html")
        if path == "/logo.png":
            return self.send(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
        if path == "/menu":  # links and buttons, no article
            return self.send(b"<html><head><title>Menu</title></head><body><nav><ul><li><a href='/'>Home</a></li>"
                             b"<li><a href='/w'>World news</a></li></ul></nav><footer>Share</footer></body></html>")
        self.send_error(404)
        return None

    def send(self, body: bytes, content_type: str = "text/html; charset=utf-8", encoding: str | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    server = Site()
    yield server
    server.stop()


def write_config(root: Path, **fetch_keys: Any) -> Path:
    """A config file for a corpus and index under `root`; [fetch] lets the tests reach their own loopback server."""
    keys = {"allow_private_addresses": True, "timeout_seconds": 1.0, "max_bytes": 20_000, "max_redirects": 3,
            **fetch_keys}
    lines = ["[index]", f"corpus_dir = '{root / 'corpus'}'", f"index_dir = '{root / 'index'}'", "[fetch]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    path = root / "config.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    (root / "corpus").mkdir(exist_ok=True)
    return path


def articlebot(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the real CLI in this process; returns its exit status, stdout and stderr."""
    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def state(root: Path) -> dict[str, bytes]:
    """Everything in the corpus and index folders, to show that nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and (p.relative_to(root).parts[0] == "corpus" or p.name in ("CURRENT", "manifest.json"))}


@pytest.fixture(scope="module")
def library(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus (the seed article) to which the lighthouse story was added by link, and its index."""
    root = tmp_path_factory.mktemp("library")
    config = write_config(root)
    shutil.copy(SEED, root / "corpus" / SEED.name)
    status = main(["add", "--config", str(config), site.url("/article")])
    assert status == 0
    return root


def test_a_page_is_added_as_markdown_indexed_and_cited(library: Path, site: Site,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    article = library / "corpus" / "lighthouse-keeper-retires-after-forty-years.md"
    text = article.read_text("utf-8")
    assert text.startswith("---\ntitle: Lighthouse keeper retires after forty years\n"
                           f"url: {site.url(CANONICAL_PATH)}\ndate: 2024-03-05\nauthor: Ada Brook\nfetched: ")
    assert "\n\nShe said the hardest winter was 1987" in text
    assert "Subscribe" not in text
    assert "World" not in text
    assert any(agent.startswith("articlebot/") for agent in site.agents)

    config = str(library / "config.toml")
    status, out, _ = articlebot(capsys, "sources", "--config", config)
    assert status == 0
    assert f"{article.name}: Lighthouse keeper retires after forty years" in out
    status, out, err = articlebot(capsys, "ask", "--config", config, "--json",
                                  "How long could the supply boat not land in 1987?")
    assert status == 0, err
    answer = json.loads(out)
    assert not answer["abstained"]
    assert "nine weeks" in answer["answer"]
    first = answer["citations"][0]
    assert first["source"] == article.name
    assert first["url"] == site.url(CANONICAL_PATH)
    assert text[first["start"]:first["end"]] == first["quote"]


@pytest.mark.parametrize(("path", "why"), [
    ("/article", "the same link"),
    ("/article-amp", "another link with the same canonical URL"),
    ("/mirror", "another link to the same text"),
])
def test_a_page_already_in_the_corpus_changes_nothing(library: Path, site: Site, capsys: pytest.CaptureFixture[str],
                                                      path: str, why: str) -> None:
    before = state(library)
    status, out, err = articlebot(capsys, "add", "--config", str(library / "config.toml"), site.url(path))
    assert status == 1, err  # nothing could be added
    assert "nothing added" in err
    assert "already in the corpus" in out, why
    assert "lighthouse-keeper-retires-after-forty-years.md" in out, why
    assert "--refresh" in out
    assert state(library) == before


def test_several_links_at_once_follow_redirects_and_titles_cannot_escape(
        site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    status, out, err = articlebot(capsys, "add", "--config", str(config), site.url("/hop/3"),
                                  site.url("/chess-escape"))
    assert status == 0, err
    assert "added: village-bakery-wins-the-national-bread-prize.md" in out
    assert site.url("/bakery") in out  # the page it was redirected to is its URL (it names no canonical one)
    assert "added: tmp-escape.md" in out
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == [
        "tmp-escape.md", "village-bakery-wins-the-national-bread-prize.md"]
    assert not (tmp_path / "tmp").exists()
    assert "2 added" in out


@pytest.mark.parametrize(("path", "reason"), [
    ("/hop/4", "more than 3 redirects (fetch.max_redirects)"),
    ("/slow", "it took longer than 1 s to fetch (fetch.timeout_seconds, for all its redirects and robots.txt"),
    ("/slow-hop/3", "it took longer than 1 s to fetch (fetch.timeout_seconds, for all its redirects and robots.txt"),
    ("/huge", "over the 20,000 byte limit (fetch.max_bytes)"),
    ("/huge-streamed", "larger than the 20,000 byte limit (fetch.max_bytes)"),
    ("/bomb", "larger than the 20,000 byte limit (fetch.max_bytes)"),
    ("/logo.png", "it is image/png, not a web page"),
    ("/menu", "no article text was found on the page"),
    ("/private/article", "robots.txt does not allow"),
    ("/cut-short", "bytes the server announced; a page cut short is not saved"),
    ("/gone", "the server answered 404"),
])
def test_a_page_that_cannot_be_added_is_refused_with_the_reason_and_changes_nothing(
        site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, reason: str) -> None:
    config = write_config(tmp_path)
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    before = state(tmp_path)
    began = time.monotonic()
    status, out, err = articlebot(capsys, "add", "--config", str(config), site.url(path))
    assert status == 1
    assert not out
    assert err.startswith(f"articlebot add: {site.url(path)}: "), err
    assert reason in err, err
    assert state(tmp_path) == before
    assert not (tmp_path / "index").exists()
    assert time.monotonic() - began < 2.5  # the slow page is given up on at its deadline, not waited for


def test_markup_that_would_take_minutes_to_read_is_refused_by_link_or_as_a_file(
        site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path, max_bytes=5_000_000))
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    spans = tmp_path / "spans.html"
    spans.write_text(page(BAKERY + "<p>" + "<span>w</span>" * 300_000 + "</p>").decode(), "utf-8")
    before = state(tmp_path)
    began = time.monotonic()
    status, out, err = articlebot(capsys, "add", "--config", config, site.url("/wide-row"), str(spans))
    assert status == 1, out
    assert f"{site.url('/wide-row')}: one <tr> element of the page holds 120,000 others" in err
    assert "spans.html: it cannot be indexed: one <p> element of the page holds 300,000 others" in err
    assert time.monotonic() - began < 10
    assert state(tmp_path) == before


@pytest.mark.parametrize("respect_robots", [True, False])
def test_a_site_that_cannot_be_reached_is_said_to_be_unreachable_not_its_robots_txt(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], respect_robots: bool) -> None:
    with socket.socket() as closed:  # bound, never listening: connecting to it is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        config = write_config(tmp_path, respect_robots=respect_robots)
        status, out, err = articlebot(capsys, "add", "--config", str(config), f"http://127.0.0.1:{port}/story")
    assert status == 1
    assert not out
    assert f"the site could not be reached: cannot connect to 127.0.0.1 port {port}" in err, err
    assert "robots.txt" not in err


@pytest.mark.parametrize("link", ["ftp://127.0.0.1/article.html", "file:///etc/passwd", "javascript:alert(1)"])
def test_only_http_and_https_links_are_fetched(tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str) -> None:
    config = write_config(tmp_path)
    status, out, err = articlebot(capsys, "add", "--config", str(config), link)
    assert status == 1
    assert f"{link}: it is not an http or https link" in err
    assert not any((tmp_path / "corpus").iterdir())


def test_loopback_is_refused_unless_the_config_allows_private_addresses(
        site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, allow_private_addresses=False)
    asked = len(site.requests)
    for link in (site.url("/article"), site.url("/article").replace("127.0.0.1", "localhost")):
        status, out, err = articlebot(capsys, "add", "--config", str(config), link)
        assert status == 1, err
        assert "a loopback address" in err, err
        assert "fetch.allow_private_addresses" in err, err
    assert len(site.requests) == asked  # not even robots.txt was asked for
    assert not any((tmp_path / "corpus").iterdir())
    assert not (tmp_path / "index").exists()


def test_every_redirect_hop_is_checked_for_its_address(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    try:
        public = Site("127.0.0.2")  # stands in for a public web site: its address is treated as public below
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address on this system")
    try:
        checked = fetch.address_refusal
        monkeypatch.setattr(fetch, "address_refusal", lambda a: None if str(a) == "127.0.0.2" else checked(a))
        public.elsewhere = site.url("/article")
        asked = len(site.requests)
        config = write_config(tmp_path, allow_private_addresses=False)
        status, _, err = articlebot(capsys, "add", "--config", str(config), public.url("/elsewhere"))
        assert status == 1, err
        assert "127.0.0.1, a loopback address" in err, err
        assert f"(at {site.url('/article')}, after 1 redirect)" in err
        assert public.requests == ["/robots.txt", "/elsewhere"]
        assert len(site.requests) == asked
        assert not any((tmp_path / "corpus").iterdir())
    finally:
        public.stop()


def test_refresh_fetches_a_changed_page_again_and_replaces_it(site: Site, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    site.ferry = "every half hour"
    assert articlebot(capsys, "add", "--config", config, site.url("/ferry"))[0] == 0
    article = tmp_path / "corpus" / "river-ferry-changes-its-timetable.md"
    assert "every half hour" in article.read_text("utf-8")

    site.ferry = "every twenty minutes"
    status, out, _ = articlebot(capsys, "add", "--config", config, site.url("/ferry"))
    assert status == 1
    assert "already in the corpus" in out
    assert "every half hour" in article.read_text("utf-8")
    status, out, _ = articlebot(capsys, "add", "--refresh", "--config", config, site.url("/ferry"))
    assert status == 0
    assert "refreshed: river-ferry-changes-its-timetable.md" in out
    assert "1 changed" in out
    assert "every twenty minutes" in article.read_text("utf-8")
    assert [p.name for p in (tmp_path / "corpus").iterdir()] == [article.name]  # replaced, not added beside

    status, out, _ = articlebot(capsys, "add", "--refresh", "--config", config, site.url("/ferry"))
    assert status == 0
    assert "unchanged: river-ferry-changes-its-timetable.md" in out
    assert "index" not in out
    status, out, _ = articlebot(capsys, "ask", "--config", config, "--json", "How often will the river ferry run?")
    answer = json.loads(out)
    assert "every twenty minutes" in answer["answer"]
    assert answer["citations"][0]["source"] == article.name


def test_a_canonical_link_to_another_site_is_not_believed(site: Site, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    claims_reuters = site.url("/canon?u=" + quote("https://www.reuters.com/world/chess-final", safe=""))
    status, out, err = articlebot(capsys, "add", "--config", config, claims_reuters)
    assert status == 0, err
    chess = tmp_path / "corpus" / "schoolgirl-wins-the-regional-chess-final.md"
    assert f"\nurl: {claims_reuters}\n" in chess.read_text("utf-8")  # saved as what it is, not as Reuters
    assert "url: https://www.reuters.com" not in chess.read_text("utf-8")

    # Another site (the same address, another port) whose page claims an article already in the corpus
    assert articlebot(capsys, "add", "--config", config, site.url("/article"))[0] == 0
    lighthouse = tmp_path / "corpus" / "lighthouse-keeper-retires-after-forty-years.md"
    kept = lighthouse.read_bytes()
    other = Site()
    try:
        claims_lighthouse = other.url("/canon?u=" + quote(site.url(CANONICAL_PATH), safe=""))
        chess.unlink()
        status, out, err = articlebot(capsys, "add", "--refresh", "--config", config, claims_lighthouse)
        assert status == 0, err
        assert "added: schoolgirl-wins-the-regional-chess-final.md" in out  # not "already in the corpus"
        assert lighthouse.read_bytes() == kept  # not replaced by the chess story
        assert f"\nurl: {claims_lighthouse}\n" in chess.read_text("utf-8")
    finally:
        other.stop()


def test_a_refresh_never_replaces_an_article_with_another_sites_text(site: Site, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    moved = tmp_path / "corpus" / "moved.md"
    moved.write_text(f"---\ntitle: Moved\nurl: {site.url('/elsewhere')}\n---\n\n{LIGHTHOUSE}\n", "utf-8")
    kept = moved.read_bytes()
    other = Site()
    try:
        site.elsewhere = other.url("/bakery")  # the article's link now redirects to another site
        status, out, err = articlebot(capsys, "add", "--refresh", "--config", config, site.url("/elsewhere"))
        assert status == 1, out
        assert f"the link now leads to another site ({other.url('/bakery')})" in err, err
        assert "moved.md" in err
        assert moved.read_bytes() == kept
        assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == sorted([SEED.name, "moved.md"])
    finally:
        site.elsewhere = "/"
        other.stop()


def test_only_the_same_site_counts_as_the_same_site() -> None:
    assert fetch.same_site("https://www.bbc.co.uk/news/1", "http://bbc.co.uk/news/1")
    assert fetch.same_site("https://amp.example.com/a", "https://www.example.com/a")
    assert not fetch.same_site("https://evil.co.uk/a", "https://bbc.co.uk/a")  # a public suffix is no site
    assert not fetch.same_site("https://alice.github.io/a", "https://bob.github.io/a")
    assert not fetch.same_site("http://127.0.0.1:8000/a", "https://www.reuters.com/a")
    assert fetch.same_site("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b")
    assert not fetch.same_site("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/a")
    assert fetch.same_site("http://localhost/a", "http://localhost:80/b")


def test_a_page_in_windows_1252_declared_nowhere_is_read_as_such(site: Site, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    status, out, err = articlebot(capsys, "add", "--config", config, site.url("/cafe-1252"))
    assert status == 0, err
    text = (tmp_path / "corpus" / "café-noël-reopens-in-the-old-town.md").read_text("utf-8")
    assert "The Café Noël in the old town" in text  # was "Cafķ": trafilatura's guess of an encoding
    assert "crème" in text
    assert "brûlée" in text
    assert "The council’s résumé of the works says the façade" in text


def test_the_same_link_added_twice_at_once_is_written_once(site: Site, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, timeout_seconds=5.0))
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def add() -> None:
        start.wait()
        outcomes.append(add_url(config, site.url("/race")).outcome)

    threads = [threading.Thread(target=add) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["added", "present"]
    assert [p.name for p in (tmp_path / "corpus").iterdir()] == ["race-schoolgirl-wins-the-regional-chess-final.md"]


def test_files_are_copied_and_indexed_and_others_refused_with_the_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    outside = tmp_path / "outside"
    outside.mkdir()
    seed = outside / "belarus visit (draft).txt"
    seed.write_bytes(SEED.read_bytes())
    (outside / "scan.pdf").write_bytes(b"%PDF-1.4")
    (outside / "slides.pptx").write_bytes(b"PK\x03\x04")
    (outside / "empty.md").write_text("   \n")
    status, out, err = articlebot(capsys, "add", "--config", config, str(seed))
    assert status == 0, err
    assert "added: belarus-visit-draft.txt" in out
    assert "1 added" in out
    assert (tmp_path / "corpus" / "belarus-visit-draft.txt").read_bytes() == SEED.read_bytes()

    before = state(tmp_path)
    status, out, err = articlebot(capsys, "add", "--config", config, str(seed), str(outside / "scan.pdf"),
                                  str(outside / "slides.pptx"), str(outside / "empty.md"), str(outside / "missing.txt"),
                                  str(tmp_path / "corpus" / "belarus-visit-draft.txt"))
    assert status == 1
    assert "already in the corpus" in out
    assert "belarus-visit-draft.txt" in out
    assert ".pptx files are not accepted (only .htm, .html, .markdown, .md, .pdf, .text, .txt)" in err
    assert "scan.pdf: it cannot be indexed: not a readable PDF" in err
    assert "empty.md: it cannot be indexed: empty file" in err
    assert "missing.txt: there is no such file" in err
    assert "already in the corpus folder (as belarus-visit-draft.txt)" in err
    assert state(tmp_path) == before

    other = outside / "other" / "belarus visit (draft).txt"  # the same name, another article
    other.parent.mkdir()
    other.write_text("A visit to Minsk\n\nThe delegation toured a tractor factory and met students at the "
                     "university before flying home on Thursday evening.\n", "utf-8")
    status, out, err = articlebot(capsys, "add", "--config", config, str(other))
    assert status == 0, err
    assert "added: belarus-visit-draft-2.txt" in out, err


def test_a_pdf_is_added_and_answered_from_with_quotes_from_its_extracted_text(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    report = tmp_path / "harbour report 2025.pdf"
    report.write_bytes(pdf_bytes([
        ["Harbour dredging report", "",
         "The eastern channel of the harbour was dredged to a depth of twelve metres over the",
         "summer, the port authority said on Monday, so that larger ferries can berth at the",
         "new terminal."],
        ["The dredging cost 4.2 million euros, paid by the port authority and the regional",
         "government in equal shares."],
    ], title="Harbour dredging report", author="Port Authority"))
    status, out, err = articlebot(capsys, "add", "--config", config, str(report))
    assert status == 0, err
    assert "added: harbour-report-2025.pdf" in out
    assert (tmp_path / "corpus" / "harbour-report-2025.pdf").read_bytes() == report.read_bytes()

    status, out, err = articlebot(capsys, "ask", "--config", config, "--json", "How much did the dredging cost?")
    assert status == 0, err
    answer = json.loads(out)
    assert "4.2 million euros" in answer["answer"]
    cited = answer["citations"][0]
    assert (cited["source"], cited["title"]) == ("harbour-report-2025.pdf", "Harbour dredging report")
    status, shown, err = articlebot(capsys, "show", "--config", config, "harbour-report-2025.pdf")
    assert status == 0, err
    assert shown[cited["start"]:cited["end"]] == cited["quote"]  # the offsets refer to the extracted text
    assert "paid by the port authority and the regional government in equal shares." in cited["quote"]

    status, out, err = articlebot(capsys, "add", "--config", config, str(report))
    assert status == 1
    assert "already in the corpus" in out + err


def test_articles_are_removed_by_path_or_url_but_never_the_last(site: Site, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    assert articlebot(capsys, "add", "--config", config, site.url("/article"), site.url("/bakery"))[0] == 0

    status, out, err = articlebot(capsys, "remove", "--config", config, site.url(CANONICAL_PATH))
    assert status == 0, err
    assert out.count("removed: lighthouse-keeper-retires-after-forty-years.md") == 1  # not again by the build
    assert "1 removed" in out
    status, out, err = articlebot(capsys, "remove", "--config", config,
                                  str(tmp_path / "corpus" / "village-bakery-wins-the-national-bread-prize.md"))
    assert status == 0, err
    assert "removed: village-bakery-wins-the-national-bread-prize.md" in out, err
    status, out, _ = articlebot(capsys, "sources", "--config", config)
    assert out.startswith(f"{SEED.name}:")
    assert len(out.splitlines()) == 1

    before = state(tmp_path)
    for target, reason in ((SEED.name, "the last article"), ("nope.md", "not an article in the corpus"),
                           ("../config.toml", "not an article in the corpus"),
                           (site.url("/bakery"), "not an article in the corpus")):
        status, out, err = articlebot(capsys, "remove", "--config", config, target)
        assert status == 1, (target, err)
        assert reason in err, (target, err)
        assert not out, (target, err)
    assert state(tmp_path) == before


def test_fetching_honours_robots_unless_told_and_reads_compressed_pages(site: Site) -> None:
    config = FetchConfig(allow_private_addresses=True, timeout_seconds=2.0)
    with pytest.raises(FetchError, match="robots.txt does not allow"):
        fetch.fetch_page(site.url("/private/article"), config)
    assert b"Skerry Point" in fetch.fetch_page(site.url("/private/article"),
                                               replace(config, respect_robots=False)).body
    assert b"Corner Loaf" in fetch.fetch_page(site.url("/gzipped"), config).body
    try:  # RFC 9309: no robots.txt (4xx) allows everything; one that cannot be read (5xx) allows nothing
        site.robots_status = 404
        assert b"Skerry Point" in fetch.fetch_page(site.url("/private/article"), config).body
        site.robots_status = 503
        with pytest.raises(FetchError, match="robots.txt could not be read .the server answered 503"):
            fetch.fetch_page(site.url("/bakery"), config)
    finally:
        site.robots_status = 200


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"), ("10.1.2.3", "private"),
    ("192.168.0.10", "private"), ("172.16.5.4", "private"), ("fd00::1", "private"),
    ("169.254.169.254", "link-local (cloud metadata)"), ("fe80::1", "link-local"), ("0.0.0.0", "unspecified"),
    ("100.64.0.1", "non-public"), ("224.0.0.1", "multicast"),
    ("2002:7f00:1::", "loopback address inside an IPv6 address"),  # 6to4 around 127.0.0.1
    ("2002:a9fe:a9fe::", "link-local (cloud metadata) address inside"),  # 6to4 around 169.254.169.254
    ("64:ff9b::a9fe:a9fe", "link-local (cloud metadata) address inside"),  # NAT64
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback address inside"),  # Teredo, client 127.0.0.1
    ("fec0::1", "site-local"),
])
def test_non_public_addresses_are_named_for_what_they_are(address: str, kind: str) -> None:
    reason = fetch.address_refusal(ip_address(address))
    assert reason is not None
    assert kind in reason
    assert fetch.address_refusal(ip_address("93.184.216.34")) is None
    assert fetch.address_refusal(ip_address("2002:5db8:d822::")) is None  # 6to4 around 93.184.216.34


def test_slugs_and_url_keys() -> None:
    assert slug("Lighthouse keeper: retires!") == "lighthouse-keeper-retires"
    assert slug("../../etc/passwd") == "etc-passwd"
    assert slug("???") == "article"
    assert slug("Café ünder") == "café-ünder"
    assert url_key("HTTPS://News.Example:443/a/?x=1#top") == url_key("http://news.example/a?x=1")


def test_the_fetch_table_is_documented_and_validated(tmp_path: Path) -> None:
    example = load_config(REPO / "config.example.toml", environ={})
    assert example.fetch == FetchConfig()
    for toml, key in (("max_bytes = 10", "fetch.max_bytes"), ("timeout_seconds = 0", "fetch.timeout_seconds"),
                      ("max_redirects = -1", "fetch.max_redirects"), ('user_agent = "a\\nb"', "fetch.user_agent"),
                      ("proxy = 'x'", "proxy")):
        path = tmp_path / "config.toml"
        path.write_text(f"[fetch]\n{toml}\n")
        with pytest.raises(ConfigError, match=key):
            load_config(path, environ={})
