"""From retrieved passages to an answer: the sentence that answers, and numbered citations.

The answer is extractive: a sentence of a cited passage, quoted exactly. Sentences of the best
passages are scored without running the model again (it already ran once, on the question):
how much of the question they cover (idf-weighted stemmed words), how much their neighbours
cover (a sentence often answers with "he" or "it" what the one before set up), whether they hold
a phrase of the kind the question asks for (a date for "when", a number for "how many", a name
for "who"), and how well their passage was retrieved. The passage of the winning sentence is
cited first. A question is declined when even the best passage is neither close in meaning nor
shares the question's informative words. Weights were chosen on the shared SQuAD sets (tuned on
one article, checked on the other; see README, "Answer quality").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from index.answer_types import Kind, expected_kind, highlight, phrases
from index.embedding import Embedder
from index.model import Answer, AnswerSentence, Citation
from index.retrieval import Hit
from index.store import Snapshot
from index.text import Span, sentences, words

DECLINED = "I could not find an answer to that in the articles."
# Words that ask rather than say what is asked about: a sentence is no better for holding them.
_INTERROGATIVES = "who whom whose what which when where why how"


@dataclass(frozen=True)
class Weights:
    """How the signals of a candidate sentence add up, and how relevance is judged."""

    passages: int = 5  # passages whose sentences compete to be the answer
    context: float = 0.15  # neighbouring sentences' coverage
    kind: float = 0.3  # holds a phrase of the kind the question asks for
    passage: float = 1.5  # the passage's fused retrieval score, relative to the best
    # relevance = cosine_weight * best cosine + (1 - cosine_weight) * best sentence coverage
    cosine_weight: float = 0.7
    # A second article's best sentence is also given when it scores this close to the best one.
    second_answer: float = 0.95
    # Cosine of each candidate sentence to the question. Off by default: it runs the model on
    # every candidate sentence of every question (tens of milliseconds on a CPU).
    sentence_cosine: float = 0.0
    fallback_cosine: float = 2.0  # the same, used only when no sentence shares a word with the question
    # The answer takes in a neighbouring sentence that scores at least `grow` times the best one,
    # while both together stay within `grow_chars`: an answer is often split over two sentences.
    grow: float = 0.8
    grow_chars: int = 300


WEIGHTS = Weights()


@dataclass(frozen=True)
class _Candidate:
    citation: Citation
    span: Span  # offsets into the article
    text: str
    coverage: float
    score: float


def compose(
    snapshot: Snapshot,
    embedder: Embedder,
    question: str,
    query: np.ndarray,
    hits: Sequence[Hit],
    *,
    top_k: int,
    min_relevance: float,
) -> Answer:
    """Build the Answer for a question from its ranked hits."""
    weights = WEIGHTS
    distinct = _distinct(snapshot, hits)
    if not distinct:
        return Answer(question, DECLINED, True, ())
    pool = _citations(snapshot, distinct)
    kind = expected_kind(question)
    candidates = _candidates(snapshot, question, kind, pool[:weights.passages], distinct, weights,
                             embedder, query)
    best = max(candidates, key=lambda c: c.score) if candidates else None
    # The passage holding the best sentence is cited first; the others keep their retrieval order.
    first = {best.citation.n} if best else set()
    ordered = [c for c in pool if c.n in first] + [c for c in pool if c.n not in first]
    citations = _renumber(ordered[:top_k])
    relevance = _relevance(max(h.cosine for h in distinct[:3]), best.coverage if best else 0.0, weights)
    if best is None or relevance < min_relevance:
        return Answer(question, DECLINED, True, citations, relevance=relevance)
    chosen = [_grown(best, candidates, weights)] + _other_articles(best, candidates, weights)
    number = {old.n: new.n for old, new in zip(ordered, citations)}
    chosen = [c for c in chosen if c.citation.n in number]
    answer_sentences = tuple(
        AnswerSentence(c.text, number[c.citation.n], c.span.start, c.span.end,
                       highlight(kind, c.text, question)) for c in chosen)
    text = " ".join(f"{s.text} [{s.citation}]" for s in answer_sentences)
    return Answer(question, text, False, citations, answer_sentences, relevance=relevance)


def _relevance(cosine: float, coverage: float, weights: Weights) -> float:
    """How sure we are that the corpus speaks to the question, 0..1."""
    return float(min(1.0, max(0.0, weights.cosine_weight * cosine + (1 - weights.cosine_weight) * coverage)))


def _distinct(snapshot: Snapshot, hits: Sequence[Hit]) -> list[Hit]:
    """Drop hits whose text repeats an earlier hit's, so no text is cited twice."""
    seen: set[str] = set()
    out = []
    for hit in hits:
        key = " ".join(words(snapshot.chunk(hit.chunk_id).text))
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out


