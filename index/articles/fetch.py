"""Fetching web pages for `articlebot add URL`, and feeds for `articlebot feeds`, safely.

Every request goes through one function, `_request`, which holds it to the `[fetch]` limits: only
http and https; the host's addresses resolved and checked (no loopback, private, link-local or
metadata addresses unless allowed), then the connection made to the checked address itself, so a
second DNS answer cannot slip another one in; one deadline for the whole fetch (every redirect and
robots.txt included), enforced by a watchdog that closes the socket; and a cap on the bytes read.
Redirects are followed here, one hop at a time, each hop checked like the first URL (robots.txt
included).

The standard library's http.client is used rather than an HTTP package because pinning the
connection to the checked address needs a hook at connect time, which it gives in a few lines.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from index.config import FetchConfig
from index.errors import FetchError, SiteUnreachableError

HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml",
              "application/feed+json")
_REDIRECTS = (301, 302, 303, 307, 308)
_READ_SIZE = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Page:
    """A fetched HTML page: the URL it was finally served from, its bytes and their declared charset."""

    url: str
    body: bytes
    charset: str | None


@dataclass(frozen=True)
class FeedDocument:
    """A fetched feed: where it was served from, its bytes, and the validators for the next conditional request."""

    url: str
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class _Response:
    url: str
    status: int
    reason: str
    headers: Message
    body: bytes


def fetch_page(url: str, config: FetchConfig) -> Page:
    """Fetch one web page (HTML only) within the `[fetch]` limits; raises FetchError saying why not."""
    robots: dict[str, RobotFileParser | None] = {}
    response = _follow(url, config, _deadline(config), accept=", ".join(HTML_TYPES), robots=robots)
    if not 200 <= response.status < 300:
        raise FetchError(f"the server answered {response.status} {response.reason}".rstrip())
    content_type = response.headers.get_content_type() if response.headers.get("Content-Type") else None
    if content_type is None and not _looks_like_html(response.body):
        raise FetchError("the server did not say what the page is, and it does not look like HTML")
    if content_type is not None and content_type not in HTML_TYPES:
        raise FetchError(f"it is {content_type}, not a web page (only HTML pages can be added)")
    return Page(response.url, response.body, response.headers.get_content_charset())


def fetch_feed(url: str, config: FetchConfig, *, etag: str | None = None,
               last_modified: str | None = None) -> FeedDocument | None:
    """Fetch an RSS or Atom feed within the `[fetch]` limits; None when the server says it has not changed (304).

    `etag` and `last_modified` come from the previous fetch and make the request conditional.
    Raises FetchError saying why not.
    """
    conditions = {}
    if etag:
        conditions["If-None-Match"] = etag
    if last_modified:
        conditions["If-Modified-Since"] = last_modified
    response = _follow(url, config, _deadline(config),
                       accept=", ".join((*FEED_TYPES[:3], "application/xml;q=0.9", "*/*;q=0.1")),
                       robots={}, headers=conditions)
    if response.status == 304:
        return None
    if not 200 <= response.status < 300:
        raise FetchError(f"the server answered {response.status} {response.reason}".rstrip())
    content_type = response.headers.get_content_type() if response.headers.get("Content-Type") else None
    if content_type not in FEED_TYPES and not _looks_like_feed(response.body):
        what = f"it is {content_type}" if content_type else "the server did not say what it is"
        raise FetchError(f"{what}, and it does not look like an RSS or Atom feed")
    return FeedDocument(response.url, response.body, content_type, response.headers.get("ETag"),
                        response.headers.get("Last-Modified"))


def check_url(url: str) -> str:
    """The URL with its scheme and host checked (http or https, a host, no credentials); raises FetchError."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as e:
        raise FetchError(f"it is not a valid link ({e})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError("it is not an http or https link (only web pages can be fetched)")
    if not parts.hostname:
        raise FetchError("the link names no host")
    if parts.username is not None or parts.password is not None:
        raise FetchError("the link carries a user name or password; links with credentials are not fetched")
    if port == 0:
        raise FetchError("the link names port 0")
    return urlunsplit(parts._replace(fragment=""))


def same_site(url: str, other: str) -> bool:
    """Whether two links are on the same site: the same registrable domain (bbc.co.uk for www.bbc.co.uk and
    amp.bbc.co.uk, by the public suffix list bundled with the `tld` package, read offline), or for a host
    that has none (an IP address, localhost, a name under no public suffix) the same host and port.

    A page may name any link as its canonical one; trusting it only on the site it was fetched from
    stops a page from passing itself off as another site's article, or as one already in the corpus.
    """
    from tld import get_fld  # imported here: only adding by link pays for reading the suffix list

    try:
        first, second = urlsplit(url.strip()), urlsplit(other.strip())
        ports = (first.port, second.port)
    except ValueError:
        return False
    hosts = ((first.hostname or "").lower().rstrip("."), (second.hostname or "").lower().rstrip("."))
    if not all(hosts):
        return False
    domains = [get_fld(host, fix_protocol=True, fail_silently=True) for host in hosts]
    if domains[0] and domains[1] and not any(_is_address(host) for host in hosts):
        return domains[0] == domains[1]
    defaults = {"http": 80, "https": 443}
    return hosts[0] == hosts[1] and (ports[0] or defaults.get(first.scheme.lower())) == (
        ports[1] or defaults.get(second.scheme.lower()))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def address_refusal(address: IPAddress) -> str | None:
    """Why a request to this address is refused (its kind, in words), or None for a public address.

    An IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4, Teredo, NAT64) is refused when the
    IPv4 address would be: 2002:7f00:1:: reaches 127.0.0.1 through any 6to4 relay.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local:  # fec0::/10, deprecated but still routed inside some networks
            return "a site-local address"
        carried = _carried_ipv4(address)
        if carried:
            reasons = [reason for reason in map(address_refusal, carried) if reason]
            if reasons:
                return f"{reasons[0]} inside an IPv6 address"
            if address.teredo is None:  # the IPv4 address is where the connection goes: judged, and public
                return None
    for kind, test in (("a loopback", address.is_loopback), ("a link-local (cloud metadata)", address.is_link_local),
                       ("an unspecified", address.is_unspecified), ("a multicast", address.is_multicast),
                       ("a private", address.is_private), ("a reserved", address.is_reserved)):
        if test:
            return f"{kind} address"
    if not address.is_global:
        return "a non-public address"
    return None


def _deadline(config: FetchConfig) -> float:
    """When fetching a page or feed must be over: one budget for every hop, robots.txt files included.

    A budget per request let a chain of redirects, each just inside it, take max_redirects + 1 times
    as long (five 4.5 s hops took 32 s with a 5 s limit).
    """
    return time.monotonic() + config.timeout_seconds


def _carried_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (a Teredo address carries its server's and its client's)."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def _follow(url: str, config: FetchConfig, deadline: float, *, accept: str,
            robots: dict[str, RobotFileParser | None] | None, headers: Mapping[str, str] | None = None) -> _Response:
    """GET `url`, following up to `max_redirects` redirects, each hop checked; robots.txt first when asked."""
    for hop in range(config.max_redirects + 1):
        try:
            url = check_url(url)
            if robots is not None and config.respect_robots:
                parts = urlsplit(url)
                assert parts.hostname is not None
                _addresses(parts.hostname, parts.port or 0, config)  # a refused address is said as such, first
                _check_robots(url, config, robots, deadline)
            response = _request(url, config, deadline, accept=accept, headers=headers)
        except FetchError as e:
            if hop == 0:
                raise
            raise FetchError(f"{e} (at {url}, after {hop} redirect{'s' if hop > 1 else ''})") from None
        if response.status not in _REDIRECTS:
            return response
        location = response.headers.get("Location")
        if not location:
            raise FetchError(f"the server answered {response.status} (a redirect) without saying where to")
        url = urljoin(url, location.strip())
        if hop == config.max_redirects:
            break
    raise FetchError(f"more than {config.max_redirects} redirects (fetch.max_redirects); the last went to {url}")


def _check_robots(url: str, config: FetchConfig, cache: dict[str, RobotFileParser | None], deadline: float) -> None:
    """Raise FetchError when the site's robots.txt disallows `url` for our user agent (RFC 9309)."""
    parts = urlsplit(url)
    origin = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "", "", ""))
    if origin not in cache:
        cache[origin] = _read_robots(origin, config, deadline)
    rules = cache[origin]
    if rules is not None and not rules.can_fetch(config.user_agent, url):
        raise FetchError("the site's robots.txt does not allow fetching this page "
                         "(set fetch.respect_robots = false only for sites whose owners agree)")


