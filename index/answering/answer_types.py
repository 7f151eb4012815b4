"""What kind of phrase answers a question, and where such phrases stand in a sentence.

A "when" question wants a date, "how many" a number, "who" a name, "where" a place. Knowing
that lets the answer prefer sentences that hold such a phrase (beyond the words the question
already uses) and mark the phrase itself. Patterns are English and deliberately plain: they add a
cue or a highlight, and never decide on their own whether a question is answered (with the
reading model, an answer lacking the asked kind is declined only when the model is unsure too).
"""

from __future__ import annotations

import re
from enum import Enum

from index.articles.text import words


class Kind(Enum):
    """The kind of phrase a question asks for."""

    DATE = "date"
    NUMBER = "number"
    NAME = "name"  # a person or an organisation
    PLACE = "place"


_PLACE_NOUNS = r"city|country|state|place|stadium|venue|location|region|town|county|continent|province|nation|area"
_NAME_NOUNS = (r"team|teams|company|organi[sz]ation|person|player|coach|group|network|band|artist|singer|university|"
               r"school|college|president|leader|author|writer|founder|man|woman|quarterback|official|agency|"
               r"newspaper|magazine|club|party|brand|broadcaster")
# What a number measures: "what was the final score", "what is the annual budget".
_MEASURE_NOUNS = (r"percentage|percent|number|amount|proportion|score|age|size|cost|price|rating|rate|total|budget|"
                  r"value|worth|salary|fee|population|attendance|capacity|enrollment|length|height|width|depth|toll|tally|"
                  r"weight|distance|speed|frequency|margin|temperature|revenue|income")
_QUESTION_KINDS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (Kind.NUMBER, re.compile(rf"\bhow\s+(?:many|much|long|old|far|large|big|tall|high|fast|often|heavy)\b"
                             rf"|\b(?:what|which)\s+(?:(?:is|was|were|are)\s+)?(?:the\s+|its\s+|their\s+)?"
                             rf"(?:[\w'’-]+\s+){{0,2}}(?:{_MEASURE_NOUNS})\b", re.I)),
    (Kind.DATE, re.compile(r"^\W*when\b|\bwhen\s+(?:did|was|were|is|does|do|will|had|has)\b"
                           r"|\b(?:what|which)\s+(?:year|date|day|month|decade|century|season)\b", re.I)),
    (Kind.PLACE, re.compile(rf"^\W*where\b|\bwhere\s+(?:did|was|were|is|does|do|will|had|has)\b"
                            rf"|\b(?:what|which)\s+(?:\w+\s+){{0,2}}(?:{_PLACE_NOUNS})\b", re.I)),
    (Kind.NAME, re.compile(rf"^\W*(?:who|whom|whose)\b|\b(?:who|whom)\s+\w+"
                           rf"|\b(?:what|which)\s+(?:\w+\s+){{0,2}}(?:{_NAME_NOUNS})\b", re.I)),
)

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|"
          r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_WEEKDAY = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
_DATE = re.compile(
    rf"\b(?:(?:{_WEEKDAY},?\s+)?{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\s+\d{{4}}|(?:1[0-9]|20)\d{{2}}s?|\d{{1,2}}(?:st|nd|rd|th)\s+century|{_WEEKDAY})\b")
_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                 r"hundred|thousand|million|billion|trillion|dozen|half|hundreds|thousands|millions|billions|dozens")
_NUMBER = re.compile(
    rf"(?:[$€£¥]\s?)?\b\d+(?:[.,]\d+)*(?:\s?[–-]\s?\d+)?(?:\s?(?:%|percent|per\s+cent))?"
    rf"(?:\s+(?:hundred|thousand|million|billion|trillion))?\b(?:\s?%)?"
    rf"|\b(?:{_NUMBER_WORDS})(?:[\s-](?:{_NUMBER_WORDS}))*\b", re.I)
_NAME = re.compile(r"\b[A-Z][\w'’.&-]*(?:(?:\s+(?:of|de|del|the|and|for|van|von|da|du|la|le)){0,2}\s+[A-Z][\w'’.&-]*)*")
# Capitalised only because they open a sentence (or are titles of address), not names.
_NOT_NAMES = frozenset([
    "a", "an", "the", "in", "on", "at", "of", "for", "to", "by", "from", "with", "after", "before", "during",
    "since", "as", "it", "its", "this", "that", "these", "those", "he", "she", "they", "we", "his", "her",
    "their", "there", "here", "when", "while", "although", "however", "but", "and", "or", "if", "mr", "mrs", "ms",
    "dr", "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
])
# What stands before the first word of a sentence: nothing, or the end of the sentence before.
_SENTENCE_START = re.compile(r"""(?:^|[.!?]["'”’)\]]*\s+)$""")
_PATTERNS = {Kind.DATE: _DATE, Kind.NUMBER: _NUMBER, Kind.NAME: _NAME, Kind.PLACE: _NAME}


def expected_kind(question: str) -> Kind | None:
    """The kind of phrase that would answer the question, when its wording makes that clear."""
    for kind, pattern in _QUESTION_KINDS:
        if pattern.search(question):
            return kind
    return None


def phrases(kind: Kind, sentence: str, question: str) -> list[tuple[int, int]]:
    """Spans of `sentence` holding a phrase of this kind that the question does not already say."""
    asked = {w[:5] for w in words(question)}
    out = []
    for match in _PATTERNS[kind].finditer(sentence):
        start, end = match.span()
        if kind in (Kind.NAME, Kind.PLACE):
            start, end = _trim_name(sentence, start, end)
        own = [w for w in words(sentence[start:end]) if w not in _NOT_NAMES]
        if end > start and own and not all(w[:5] in asked for w in own):
            out.append((start, end))
    return out


def highlight(kind: Kind | None, sentence: str, question: str) -> tuple[int, int] | None:
    """The phrase of `sentence` that answers the question: of the expected kind, nearest the question's words."""
    if kind is None:
        return None
    found = phrases(kind, sentence, question)
    if not found:
        return None
    asked = {w[:5] for w in words(question) if w not in _NOT_NAMES and len(w) > 2}
    anchors = [m.start() for m in re.finditer(r"\w+", sentence) if m.group().lower()[:5] in asked]

    def distance(span: tuple[int, int]) -> int:
        return min((min(abs(a - span[0]), abs(a - span[1])) for a in anchors), default=0)

    # One capitalised word that opens a sentence ("Following their release, ...") may be no name at all.
    return min(found, key=lambda span: (kind in (Kind.NAME, Kind.PLACE) and _opens_sentence(sentence, span),
                                        distance(span)))


def _opens_sentence(sentence: str, span: tuple[int, int]) -> bool:
    """Whether a span is a single word at the start of a sentence."""
    single = " " not in sentence[span[0]:span[1]].strip()
    return single and _SENTENCE_START.search(sentence, 0, span[0]) is not None


def _trim_name(sentence: str, start: int, end: int) -> tuple[int, int]:
    """Drop leading words that are capitalised only because they open a sentence."""
    while start < end:
        match = re.match(r"[\w'’.&-]+\s*", sentence[start:end])
        if not match or match.group().strip().lower() not in _NOT_NAMES:
            break
        start += match.end()
    return start, end
