"""`articlebot add` and `articlebot remove`, against a real web server the tests start on loopback.

The server (tests/website.py) serves articles, redirect chains, a slow page, oversized pages, an image,
a page of links only, a page that changes and a robots.txt. Nothing here reaches the internet. The CLI
runs in-process through its real entry point, with the real model.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.cli import main
from index.articles import fetch
from index.articles.ingest import add_url, slug, url_key
from index.config import FetchConfig, load_config
from index.errors import FetchError
from tests.commandline import articlebot_in_process
from tests.support import SEED, pdf_bytes, state
from tests.website import BAKERY, CANONICAL_PATH, LIGHTHOUSE, Site, page, write_config


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """One site for the whole module (`library` is built once on it), instead of conftest's one per test."""
    server = Site()
    yield server
    server.stop()


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
    status, out, _ = articlebot_in_process(capsys, "sources", "--config", config)
    assert status == 0
    assert f"{article.name}: Lighthouse keeper retires after forty years" in out
    status, out, err = articlebot_in_process(capsys, "ask", "--config", config, "--json",
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
    status, out, err = articlebot_in_process(capsys, "add", "--config", str(library / "config.toml"), site.url(path))
    assert status == 1, err  # nothing could be added
    assert "nothing added" in err
    assert "already in the corpus" in out, why
    assert "lighthouse-keeper-retires-after-forty-years.md" in out, why
    assert "--refresh" in out
    assert state(library) == before


def test_several_links_at_once_follow_redirects_and_titles_cannot_escape(
        site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    status, out, err = articlebot_in_process(capsys, "add", "--config", str(config), site.url("/hop/3"),
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
    status, out, err = articlebot_in_process(capsys, "add", "--config", str(config), site.url(path))
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
    status, out, err = articlebot_in_process(capsys, "add", "--config", config, site.url("/wide-row"), str(spans))
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
        status, out, err = articlebot_in_process(capsys, "add", "--config", str(config), f"http://127.0.0.1:{port}/story")
    assert status == 1
    assert not out
    assert f"the site could not be reached: cannot connect to 127.0.0.1 port {port}" in err, err
    assert "robots.txt" not in err


@pytest.mark.parametrize("link", ["ftp://127.0.0.1/article.html", "file:///etc/passwd", "javascript:alert(1)"])
def test_only_http_and_https_links_are_fetched(tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str) -> None:
    config = write_config(tmp_path)
    status, out, err = articlebot_in_process(capsys, "add", "--config", str(config), link)
    assert status == 1
    assert f"{link}: it is not an http or https link" in err
    assert not any((tmp_path / "corpus").iterdir())


def test_loopback_is_refused_unless_the_config_allows_private_addresses(
        site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, allow_private_addresses=False)
    asked = len(site.requests)
    for link in (site.url("/article"), site.url("/article").replace("127.0.0.1", "localhost")):
        status, out, err = articlebot_in_process(capsys, "add", "--config", str(config), link)
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
        status, _, err = articlebot_in_process(capsys, "add", "--config", str(config), public.url("/elsewhere"))
        assert status == 1, err
        assert "127.0.0.1, a loopback address" in err, err
        assert f"(at {site.url('/article')}, after 1 redirect)" in err
        assert public.asked() == ["/robots.txt", "/elsewhere"]
        assert len(site.requests) == asked
        assert not any((tmp_path / "corpus").iterdir())
    finally:
        public.stop()


def test_refresh_fetches_a_changed_page_again_and_replaces_it(site: Site, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    site.ferry = "every half hour"
    assert articlebot_in_process(capsys, "add", "--config", config, site.url("/ferry"))[0] == 0
    article = tmp_path / "corpus" / "river-ferry-changes-its-timetable.md"
    assert "every half hour" in article.read_text("utf-8")

    site.ferry = "every twenty minutes"
    status, out, _ = articlebot_in_process(capsys, "add", "--config", config, site.url("/ferry"))
    assert status == 1
    assert "already in the corpus" in out
    assert "every half hour" in article.read_text("utf-8")
    status, out, _ = articlebot_in_process(capsys, "add", "--refresh", "--config", config, site.url("/ferry"))
    assert status == 0
    assert "refreshed: river-ferry-changes-its-timetable.md" in out
    assert "1 changed" in out
    assert "every twenty minutes" in article.read_text("utf-8")
    assert [p.name for p in (tmp_path / "corpus").iterdir()] == [article.name]  # replaced, not added beside

    status, out, _ = articlebot_in_process(capsys, "add", "--refresh", "--config", config, site.url("/ferry"))
    assert status == 0
    assert "unchanged: river-ferry-changes-its-timetable.md" in out
    assert "index" not in out
    status, out, _ = articlebot_in_process(capsys, "ask", "--config", config, "--json",
                                           "How often will the river ferry run?")
    answer = json.loads(out)
    assert "every twenty minutes" in answer["answer"]
    assert answer["citations"][0]["source"] == article.name


def test_a_canonical_link_to_another_site_is_not_believed(site: Site, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    claims_reuters = site.url("/canon?u=" + quote("https://www.reuters.com/world/chess-final", safe=""))
    status, out, err = articlebot_in_process(capsys, "add", "--config", config, claims_reuters)
    assert status == 0, err
    chess = tmp_path / "corpus" / "schoolgirl-wins-the-regional-chess-final.md"
    assert f"\nurl: {claims_reuters}\n" in chess.read_text("utf-8")  # saved as what it is, not as Reuters
    assert "url: https://www.reuters.com" not in chess.read_text("utf-8")

    # Another site (the same address, another port) whose page claims an article already in the corpus
    assert articlebot_in_process(capsys, "add", "--config", config, site.url("/article"))[0] == 0
    lighthouse = tmp_path / "corpus" / "lighthouse-keeper-retires-after-forty-years.md"
    kept = lighthouse.read_bytes()
    other = Site()
    try:
        claims_lighthouse = other.url("/canon?u=" + quote(site.url(CANONICAL_PATH), safe=""))
        chess.unlink()
        status, out, err = articlebot_in_process(capsys, "add", "--refresh", "--config", config, claims_lighthouse)
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
        status, out, err = articlebot_in_process(capsys, "add", "--refresh", "--config", config, site.url("/elsewhere"))
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
    status, out, err = articlebot_in_process(capsys, "add", "--config", config, site.url("/cafe-1252"))
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
    status, out, err = articlebot_in_process(capsys, "add", "--config", config, str(seed))
    assert status == 0, err
    assert "added: belarus-visit-draft.txt" in out
    assert "1 added" in out
    assert (tmp_path / "corpus" / "belarus-visit-draft.txt").read_bytes() == SEED.read_bytes()

    before = state(tmp_path)
    status, out, err = articlebot_in_process(capsys, "add", "--config", config, str(seed), str(outside / "scan.pdf"),
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
    status, out, err = articlebot_in_process(capsys, "add", "--config", config, str(other))
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
    status, out, err = articlebot_in_process(capsys, "add", "--config", config, str(report))
    assert status == 0, err
    assert "added: harbour-report-2025.pdf" in out
    assert (tmp_path / "corpus" / "harbour-report-2025.pdf").read_bytes() == report.read_bytes()

    status, out, err = articlebot_in_process(capsys, "ask", "--config", config, "--json",
                                             "How much did the dredging cost?")
    assert status == 0, err
    answer = json.loads(out)
    assert "4.2 million euros" in answer["answer"]
    cited = answer["citations"][0]
    assert (cited["source"], cited["title"]) == ("harbour-report-2025.pdf", "Harbour dredging report")
    status, shown, err = articlebot_in_process(capsys, "show", "--config", config, "harbour-report-2025.pdf")
    assert status == 0, err
    assert shown[cited["start"]:cited["end"]] == cited["quote"]  # the offsets refer to the extracted text
    assert "paid by the port authority and the regional government in equal shares." in cited["quote"]

    status, out, err = articlebot_in_process(capsys, "add", "--config", config, str(report))
    assert status == 1
    assert "already in the corpus" in out + err


def test_articles_are_removed_by_path_or_url_but_never_the_last(site: Site, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    assert articlebot_in_process(capsys, "add", "--config", config, site.url("/article"), site.url("/bakery"))[0] == 0

    status, out, err = articlebot_in_process(capsys, "remove", "--config", config, site.url(CANONICAL_PATH))
    assert status == 0, err
    assert out.count("removed: lighthouse-keeper-retires-after-forty-years.md") == 1  # not again by the build
    assert "1 removed" in out
    status, out, err = articlebot_in_process(capsys, "remove", "--config", config,
                                  str(tmp_path / "corpus" / "village-bakery-wins-the-national-bread-prize.md"))
    assert status == 0, err
    assert "removed: village-bakery-wins-the-national-bread-prize.md" in out, err
    status, out, _ = articlebot_in_process(capsys, "sources", "--config", config)
    assert out.startswith(f"{SEED.name}:")
    assert len(out.splitlines()) == 1

    before = state(tmp_path)
    for target, reason in ((SEED.name, "the last article"), ("nope.md", "not an article in the corpus"),
                           ("../config.toml", "not an article in the corpus"),
                           (site.url("/bakery"), "not an article in the corpus")):
        status, out, err = articlebot_in_process(capsys, "remove", "--config", config, target)
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