def _read_robots(origin: str, config: FetchConfig, deadline: float) -> RobotFileParser | None:
    """The origin's robots.txt rules; None when it has none (any 4xx). Unreachable means disallowed."""
    robots_url = f"{origin}/robots.txt"
    try:
        response = _follow(robots_url, config, deadline, accept="text/plain", robots=None)
    except SiteUnreachableError:
        raise  # the site itself, not its robots.txt, is what failed: said as such
    except FetchError as e:
        raise FetchError(f"the site's robots.txt could not be read ({e}), so nothing is fetched from {origin}"
                         ) from None
    if 400 <= response.status < 500:
        return None
    if not 200 <= response.status < 300:
        raise FetchError(f"the site's robots.txt could not be read (the server answered {response.status}), "
                         f"so nothing is fetched from {origin}")
    rules = RobotFileParser(robots_url)
    rules.parse(response.body.decode("utf-8", errors="replace").splitlines())
    return rules


def _request(url: str, config: FetchConfig, deadline: float, *, accept: str,
             headers: Mapping[str, str] | None = None) -> _Response:
    """One GET, no redirects followed: address checked, connection pinned to it, deadline and size enforced."""
    parts = urlsplit(url)
    host = parts.hostname
    assert host is not None  # check_url made sure
    tls = _tls_context() if parts.scheme.lower() == "https" else None
    port = parts.port or (http.client.HTTPS_PORT if tls else http.client.HTTP_PORT)
    too_slow = (f"it took longer than {config.timeout_seconds:g} s to fetch (fetch.timeout_seconds, for all its "
                "redirects and robots.txt together)")
    if time.monotonic() >= deadline:
        raise FetchError(too_slow)
    connection: _PinnedConnection | None = None
    failures = []
    for address in _addresses(host, port, config):
        connection = _PinnedConnection(host, port, address, tls=tls, timeout=max(0.1, deadline - time.monotonic()))
        try:
            connection.connect()
            break
        except TimeoutError:
            raise SiteUnreachableError(f"the site could not be reached: {host} port {port} did not answer within "
                                       f"{config.timeout_seconds:g} s (fetch.timeout_seconds)") from None
        except ssl.SSLError as e:
            raise FetchError(f"the secure connection failed ({e.reason or e})") from None
        except OSError as e:  # this address does not answer; try the host's next one
            failures.append(f"{address}: {e.strerror or e}")
            connection = None
    if connection is None:
        raise SiteUnreachableError(f"the site could not be reached: cannot connect to {host} port {port} "
                                   f"({'; '.join(failures)})")
    watchdog = _Watchdog(connection, deadline - time.monotonic())
    try:
        connection.request("GET", urlunsplit(("", "", parts.path or "/", parts.query, "")), headers={
            **(headers or {}), "User-Agent": config.user_agent, "Accept": accept, "Accept-Encoding": "gzip, deflate"})
        response = connection.getresponse()
        body = b"" if response.status in _REDIRECTS else _read_body(response, config.max_bytes)
        if watchdog.fired:
            raise FetchError(too_slow)
        return _Response(url, response.status, response.reason, response.headers, body)
    except (OSError, http.client.HTTPException) as e:
        if watchdog.fired or isinstance(e, TimeoutError):
            raise FetchError(too_slow) from None
        raise FetchError(f"the connection failed ({type(e).__name__}: {e})") from None
    finally:
        watchdog.cancel()
        connection.close()


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def _addresses(host: str, port: int, config: FetchConfig) -> list[str]:
    """The host's addresses we may connect to; raises FetchError when it has none we may use."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise FetchError(f"cannot find the host {host} ({e})") from None
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in found))
    if config.allow_private_addresses:
        return addresses
    allowed = []
    refusals = []
    for address in addresses:
        reason = address_refusal(ipaddress.ip_address(address))
        if reason is None:
            allowed.append(address)
        else:
            refusals.append(f"{address}, {reason}")
    if not allowed:
        raise FetchError(f"{host} resolves to {'; '.join(refusals)}, which is not fetched "
                         "(fetch.allow_private_addresses is false)")
    return allowed


def _read_body(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    """The response body, decompressed, refused once it passes `max_bytes` (declared or actual)."""
    limit = f"the {max_bytes:,} byte limit (fetch.max_bytes)"
    declared = response.getheader("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > max_bytes:
        raise FetchError(f"the page is {int(declared):,} bytes, over {limit}")
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
        raise FetchError(f"the server sent the page {encoding}-compressed, which is not read")
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding != "identity" else None  # 32: gzip or zlib
    chunks: list[bytes] = []
    size = received = 0
    while True:
        data = response.read(_READ_SIZE)
        if not data:
            break
        received += len(data)
        if received > max_bytes:
            raise FetchError(f"the page is larger than {limit}")
        if inflate is not None:
            try:
                data = inflate.decompress(data, max_bytes + 1 - size)
            except zlib.error as e:
                raise FetchError(f"the page's {encoding} compression is broken ({e})") from None
        size += len(data)
        if size > max_bytes or (inflate is not None and inflate.unconsumed_tail):
            raise FetchError(f"the page is larger than {limit}")
        chunks.append(data)
    # http.client ends a body quietly where the connection closed: a page cut short would be saved as whole
    if declared and declared.strip().isdigit() and received < int(declared) and not response.chunked:
        raise FetchError(f"the connection closed after {received:,} of the {int(declared):,} bytes the server "
                         "announced; a page cut short is not saved")
    return b"".join(chunks)


def _looks_like_feed(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith(b"<?xml") or b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024].lower()
    return b"<!doctype html" in head or b"<html" in head


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to one address already checked, whatever the host name resolves to by now.

    The Host header, and for https the certificate check, still use the host name.
    """

    def __init__(self, host: str, port: int, address: str, *, tls: ssl.SSLContext | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._tls = tls
        if tls is not None:
            self.default_port = http.client.HTTPS_PORT  # so the Host header leaves out the usual port

    def connect(self) -> None:
        """Open the socket to the checked address; for https, wrap it in TLS checked against the host name."""
        sock = socket.create_connection((self._address, self.port), self.timeout)
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host) if self._tls else sock
        except BaseException:
            sock.close()
            raise


class _Watchdog:
    """Closes a connection's socket when the request's deadline passes, however the server dribbles."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.fired = False
        self._connection = connection
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        """Stop watching (the request has ended)."""
        self._timer.cancel()
