"""From retrieved passages to an answer: the sentence that answers, and numbered citations.

The answer is extractive: a sentence or two of the cited passages, quoted exactly. `gather` collects
the candidates: every sentence of the best passages, scored cheaply (how much of the question it
covers, idf-weighted; how much its neighbours cover; whether it holds a phrase of the kind the
question asks for, a date for "when", a number for "how many"; how close its passage is in meaning),
and the best `answer.reader_candidates` of them read with the question by the reading model
(index/answering/reader.py). Each candidate carries these signals (index/answering/ranking.py `Signals`).

With the reading model (the default), `compose` lets the learned ranker give each candidate its
probability of holding the answer; the best is the answer, a second sentence joins when the ranker
thinks nearly as well of it, and the citations follow the ranker's order. The confidence model then
says how likely the posted answer is to hold the answer, calibrated, and its thresholds make the
answer's tier: answered, tentative ("the articles may not say this directly"), or declined. When
other articles tell the same story and give a different value of the same kind for the same thing,
each is quoted too, with its own citation, and a last line says the sources differ.

Without the reading model, the word-overlap score alone chooses (hand-set `Weights`, tuned on the
shared sets) and a question is declined when even the best passage is neither close in meaning nor
shares the question's informative words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Sequence

import numpy as np

from index.answering.answer_types import Kind, expected_kind, highlight, phrases
from index.answering.ranking import Asked, Models, Signals, confidence_row, features, names, share_found
from index.answering.reader import Reader
from index.answering.recency import asks_for_latest, parse_date
from index.answering.retrieval import Hit
from index.articles.text import Span, is_heading, is_markup, paragraphs, sentences, words
from index.config import AnswerConfig
from index.embedders import Embedder
from index.store.searchable import SearchableIndex
from index.types import Answer, AnswerSentence, Citation

DECLINED = "I could not find an answer to that in the articles."
TENTATIVE = "The articles may not say this directly. Closest:"
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
    # With the ranker: a second sentence joins the answer when the ranker gives it at least this
    # share of the best one's probability and both fit `answer_chars`; another article's different
    # answer is listed when its log-odds are within `other_reports` of the best one's.
    ranked_second: float = 0.5
    other_reports: float = 6.0
    # With the ranker, a question that asks for the latest information gives the newest article's
    # sentences this much more log-odds.
    ranked_recency: float = 2.0


WEIGHTS = Weights()


@dataclass(frozen=True)
class _Candidate:
    citation: Citation
    position: int  # the sentence's place in its passage
    span: Span  # offsets into the article
    text: str
    coverage: float
    score: float  # the word-overlap score; with the ranker, the log-odds of its probability
    chunk_id: int  # its passage
    probability: float | None = None  # with the ranker, its probability of holding the answer
    marked: Span | None = None  # the answer the reading model marked in it, as offsets into the article
    previous: str = ""  # the sentence before it in its paragraph ("" when it opens one)
    neighbours: float = 0.0  # the best coverage of the sentences beside it in its passage
    logit: float | None = None  # the reading model's, when it read this sentence
    span_score: float | None = None  # the reading model's marked span's start + end scores


@dataclass(frozen=True)
class Gathered:
    """A question's candidate sentences with their signals: what the ranker chooses from."""

    question: str
    kind: Kind | None
    pool: list[Citation]  # every distinct retrieved passage, numbered in retrieval order
    hits: list[Hit]  # the same passages' hits
    candidates: list[_Candidate]
    signals: list[Signals]
    asked: Asked
    relevance: float


