"""From retrieved passages to an answer: the sentence that answers, and numbered citations.

The answer is extractive: a sentence or two of the cited passages, quoted exactly. Sentences of
the best passages are scored without running the model again (it already ran once, on the
question): how much of the question they cover (idf-weighted stemmed words), how much their
neighbours cover (a sentence often answers with "he" or "it" what the one before set up), whether
they hold a phrase of the kind the question asks for (a date for "when", a number for "how many",
a name for "who"), and how close in meaning their passage is to the question. When a second
sentence scores nearly as well as the best, the evidence cannot tell them apart and both are
given. When other articles tell the same story and give a different answer of the kind asked
for, each is quoted too, with its own citation, and a last line says the sources differ. Passages
are cited in the order of their best sentence, the answer's first. With the reading model
(index/reader.py, on by default), the best of these candidates are then read together with the
question: the model's logit joins the score, the phrase it marks is the highlight, and when it
trusts no sentence the question is declined; so is a question that asks for a date, number, name
or place when the answer holds none and the model is not sure of it. A question is also declined
when even the best passage is neither close in meaning nor shares the question's informative
words. Weights were chosen on the shared sets (see README, "Answer quality").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Sequence

import numpy as np

from index.answer_types import Kind, expected_kind, highlight, phrases
from index.embedding import Embedder
from index.model import Answer, AnswerSentence, Citation
from index.reader import Reader
from index.reading import SearchableIndex
from index.recency import asks_for_latest, parse_date
from index.retrieval import Hit
from index.text import Span, is_heading, is_markup, paragraphs, sentences, words

DECLINED = "I could not find an answer to that in the articles."
# A sentence of another article answers the same question when its passage tells the same story
# as the answer's (their vectors' cosine is at least _SAME_STORY: reports of one flood measure
# 0.77-0.88, the most alike passages of the Super Bowl and Notre Dame articles 0.47) and it covers
# at least _SOME_WORDS of what the best-covering sentence covers of the question's informative
# words (it may say "died" where the question says "killed"). Only such sentences are listed as
# other articles' answers, and only their answers can disagree.
_SAME_STORY = 0.65
_SOME_WORDS = 0.25
# Words that ask rather than say what is asked about: a sentence is no better for holding them.
_INTERROGATIVES = "who whom whose what which when where why how"


@dataclass(frozen=True)
class Weights:
    """How the signals of a candidate sentence add up, and how relevance is judged."""

    passages: int = 5  # passages whose sentences compete to be the answer
    context: float = 0.15  # neighbouring sentences' coverage
    kind: float = 0.3  # holds a phrase of the kind the question asks for
    # How well the sentence's passage was retrieved: its cosine to the question, and its BM25 score
    # relative to the best passage's. The cosine, not the fused score relative to the best, because
    # it says how close in meaning the passage is, not only how it ranks against the others.
    passage_cosine: float = 1.5
    passage_bm25: float = 0.15
    # relevance = cosine_weight * best cosine + (1 - cosine_weight) * best sentence coverage
    cosine_weight: float = 0.7
    # Cosine of each candidate sentence to the question. Off by default: it runs the model on
    # every candidate sentence of every question (tens of milliseconds on a CPU).
    sentence_cosine: float = 0.0
    fallback_cosine: float = 2.0  # the same, used only when no sentence shares a word with the question
    # A second sentence joins the answer when the evidence hardly prefers the best one: when it
    # scores within `second` of it, after paying `length_cost` per 100 characters it adds (a long
    # second sentence must be closer), and both fit `answer_chars`. The best one's neighbours get
    # `adjacent` more: an answer is often split over two sentences ("... re-branded as Opening
    # Night. The event was held on February 1").
    second: float = 0.3
    length_cost: float = 0.1
    adjacent: float = 0.05
    answer_chars: int = 450
    # For a question that asks for the latest information, sentences of the newest dated article
    # among the candidates get this much more.
    recency: float = 0.5
    # With the reading model: a candidate's score is the model's logit plus `reader_mix` times the
    # word-overlap score above; a second sentence joins when it scores within `reader_second` of the
    # best, after paying `reader_length_cost` per 100 characters it adds, and the model thinks it
    # answers too.
    reader_mix: float = 3.0
    reader_second: float = 1.0
    reader_length_cost: float = 0.3
    # With the reading model, a question that asks for a kind of phrase (a date for "when", a number
    # for "how many") is declined when the answer holds no such phrase and the model's probability
    # is below this: a sentence about the right event that lacks the asked detail does not answer.
    # 0.7 on the shared sets: news-dev's unanswerable questions declined 0.33 -> 0.48, answerable
    # declined unchanged there and 0.8 % -> 1.4 % on a third of SQuAD.
    reader_kind_sure: float = 0.7


WEIGHTS = Weights()


@dataclass(frozen=True)
class _Candidate:
    citation: Citation
    position: int  # the sentence's place in its passage
    span: Span  # offsets into the article
    text: str
    coverage: float
    score: float
    chunk_id: int  # its passage
    probability: float | None = None  # the reading model's, when it read this sentence
    marked: Span | None = None  # the answer the reading model marked in it, as offsets into the article
    previous: str = ""  # the sentence before it in its paragraph ("" when it opens one)


def compose(
    snapshot: SearchableIndex,
    embedder: Embedder,
    question: str,
    query: np.ndarray,
    hits: Sequence[Hit],
    *,
    top_k: int,
    min_relevance: float,
    weights: Weights = WEIGHTS,
    reader: Reader | None = None,
    reader_candidates: int,
    reader_threshold: float,
) -> Answer:
    """Build the Answer for a question from its ranked hits."""
    distinct = _distinct(snapshot, hits)
    if not distinct:
        return Answer(question, DECLINED, True, ())
    pool = _citations(snapshot, distinct)
    kind = expected_kind(question)
    candidates = _candidates(snapshot, question, kind, pool[:weights.passages], distinct, weights,
                             embedder, query)
    if reader is not None and candidates:
        candidates = _read(reader, question, candidates, reader_candidates, weights)
    dates = _dates(snapshot, pool, distinct)
    latest = asks_for_latest(question) and len(set(dates.values())) > 1
    if latest:
        newest = max(dates.values())
        candidates = [replace(c, score=c.score + weights.recency) if dates.get(c.citation.source) == newest else c
                      for c in candidates]
    best = max(candidates, key=lambda c: c.score) if candidates else None
    second, length_cost = ((weights.reader_second, weights.reader_length_cost) if reader is not None
                           else (weights.second, weights.length_cost))
    chosen = _answer_sentences(best, candidates, weights, second=second, length_cost=length_cost,
                               threshold=reader_threshold) if best else []
    top_coverage = max((c.coverage for c in candidates), default=0.0)
    if best:
        # Older reports of a "latest" question did not get the newest one's bonus; they still count.
        # With the model, the word-overlap score counts reader_mix times, and so do the gaps between
        # reports that word the same fact differently ("killed" / "have died"): the slack grows with it.
        spread = weights.reader_mix if reader is not None else 2.0
        slack = spread * second + (weights.recency if latest else 0.0)
        chosen = _other_reports(snapshot, chosen, candidates, kind, question, top_coverage, slack=slack, limit=top_k)
    ordered = _cited_order(pool, chosen, candidates)
    citations = _renumber(ordered[:top_k])
    relevance = _relevance(max(h.cosine for h in distinct[:3]), best.coverage if best else 0.0, weights)
    confidence = best.probability if best is not None else None
    unread = confidence is not None and (
        confidence < reader_threshold
        or (kind is not None and confidence < weights.reader_kind_sure
            and not any(phrases(kind, c.text, question) for c in chosen)))
    if best is None or relevance < min_relevance or unread:
        return Answer(question, DECLINED, True, citations, relevance=relevance, confidence=confidence)
    number = {old.n: new.n for old, new in zip(ordered, citations, strict=False)}  # citations: the first top_k
    chosen = [c for c in chosen if c.citation.n in number]
    answer_sentences = tuple(
        AnswerSentence(c.text, number[c.citation.n], c.span.start, c.span.end, _highlight(c, kind, question))
        for c in chosen)
    text = " ".join(f"{s.text} [{s.citation}]" for s in answer_sentences)
    note = _disagreement(snapshot, answer_sentences, chosen, dates, newest_first=latest, top_coverage=top_coverage,
                         kind=kind, question=question)
    if note:
        text = f"{text}\n{note}"
    return Answer(question, text, False, citations, answer_sentences, relevance=relevance, note=note,
                  confidence=confidence)


def _dates(snapshot: SearchableIndex, pool: Sequence[Citation], hits: Sequence[Hit]) -> dict[str, date]:
    """The publication date of each cited article that has a readable one."""
    out = {}
    for citation in pool:
        when = parse_date(snapshot.article(hits[citation.n - 1].chunk_id).date)
        if when is not None:
            out[citation.source] = when
    return out


def _other_reports(snapshot: SearchableIndex, chosen: list[_Candidate], candidates: Sequence[_Candidate],
                   kind: Kind | None, question: str, top_coverage: float, *, slack: float,
                   limit: int) -> list[_Candidate]:
    """The answer, plus each other article's different answer of the asked kind, best first.

    When several articles answer ("killed 12", "at least 20 have died", "killed 31"), each distinct
    answer is given with its own citation rather than only the best one. Candidates scoring more
    than `slack` below the best are not considered.
    """
    if kind is None:
        return chosen
    best = chosen[0]
    said = {_plain(p) for c in chosen if (p := _phrase(kind, c.text, question))}
    if not said:
        return chosen
    sources = {c.citation.source for c in chosen}
    out = list(chosen)
    for candidate in sorted(candidates, key=lambda c: -c.score):
        if len(out) >= limit or candidate.score < best.score - slack:
            break
        if candidate.citation.source in sources or not _same_subject(snapshot, candidate, best, top_coverage):
            continue
        phrase = _phrase(kind, candidate.text, question)
        if phrase and _plain(phrase) not in said:
            out.append(candidate)
            sources.add(candidate.citation.source)
            said.add(_plain(phrase))
    return out


def _same_subject(snapshot: SearchableIndex, candidate: _Candidate, best: _Candidate, top_coverage: float) -> bool:
    """Whether a sentence answers what the best one answers, not merely shares a word with the question."""
    if top_coverage <= 0 or candidate.coverage < _SOME_WORDS * top_coverage:
        return False
    story = float(np.dot(snapshot.vectors[candidate.chunk_id], snapshot.vectors[best.chunk_id]))
    return story >= _SAME_STORY


def _disagreement(snapshot: SearchableIndex, sentences_: Sequence[AnswerSentence], chosen: Sequence[_Candidate],
                  dates: dict[str, date], *, newest_first: bool, top_coverage: float, kind: Kind | None,
                  question: str) -> str | None:
    """'Sources differ: ...' when articles' answer phrases differ, with their dates when known."""
    if len(chosen) < 2 or len({c.citation.source for c in chosen}) < len(chosen):
        return None
    # Only sentences that all clearly speak of what was asked can disagree; a second sentence that
    # merely shares a word would make up a dispute.
    if not all(_same_subject(snapshot, c, chosen[0], top_coverage) for c in chosen):
        return None
    phrases_ = [_phrase(kind, s.text, question) if kind else None for s in sentences_]
    if None in phrases_ or len({_plain(p or "") for p in phrases_}) < len(phrases_):
        return None
    parts = []
    for sentence, candidate, phrase in zip(sentences_, chosen, phrases_, strict=True):
        when = dates.get(candidate.citation.source)
        parts.append(f"[{sentence.citation}]{f' ({when.isoformat()})' if when else ''} says \"{phrase}\"")
    lead = "Sources differ; the newest is given first" if newest_first else "Sources differ"
    return f"{lead}: " + "; ".join(parts) + "."


