"""What was asked and how it went: questions, answers or declines, and votes, in SQLite beside the index.

The record lets the people who run a server see what their articles leave unanswered (`gaps`)
and how the bot is doing (`summary`). It stays on the machine: one SQLite file, no question text
leaves it, and the asker is kept only as a salted hash (the salt is made once per record and
never leaves the file). Rows older than the retention limit are deleted as new ones arrive.

SQLite because it ships with Python, needs no server, and is safe across threads and processes
(WAL mode); one connection per call keeps it simple: these are a few small writes per question.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.types import Answer, Citation

if TYPE_CHECKING:
    from index.embedders import Embedder

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS asked (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,              -- UTC, ISO 8601
    guild INTEGER,                 -- NULL in a DM
    channel INTEGER,
    asker TEXT,                    -- salted hash of the asker's id, never the id
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    declined INTEGER NOT NULL,
    confidence REAL,
    citations TEXT NOT NULL        -- the cited passages, as the JSON of Citation.to_json()
);
CREATE INDEX IF NOT EXISTS asked_at ON asked (at);
CREATE TABLE IF NOT EXISTS votes (
    asked INTEGER NOT NULL REFERENCES asked (id) ON DELETE CASCADE,
    voter TEXT NOT NULL,           -- salted hash, as asker
    up INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (asked, voter)
);
"""
# Similar questions join one group when their vectors' cosine is at least this: paraphrases of one
# question measure 0.75-0.95 with all-MiniLM-L6-v2, different questions about one article 0.3-0.6.
SAME_QUESTION = 0.7


@dataclass(frozen=True)
class Entry:
    """One recorded question: what the buttons under its answer need."""

    id: int
    question: str
    guild: int | None
    declined: bool
    citations: tuple[Citation, ...]


@dataclass(frozen=True)
class Summary:
    """Answers given and declined, and votes, over a period."""

    days: int
    answered: int
    declined: int
    up: int
    down: int


@dataclass(frozen=True)
class Gap:
    """Questions the articles did not answer well: declined, or answered and voted down."""

    questions: tuple[str, ...]  # distinct wordings, most asked first
    asked: int  # how many times, all wordings together
    declined: int
    voted_down: int
    last: dt.datetime