def _citations(snapshot: Snapshot, hits: Sequence[Hit]) -> list[Citation]:
    out = []
    for n, hit in enumerate(hits, start=1):
        chunk = snapshot.chunk(hit.chunk_id)
        article = snapshot.article(hit.chunk_id)
        out.append(Citation(n, article.source, article.title, article.url, chunk.start, chunk.end,
                            chunk.text, round(hit.score, 4), chunk.paragraph))
    return out


def _renumber(citations: Sequence[Citation]) -> tuple[Citation, ...]:
    return tuple(Citation(n, c.source, c.title, c.url, c.start, c.end, c.quote, c.score, c.paragraph)
                 for n, c in enumerate(citations, start=1))


def _candidates(
    snapshot: Snapshot,
    question: str,
    kind: Kind | None,
    citations: Sequence[Citation],
    hits: Sequence[Hit],
    weights: Weights,
    embedder: Embedder,
    query: np.ndarray,
) -> list[_Candidate]:
    spans: list[tuple[Citation, Span, str]] = []
    for citation in citations:
        for local in sentences(citation.quote):
            spans.append((citation, Span(citation.start + local.start, citation.start + local.end),
                          citation.quote[local.start:local.end]))
    if not spans:
        return []
    terms = _weighted_terms(snapshot, question)
    term_sets = [set(t) for t in snapshot.lexical.terms([text for _, _, text in spans])]
    total = sum(terms.values()) or 1.0
    coverage = [sum(w for t, w in terms.items() if t in s) / total for s in term_sets]
    similarity = np.zeros(len(spans), dtype=np.float32)
    # When no sentence shares a word with the question ("freed" where the article says
    # "released"), only meaning can tell them apart: then the model reads the sentences.
    cosine_weight = weights.sentence_cosine or (weights.fallback_cosine if max(coverage) == 0 else 0.0)
    if cosine_weight:
        similarity = embedder.encode([text for _, _, text in spans]) @ query.astype(np.float32)
    top = max(hits[0].score, 1e-6)
    out = []
    for i, (citation, span, text) in enumerate(spans):
        neighbours = [coverage[j] for j in (i - 1, i + 1)
                      if 0 <= j < len(spans) and spans[j][0].n == citation.n]
        score = (coverage[i] + weights.context * max(neighbours, default=0.0)
                 + weights.passage * hits[citation.n - 1].score / top
                 + cosine_weight * float(similarity[i]))
        if kind is not None and weights.kind and phrases(kind, text, question):
            score += weights.kind
        out.append(_Candidate(citation, span, text, coverage[i], score))
    return out


def _weighted_terms(snapshot: Snapshot, question: str) -> dict[int, float]:
    """The question's informative terms with their idf; words the index never saw count as rare ones."""
    terms, asking = snapshot.lexical.terms([question, _INTERROGATIVES])
    weighted = {t: snapshot.lexical.idf(t) for t in set(terms) - set(asking)}
    for n in range(snapshot.lexical.unknown_words(question)):
        weighted[-1 - n] = snapshot.lexical.idf(-1)
    return weighted


def _grown(best: _Candidate, candidates: Sequence[_Candidate], weights: Weights) -> _Candidate:
    """The best sentence, joined with its better neighbour when that one answers nearly as well."""
    at = candidates.index(best)
    neighbours = [c for c in candidates[max(0, at - 1):at + 2] if c is not best and c.citation.n == best.citation.n]
    if not neighbours:
        return best
    other = max(neighbours, key=lambda c: c.score)
    start, end = min(best.span.start, other.span.start), max(best.span.end, other.span.end)
    if other.score < weights.grow * best.score or end - start > weights.grow_chars:
        return best
    quote = best.citation.quote[start - best.citation.start:end - best.citation.start]
    return _Candidate(best.citation, Span(start, end), quote, best.coverage, best.score)


def _other_articles(best: _Candidate, candidates: Sequence[_Candidate], weights: Weights) -> list[_Candidate]:
    """The best sentence of each other article that answers nearly as well as the best one."""
    out: list[_Candidate] = []
    seen = {best.citation.source}
    for candidate in sorted(candidates, key=lambda c: -c.score):
        if candidate.score < weights.second_answer * best.score:
            break
        if candidate.citation.source not in seen:
            seen.add(candidate.citation.source)
            out.append(candidate)
    return out