def gather(snapshot: SearchableIndex, embedder: Embedder, question: str, query: np.ndarray, hits: Sequence[Hit], *,
           reader: Reader | None, reader_candidates: int, weights: Weights = WEIGHTS) -> Gathered | None:
    """The candidates of a question, read by the model when there is one; None when nothing was retrieved."""
    distinct = _distinct(snapshot, hits)
    if not distinct:
        return None
    pool = _citations(snapshot, distinct)
    kind = expected_kind(question)
    competing = pool[:weights.passages]
    candidates = _candidates(snapshot, question, kind, competing, distinct, weights, embedder, query)
    if reader is not None and candidates:
        candidates = _read(reader, question, candidates, reader_candidates)
    top_coverage = max((c.coverage for c in candidates), default=0.0)
    relevance = _relevance(max(h.cosine for h in distinct[:3]), top_coverage, weights)
    asked_names = names(question)
    passage_names = {c.n: share_found(asked_names, c.quote) for c in competing}
    articles = [c.source for c in competing]
    signals = [_signals(c, distinct[c.citation.n - 1], kind, question, asked_names, passage_names, articles)
               for c in candidates]
    asked = Asked(kind, len(words(question)), len(competing), len(set(articles)))
    return Gathered(question, kind, pool, distinct, candidates, signals, asked, relevance)


def _signals(c: _Candidate, hit: Hit, kind: Kind | None, question: str, asked_names: set[str],
             passage_names: dict[int, float], articles: list[str]) -> Signals:
    marked = c.text[c.marked.start - c.span.start:c.marked.end - c.span.start] if c.marked else ""
    asked = {w[:5] for w in words(question)}
    span_words = words(marked)
    return Signals(
        passage_rank=c.citation.n - 1, cosine=hit.cosine, bm25=hit.bm25, fused=hit.score, coverage=c.coverage,
        neighbours=c.neighbours, prescore=c.score, position=c.position, opens_paragraph=not c.previous,
        chars=len(c.text), kind_in_sentence=kind is not None and bool(phrases(kind, c.text, question)),
        read=c.logit is not None, logit=c.logit if c.logit is not None else float("nan"),
        span=c.span_score if c.span_score is not None else float("nan"),
        kind_in_span=kind is not None and bool(marked) and bool(phrases(kind, marked, question)),
        span_asked=sum(w[:5] in asked for w in span_words) / len(span_words) if span_words else 0.0,
        span_words=len(span_words), names_in_sentence=share_found(asked_names, c.text),
        names_in_passage=passage_names[c.citation.n], same_article_as_top=c.citation.source == articles[0],
        article_passages=articles.count(c.citation.source))


def compose(
    snapshot: SearchableIndex,
    embedder: Embedder,
    question: str,
    query: np.ndarray,
    hits: Sequence[Hit],
    *,
    settings: AnswerConfig,
    top_k: int | None = None,
    weights: Weights = WEIGHTS,
    reader: Reader | None = None,
    models: Models | None = None,
) -> Answer:
    """Build the Answer for a question from its ranked hits (chosen by the ranker when reader and models are given)."""
    top_k = top_k or settings.top_k
    found = gather(snapshot, embedder, question, query, hits, reader=reader,
                   reader_candidates=settings.reader_candidates, weights=weights)
    if found is None:
        return Answer(question, DECLINED, True, (), tier="declined")
    if reader is not None and models is not None:
        return _ranked_answer(snapshot, found, settings, top_k, weights, models)
    return _overlap_answer(snapshot, found, settings.min_relevance, top_k, weights)


def choose(found: Gathered, models: Models,
           weights: Weights = WEIGHTS) -> tuple[list[_Candidate], list[_Candidate], np.ndarray]:
    """The ranker's answer sentences (best first), every candidate rescored, and the confidence model's input row.

    Each candidate's `probability` becomes the ranker's and its `score` that probability's log-odds.
    Answer sentences that are neighbours are joined into one quote.
    """
    rows = features(found.signals, found.asked)
    probabilities = models.rank(rows)
    clipped = np.clip(probabilities, 1e-6, 1 - 1e-6)
    odds = np.log(clipped) - np.log1p(-clipped)
    candidates = [replace(c, probability=float(p), score=float(o))
                  for c, p, o in zip(found.candidates, probabilities, odds, strict=True)]
    best_index = int(np.argmax(probabilities))
    chosen = _second_sentence(candidates[best_index], candidates, weights)
    # The candidates the answer quotes (a neighbour joined into its quote is no rival to it).
    quoted = [best_index] + [i for i, c in enumerate(candidates) if i != best_index and any(
        c.citation.n == a.citation.n and a.span.start <= c.span.start and c.span.end <= a.span.end for a in chosen)]
    row = confidence_row(rows[best_index], probabilities, quoted, answer_sentences=len(chosen),
                         relevance=found.relevance, best_cosine=max(h.cosine for h in found.hits[:3]))
    return chosen, candidates, row


