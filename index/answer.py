"""From retrieved passages to an answer: the sentence that answers, and numbered citations.

The answer is extractive: a sentence of a cited passage, quoted exactly. Sentences of the best
passages are scored by how much of the question they cover (idf-weighted stemmed words, the
sentence's neighbours counting a little), by their similarity to the question in the embedding
space, and by the rank of their passage. A question is declined when even the best passage is
neither close in meaning nor shares the question's informative words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from index.embedding import Embedder
from index.model import Answer, AnswerSentence, Citation
from index.retrieval import Hit
from index.store import Snapshot
from index.text import Span, sentences, words

# Passages whose sentences compete to be the answer.
ANSWER_PASSAGES = 3
DECLINED = "I could not find an answer to that in the articles."


@dataclass(frozen=True)
class _Candidate:
    citation: int
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
    citations = _citations(snapshot, _distinct(snapshot, hits)[:top_k])
    if not citations:
        return Answer(question, DECLINED, True, ())
    terms = _weighted_terms(snapshot, question)
    candidates = _candidates(snapshot, embedder, citations[:ANSWER_PASSAGES], hits, terms, query)
    best = max(candidates, key=lambda c: c.score) if candidates else None
    relevance = _relevance(hits[0].cosine, best.coverage if best else 0.0)
    if best is None or relevance < min_relevance:
        return Answer(question, DECLINED, True, citations, relevance=relevance)
    sentence = AnswerSentence(best.text, best.citation, best.span.start, best.span.end)
    return Answer(question, f"{best.text} [{best.citation}]", False, citations, (sentence,), relevance=relevance)


def _relevance(cosine: float, coverage: float) -> float:
    """How sure we are that the corpus speaks to the question, 0..1."""
    return float(min(1.0, max(0.0, 0.6 * cosine + 0.4 * coverage)))


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


def _citations(snapshot: Snapshot, hits: Sequence[Hit]) -> tuple[Citation, ...]:
    out = []
    for n, hit in enumerate(hits, start=1):
        chunk = snapshot.chunk(hit.chunk_id)
        article = snapshot.article(hit.chunk_id)
        out.append(Citation(n, article.source, article.title, article.url, chunk.start, chunk.end,
                            chunk.text, round(hit.score, 4), chunk.paragraph))
    return tuple(out)


def _weighted_terms(snapshot: Snapshot, question: str) -> dict[int, float]:
    (terms,) = snapshot.lexical.terms([question])
    return {t: snapshot.lexical.idf(t) for t in set(terms)}


def _candidates(
    snapshot: Snapshot,
    embedder: Embedder,
    citations: Sequence[Citation],
    hits: Sequence[Hit],
    terms: dict[int, float],
    query: np.ndarray,
) -> list[_Candidate]:
    spans: list[tuple[Citation, Span, str]] = []
    for citation in citations:
        for local in sentences(citation.quote):
            spans.append((citation, Span(citation.start + local.start, citation.start + local.end),
                          citation.quote[local.start:local.end]))
    if not spans:
        return []
    texts = [text for _, _, text in spans]
    term_sets = [set(t) for t in snapshot.lexical.terms(texts)]
    total = sum(terms.values()) or 1.0
    coverage = [sum(w for t, w in terms.items() if t in s) / total for s in term_sets]
    similarity = embedder.encode(texts) @ query.astype(np.float32)
    top = max(hits[0].score, 1e-6)
    rank_score = {c.n: c.score / top for c in citations}
    out = []
    for i, (citation, span, text) in enumerate(spans):
        neighbours = [coverage[j] for j in (i - 1, i + 1)
                      if 0 <= j < len(spans) and spans[j][0].n == citation.n]
        context = max(neighbours, default=0.0)
        score = coverage[i] + 0.25 * context + 0.5 * float(similarity[i]) + 0.3 * rank_score[citation.n]
        out.append(_Candidate(citation.n, span, text, coverage[i], score))
    return out
