"""Article dates as sources write them, and questions that ask for the newest information."""

from __future__ import annotations

from datetime import date

import pytest

from index.answering.recency import asks_for_latest, parse_date


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-02-14", date(2025, 2, 14)),
    ("2025-02-14T09:30:00Z", date(2025, 2, 14)),
    ("2025-02-14T09:30:00+03:00", date(2025, 2, 14)),
    ("February 14, 2025", date(2025, 2, 14)),
    ("Feb. 14th 2025", date(2025, 2, 14)),
    ("14 February 2025", date(2025, 2, 14)),
    ("Fri, 14 Feb 2025 10:00:00 GMT", date(2025, 2, 14)),
    ("2025/2/14", date(2025, 2, 14)),
    ("Published on Sept 3, 2024 by the desk", date(2024, 9, 3)),
    (None, None), ("", None), ("yesterday", None), ("2025-02-30", None), ("Smarch 3, 2024", None),
])
def test_dates_are_read_as_sources_write_them(text: str | None, expected: date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("What is the latest casualty figure?", True),
    ("Who is currently in charge?", True),
    ("What is the most recent estimate?", True),
    ("How many prisoners have been released so far?", True),
    ("Who is the president now?", True),
    ("Who was released?", False),
    ("When did the visit happen?", False),
    ("Which knowledge is most important?", False),
])
def test_questions_that_ask_for_the_newest_information(question: str, expected: bool) -> None:
    assert asks_for_latest(question) is expected