def tier_of(confidence: float, settings: AnswerConfig) -> str:
    """'answer', 'tentative' or 'declined', by the answer settings' two thresholds."""
    if confidence >= settings.answer_threshold:
        return "answer"
    return "tentative" if confidence >= settings.tentative_threshold else "declined"


def _ranked_answer(snapshot: SearchableIndex, found: Gathered, settings: AnswerConfig, top_k: int,
                   weights: Weights, models: Models) -> Answer:
    question, kind, pool = found.question, found.kind, found.pool
    if not found.candidates:
        return Answer(question, DECLINED, True, _renumber(pool[:top_k]), relevance=found.relevance,
                      confidence=0.0, tier="declined")
    chosen, candidates, row = choose(found, models, weights)
    dates = _dates(snapshot, pool, found.hits)
    latest = asks_for_latest(question) and len(set(dates.values())) > 1
    if latest:
        newest = max(dates.values())
        candidates = [replace(c, score=c.score + weights.ranked_recency) if dates.get(c.citation.source) == newest
                      else c for c in candidates]
        best = max(candidates, key=lambda c: c.score)
        if best.citation.source != chosen[0].citation.source:
            chosen = _second_sentence(best, candidates, weights)
    top_coverage = max(c.coverage for c in candidates)
    chosen = _other_reports(snapshot, chosen, candidates, kind, question, top_coverage,
                            slack=weights.other_reports + (weights.ranked_recency if latest else 0.0), limit=top_k)
    confidence = models.confidence(row)
    tier = tier_of(confidence, settings)
    ordered = _cited_order(pool, chosen, candidates)
    citations = _renumber(ordered[:top_k])
    if tier == "declined":
        return Answer(question, DECLINED, True, citations, relevance=found.relevance, confidence=confidence,
                      tier=tier)
    number = {old.n: new.n for old, new in zip(ordered, citations, strict=False)}  # citations: the first top_k
    chosen = [c for c in chosen if c.citation.n in number]
    # A phrase is marked only in an answer that is trusted, and only where the model's mark holds what
    # was asked for: a name the sentence mentions is not thereby the answer.
    sure = tier == "answer"
    answer_sentences = tuple(
        AnswerSentence(c.text, number[c.citation.n], c.span.start, c.span.end,
                       _trusted_highlight(c, kind, question) if sure else None)
        for c in chosen)
    text = " ".join(f"{s.text} [{s.citation}]" for s in answer_sentences)
    if tier == "tentative":
        text = f"{TENTATIVE} {text}"
    note = _disagreement(snapshot, answer_sentences, chosen, dates, newest_first=latest, top_coverage=top_coverage,
                         kind=kind, question=question)
    if note:
        text = f"{text}\n{note}"
    return Answer(question, text, False, citations, answer_sentences, relevance=found.relevance, note=note,
                  confidence=confidence, tier=tier)


