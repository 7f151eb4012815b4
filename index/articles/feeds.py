"""Following RSS and Atom feeds: each poll adds the pages of a feed's new entries to the corpus.

A feed is fetched with the same safe fetcher as a page (index/articles/fetch.py), conditionally: the ETag
and Last-Modified of the last answer are sent back, so an unchanged feed costs one small request
(304). New entries' pages go through `ingest.add_url`, exactly as `articlebot add URL`; the caller
updates the index once afterwards. What each feed has seen, its validators, its failures, and the
feeds added from Discord are kept in one small JSON file beside the index (`Config.feed_state_path`),
replaced whole on every change under a file lock, so the bot and `articlebot feeds sync` can share it.

A feed that fails waits before its next try: one interval after the first failure, then twice as
long each time, up to a day. An entry whose page is refused is tried again the next time the feed
is read (the feed's validators are not kept, so that read is a full one), up to `ENTRY_TRIES` times.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from index.articles.fetch import FeedDocument, check_url, fetch_feed
from index.articles.ingest import Addition, add_url
from index.config import Config, FeedConfig
from index.errors import FetchError, IngestError

log = logging.getLogger(__name__)

# Times an entry's page may be refused before the entry is given up (it is then never tried again).
ENTRY_TRIES = 3
# Entry ids remembered per feed; older ones are forgotten (a feed lists its newest few dozen).
SEEN_LIMIT = 2000
# A failing feed is retried after at most this long.
MAX_BACKOFF = timedelta(days=1)


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed: its id (or link), the page it links to, and its title."""

    key: str
    link: str
    title: str


@dataclass(frozen=True)
class FeedRun:
    """What one poll of one feed did.

    `outcome` is "read" (fetched and its new entries handled), "unchanged" (the server answered 304),
    "failed" (the feed could not be fetched or read: `error` says why) or "waiting" (it failed before
    and its next try is not due yet).
    """

    feed: FeedConfig
    outcome: str
    added: tuple[Addition, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()  # (link, why) of entries whose page was not added
    error: str | None = None
    failures: int = 0  # failed polls in a row, this one included
    retry_at: datetime | None = None


@dataclass(frozen=True)
class FeedHealth:
    """How a feed has fared: for /status and the log."""

    feed: FeedConfig
    failures: int
    error: str | None
    last_read: datetime | None
    retry_at: datetime | None


@dataclass
class _State:
    """The feed state file's contents."""

    added: list[FeedConfig] = field(default_factory=list)
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)


def feeds(config: Config) -> list[FeedConfig]:
    """Every feed followed: those of the config file, then those added from Discord."""
    return _all(config, _read(config.feed_state_path))


def follow(config: Config, url: str, *, name: str = "", channel_id: int = 0) -> tuple[FeedConfig, int]:
    """Follow a feed from now on (kept in the state file): it is fetched once to check that it is a feed.

    Returns the feed and how many entries it holds now; raises IngestError saying why not.
    """
    url = check_url(url)
    if any(f.url == url for f in feeds(config)):
        raise IngestError(f"{url} is already followed")
    entries = read_entries(_fetched(fetch_feed(url, config.fetch)))
    feed = FeedConfig(url=url, name=name.strip(), channel_id=channel_id)
    with _editing(config.feed_state_path) as state:
        if any(f.url == url for f in _all(config, state)):
            raise IngestError(f"{url} is already followed")
        state.added.append(feed)
    return feed, len(entries)


def unfollow(config: Config, url: str) -> FeedConfig:
    """Stop following a feed added from Discord (config file feeds are removed from the file); raises IngestError."""
    if any(f.url == url for f in config.feeds):
        raise IngestError(f"{url} is listed in the configuration file ([[feeds]]); remove it there")
    with _editing(config.feed_state_path) as state:
        feed = next((f for f in state.added if f.url == url), None)
        if feed is None:
            raise IngestError(f"{url} is not a followed feed")
        state.added.remove(feed)
        state.feeds.pop(url, None)
    return feed


def health(config: Config) -> list[FeedHealth]:
    """Each followed feed's failures in a row, last error, last good read and next try."""
    state = _read(config.feed_state_path)
    out = []
    for feed in _all(config, state):
        record = state.feeds.get(feed.url, {})
        out.append(FeedHealth(feed, int(record.get("failures", 0)), record.get("error"),
                              _time(record.get("last_read")), _time(record.get("retry_at"))))
    return out


def sync(config: Config, *, now: datetime | None = None, wait_after_failures: bool = False,
         only: str | None = None, stop: Callable[[], bool] | None = None) -> list[FeedRun]:
    """Poll every followed feed (or only the one with URL `only`) and add its new entries' pages to the corpus.

    The index is not updated here: the caller updates it once if anything was added.
    `wait_after_failures`: skip a failing feed until its next try is due (the bot); the command
    line tries every feed. `stop`: asked before each feed and each entry's page; once it is true
    the rest is left for the next poll (a stopping bot does not wait for twenty slow pages).
    """
    stopped = stop or (lambda: False)
    now = now or datetime.now(UTC)
    if not feeds(config):
        return []  # and nothing is written
    runs = []
    with _editing(config.feed_state_path) as state:
        for feed in _all(config, state):
            if stopped():
                break
            if only is not None and feed.url != only:
                continue
            record = state.feeds.setdefault(feed.url, {})
            retry_at = _time(record.get("retry_at"))
            if wait_after_failures and retry_at is not None and retry_at > now:
                runs.append(FeedRun(feed, "waiting", error=record.get("error"),
                                    failures=int(record.get("failures", 0)), retry_at=retry_at))
                continue
            runs.append(_poll(config, feed, record, now, stopped))
    return runs


