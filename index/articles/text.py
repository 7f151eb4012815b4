"""Paragraphs and sentences of an article, as exact character spans of its text.

Everything here returns offsets into the text it was given, never rewritten text, so that
every quote the engine makes is `text[start:end]` of the article as read.

The sentence splitter is written by hand on purpose: the maintained alternatives either need
data downloaded at run time (nltk's punkt) or are unmaintained and slow on long texts (pysbd),
and we need exact offsets and predictable behaviour on news prose more than linguistic breadth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

# How sentences are cut (below): a change re-chunks every article (index/store/build.py's chunk settings).
SENTENCES_VERSION = 2


@dataclass(frozen=True)
class Span:
    """A half-open range [start, end) of an article's text."""

    start: int
    end: int


# A paragraph that is only markup: <image>…</image>, <img …>, an HTML comment, a markdown image.
_MARKUP_ONLY = re.compile(
    r"""^\s*(?:
        <(?P<tag>[A-Za-z][\w:-]*)\b[^>]*>.*?</(?P=tag)\s*>   # <tag ...> ... </tag>
      | <[A-Za-z][\w:-]*\b[^>]*/?>                          # <tag ...> or <tag .../>
      | <!--.*?-->                                          # comment
      | !\[[^\]]*\]\([^)]*\)                                # markdown image
    )\s*$""",
    re.VERBOSE | re.DOTALL,
)
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_HEADING_LINE = re.compile(r"^[ \t]*#{1,6}[ \t]+[^\n]*$", re.MULTILINE)
_TERMINAL = re.compile(r"""[.!?…:;"'”’)\]]\s*$""")


def is_markup(text: str) -> bool:
    """Whether a paragraph holds only markup (an image tag and the like), not prose."""
    return bool(_MARKUP_ONLY.match(text))


def is_heading(text: str) -> bool:
    """Whether a line is a Markdown heading ("# Title", "## Section")."""
    return bool(_HEADING_LINE.fullmatch(text.strip()))


def paragraphs(text: str) -> list[Span]:
    """Split text into paragraph spans, trimmed of surrounding whitespace.

    Articles come in two shapes: blank-line separated paragraphs (markdown, most .txt), whose
    single newlines may be hard wraps, and one paragraph per line (scraped text, the seed
    article). A text with blank lines between blocks is read as the first shape; a single newline
    inside a block still ends a paragraph when the line before it ends like a sentence or heading.
    """
    blocks = _split_keep_offsets(text, _BLANK_LINE)
    has_blank_lines = len(blocks) > 1
    spans: list[Span] = []
    for block in blocks:
        lines = _split_keep_offsets(text, re.compile(r"\n"), block)
        current: Span | None = None
        for line in lines:
            if current is None:
                current = line
                continue
            previous = text[current.start:current.end]
            if not has_blank_lines or _TERMINAL.search(previous) or _looks_like_heading(previous):
                spans.append(current)
                current = line
            else:  # a hard-wrapped line: same paragraph
                current = Span(current.start, line.end)
        if current is not None:
            spans.append(current)
    return [s for s in (_trim(text, s) for s in spans) if s.end > s.start]


def _looks_like_heading(line: str) -> bool:
    return is_heading(line.rsplit("\n", 1)[-1])


def _split_keep_offsets(text: str, separator: re.Pattern[str], within: Span | None = None) -> list[Span]:
    start, stop = (within.start, within.end) if within else (0, len(text))
    spans = []
    for match in separator.finditer(text, start, stop):
        spans.append(Span(start, match.start()))
        start = match.end()
    spans.append(Span(start, stop))
    return [s for s in (_trim(text, s) for s in spans) if s.end > s.start]


def _trim(text: str, span: Span) -> Span:
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)


# Words after which a period does not end a sentence.
_ABBREVIATIONS = frozenset(
    (
        "mr mrs ms dr prof sr jr st gen col lt sgt capt cmdr adm gov sen rep rev hon pres vs etc al approx "
        "dept est fig inc ltd co corp no nos vol ed eds op pp jan feb mar apr jun jul aug sep sept oct nov "
        "dec mon tue wed thu fri sat sun mt ft ave blvd rd e.g i.e a.m p.m u.s u.k u.n"
    ).split()
)
# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+)""")
_NEXT_STARTS_SENTENCE = re.compile(r"""\s+["'“‘(\[]*[A-Z0-9À-ÖØ-Þ]""")
# Where a scrape joined two blocks of a page with no space at all, a sentence opens without one:
# "… at this time.WASHINGTON —", "… let us know.Topic:Tennis", "(Harbour Times/Tom Reyes)The council …",
# "You have no new alerts at this timeBOSTON —", "By Ann Lee, Staff WriterThe council …". After a
# word of lower-case letters: a stop, then a capital; a closing bracket, then a capitalised word; or,
# with no stop, a sentence's opening word ("The", "They") or, in a word that opens in lower case, a
# word in capitals. Names in camel case open with a capital or go on in lower case ("McDonald",
# "PlayStation", "iPhone"), and brands that end in capitals or a short word ("NordVPN", "AutoCAD",
# "LinkedIn") are kept whole: no seam there.
_OPENERS = "The|This|That|These|Those|They|She|He|We|But|And|After|When|While|From|With|His|Her|Their"
_GLUED_STOP = re.compile(r"""(?<=[a-z0-9][.!?])["'”’)\]]*(?=["“‘(\[]?[A-Z][a-z'’]|[A-Z]{2,}\b)""")
_JOINED = re.compile(
    rf"""(?<=[a-z][)\]])(?=[A-Z][a-z])"""
    rf"""|(?<=[a-z]{{3}})(?=(?:{_OPENERS})\s)"""
    rf"""|(?<=[a-z]{{4}})(?=[A-Z]{{3,}}\b)"""  # kept only where the word before opens in lower case
)
_WORD_START = re.compile(r"\S*$")
_WORD_BEFORE = re.compile(r"""([\w.]+)$""")