def _overlap_answer(snapshot: SearchableIndex, found: Gathered, min_relevance: float, top_k: int,
                    weights: Weights) -> Answer:
    """The answer chosen by the word-overlap score alone (no reading model)."""
    question, kind, pool, candidates = found.question, found.kind, found.pool, found.candidates
    dates = _dates(snapshot, pool, found.hits)
    latest = asks_for_latest(question) and len(set(dates.values())) > 1
    if latest:
        newest = max(dates.values())
        candidates = [replace(c, score=c.score + weights.recency) if dates.get(c.citation.source) == newest else c
                      for c in candidates]
    best = max(candidates, key=lambda c: c.score) if candidates else None
    chosen = _answer_sentences(best, candidates, weights) if best else []
    top_coverage = max((c.coverage for c in candidates), default=0.0)
    if best:
        # Older reports of a "latest" question did not get the newest one's bonus; they still count.
        slack = 2.0 * weights.second + (weights.recency if latest else 0.0)
        chosen = _other_reports(snapshot, chosen, candidates, kind, question, top_coverage, slack=slack, limit=top_k)
    ordered = _cited_order(pool, chosen, candidates)
    citations = _renumber(ordered[:top_k])
    if best is None or found.relevance < min_relevance:
        return Answer(question, DECLINED, True, citations, relevance=found.relevance, tier="declined")
    number = {old.n: new.n for old, new in zip(ordered, citations, strict=False)}  # citations: the first top_k
    chosen = [c for c in chosen if c.citation.n in number]
    answer_sentences = tuple(
        AnswerSentence(c.text, number[c.citation.n], c.span.start, c.span.end, highlight(kind, c.text, question))
        for c in chosen)
    text = " ".join(f"{s.text} [{s.citation}]" for s in answer_sentences)
    note = _disagreement(snapshot, answer_sentences, chosen, dates, newest_first=latest, top_coverage=top_coverage,
                         kind=kind, question=question)
    if note:
        text = f"{text}\n{note}"
    return Answer(question, text, False, citations, answer_sentences, relevance=found.relevance, note=note,
                  tier="answer")


def _second_sentence(best: _Candidate, candidates: Sequence[_Candidate], weights: Weights) -> list[_Candidate]:
    """The best sentence, with the ranker's next best when it thinks nearly as well of it; neighbours joined."""
    assert best.probability is not None
    rivals = [c for c in candidates if c is not best and c.text != best.text and c.probability is not None
              and c.probability >= weights.ranked_second * best.probability
              and _joined_length(best, c) <= weights.answer_chars]
    return _joined(best, max(rivals, key=lambda c: c.score)) if rivals else [best]


def _adjacent(best: _Candidate, other: _Candidate) -> bool:
    return other.citation.n == best.citation.n and abs(other.position - best.position) == 1


def _joined_length(best: _Candidate, other: _Candidate) -> int:
    """How long the answer is with `other` beside `best`: one quote when they are neighbours."""
    if _adjacent(best, other):
        return max(best.span.end, other.span.end) - min(best.span.start, other.span.start)
    return len(best.text) + 1 + len(other.text)


def _joined(best: _Candidate, other: _Candidate) -> list[_Candidate]:
    """The answer's sentences: both, or one quote of the two when they are neighbours in a passage."""
    if not _adjacent(best, other):
        return [best, other]
    start, end = min(best.span.start, other.span.start), max(best.span.end, other.span.end)
    quote = best.citation.quote[start - best.citation.start:end - best.citation.start]
    return [replace(best, span=Span(start, end), text=quote, marked=best.marked or other.marked)]


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
        if phrase and _plain(phrase) not in said and _comparable(kind, best.text, candidate.text, question):
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
    # Different values of the same thing only: 18 million euros of aid and 340 estates do not disagree.
    if kind is None or not all(_comparable(kind, sentences_[0].text, s.text, question) for s in sentences_[1:]):
        return None
    parts = []
    for sentence, candidate, phrase in zip(sentences_, chosen, phrases_, strict=True):
        when = dates.get(candidate.citation.source)
        parts.append(f"[{sentence.citation}]{f' ({when.isoformat()})' if when else ''} says \"{phrase}\"")
    lead = "Sources differ; the newest is given first" if newest_first else "Sources differ"
    return f"{lead}: " + "; ".join(parts) + "."


def _trusted_highlight(candidate: _Candidate, kind: Kind | None, question: str) -> tuple[int, int] | None:
    """The phrase the reading model marked as the answer, when it is one of the asked kind (if a kind was asked).

    Asked "What is the name of the American who was released?", a sentence that names the diplomat
    who commended the release must not have his name marked: the mark is kept only when it holds a
    phrase of the kind the question asks for, and nothing else is marked in its place.
    """
    marked, span = candidate.marked, candidate.span
    if marked is None or not span.start <= marked.start < marked.end <= span.end:
        return None
    local = marked.start - span.start, marked.end - span.start
    if kind is not None and not phrases(kind, candidate.text[local[0]:local[1]], question):
        return None
    return local


