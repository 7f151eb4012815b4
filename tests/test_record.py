"""The question record: what was asked, answered or declined, votes, retention, and the gaps it shows."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from index.embedders import Embedder
from index.engine import Engine
from index.record import Record
from index.types import Answer
from tests.support import SEED

ASKER = 987654321012345678


def declined(question: str) -> Answer:
    return Answer(question, "I could not find an answer to that in the articles.", True, ())


def test_questions_and_votes_are_counted(seed_engine: Engine, tmp_path: Path) -> None:
    record = Record(tmp_path / "record.sqlite3")
    answered = record.add(seed_engine.ask("who was released?"), asker=ASKER, guild=1, channel=2)
    record.add(seed_engine.ask("How much did the trip cost?"), asker=ASKER, guild=1, channel=2)
    assert record.vote(answered, voter=5, up=True)
    assert record.vote(answered, voter=6, up=False)
    assert record.vote(answered, voter=6, up=True)  # changed: one vote per user per answer
    assert not record.vote(answered + 100, voter=6, up=True)  # no such answer
    summary = record.summary(days=7)
    assert (summary.answered, summary.declined, summary.up, summary.down) == (1, 1, 2, 0)


def test_the_asker_is_kept_only_as_a_salted_hash(seed_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "record.sqlite3"
    record = Record(path)
    asked = record.add(seed_engine.ask("who was released?"), asker=ASKER)
    record.vote(asked, voter=ASKER, up=False)
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT asker FROM asked UNION ALL SELECT voter FROM votes").fetchall()
    assert all(str(ASKER) not in str(row) for row in rows)
    assert all(rows[0] == row for row in rows)
    assert rows[0][0]
    other = Record(tmp_path / "other.sqlite3")  # another record, another salt
    other.add(declined("why?"), asker=ASKER)
    with sqlite3.connect(tmp_path / "other.sqlite3") as db:
        assert db.execute("SELECT asker FROM asked").fetchone() != rows[0]


def test_rows_older_than_the_retention_limit_are_deleted(tmp_path: Path) -> None:
    record = Record(tmp_path / "record.sqlite3", retention_days=30)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    record.add(declined("What happened last year?"), at=old)
    record.add(declined("What happened today?"))
    assert [q for q, _, _ in record.unanswered(days=365)] == ["What happened today?"]


def test_gaps_group_alike_questions_most_asked_first(real_embedder: Embedder, tmp_path: Path) -> None:
    record = Record(tmp_path / "record.sqlite3")
    for question in ("How much did the trip cost?", "What did the trip cost?", "How much did the trip cost?",
                     "Who is the ambassador of Belarus?"):
        record.add(declined(question))
    liked = record.add(Answer("Who was freed?", "Three prisoners. [1]", False, ()))
    record.vote(liked, voter=1, up=True)
    disliked = record.add(Answer("Who paid for the flight?", "Smith. [1]", False, ()))
    record.vote(disliked, voter=1, up=False)
    gaps = record.gaps(real_embedder, days=7)
    assert gaps[0].questions == ("How much did the trip cost?", "What did the trip cost?")
    assert (gaps[0].asked, gaps[0].declined, gaps[0].voted_down) == (3, 3, 0)
    listed = [q for gap in gaps for q in gap.questions]
    assert "Who was freed?" not in listed  # answered and liked: no gap
    assert "Who paid for the flight?" in listed
    assert "Who is the ambassador of Belarus?" in listed
    assert record.gaps(real_embedder, days=7, guild=42) == []


def test_an_entry_keeps_the_question_and_its_citations(seed_engine: Engine, tmp_path: Path) -> None:
    record = Record(tmp_path / "record.sqlite3")
    answer = seed_engine.ask("who was released?")
    entry = record.entry(record.add(answer, guild=7))
    assert entry is not None
    assert (entry.question, entry.guild, entry.declined) == ("who was released?", 7, False)
    assert entry.citations == answer.citations
    assert record.entry(entry.id + 1) is None


def test_the_gaps_command_prints_the_groups(tmp_path: Path, capsys: Any) -> None:
    record = Record(tmp_path / "index" / "record.sqlite3")
    for question in ("How much did the trip cost?", "What did the trip cost?", "Who paid for it?"):
        record.add(declined(question))
    args = ["--index-dir", str(tmp_path / "index"), "--corpus", str(SEED.parent)]
    assert main(["gaps", *args, "--days", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Questions the articles did not answer well in the last 7 days")
    assert lines[1] == ("• How much did the trip cost?: asked 2× (2 declined) "
                        "(also asked as: What did the trip cost?)")
    assert main(["gaps", *args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["days"] == 30
    assert data["gaps"][0]["asked"] == 2
    with pytest.raises(SystemExit):
        main(["gaps", *args, "--days", "0"])
    assert "must be from 1 to 3650 days" in capsys.readouterr().err
    empty = ["--index-dir", str(tmp_path / "none"), "--corpus", str(SEED.parent)]
    assert main(["gaps", *empty]) == 0  # nothing recorded yet is an empty record, not an error
    assert "No questions are recorded" in capsys.readouterr().out
    assert main(["gaps", *empty, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"days": 30, "gaps": []}