def sentences(text: str, within: Span | None = None, *, joined: bool = True) -> list[Span]:
    """Split text (or the part of it `within` gives) into sentence spans, trimmed.

    A sentence never runs over a blank line, and a Markdown heading line ("# Title") is a sentence
    of its own, whatever punctuation it lacks. With `joined=False`, blocks glued with no space and no
    stop between them ("By Ann Lee, Staff WriterThe council …") stay one sentence: `joins` finds them.
    """
    out: list[Span] = []
    for block in _split_keep_offsets(text, _BLANK_LINE, within):
        for part in _heading_apart(text, block):
            out.extend(_sentences(text, part, joined))
    return out


def joins(text: str, within: Span | None = None) -> list[int]:
    """Where two blocks of a page were glued with no space and no stop between them (offsets into `text`)."""
    start, end = (within.start, within.end) if within else (0, len(text))
    return [m.start() for m in _JOINED.finditer(text, start, end) if _glued_seam(text, m.start())]


def _heading_apart(text: str, block: Span) -> list[Span]:
    """The block cut around its Markdown heading lines, each heading a span of its own."""
    spans, start = [], block.start
    for match in _HEADING_LINE.finditer(text, block.start, block.end):
        spans += [Span(start, match.start()), Span(match.start(), match.end())]
        start = match.end()
    spans.append(Span(start, block.end))
    return [s for s in (_trim(text, s) for s in spans) if s.end > s.start]


def _sentences(text: str, within: Span, joined: bool) -> Iterator[Span]:
    start = within.start
    for end in _boundaries(text, within, joined):
        yield from _capped(text, _trim(text, Span(start, end)))
        start = end
    yield from _capped(text, _trim(text, Span(start, within.end)))


def _boundaries(text: str, within: Span, joined: bool) -> Iterator[int]:
    """Where sentences end inside `within`: a stop before whitespace and a capital, or a glued seam
    (a stop and a capital with no space; with `joined`, also the seams `joins` finds).

    A single period after an abbreviation or an initial ends nothing ("Mr. Smith", "St.Louis").
    """
    spaced = ((m.end(), m.start() if m.group() == "." else -1)
              for m in _BOUNDARY.finditer(text, within.start, within.end)
              if _NEXT_STARTS_SENTENCE.match(text, m.end(), within.end))
    glued = [(m.end(), m.start() - 1 if not m.group() and text[m.start() - 1] == "." else -1)
             for m in _GLUED_STOP.finditer(text, within.start, within.end)]
    if joined:
        glued += [(at, -1) for at in joins(text, within)]
    last = within.start
    for end, period in sorted([*spaced, *glued]):
        if end > last and not (period >= 0 and _is_abbreviation(text, period)):
            yield end
            last = end


def _glued_seam(text: str, at: int) -> bool:
    """Whether a seam _JOINED found is one: before a word in capitals, the word before is all lower case."""
    if text[at - 1] in ")]" or not text[at + 1:at + 2].isupper():
        return True
    word = _WORD_START.search(text, max(0, at - 40), at)
    return bool(word) and word.group().isalpha() and word.group().islower()  # type: ignore[union-attr]


# No sentence of prose is this long; a "sentence" that is (a file of one unpunctuated line, a table
# flattened to text) is cut between words into pieces of at most this many characters, so that
# what looks at one sentence at a time (furniture rules, token counts) costs the same per
# character however long the line: a 9.2 MB one-line file took 388 s and 1.5 GB to index before.
MAX_SENTENCE_CHARS = 2_000


def _capped(text: str, span: Span) -> Iterator[Span]:
    """The span, or its pieces of at most MAX_SENTENCE_CHARS cut at the last whitespace that allows (empty: none)."""
    start = span.start
    while span.end - start > MAX_SENTENCE_CHARS:
        limit = start + MAX_SENTENCE_CHARS
        cut = max(text.rfind(" ", start + 1, limit + 1), text.rfind("\n", start + 1, limit + 1),
                  text.rfind("\t", start + 1, limit + 1))
        cut = cut if cut > start else limit  # one "word" longer than the limit is cut where it must be
        piece = _trim(text, Span(start, cut))
        if piece.end > piece.start:
            yield piece
        start = _trim(text, Span(cut, span.end)).start
    if span.end > start:
        yield Span(start, span.end)


def _is_abbreviation(text: str, period: int) -> bool:
    word = _WORD_BEFORE.search(text, max(0, period - 20), period)
    if not word:
        return False
    token = word.group(1)
    if len(token) == 1 and token.isupper():  # an initial: "Christopher W. Smith"
        return True
    if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", token):  # "U.S", "e.g"
        return True
    return token.lower() in _ABBREVIATIONS


_WORD = re.compile(r"\w+(?:['’]\w+)*")


def words(text: str) -> list[str]:
    """The words of a text, lower-cased: the unit for sizes and overlaps."""
    return [w.lower() for w in _WORD.findall(text)]