def _highlight(candidate: _Candidate, kind: Kind | None, question: str) -> tuple[int, int] | None:
    """The answering phrase inside the sentence: the reading model's mark, else the asked kind's phrase."""
    marked, span = candidate.marked, candidate.span
    if marked is not None and span.start <= marked.start < marked.end <= span.end:
        return marked.start - span.start, marked.end - span.start
    return highlight(kind, candidate.text, question)


def _read(reader: Reader, question: str, candidates: Sequence[_Candidate], limit: int,
          weights: Weights) -> list[_Candidate]:
    """Rescore the best `limit` candidates with the reading model; the others rank after them all.

    Each read candidate scores its logit plus `reader_mix` times its word-overlap score.
    """
    if reader.whole_passages:
        # Every candidate of the passages, each passage's sentences read together in their order.
        ranked = sorted(range(len(candidates)), key=lambda i: (candidates[i].chunk_id, candidates[i].position))
        groups: dict[int, list[int]] = {}
        for i in ranked:
            groups.setdefault(candidates[i].chunk_id, []).append(i)
        passages = reader.read_passages(question, [[candidates[i].text for i in group] for group in groups.values()])
        readings = {i: r for group, read_here in zip(groups.values(), passages, strict=True)
                    for i, r in zip(group, read_here, strict=True)}
        chosen = set(readings)
    else:
        ranked = sorted(range(len(candidates)), key=lambda i: -candidates[i].score)
        chosen = set(ranked[:limit])
        read = [candidates[i] for i in ranked[:limit]]
        found = reader.read(question, [c.text for c in read], [c.previous for c in read])
        readings = dict(zip(ranked[:limit], found, strict=True))
    floor = min(r.logit for r in readings.values()) - 10.0
    out = []
    for i, c in enumerate(candidates):
        if i in chosen:
            r = readings[i]
            marked = Span(c.span.start + r.answer[0], c.span.start + r.answer[1]) if r.answer else None
            out.append(replace(c, score=r.logit + weights.reader_mix * c.score, probability=r.probability,
                               marked=marked))
        else:
            out.append(replace(c, score=floor + weights.reader_mix * c.score))
    return out


