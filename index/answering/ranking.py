"""Choosing the answer and saying how sure it is: two small models learned from the engine's own candidates.

Every candidate sentence of a question carries the signals the engine already has (`Signals`): how
its passage was retrieved, how much of the question it covers, whether it holds a phrase of the
asked kind, what the reading model made of it, whether the question's names and numbers are in it.
`features` turns a question's candidates into one row each, adding where each stands against the
question's best (a logit 2 below the best read means more than a logit of 3 alone).

- The **ranker** (gradient-boosted trees, LightGBM) gives each candidate the probability that it
  holds the answer; the best is the answer, and the citations follow its order.
- The **confidence model** (trees again, then isotonic calibration) reads the chosen answer's row
  with how far it stands above the rest, and gives the probability that the posted answer holds
  the answer. The thresholds on it make the tiers: answer, tentative, declined.

Both are trained by training/train_ranker.py on questions of ../shared/qa-train that the reading
model never saw, asked of corpora of several articles through this same code (model card:
index/models/reader/MODEL_CARD.md, "The ranker"). The files are LightGBM's text dumps and a JSON
table, a few hundred kilobytes, read once per process.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from index.answering.answer_types import Kind
from index.articles.text import words

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "ranker"
_KINDS = {None: 0, Kind.DATE: 1, Kind.NUMBER: 2, Kind.NAME: 3, Kind.PLACE: 4}


@dataclass(frozen=True)
class Signals:
    """What the engine knows of one candidate sentence before choosing (all cheap but the reading)."""

    passage_rank: int  # its passage's place among the distinct retrieved passages, 0 = best
    cosine: float  # its passage's cosine to the question
    bm25: float  # its passage's BM25, relative to the best passage's
    fused: float  # its passage's retrieval score
    coverage: float  # idf-weighted share of the question's informative words it holds
    neighbours: float  # the best coverage of the sentences beside it in its passage
    prescore: float  # the word-overlap score that chose which sentences the model reads
    position: int  # its place in its passage
    opens_paragraph: bool
    chars: int
    kind_in_sentence: bool  # holds a phrase of the asked kind the question does not already say
    read: bool  # the reading model read it (the best `reader_candidates` by prescore)
    logit: float  # the reading model's, NaN when not read
    span: float  # the marked span's start + end scores, NaN when not read
    kind_in_span: bool  # the marked span holds a phrase of the asked kind
    span_asked: float  # share of the marked span's words that the question already says
    span_words: int
    names_in_sentence: float  # share of the question's names and numbers it holds (1 when the question has none)
    names_in_passage: float  # the same for its whole passage
    same_article_as_top: bool  # from the article of the best retrieved passage
    article_passages: int  # how many of the competing passages come from its article


@dataclass(frozen=True)
class Asked:
    """What the question itself tells: the kind of phrase it asks for, and its length."""

    kind: Kind | None
    words: int
    passages: int  # distinct passages competing
    articles: int  # distinct articles among them


SIGNALS = [f.name for f in fields(Signals)]
# Per candidate: its signals, where it stands against the question's best, and the question's own.
FEATURES = SIGNALS + ["logit_gap", "logit_rank", "span_gap", "coverage_gap", "prescore_gap", "cosine_gap",
                      "neighbour_logit", "kind", "question_words", "passages", "articles", "blend", "blend_gap"]
# The hand-set choice this replaces, the reader's logit plus three times the word-overlap score, is one
# feature: trees approximate a sum of two signals only with many splits, and given it they start from it.
_BLEND = 3.0
# Per answer: the chosen candidate's features, how it stands against the others, and how close the passages are.
CONFIDENCE = FEATURES + ["probability", "margin", "second", "answer_sentences", "relevance", "best_cosine"]


def features(signals: Sequence[Signals], asked: Asked) -> np.ndarray:
    """One row of FEATURES per candidate, in order (float32; NaN where a signal is missing)."""
    raw = np.array([astuple(s) for s in signals], dtype=np.float64).reshape(len(signals), len(SIGNALS))
    column = {name: raw[:, i] for i, name in enumerate(SIGNALS)}
    logit = column["logit"]
    read = ~np.isnan(logit)
    best_logit = np.max(logit[read]) if read.any() else np.nan
    order = np.argsort(-np.where(read, logit, -np.inf), kind="stable")
    rank = np.empty(len(signals))
    rank[order] = np.arange(len(signals))
    rank[~read] = np.nan
    span = column["span"]
    best_span = np.max(span[read]) if read.any() else np.nan
    # The best reading of the sentences beside it in its passage: an answer split over two sentences.
    beside = np.full(len(signals), np.nan)
    place = {(s.passage_rank, s.position): i for i, s in enumerate(signals)}
    for i, s in enumerate(signals):
        around = [logit[j] for p in (s.position - 1, s.position + 1)
                  if (j := place.get((s.passage_rank, p))) is not None and read[j]]
        if around:
            beside[i] = max(around)
    n = len(signals)
    blend = logit + _BLEND * column["prescore"]
    best_blend = np.max(blend[read]) if read.any() else np.nan
    extra = np.column_stack([
        logit - best_logit, rank, span - best_span,
        column["coverage"] - column["coverage"].max(), column["prescore"] - column["prescore"].max(),
        column["cosine"] - column["cosine"].max(), beside,
        np.full(n, _KINDS[asked.kind]), np.full(n, asked.words), np.full(n, asked.passages),
        np.full(n, asked.articles), blend, blend - best_blend])
    return np.hstack([raw, extra]).astype(np.float32)


def confidence_row(row: np.ndarray, probabilities: np.ndarray, answer: Sequence[int], *, answer_sentences: int,
                   relevance: float, best_cosine: float) -> np.ndarray:
    """The confidence model's input for an answer: its best candidate's row and how it stands against the rest.

    `answer` holds the candidates the answer quotes, its best first; the runner-up is the best of the
    others (a neighbour joined into the answer's quote is no rival to it).
    """
    chosen = answer[0]
    others = np.delete(probabilities, list(answer))
    second = float(others.max()) if len(others) else 0.0
    p = float(probabilities[chosen])
    return np.concatenate([row, np.array([p, p - second, second, answer_sentences, relevance, best_cosine],
                                         dtype=np.float32)]).astype(np.float32)


_NAME_OR_NUMBER = re.compile(r"\b(?:[A-Z][\w'’.-]*|\w*\d[\w.,]*)")


def names(question: str) -> set[str]:
    """The question's names and numbers (capitalised words past its first, and anything with a digit), folded."""
    found = [m.group() for m in _NAME_OR_NUMBER.finditer(question)]
    first = re.match(r"\W*([\w'’.-]+)", question)
    if found and first and found[0] == first.group(1) and not any(ch.isdigit() for ch in found[0]):
        found = found[1:]
    return {w[:5] for name in found for w in words(name) if len(w) > 1}


def share_found(asked: set[str], text: str) -> float:
    """How many of the question's names and numbers `text` holds (1 when the question has none)."""
    if not asked:
        return 1.0
    have = {w[:5] for w in words(text)}
    return len(asked & have) / len(asked)


class Models:
    """The shipped ranker and confidence model, loaded on first use; thread-safe."""

    def __init__(self, folder: Path = MODEL_DIR) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._ranker: Any = None
        self._confidence: Any = None
        self._calibration: tuple[np.ndarray, np.ndarray] | None = None

    def rank(self, rows: np.ndarray) -> np.ndarray:
        """Each candidate's probability of holding the answer."""
        ranker, _, _ = self._load()
        return np.asarray(ranker.predict(rows, num_threads=1), dtype=np.float64)

    def confidence(self, row: np.ndarray) -> float:
        """The calibrated probability that the answer this row describes holds the answer."""
        _, model, (x, y) = self._load()
        raw = float(model.predict(row[None, :], num_threads=1)[0])
        return float(np.interp(raw, x, y))

    def _load(self) -> tuple[Any, Any, tuple[np.ndarray, np.ndarray]]:
        with self._lock:
            if self._ranker is None:
                import lightgbm

                missing = [p for p in ("ranker.txt", "confidence.txt", "calibration.json")
                           if not (self.folder / p).is_file()]
                if missing:
                    from index.errors import ConfigError

                    raise ConfigError(f"the answer models in {self.folder} are missing ({', '.join(missing)}); "
                                      "reinstall articlebot, or run `make train-ranker`")
                table = json.loads((self.folder / "calibration.json").read_text("utf-8"))
                self._calibration = (np.array(table["x"], dtype=np.float64), np.array(table["y"], dtype=np.float64))
                self._confidence = lightgbm.Booster(model_file=str(self.folder / "confidence.txt"))
                self._ranker = lightgbm.Booster(model_file=str(self.folder / "ranker.txt"))
            assert self._calibration is not None
            return self._ranker, self._confidence, self._calibration


@functools.cache
def shared_models(folder: Path = MODEL_DIR) -> Models:
    """One Models per folder in this process."""
    return Models(folder)