class Record:
    """The question record of one index; safe to share between threads."""

    def __init__(self, path: Path, *, retention_days: int = 90) -> None:
        self.path = path
        self.retention_days = retention_days
        self._lock = threading.Lock()
        self._salt: str | None = None

    def add(self, answer: Answer, *, asker: int | None = None, guild: int | None = None,
            channel: int | None = None, at: dt.datetime | None = None) -> int:
        """Record one question and what the bot said; returns its id (for votes). Prunes old rows."""
        when = at or _now()
        citations = json.dumps([c.to_json() for c in answer.citations], ensure_ascii=False)
        with self._connect() as db:
            row = db.execute(
                "INSERT INTO asked (at, guild, channel, asker, question, answer, declined, confidence, citations)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (when.isoformat(), guild, channel, self._hash(asker), answer.question, answer.text,
                 int(answer.declined), answer.confidence, citations))
            oldest = _now() - dt.timedelta(days=self.retention_days)
            db.execute("DELETE FROM asked WHERE at < ?", (oldest.isoformat(),))
            return int(row.lastrowid or 0)

    def vote(self, asked: int, voter: int, *, up: bool) -> bool:
        """Record (or change) one user's vote on an answer; False if that answer is not (or no longer) recorded."""
        with self._connect() as db:
            if db.execute("SELECT 1 FROM asked WHERE id = ?", (asked,)).fetchone() is None:
                return False
            db.execute("INSERT INTO votes (asked, voter, up, at) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT (asked, voter) DO UPDATE SET up = excluded.up, at = excluded.at",
                       (asked, self._hash(voter), int(up), _now().isoformat()))
            return True

    def entry(self, asked: int) -> Entry | None:
        """What was asked and cited under one id, or None if it is not (or no longer) recorded."""
        with self._connect() as db:
            row = db.execute("SELECT question, guild, declined, citations FROM asked WHERE id = ?",
                             (asked,)).fetchone()
        if row is None:
            return None
        question, guild, was_declined, citations = row
        return Entry(asked, question, guild, bool(was_declined),
                     tuple(Citation(**c) for c in json.loads(citations)))

    def summary(self, days: int = 7) -> Summary:
        """Answers, declines and votes of the last `days` days."""
        since = (_now() - dt.timedelta(days=days)).isoformat()
        with self._connect() as db:
            answered, declined = db.execute(
                "SELECT COALESCE(SUM(declined = 0), 0), COALESCE(SUM(declined), 0) FROM asked WHERE at >= ?",
                (since,)).fetchone()
            up, down = db.execute(
                "SELECT COALESCE(SUM(v.up), 0), COALESCE(SUM(1 - v.up), 0) FROM votes v"
                " JOIN asked a ON a.id = v.asked WHERE a.at >= ?", (since,)).fetchone()
        return Summary(days, int(answered), int(declined), int(up), int(down))

    def unanswered(self, days: int, *, guild: int | None = None) -> list[tuple[str, bool, dt.datetime]]:
        """(question, declined, when) for each question declined, or answered and voted down more than up."""
        since = (_now() - dt.timedelta(days=days)).isoformat()
        where = "a.at >= ?" + (" AND a.guild = ?" if guild is not None else "")
        arguments: tuple[object, ...] = (since, guild) if guild is not None else (since,)
        with self._connect() as db:
            rows = db.execute(
                "SELECT a.question, a.declined, a.at FROM asked a LEFT JOIN votes v ON v.asked = a.id"
                f" WHERE {where} GROUP BY a.id"
                " HAVING a.declined = 1 OR SUM(CASE WHEN v.up = 0 THEN 1 ELSE 0 END) > SUM(CASE WHEN v.up = 1"
                " THEN 1 ELSE 0 END) ORDER BY a.at", arguments).fetchall()
        return [(q, bool(d), dt.datetime.fromisoformat(at)) for q, d, at in rows]

    def gaps(self, embedder: Embedder, days: int = 30, *, guild: int | None = None) -> list[Gap]:
        """The questions the articles left unanswered, similar ones grouped, the most asked first."""
        return group(self.unanswered(days, guild=guild), embedder)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._salt is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, closing(sqlite3.connect(self.path, timeout=10.0)) as db:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA journal_mode = WAL")
            self._migrate(db)
            with db:  # one transaction: committed on success, rolled back on error
                yield db

    def _migrate(self, db: sqlite3.Connection) -> None:
        if self._salt is not None:
            return
        with db:
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(_SCHEMA_VERSION),))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('salt', ?)", (secrets.token_hex(16),))
        self._salt = db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0]

    def _hash(self, user: int | None) -> str | None:
        if user is None:
            return None
        return hashlib.sha256(f"{self._salt}:{user}".encode()).hexdigest()[:32]


def group(items: Sequence[tuple[str, bool, dt.datetime]], embedder: Embedder,
          threshold: float = SAME_QUESTION) -> list[Gap]:
    """Group questions whose meaning is alike (greedy, the most asked wording leads its group)."""
    if not items:
        return []
    counts: dict[str, list[tuple[bool, dt.datetime]]] = {}
    for question, declined, when in items:
        counts.setdefault(" ".join(question.split()), []).append((declined, when))
    wordings = sorted(counts, key=lambda q: (-len(counts[q]), q))
    vectors = embedder.encode(wordings)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    leader = [-1] * len(wordings)
    for i in range(len(wordings)):
        if leader[i] >= 0:
            continue
        leader[i] = i
        for j in range(i + 1, len(wordings)):
            if leader[j] < 0 and float(vectors[i] @ vectors[j]) >= threshold:
                leader[j] = i
    gaps = []
    for lead in sorted(set(leader)):
        members = [wordings[j] for j in range(len(wordings)) if leader[j] == lead]
        seen = [e for m in members for e in counts[m]]
        gaps.append(Gap(tuple(members), len(seen), sum(d for d, _ in seen), sum(not d for d, _ in seen),
                        max(w for _, w in seen)))
    return sorted(gaps, key=lambda g: (-g.asked, -g.last.timestamp()))


def gap_lines(gaps: Sequence[Gap], days: int) -> list[str]:
    """The gaps as lines of plain text (what /gaps and `articlebot gaps` show)."""
    if not gaps:
        return [f"In the last {days} days every question was answered, and no answer was voted down."]
    lines = [f"Questions the articles did not answer well in the last {days} days (most asked first):"]
    for gap in gaps:
        how = ", ".join(part for part in (f"{gap.declined} declined" if gap.declined else "",
                                          f"{gap.voted_down} voted down" if gap.voted_down else "") if part)
        others = f" (also asked as: {'; '.join(gap.questions[1:4])})" if len(gap.questions) > 1 else ""
        lines.append(f"• {gap.questions[0]}: asked {gap.asked}× ({how}){others}")
    return lines


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
