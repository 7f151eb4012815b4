"""Measuring answer quality on questions with gold answers, beside two baselines, in one run.

Questions use the shared eval format: {"id", "question", "article", "answers": [{"text", "start",
"end"}], "impossible"}, offsets into the article file. The baselines are what a user would build
otherwise: BM25 over whole paragraphs, and the tutorial pipeline (the same embedding model, a flat
FAISS index over whole paragraphs, answer = the top paragraph). Off-topic questions (nothing in
the corpus relates) measure declining.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import statistics
import string
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from index.articles.text import paragraphs, sentences
from index.config import AnswerConfig, Config
from index.types import BuildProgress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Question:
    """A question and its gold answer spans."""

    question: str
    article: str
    answers: tuple[tuple[str, int, int], ...]
    impossible: bool


@dataclass(frozen=True)
class Prediction:
    """What one system said: its answer text, cited spans (article, start, end), whether it declined."""

    answer: str
    citations: tuple[tuple[str, int, int], ...]
    declined: bool
    seconds: float
    # The phrase marked inside the answer as the one that answers; None when nothing was marked.
    highlight: str | None = None
    # articlebot's calibrated confidence in the answer it chose (also when it declined), and the tier.
    confidence: float | None = None
    tier: str | None = None


System = Callable[[Sequence[str]], list[Prediction]]


def load_questions(paths: Sequence[Path], limit: int | None = None) -> list[Question]:
    """Read questions files in the shared eval format."""
    out = []
    for path in paths:
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        for row in rows[:limit] if limit else rows:
            answers = tuple((a["text"], int(a["start"]), int(a["end"])) for a in row.get("answers", []))
            out.append(Question(row["question"], row["article"], answers, bool(row.get("impossible"))))
    return out


def evaluate(
    config: Config,
    corpora: Sequence[Path] | Path,
    question_files: Sequence[Path],
    *,
    offtopic: Path | None = None,
    limit: int | None = None,
    progress: Callable[[BuildProgress], None] | None = None,
) -> dict[str, Any]:
    """Index the corpus folders as one corpus, ask every question, and score articlebot and the baselines.

    `progress` hears the index build's stages, then "asking": articlebot's questions answered so far
    (the baselines take milliseconds).
    """
    from index.engine import Engine

    questions = load_questions(question_files, limit)
    offtopic_questions = read_lines(offtopic) if offtopic else []
    notify = progress or (lambda _: None)
    asked = 0

    def answered() -> None:
        nonlocal asked
        asked += 1
        notify(BuildProgress("asking", asked, len(questions) + len(offtopic_questions)))
    with tempfile.TemporaryDirectory(prefix="articlebot-eval-") as tmp:
        corpus = Path(tmp) / "corpus"
        merge_corpora([corpora] if isinstance(corpora, Path) else list(corpora), corpus)
        # With the index database, a corpus of its own, dropped after: the eval never touches the bot's.
        key = f"eval-{uuid.uuid4().hex[:12]}" if config.index.uses_database else config.index.corpus_key
        index_config = replace(config.index, corpus_dir=corpus, index_dir=Path(tmp) / "index", corpus_key=key)
        # Every answer is composed, the declined ones too, so that the confidence can be checked against
        # what each answer holds over its whole range; the configured tiers are applied after.
        tiers = config.answer
        composing = replace(tiers, tentative_threshold=0.0)
        with Engine.from_config(replace(config, index=index_config, answer=composing)) as engine:
            try:
                engine.rebuild(progress)
                notify(BuildProgress("asking", 0, len(questions) + len(offtopic_questions)))
                texts = {p.name: p.read_text("utf-8") for p in corpus.iterdir()}
                systems: dict[str, System] = {
                    "articlebot": lambda qs: articlebot_predictions(engine, qs, tiers, answered),
                    "bm25 paragraphs": _bm25_baseline(texts),
                    "dense paragraphs (tutorial)": _dense_baseline(texts, engine.embedder),
                }
                report: dict[str, Any] = {"questions": len(questions), "offtopic_questions": len(offtopic_questions),
                                          "chunks": engine.status().chunks, "store": config.index.store,
                                          "systems": {}}
                for name, system in systems.items():
                    predictions = system([q.question for q in questions])
                    declined_offtopic = [p.declined for p in system(offtopic_questions)] if offtopic_questions else []
                    report["systems"][name] = score(questions, predictions, declined_offtopic)
            finally:
                _drop_eval_index(engine)
    return report


def _drop_eval_index(engine: Any) -> None:
    """Delete the eval's index (its own corpus in the index database); a database gone away is only logged."""
    from index.errors import IndexDatabaseError

    try:
        engine.store.drop()
    except IndexDatabaseError as e:
        log.warning("the eval's index (%s) could not be dropped: %s", engine.where, e)