def _phrase(kind: Kind, text: str, question: str) -> str | None:
    span = highlight(kind, text, question)
    return text[span[0]:span[1]] if span else None


def _plain(text: str) -> str:
    return " ".join(words(text))


def _relevance(cosine: float, coverage: float, weights: Weights) -> float:
    """How sure we are that the corpus speaks to the question, 0..1."""
    return float(min(1.0, max(0.0, weights.cosine_weight * cosine + (1 - weights.cosine_weight) * coverage)))


def _distinct(snapshot: SearchableIndex, hits: Sequence[Hit]) -> list[Hit]:
    """Drop hits whose text repeats an earlier hit's, so no text is cited twice."""
    seen: set[str] = set()
    out = []
    for hit in hits:
        key = " ".join(words(snapshot.chunk(hit.chunk_id).text))
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out


def _citations(snapshot: SearchableIndex, hits: Sequence[Hit]) -> list[Citation]:
    out = []
    for n, hit in enumerate(hits, start=1):
        chunk = snapshot.chunk(hit.chunk_id)
        article = snapshot.article(hit.chunk_id)
        out.append(Citation(n, article.source, article.title, article.url, chunk.start, chunk.end,
                            chunk.text, round(hit.score, 4), chunk.paragraph))
    return out


def _cited_order(pool: Sequence[Citation], chosen: Sequence[_Candidate],
                 candidates: Sequence[_Candidate]) -> list[Citation]:
    """The answer's passages first, then the others by their best sentence, then the unscored ones.

    A passage whose best sentence nearly answers is a better second source than one that was
    merely retrieved higher.
    """
    lead = list(dict.fromkeys(c.citation.n for c in chosen))
    strength: dict[int, float] = {}
    for candidate in candidates:
        n = candidate.citation.n
        strength[n] = max(strength.get(n, candidate.score), candidate.score)
    scored = sorted((n for n in strength if n not in lead), key=lambda n: -strength[n])
    unscored = [c.n for c in pool if c.n not in lead and c.n not in strength]
    by_number = {c.n: c for c in pool}
    return [by_number[n] for n in lead + scored + unscored]