def _read(reader: Reader, question: str, candidates: Sequence[_Candidate], limit: int) -> list[_Candidate]:
    """Read the best `limit` candidates by word-overlap score with the reading model (its logit, span and mark)."""
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
    out = []
    for i, c in enumerate(candidates):
        if i in chosen:
            r = readings[i]
            marked = Span(c.span.start + r.answer[0], c.span.start + r.answer[1]) if r.answer else None
            out.append(replace(c, logit=r.logit, span_score=r.span, marked=marked))
        else:
            out.append(c)
    return out


# What a number counts or measures, read around it: a currency, a percentage, or the noun after it.
_CURRENCY = {"$": "dollar", "€": "euro", "£": "pound", "¥": "yen", "dollar": "dollar", "usd": "dollar",
             "euro": "euro", "eur": "euro", "pound": "pound", "gbp": "pound", "sterl": "pound", "yen": "yen",
             "yuan": "yuan", "rupee": "rupee", "franc": "franc", "ruble": "ruble", "roubl": "ruble", "krone": "krone"}
_NOT_UNITS = frozenset("""a an the of in on at to for by with from and or but as than that which who
    is are was were be been being has have had do does did will would could should may might said says say
    after before during since until over under about around more less least most some this these those
    its their his her our your my""".split())


def _unit(text: str, span: tuple[int, int]) -> tuple[str | None, bool, str | None]:
    """(currency, is a percentage, the noun after it) of the number at `span` in `text`."""
    phrase = text[span[0]:span[1]].lower()
    before = text[max(0, span[0] - 2):span[0]]
    after = re.match(r"\s*([^\W\d_]+)", text[span[1]:])
    following = after.group(1).lower() if after else ""
    currency = next((name for mark, name in _CURRENCY.items() if len(mark) == 1 and (mark in phrase or mark in before)),
                    None)
    if currency is None and following:
        currency = _CURRENCY.get(following.rstrip("s")[:5]) or _CURRENCY.get(following[:5])
    percent = "%" in phrase or following in ("percent", "per") or "percent" in phrase
    noun = None if currency or percent or not following or following in _NOT_UNITS else following.rstrip("s")[:5]
    return currency, percent, noun


def _comparable(kind: Kind, first: str, other: str, question: str) -> bool:
    """Whether two sentences' answers of the asked kind are values of the same thing.

    Numbers compare only in the same currency, both percentages or neither, and counting the same
    noun when both name one; dates, names and places always compare (the subject is checked apart).
    """
    if kind is not Kind.NUMBER:
        return True
    first_span, other_span = highlight(kind, first, question), highlight(kind, other, question)
    if first_span is None or other_span is None:
        return False
    currency_a, percent_a, noun_a = _unit(first, first_span)
    currency_b, percent_b, noun_b = _unit(other, other_span)
    if currency_a != currency_b or percent_a != percent_b:
        return False
    return noun_a is None or noun_b is None or noun_a == noun_b


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
                              previous=before[i], neighbours=max(neighbours, default=0.0)))
    return out


def _weighted_terms(snapshot: SearchableIndex, question: str) -> dict[int, float]:
    """The question's informative terms with their idf; words the index never saw count as rare ones."""
    terms, asking = snapshot.lexical.terms([question, _INTERROGATIVES])
    weighted = {t: snapshot.lexical.idf(t) for t in set(terms) - set(asking)}
    for n in range(snapshot.lexical.unknown_words(question)):
        weighted[-1 - n] = snapshot.lexical.idf(-1)
    return weighted


def _answer_sentences(best: _Candidate, candidates: Sequence[_Candidate], weights: Weights) -> list[_Candidate]:
    """The best sentence, with a second one when that scores nearly as well; neighbours join into one quote."""

    def merit(other: _Candidate) -> float:
        added = _joined_length(best, other) - len(best.text)
        return (other.score + (weights.adjacent if _adjacent(best, other) else 0.0)
                - weights.length_cost * added / 100)

    rivals = [c for c in candidates if c is not best and c.text != best.text
              and merit(c) >= best.score - weights.second and _joined_length(best, c) <= weights.answer_chars]
    return _joined(best, max(rivals, key=merit)) if rivals else [best]