def score(questions: Sequence[Question], predictions: Sequence[Prediction],
          declined_offtopic: Sequence[bool]) -> dict[str, float]:
    """The metrics of one system over all questions."""
    answerable = [(q, p) for q, p in zip(questions, predictions, strict=True) if not q.impossible and q.answers]
    impossible = [p for q, p in zip(questions, predictions, strict=True) if q.impossible]

    def cited(q: Question, p: Prediction, n: int) -> bool:
        return any(source == q.article and start <= a_start and a_end <= end
                   for source, start, end in p.citations[:n] for _, a_start, a_end in q.answers)

    def has_gold(q: Question, p: Prediction) -> bool:
        answer = _normalise(p.answer)
        return any(_normalise(text) in answer for text, _, _ in q.answers)

    def share(flags: Sequence[bool]) -> float:
        return round(sum(flags) / len(flags), 4) if flags else float("nan")

    given = [(q, p) for q, p in answerable if not p.declined]
    latencies = [p.seconds * 1000 for p in predictions]
    asked = [(q, p) for q, p in zip(questions, predictions, strict=True) if q.impossible or q.answers]
    rated = [(p.confidence, not q.impossible and has_gold(q, p)) for q, p in asked if p.confidence is not None]
    sure = [not q.impossible and has_gold(q, p) for q, p in asked if p.tier == "answer"]
    tiers = {
        "answer_tier_has_gold": share(sure),
        "answer_tier_coverage": share([p.tier == "answer" for _, p in answerable]),
        "tentative": share([p.tier == "tentative" for _, p in asked]),
        "calibration_error": round(calibration_error(rated), 4) if rated else float("nan"),
    } if rated else {}
    return {
        "cite@1": share([cited(q, p, 1) and not p.declined for q, p in answerable]),
        "cite@3": share([cited(q, p, 3) and not p.declined for q, p in answerable]),
        "answer_has_gold": share([has_gold(q, p) and not p.declined for q, p in answerable]),
        "answer_f1": round(statistics.fmean(
            [max(_f1(p.answer, t) for t, _, _ in q.answers) if not p.declined else 0.0 for q, p in answerable]
        ), 4) if answerable else float("nan"),
        "highlight_f1": round(statistics.fmean(
            [max(_f1(p.highlight or p.answer, t) for t, _, _ in q.answers) if not p.declined else 0.0
             for q, p in answerable]
        ), 4) if answerable else float("nan"),
        "median_answer_chars": statistics.median([len(p.answer) for _, p in given]) if given else 0,
        "median_citation_chars": statistics.median(
            [end - start for _, p in given for _, start, end in p.citations[:1]]) if given else 0,
        "declined_answerable": share([p.declined for _, p in answerable]),
        "declined_impossible": share([p.declined for p in impossible]),
        "declined_offtopic": share(list(declined_offtopic)),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies else 0.0,
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1) if latencies else 0.0,
        **tiers,
    }


def reliability(rated: Sequence[tuple[float, bool]], bins: int = 10) -> list[dict[str, float]]:
    """Per tenth of confidence: the mean confidence, the share of those answers holding the gold, and how many."""
    out = []
    for b in range(bins):
        inside = [(c, right) for c, right in rated if b / bins <= c < (b + 1) / bins or (b == bins - 1 and c == 1.0)]
        if inside:
            out.append({"predicted": round(statistics.fmean(c for c, _ in inside), 4),
                        "observed": round(statistics.fmean(float(r) for _, r in inside), 4), "count": len(inside)})
    return out


def calibration_error(rated: Sequence[tuple[float, bool]], bins: int = 10) -> float:
    """Expected calibration error: the gap between confidence and outcome, weighted by each bin's count."""
    table = reliability(rated, bins)
    return sum(b["count"] * abs(b["predicted"] - b["observed"]) for b in table) / max(1, len(rated))