def _renumber(citations: Sequence[Citation]) -> tuple[Citation, ...]:
    return tuple(Citation(n, c.source, c.title, c.url, c.start, c.end, c.quote, c.score, c.paragraph)
                 for n, c in enumerate(citations, start=1))


def _candidates(
    snapshot: SearchableIndex,
    question: str,
    kind: Kind | None,
    citations: Sequence[Citation],
    hits: Sequence[Hit],
    weights: Weights,
    embedder: Embedder,
    query: np.ndarray,
) -> list[_Candidate]:
    spans: list[tuple[Citation, Span, str]] = []
    positions: list[int] = []
    before: list[str] = []  # the sentence before each one in its paragraph: the reading model's context
    for citation in citations:
        # Sentences of each paragraph of the passage: a line of a scraped page (a heading, an image
        # tag, a caption) is never the start of the sentence after it.
        position = 0
        for paragraph in paragraphs(citation.quote):
            if is_markup(citation.quote[paragraph.start:paragraph.end]):
                continue
            previous = ""
            for local in sentences(citation.quote, paragraph):
                text = citation.quote[local.start:local.end]
                if not is_heading(text):  # a heading names the subject, it answers nothing
                    spans.append((citation, Span(citation.start + local.start, citation.start + local.end), text))
                    positions.append(position)
                    before.append(previous)
                previous = text
                position += 1
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
    out = []
    for i, (citation, span, text) in enumerate(spans):
        neighbours = [coverage[j] for j in (i - 1, i + 1)
                      if 0 <= j < len(spans) and spans[j][0].n == citation.n]
        hit = hits[citation.n - 1]
        score = (coverage[i] + weights.context * max(neighbours, default=0.0)
                 + weights.passage_cosine * hit.cosine + weights.passage_bm25 * hit.bm25
                 + cosine_weight * float(similarity[i]))
        if kind is not None and weights.kind and phrases(kind, text, question):
            score += weights.kind
        out.append(_Candidate(citation, positions[i], span, text, coverage[i], score, hit.chunk_id,
                              previous=before[i]))
    return out