def read_entries(document: FeedDocument) -> list[FeedEntry]:
    """The entries of a fetched feed, newest first as the feed lists them; raises FetchError if it is no feed."""
    import feedparser  # imported here: only feeds pay for it

    parsed = feedparser.parse(document.body, response_headers={
        "content-location": document.url, "content-type": document.content_type or "application/xml"})
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise FetchError("it is not an RSS or Atom feed" + (f" ({problem})" if problem else ""))
    entries = []
    for entry in parsed.entries:
        link = entry.get("link") or next((x.get("href") for x in entry.get("links", []) if x.get("href")), None)
        if not link:
            continue
        link = urljoin(document.url, str(link).strip())
        entries.append(FeedEntry(str(entry.get("id") or link), link, " ".join(str(entry.get("title") or "").split())))
    return entries


def _poll(config: Config, feed: FeedConfig, record: dict[str, Any], now: datetime,
          stopped: Callable[[], bool]) -> FeedRun:
    """Fetch one feed (conditionally) and add its new entries; `record` (its state) is updated in place."""
    try:
        document = fetch_feed(feed.url, config.fetch, etag=record.get("etag"),
                              last_modified=record.get("last_modified"))
        entries = read_entries(document) if document is not None else None
    except IngestError as e:
        failures = int(record.get("failures", 0)) + 1
        interval = timedelta(minutes=config.fetch.feed_interval_minutes)
        retry_at = now + min(interval * 2 ** min(failures - 1, 20), max(MAX_BACKOFF, interval))
        record.update(failures=failures, error=str(e), retry_at=retry_at.isoformat())
        # Not logged here: the caller reports it (the bot in its log, the command line on stderr), once.
        return FeedRun(feed, "failed", error=str(e), failures=failures, retry_at=retry_at)
    record.update(failures=0, error=None, retry_at=None, last_read=now.isoformat())
    if document is None or entries is None:
        return FeedRun(feed, "unchanged")
    seen: list[str] = list(record.get("seen", []))
    known = set(seen)
    tries: dict[str, int] = dict(record.get("tries", {}))
    added: list[Addition] = []
    refused: list[tuple[str, str]] = []
    retry_later = False
    for entry in entries[:config.fetch.feed_max_entries]:
        if entry.key in known:
            continue
        if stopped():
            retry_later = True  # the entries left are read again by the next poll
            break
        try:
            addition = add_url(config, entry.link)
        except IngestError as e:
            tries[entry.key] = tries.get(entry.key, 0) + 1
            if tries[entry.key] >= ENTRY_TRIES:
                del tries[entry.key]
                seen.append(entry.key)
                known.add(entry.key)
                refused.append((entry.link, f"{e} (given up after {ENTRY_TRIES} tries)"))
            else:
                retry_later = True
                refused.append((entry.link, str(e)))
            continue
        tries.pop(entry.key, None)
        seen.append(entry.key)
        known.add(entry.key)
        if addition.changed:
            added.append(addition)
    # Without the validators the next poll reads the whole feed again, so refused entries get another try.
    record.update(etag=None if retry_later else document.etag,
                  last_modified=None if retry_later else document.last_modified,
                  seen=seen[-SEEN_LIMIT:], tries=tries)
    return FeedRun(feed, "read", added=tuple(added), refused=tuple(refused))


def _fetched(document: FeedDocument | None) -> FeedDocument:
    if document is None:  # no validators were sent, so a 304 is the server's mistake
        raise FetchError("the server answered 304 Not Modified to a request that asked for no comparison")
    return document


def _all(config: Config, state: _State) -> list[FeedConfig]:
    urls = {f.url for f in config.feeds}
    return [*config.feeds, *(f for f in state.added if f.url not in urls)]


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _read(path: Path) -> _State:
    """The state file's contents; an empty state when there is none (or it cannot be read, said in the log)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return _State()
    except (OSError, ValueError) as e:
        log.warning("the feed state file %s cannot be read (%s); starting from an empty one", path, e)
        return _State()
    added = []
    for item in data.get("added", []):
        with contextlib.suppress(Exception):  # a hand-edited entry that no longer validates is dropped
            added.append(FeedConfig(url=str(item["url"]), name=str(item.get("name", "")),
                                    channel_id=int(item.get("channel_id", 0))))
    feeds = {str(k): dict(v) for k, v in dict(data.get("feeds", {})).items()}
    return _State(added, feeds)


@contextlib.contextmanager
def _editing(path: Path) -> Iterator[_State]:
    """Read, change and write the state file under an exclusive lock (one process, one thread at a time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = _read(path)
            yield state
            _write(path, state)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write(path: Path, state: _State) -> None:
    """Replace the state file whole: readers see the old one or the new one."""
    data = {"version": 1,
            "added": [{"url": f.url, "name": f.name, "channel_id": f.channel_id} for f in state.added],
            "feeds": state.feeds}
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=".feeds-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)
