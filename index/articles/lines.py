"""Where a citation stands in its article, in lines a reader can count (`articlebot show FILE`).

The index keeps each passage's offsets and text but not the text between passages, so the line
of an offset can only be counted in the article's text: read from its file (or, for HTML and PDF,
the extracted text the index keeps). The last few texts read are kept, so that answering does
not read an article again for every question that cites it.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from index.errors import ArticlebotError
from index.types import Answer, Citation

log = logging.getLogger(__name__)

# Characters of article text kept between questions: a few hundred articles of usual length, or a
# few long ones; the least recently cited are dropped first.
KEEP_CHARS = 8_000_000


def line_at(text: str, offset: int) -> int:
    """The 1-based line of `text` that holds `offset`, counted as editors and `sed -n Np` count them."""
    return text.count("\n", 0, offset) + 1


class ArticleLines:
    """Fills in the line of each citation, reading each article's text once while it is kept.

    Thread-safe: the bot's question threads share one. A text kept from before a rebuild may no
    longer hold the quote at its offsets; it is then read again, and a citation whose quote the text
    does not hold (the file changed since it was indexed, or is gone) gets no line rather than a wrong one.
    """

    def __init__(self, read: Callable[[str], str], *, keep_chars: int = KEEP_CHARS) -> None:
        self._read = read
        self._keep_chars = keep_chars
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._kept = 0
        self._lock = threading.Lock()

    def locate(self, answer: Answer) -> Answer:
        """The answer with `line` set on each citation whose article text can be read and holds its quote."""
        return replace(answer, citations=tuple(self.citation(c) for c in answer.citations))

    def citation(self, citation: Citation) -> Citation:
        """The citation with its `line`, or as it was when its text cannot be had."""
        for fresh in (False, True):
            text = self._text(citation.source, fresh=fresh)
            if text is None:
                return citation
            if text[citation.start:citation.end] == citation.quote:
                return replace(citation, line=line_at(text, citation.start))
        log.info("%s no longer holds the quote at %d-%d (changed since it was indexed?): its line is not given",
                 citation.source, citation.start, citation.end)
        return citation

    def _text(self, source: str, *, fresh: bool) -> str | None:
        with self._lock:
            text = None if fresh else self._texts.get(source)
            if text is not None:
                self._texts.move_to_end(source)
                return text
        try:
            text = self._read(source)  # outside the lock: other questions' articles need not wait for this one
        except (ArticlebotError, OSError) as e:
            log.info("cannot read %s to count its lines: %s", source, e)
            return None
        with self._lock:
            self._kept -= len(self._texts.pop(source, ""))
            if len(text) <= self._keep_chars:
                self._texts[source] = text
                self._kept += len(text)
            while self._kept > self._keep_chars:
                _, dropped = self._texts.popitem(last=False)
                self._kept -= len(dropped)
        return text
