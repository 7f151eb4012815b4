"""The part of a cited passage to show, and where it is: shared by the command line and Discord.

A passage is often longer than a reader is shown. Cut at its opening, it may stop before the
sentence that answers; so a citation an answer sentence points to is shown around that sentence
(whole when it fits), with what room is left given to the text before and after it, and its
answering phrase marked. A citation no sentence points to (a declined answer's nearest passages,
further sources) shows its opening. Every character of an excerpt is the article's own text: the
command line and Discord add only their markers and ellipses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from index import AnswerSentence, Citation


@dataclass(frozen=True)
class Excerpt:
    """`quote[start:end]` of a citation, with the answering phrases inside it (offsets into `quote`)."""

    quote: str
    start: int
    end: int
    marks: tuple[tuple[int, int], ...] = ()

    @property
    def cut_before(self) -> bool:
        """Whether text of the passage before the excerpt is left out."""
        return bool(self.quote[:self.start].strip())

    @property
    def cut_after(self) -> bool:
        """Whether text of the passage after the excerpt is left out."""
        return bool(self.quote[self.end:].strip())

    def pieces(self) -> list[tuple[str, bool]]:
        """The excerpt's text in order, each piece with whether it is an answering phrase."""
        out: list[tuple[str, bool]] = []
        at = self.start
        for a, b in self.marks:
            if a > at:
                out.append((self.quote[at:a], False))
            out.append((self.quote[a:b], True))
            at = b
        if at < self.end:
            out.append((self.quote[at:self.end], False))
        return out


def excerpt(citation: Citation, sentences: Sequence[AnswerSentence], room: int, *,
            whole_sentence: bool = False) -> Excerpt:
    """At most `room` characters of the citation's quote: around its answer sentences, else its opening.

    With `whole_sentence` (the command line, which has no hard limit) the room grows to hold the
    first answering sentence whole; without it (Discord) a sentence longer than the room is cut
    around its answering phrase.
    """
    quote = citation.quote
    focus = [s for s in sentences if s.citation == citation.n and s.start >= citation.start
             and quote[s.start - citation.start:s.end - citation.start] == s.text]
    if not focus:
        return Excerpt(quote, *_opening(quote, 0, len(quote), room))
    first = focus[0]
    a, b = first.start - citation.start, first.end - citation.start
    if whole_sentence:
        room = max(room, b - a)
    # Other sentences of the answer from this passage are shown too when all fit.
    a_all = min(s.start for s in focus) - citation.start
    b_all = max(s.end for s in focus) - citation.start
    if b_all - a_all <= room:
        a, b = a_all, b_all
    if b - a > room:
        centre = a + (sum(first.highlight) // 2 if first.highlight else 0)
        start = max(a, min(centre - room // 2, b - room))
        start, end = _opening(quote, _word_start(quote, start, b) if start > a else a, b, room)
    else:
        left = room - (b - a)
        before = min(a, left // 2)
        after = min(len(quote) - b, left - before)
        before = min(a, left - after)  # what the text after could not use goes before
        start = _word_start(quote, a - before, a) if before else a
        end = _word_end(quote, b + after, b) if after else b
    marks: list[tuple[int, int]] = []
    for h0, h1 in sorted((s.start - citation.start + s.highlight[0], s.start - citation.start + s.highlight[1])
                         for s in focus if s.highlight):
        h0, h1 = max(h0, start), min(h1, end)
        if h0 >= h1:
            continue
        if marks and h0 <= marks[-1][1]:  # overlapping phrases are marked as one
            marks[-1] = (marks[-1][0], max(marks[-1][1], h1))
        else:
            marks.append((h0, h1))
    return Excerpt(quote, start, end, tuple(marks))


def place(citation: Citation) -> str:
    """Where the quote is, in lines of the text `articlebot show` prints ("line 5", "lines 5–6").

    Without a line (an answer recorded before lines were given, or an article whose text could not
    be read) it names the paragraph, as the index counts them.
    """
    first, last = citation.line, citation.last_line
    if first is None or last is None:
        return f"paragraph {citation.paragraph}"
    return f"line {first}" if last == first else f"lines {first}–{last}"


def _opening(quote: str, start: int, limit: int, room: int) -> tuple[int, int]:
    """The span of at most `room` characters from `start`, ending at a word's end before `limit`."""
    while start < limit and quote[start].isspace():
        start += 1
    end = min(limit, start + max(0, room))
    if end < limit and _word_end(quote, end, start) > start:  # else one word longer than the room: cut it
        end = _word_end(quote, end, start)
    while end > start and quote[end - 1].isspace():
        end -= 1
    return start, end


def _word_start(quote: str, at: int, limit: int) -> int:
    """`at`, moved forward (never past `limit`) to where a word starts, so no word is shown cut."""
    if at > 0 and not quote[at - 1].isspace():
        while at < limit and not quote[at].isspace():
            at += 1
    while at < limit and quote[at].isspace():
        at += 1
    return at


def _word_end(quote: str, at: int, limit: int) -> int:
    """`at`, moved back (never before `limit`) to where a word ends, so no word is shown cut."""
    if at < len(quote) and not quote[at].isspace():
        while at > limit and not quote[at - 1].isspace():
            at -= 1
    while at > limit and quote[at - 1].isspace():
        at -= 1
    return at
