"""A web site on loopback for the tests that fetch: articles, feeds, redirects, slow and oversized pages.

`Site` (http.server in a thread, on 127.0.0.1) serves news articles, redirect chains, a slow page,
oversized pages, an image, a page of links only, a page that changes and a robots.txt; and an RSS feed
that honours If-None-Match, an Atom feed that honours If-Modified-Since, a feed that fails, an HTML
page posing as a feed, a feed whose pages are slow, and the article pages the feeds link to. Nothing
here reaches the internet. The `site` fixture (tests/conftest.py) starts one for a test.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

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


# The pages the feeds link to.
PAGES = {"/a/lighthouse": page(LIGHTHOUSE), "/a/bakery": page(BAKERY), "/a/chess": page(CHESS),
         "/a/ferry": page(FERRY.format(schedule="every hour")),
         "/a/claims": page(CHESS, canonical=CANONICAL),  # claims to be another site's article
         "/a/menu": b"<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a></nav></body></html>"}
MODIFIED = "Wed, 05 Mar 2024 10:00:00 GMT"  # the Atom feed's Last-Modified


class Site(ThreadingHTTPServer):
    """A small web site on loopback; its settings can change while it runs, `requests` records what was asked."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the slow and oversized pages) is expected, not a failure

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []  # each request's path and headers
        self.ferry = "every half hour"  # the /ferry page's timetable
        self.elsewhere = "/"  # where /elsewhere redirects to
        self.robots_status = 200
        self.rss_items = ["/a/lighthouse", "/a/bakery"]  # /rss.xml's entries, oldest first
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """The full link to a path on this site."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def asked(self, prefix: str = "/") -> list[str]:
        """The paths requested so far, starting with `prefix`."""
        return [path for path, _ in self.requests if path.startswith(prefix)]

    @property
    def agents(self) -> list[str]:
        """The User-Agent of each request so far."""
        return [headers.get("User-Agent", "") for _, headers in self.requests]

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    """Answers each path of the site; anything else is a 404."""

    server: Site

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures anyway
        pass

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        """Serve a page, a feed or a redirect."""
        self.server.requests.append((self.path, dict(self.headers)))
        if self.path == "/robots.txt" and self.server.robots_status != 200:
            self.send_error(self.server.robots_status)
            return None
        if self.path == "/robots.txt":
            return self.send(b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if self.path.endswith(".xml") or self.path.startswith("/a/") or self.path == "/html-feed":
            return self.feeds()
        return self.articles()

    def articles(self) -> None:
        """Articles added by link: redirects, slow, oversized and broken pages."""
        path = self.path
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
            return self.send(gzip.compress(page(BAKERY)), **{"Content-Encoding": "gzip"})
        if path == "/bomb":  # 2 KB on the wire, 10 MB unpacked
            return self.send(gzip.compress(b"<html>" + b" " * 10_000_000), **{"Content-Encoding": "gzip"})
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

    def feeds(self) -> None:
        """RSS and Atom feeds (answering conditional requests) and the pages they link to."""
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
            return self.send(page(FERRY.format(schedule=schedule)))
        if self.path == "/html-feed":
            return self.send(page(BAKERY), "text/html")
        if self.path in PAGES:
            return self.send(PAGES[self.path])
        self.send_error(500 if self.path == "/broken.xml" else 404)
        return None

    def not_modified(self) -> None:
        """304: what the client has is current."""
        self.send_response(304)
        self.end_headers()

    def send(self, body: bytes, content_type: str = "text/html; charset=utf-8", **headers: str) -> None:
        """200 with this body and its length, and any other headers."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


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
