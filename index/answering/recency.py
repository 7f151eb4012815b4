"""Dates of articles, and questions that ask for the newest word on something.

An article's date comes from its front matter or its page's metadata, in whatever form the
source wrote it. `parse_date` reads the common ones; `asks_for_latest` tells a question like
"what is the latest figure?" from one that does not care when.
"""

from __future__ import annotations

import re
from datetime import date, datetime

_MONTHS = {name: n for n, names in enumerate(
    ("jan january", "feb february", "mar march", "apr april", "may", "jun june", "jul july", "aug august",
     "sep sept september", "oct october", "nov november", "dec december"), start=1) for name in names.split()}
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_MONTH_FIRST = re.compile(r"([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")
_DAY_FIRST = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})")
_SLASHED = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
_LATEST = re.compile(
    r"\b(?:latest|newest|most\s+recent(?:ly)?|recent(?:ly)?|current(?:ly)?|now|today|these\s+days|so\s+far"
    r"|as\s+of\s+now|up\s+to\s+date|last\s+(?:known|reported))\b", re.I)


def parse_date(text: str | None) -> date | None:
    """The calendar date a metadata string names (ISO, "February 14, 2025", "14 Feb 2025", ...), or None."""
    if not text:
        return None
    text = text.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    for pattern, order in ((_ISO, "ymd"), (_SLASHED, "ymd"), (_MONTH_FIRST, "mdy"), (_DAY_FIRST, "dmy")):
        match = pattern.search(text)
        if not match:
            continue
        parts = dict(zip(order, match.groups(), strict=True))
        month = _MONTHS.get(parts["m"].lower()) if not parts["m"].isdigit() else int(parts["m"])
        try:
            return date(int(parts["y"]), month, int(parts["d"])) if month else None
        except ValueError:
            return None
    return None


def asks_for_latest(question: str) -> bool:
    """Whether the question wants the newest information ("latest", "currently", "most recent", ...)."""
    return bool(_LATEST.search(question))