def _weighted_terms(snapshot: SearchableIndex, question: str) -> dict[int, float]:
    """The question's informative terms with their idf; words the index never saw count as rare ones."""
    terms, asking = snapshot.lexical.terms([question, _INTERROGATIVES])
    weighted = {t: snapshot.lexical.idf(t) for t in set(terms) - set(asking)}
    for n in range(snapshot.lexical.unknown_words(question)):
        weighted[-1 - n] = snapshot.lexical.idf(-1)
    return weighted


def _answer_sentences(best: _Candidate, candidates: Sequence[_Candidate], weights: Weights, *, second: float,
                      length_cost: float, threshold: float) -> list[_Candidate]:
    """The best sentence, with a second one when that scores nearly as well; neighbours join into one quote."""

    def adjacent(other: _Candidate) -> bool:
        return other.citation.n == best.citation.n and abs(other.position - best.position) == 1

    def length(other: _Candidate) -> int:
        if adjacent(other):
            return max(best.span.end, other.span.end) - min(best.span.start, other.span.start)
        return len(best.text) + 1 + len(other.text)

    def merit(other: _Candidate) -> float:
        added = length(other) - len(best.text)
        return other.score + (weights.adjacent if adjacent(other) else 0.0) - length_cost * added / 100

    rivals = [c for c in candidates if c is not best and c.text != best.text
              and merit(c) >= best.score - second and length(c) <= weights.answer_chars
              and (c.probability is None or c.probability >= threshold)]
    if not rivals:
        return [best]
    other = max(rivals, key=merit)
    if not adjacent(other):
        return [best, other]
    start, end = min(best.span.start, other.span.start), max(best.span.end, other.span.end)
    quote = best.citation.quote[start - best.citation.start:end - best.citation.start]
    return [replace(best, span=Span(start, end), text=quote, marked=best.marked or other.marked)]
