"""The engine's small domain vocabulary, shared by the CLI, the bot and the tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    """A numbered source: a verbatim quote and where it stands in its article.

    For .txt and .md articles `quote == article_text[start:end]`, where article_text is the
    file's text as read; for .html the offsets refer to the extracted text (`articlebot show`).
    `paragraph` counts prose paragraphs as the index cut them, which no reader can find again;
    `line` (filled in by `Engine.locate`) is the line of that text where the quote starts, which
    anyone can check. It is None where the text could not be read, or no longer holds the quote.
    """

    n: int
    source: str
    title: str
    url: str | None
    start: int
    end: int
    quote: str
    score: float
    paragraph: int
    line: int | None = None

    @property
    def last_line(self) -> int | None:
        """The line of the article text where the quote ends (a passage may span several), when `line` is known."""
        return None if self.line is None else self.line + self.quote.count("\n")

    def to_json(self) -> dict[str, Any]:
        """The citation as a plain JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of the answer, with the citation it comes from and its place in the article."""

    text: str
    citation: int
    start: int
    end: int
    # The phrase inside `text` that answers the question, as offsets into `text`, when it is clear.
    highlight: tuple[int, int] | None = None


@dataclass(frozen=True)
class Answer:
    """What the engine says to a question: the answer sentences and their numbered sources.

    When `declined` is true, `text` explains that the articles do not answer the question, and
    `citations` holds the nearest passages, to be shown as such (never as support for an answer).
    """

    question: str
    text: str
    declined: bool  # written "declined" in the JSON output, and "abstained" too: scripts read that name
    citations: tuple[Citation, ...]
    sentences: tuple[AnswerSentence, ...] = ()
    relevance: float = 0.0
    elapsed_ms: float = 0.0
    # Said when the cited articles give different answers (and which is newest), else None.
    # It is also the last line of `text`.
    note: str | None = None
    # The calibrated probability that the answer holds what was asked (None with the reading model
    # off); its thresholds make the tier.
    confidence: float | None = None
    # "answer", "tentative" (given, but the articles may not say it directly) or "declined";
    # `declined` is true exactly when the tier is "declined".
    tier: str = "answer"

    def to_json(self) -> dict[str, Any]:
        """The answer as one JSON-ready dict (the `--json` output format)."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.declined,
            "declined": self.declined,
            "note": self.note,
            "relevance": round(self.relevance, 4),
            "confidence": round(self.confidence, 4) if self.confidence is not None else None,
            "tier": self.tier,
            "citations": [c.to_json() for c in self.citations],
            "sentences": [
                {"text": s.text, "citation": s.citation, "start": s.start, "end": s.end,
                 "highlight": list(s.highlight) if s.highlight else None}
                for s in self.sentences
            ],
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


@dataclass(frozen=True)
class ArticleInfo:
    """An indexed article, as listed by `/sources` and the manifest."""

    source: str
    title: str
    url: str | None
    date: str | None
    author: str | None
    sha256: str
    chunks: int


@dataclass(frozen=True)
class SkippedFile:
    """A file of the corpus that was not indexed, and why."""

    source: str
    reason: str
    # The bytes that could not be read, for a file that was read and failed: the next build skips
    # the same bytes again without reading them (and without rewriting the index).
    sha256: str | None = None


@dataclass(frozen=True)
class BuildReport:
    """What a (re)build did: which articles it added, changed, removed, kept and skipped."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[SkippedFile, ...] = ()
    chunks_embedded: int = 0
    chunks_total: int = 0
    seconds: float = 0.0

    @property
    def changed_anything(self) -> bool:
        """Whether the index on disk is different after this build."""
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        """One line for people: counts of what happened."""
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.skipped)} skipped; "
            f"{self.chunks_embedded} chunks embedded, {self.chunks_total} in the index "
            f"({self.seconds:.1f} s)"
        )


@dataclass(frozen=True)
class BuildProgress:
    """Progress of a build, reported to a callback: `stage` is 'reading', 'embedding' or 'writing'.

    An eval (index/evaluate.py) reports 'asking' too: its questions answered so far.
    """

    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class IndexStatus:
    """A description of the index being served."""

    articles: int
    chunks: int
    model: str
    dimension: int
    built_at: str
    index_dir: str
    skipped: tuple[SkippedFile, ...] = field(default_factory=tuple)
    backend: str = "torch"
