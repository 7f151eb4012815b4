"""Cutting articles into chunks: sentence-aware passages of about a paragraph.

A chunk is the unit that is embedded, searched and cited. It is a paragraph when the paragraph
fits the model's window; a run of short adjacent paragraphs (a heading and the paragraph under
it) is merged; a paragraph too long for the window is cut between sentences. Site furniture in
scraped text (newsletter prompts, tickers, navigation lists: index/articles/furniture.py) is left out, and
no chunk spans across it. Sizes are counted
with the model's own tokenizer, because the model silently ignores what lies past its window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from index.articles.corpus import Article
from index.articles.furniture import article_spans
from index.articles.text import Span, sentences, words

CountTokens = Callable[[Sequence[str]], list[int]]
# Longer than this many characters, a paragraph is cut between sentences without being counted whole.
# No paragraph of prose is this long; were one to fit the window, cutting it changes only where its
# chunks end.
_COUNT_WHOLE_CHARS = 200_000


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: `text == article.text[start:end]`."""

    source: str
    start: int
    end: int
    paragraph: int
    text: str


@dataclass(frozen=True)
class _Piece:
    span: Span
    paragraph: int
    tokens: int
    words: int


def chunk_article(article: Article, count_tokens: CountTokens, *, max_tokens: int, min_words: int,
                  skip_furniture: bool = True, repeated: frozenset[str] = frozenset()) -> list[Chunk]:
    """Cut one article into chunks whose embedded text (title line + passage) fits `max_tokens`.

    `repeated` holds the keys of lines repeated on the article's site (index/articles/repetition.py): furniture.
    """
    text = article.text
    budget = max(8, max_tokens - count_tokens([embedding_prefix(article.title)])[0])
    pieces: list[_Piece] = []
    for paragraph in article.paragraphs:
        kept_spans = (article_spans(text, paragraph.span, repeated=repeated, title=article.title) if skip_furniture
                      else [paragraph.span])
        for kept in kept_spans:  # site furniture left out (index/articles/furniture.py)
            spans = [kept]
            # A span far longer than any window is cut between sentences without counting it whole first:
            # the tokenizer's time and memory on one multi-megabyte string grow faster than its length.
            tokens = budget + 1 if kept.end - kept.start > _COUNT_WHOLE_CHARS else count_tokens(
                [text[kept.start:kept.end]])[0]
            if tokens > budget:
                spans = _split_long(text, kept, count_tokens, budget)
            for span in spans:
                segment = text[span.start:span.end]
                size = tokens if len(spans) == 1 else count_tokens([segment])[0]
                pieces.append(_Piece(span, paragraph.number, size, len(words(segment))))
    merged = _merge(text, pieces, budget, min_words)
    return [Chunk(article.source, s.start, s.end, p, text[s.start:s.end]) for s, p in merged]


def embedding_prefix(title: str) -> str:
    """The line put before every chunk of an article when it is embedded: its title gives context."""
    return f"{title}\n"


def _merge(text: str, pieces: list[_Piece], budget: int, min_words: int) -> list[tuple[Span, int]]:
    """Join short neighbouring pieces, never across text that was left out (markup, repeats)."""
    merged: list[tuple[Span, int]] = []
    current: _Piece | None = None
    for piece in pieces:
        if current is not None:
            adjacent = not text[current.span.end:piece.span.start].strip()
            fits = current.tokens + piece.tokens + 1 <= budget
            if adjacent and fits and current.words < min_words:
                current = _Piece(Span(current.span.start, piece.span.end), current.paragraph,
                                 current.tokens + piece.tokens + 1, current.words + piece.words)
                continue
            merged.append((current.span, current.paragraph))
        current = piece
    if current is not None:
        merged.append((current.span, current.paragraph))
    return merged


def _split_long(text: str, span: Span, count_tokens: CountTokens, budget: int) -> list[Span]:
    """Cut a long paragraph between sentences into spans of at most `budget` tokens each."""
    parts = sentences(text, span)
    sizes = count_tokens([text[s.start:s.end] for s in parts])
    out: list[Span] = []
    start: int | None = None
    end = used = 0
    for part, size in zip(parts, sizes, strict=True):
        if size > budget:  # one sentence longer than the window: cut it between words
            if start is not None:
                out.append(Span(start, end))
                start, used = None, 0
            out.extend(_split_words(text, part, count_tokens, budget))
            continue
        if start is not None and used + size + 1 > budget:
            out.append(Span(start, end))
            start, used = None, 0
        if start is None:
            start = part.start
        end = part.end
        used += size + (1 if used else 0)
    if start is not None:
        out.append(Span(start, end))
    return out


def _split_words(text: str, span: Span, count_tokens: CountTokens, budget: int) -> list[Span]:
    """Last resort for a run-on sentence: whitespace-separated windows that fit the budget."""
    tokens_at = [m.span() for m in re.finditer(r"\S+", text[span.start:span.end])]
    sizes = count_tokens([text[span.start + a:span.start + b] for a, b in tokens_at])
    out: list[Span] = []
    first = used = 0
    for i, size in enumerate(sizes):
        if used and used + size > budget:
            out.append(Span(span.start + tokens_at[first][0], span.start + tokens_at[i - 1][1]))
            first, used = i, 0
        used += size
    if tokens_at:
        out.append(Span(span.start + tokens_at[first][0], span.start + tokens_at[-1][1]))
    return out