def format_report(report: dict[str, Any]) -> str:
    """The report as a Markdown table, one row per system."""
    columns = ["cite@1", "cite@3", "answer_has_gold", "answer_f1", "highlight_f1", "median_answer_chars",
               "median_citation_chars", "declined_answerable", "declined_impossible", "declined_offtopic",
               "answer_tier_has_gold", "answer_tier_coverage", "tentative", "calibration_error",
               "latency_p50_ms", "latency_p95_ms"]
    lines = [f"{report['questions']} questions, {report['offtopic_questions']} off-topic questions, "
             f"{report['chunks']} chunks ({report.get('store', 'embedded')} index)", "",
             "| system | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, metrics in report["systems"].items():
        lines.append(f"| {name} | " + " | ".join(_cell(metrics.get(c, float("nan"))) for c in columns) + " |")
    return "\n".join(lines)


def _cell(value: float) -> str:
    if isinstance(value, float) and value != value:
        return "n/a"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def articlebot_predictions(engine: Any, questions: Sequence[str],
                           tiers: AnswerConfig | None = None,
                           answered: Callable[[], None] | None = None) -> list[Prediction]:
    """What the engine answers to each question, as Predictions.

    With `tiers`, the engine is expected to compose every answer (its tentative_threshold 0) and
    the tiers of `tiers` are applied to each answer's confidence here, as `ask` would have.
    """
    from index.answering.answer import tier_of

    out = []
    for question in questions:
        began = time.perf_counter()
        answer = engine.ask(question)
        seconds = time.perf_counter() - began
        tier = answer.tier
        if tiers is not None and answer.confidence is not None and not (answer.declined and not answer.sentences):
            tier = tier_of(answer.confidence, tiers)
        text = " ".join(s.text for s in answer.sentences)
        marked = " ".join(s.text[s.highlight[0]:s.highlight[1]] if s.highlight and tier == "answer" else s.text
                          for s in answer.sentences)
        out.append(Prediction(text, tuple((c.source, c.start, c.end) for c in answer.citations),
                              tier == "declined", seconds, marked, answer.confidence, tier))
        if answered is not None:
            answered()
    return out



# The baselines' passages: paragraphs, cut between sentences into windows of at most this many
# characters (many scraped pages are one long line: a whole article would be one "paragraph").
_WINDOW_CHARS = 1000


def _paragraph_table(texts: dict[str, str]) -> list[tuple[str, int, int, str]]:
    out = []
    for source, text in sorted(texts.items()):
        for paragraph in paragraphs(text):
            start = end = paragraph.start
            for sentence in sentences(text, paragraph):
                if sentence.end - start > _WINDOW_CHARS and end > start:
                    out.append((source, start, end, text[start:end]))
                    start = sentence.start
                end = sentence.end
            if end > start:
                out.append((source, start, end, text[start:end]))
    return out


def _bm25_baseline(texts: dict[str, str]) -> System:
    import bm25s
    import Stemmer

    table = _paragraph_table(texts)
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([t for *_, t in table], stopwords="en", stemmer=stemmer, show_progress=False),
                    show_progress=False)

    def run(questions: Sequence[str]) -> list[Prediction]:
        out = []
        for question in questions:
            began = time.perf_counter()
            tokens = bm25s.tokenize([question], stopwords="en", stemmer=stemmer, show_progress=False)
            ids, _ = retriever.retrieve(tokens, k=min(3, len(table)), show_progress=False, n_threads=1)
            hits = [table[int(i)] for i in ids[0]]
            out.append(Prediction(hits[0][3], tuple(h[:3] for h in hits), False, time.perf_counter() - began))
        return out

    return run


def _dense_baseline(texts: dict[str, str], embedder: Any) -> System:
    import faiss

    table = _paragraph_table(texts)
    index = faiss.IndexFlatIP(embedder.dimension)
    index.add(embedder.encode([t for *_, t in table]))

    def run(questions: Sequence[str]) -> list[Prediction]:
        out = []
        for question in questions:
            began = time.perf_counter()
            _, ids = index.search(embedder.encode([question]), min(3, len(table)))
            hits = [table[int(i)] for i in ids[0]]
            out.append(Prediction(hits[0][3], tuple(h[:3] for h in hits), False, time.perf_counter() - began))
        return out

    return run


def merge_corpora(folders: Sequence[Path], target: Path) -> None:
    """Copy the articles of several corpus folders into one (`target`, created here)."""
    target.mkdir(parents=True)
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.is_symlink():
                shutil.copyfile(path, target / path.name)


def read_lines(path: Path) -> list[str]:
    """The non-empty lines of a text file, without comment lines (an off-topic questions file)."""
    return [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip() and not line.startswith("#")]


def _normalise(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _f1(prediction: str, gold: str) -> float:
    predicted, expected = _normalise(prediction).split(), _normalise(gold).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)
