"""Train the answer ranker and the confidence model from the engine's own candidates (index/answering/ranking.py).

1. **Questions the reading model never saw.** The reader (training/train_reader.py) was trained on
   21,547 questions of ../shared/qa-train; its logits are sharper on those than on new text, so a
   ranker learnt on them would trust it too much. Those questions are found again exactly as that
   script chose them (same data, seed and order) and left out; the ranker learns from the rest of
   the SQuAD-format sets: SQuADShifts' new Wikipedia articles, Reddit posts and Amazon reviews, and
   the SQuAD 2.0 excerpt with its unanswerable questions.
2. **Corpora of several articles**, so that retrieval brings up the wrong-article passages a real
   corpus has. Each corpus is indexed and every question asked through the engine exactly as `ask`
   does (`Engine.gather_many`), and every candidate sentence's signals are kept. A candidate is
   labelled by whether its span covers a gold answer's characters.
3. **"Nothing answers" examples** of three kinds: SQuAD 2.0's unanswerable questions; answerable
   questions whose answering sentences were taken out of their article before indexing (the article
   stays on topic but no longer says it; kept only when the gold text appears nowhere else in it);
   and questions asked of another corpus than their own.
4. Corpora are split by name: four fifths to learn from, one fifth held out. The ranker learns from
   the four fifths; the confidence model from the answers that rankers chose there in five folds by
   corpus, each ranker trained without the fold's corpora; its isotonic calibration is fitted on
   the held-out fifth, where the figures of the model card's reliability diagram are measured.

Writes index/models/ranker/{ranker.txt, confidence.txt, calibration.json, training-report.json} and
the reliability and risk-coverage plots in docs/. About 20-25 minutes on 2 cores; `--cache FILE`
keeps the engine's candidates, so training again with other settings skips step 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import multiprocessing
import pickle
import random
import re
import string
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.answering.answer import Gathered, choose  # noqa: E402
from index.answering.ranking import CONFIDENCE, FEATURES, Models, features  # noqa: E402
from index.articles.text import sentences  # noqa: E402

log = logging.getLogger("train_ranker")
SHARED = ROOT.parent / "shared" / "qa-train"
OUT = ROOT / "index" / "models" / "ranker"
DOCS = ROOT / "docs"
SOURCES = {  # file, words a document of it is named by, paragraphs per document
    "wiki": (SHARED / "squadshifts" / "new_wiki_v1.0.json", None),
    "reddit": (SHARED / "squadshifts" / "reddit_v1.0.json", 10),
    "reviews": (SHARED / "squadshifts" / "amazon_reviews_v1.0.json", None),
    "squad2": (SHARED / "squad-train" / "squad-v2-train-first10articles.json", None),
}


@dataclass
class Asked:
    """One question of a corpus, with its gold answers as offsets into its document's file text."""

    question: str
    document: str  # the file name in the corpus
    answers: list[tuple[str, int, int]]
    kind: str  # "answerable", "removed" (its answering sentences taken out), "impossible", "elsewhere"


@dataclass
class Corpus:
    name: str
    files: dict[str, str] = field(default_factory=dict)
    questions: list[Asked] = field(default_factory=list)


@dataclass
class Record:
    """What the engine gathered for one question, and which candidates hold the answer."""

    corpus: str
    source: str  # wiki, reddit, reviews, squad2
    kind: str
    gold: list[str]
    gathered: Gathered | None
    labels: np.ndarray  # per candidate, 1 when its span covers a gold answer


def reader_questions(seed: int = 13, max_pairs: int = 80000) -> set[str]:
    """The questions the shipped reading model was trained on, chosen again as train_reader.py chose them."""
    import train_reader as tr

    training, _ = tr.split_held_out(tr.load_questions(seed, 0.0, 0), seed)
    random.Random(seed).shuffle(training)
    kept, total = set(), 0
    for question in training:
        if total >= max_pairs:
            break
        kept.add(question[0].question)
        total += len(question)
    return kept


def documents(source: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(name, paragraphs) of a source; Reddit's one "article" is cut into documents of ten posts."""
    path, per = SOURCES[source]
    out = []
    for a, article in enumerate(json.loads(path.read_text("utf-8"))["data"]):
        paragraphs = article["paragraphs"]
        if per is None:
            out.append((f"{source}-{a}", paragraphs))
        else:
            out += [(f"{source}-{a}-{i // per}", paragraphs[i:i + per]) for i in range(0, len(paragraphs), per)]
    return out


def corpora(seen: set[str], seed: int, *, paragraphs: int, removed: float, limit: int | None) -> list[Corpus]:
    """Corpora of whole documents of one source, about `paragraphs` paragraphs each, with their questions."""
    out: list[Corpus] = []
    for source in SOURCES:
        docs = documents(source)
        random.Random(f"{seed}:{source}").shuffle(docs)
        group: list[tuple[str, list[dict[str, Any]]]] = []
        size = 0
        for doc in docs:
            group.append(doc)
            size += len(doc[1])
            if size >= paragraphs:
                out.append(_corpus(f"{source}-{len(out)}", group, seen, seed, removed))
                group, size = [], 0
        if group:
            out.append(_corpus(f"{source}-{len(out)}", group, seen, seed, removed))
    out = [c for c in out if c.questions]
    if limit:
        random.Random(seed).shuffle(out)
        out = out[:limit]
    # Each corpus is also asked some questions of another corpus: nothing in it answers them.
    for i, corpus in enumerate(out):
        other = out[(i + 1) % len(out)]
        rng = random.Random(f"{seed}:elsewhere:{corpus.name}")
        taken = [q for q in other.questions if q.kind == "answerable"]
        for q in rng.sample(taken, min(len(taken), max(2, len(corpus.questions) // 10))):
            corpus.questions.append(Asked(q.question, "", [], "elsewhere"))
    return out


def _corpus(name: str, docs: Sequence[tuple[str, list[dict[str, Any]]]], seen: set[str], seed: int,
            removed: float) -> Corpus:
    """Write a corpus's documents as Markdown, taking out the answering sentences of a `removed` share of questions."""
    corpus = Corpus(name)
    for doc_name, paragraphs in docs:
        asked = [(n, qa) for n, p in enumerate(paragraphs) for qa in p["qas"] if qa["question"].strip() not in seen]
        rng = random.Random(f"{seed}:removed:{doc_name}")
        take = {id(qa) for _, qa in asked
                if qa.get("answers") and not qa.get("is_impossible") and rng.random() < removed}
        # The sentences to leave out: those holding a taken question's answers.
        cut: dict[int, list[tuple[int, int]]] = {}
        for n, qa in asked:
            if id(qa) in take:
                context = paragraphs[n]["context"]
                for answer in qa["answers"]:
                    start = int(answer["answer_start"])
                    for span in sentences(context):
                        if span.start < start + len(answer["text"]) and start < span.end:
                            cut.setdefault(n, []).append((span.start, span.end))
        title = re.sub(r"[_\s]+", " ", doc_name)
        text = f"# {title}\n\n"
        offsets: dict[int, tuple[int, list[tuple[int, int]]]] = {}  # paragraph -> (its start, spans cut)
        kept_texts: list[str] = []
        for n, paragraph in enumerate(paragraphs):
            context = paragraph["context"].replace("\n", " ")
            spans = sorted(set(cut.get(n, [])))
            if spans:
                pieces, last = [], 0
                for s, e in spans:
                    pieces.append(context[last:s])
                    last = max(last, e)
                pieces.append(context[last:])
                context = re.sub(r"\s{2,}", " ", "".join(pieces)).strip()
                offsets[n] = (-1, spans)
            else:
                offsets[n] = (len(text), [])
            if context:
                text += context + "\n\n"
                kept_texts.append(context)
        file = f"{doc_name}.md"
        corpus.files[file] = text
        folded = _normalise(text)
        for n, qa in asked:
            question = qa["question"].strip()
            if qa.get("is_impossible"):
                corpus.questions.append(Asked(question, file, [], "impossible"))
                continue
            golds = [(a["text"], int(a["answer_start"])) for a in qa.get("answers", [])]
            if not golds:
                continue
            start, spans = offsets[n]
            if id(qa) in take or start < 0:
                # Its sentences, or a neighbour question's, were taken out: unanswerable when the
                # answer is said nowhere else in the document; otherwise neither kind, left out.
                if id(qa) in take and not any(_normalise(t) in folded for t, _ in golds if _normalise(t)):
                    corpus.questions.append(Asked(question, file, [], "removed"))
                continue
            corpus.questions.append(Asked(question, file, [(t, start + s, start + s + len(t)) for t, s in golds],
                                          "answerable"))
    return corpus


def gather_corpus(corpus: Corpus) -> list[Record]:
    """Index one corpus with the configured engine and gather every one of its questions (runs in a worker)."""
    from index import Engine, load_config

    with tempfile.TemporaryDirectory(prefix="ranker-") as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        for name, text in corpus.files.items():
            (folder / name).write_text(text, "utf-8")
        config = load_config(None, environ={})
        config = replace(config, index=replace(config.index, corpus_dir=folder, index_dir=Path(tmp) / "index"))
        engine = Engine.from_config(config)
        engine.rebuild()
        gathered = engine.gather_many([q.question for q in corpus.questions])
    out = []
    for q, g in zip(corpus.questions, gathered, strict=True):
        labels = np.zeros(len(g.candidates) if g else 0, dtype=np.int8)
        if g is not None and q.kind == "answerable":
            for i, c in enumerate(g.candidates):
                if c.citation.source == q.document and any(c.span.start <= s and e <= c.span.end
                                                           for _, s, e in q.answers):
                    labels[i] = 1
        out.append(Record(corpus.name, corpus.name.split("-")[0], q.kind, [t for t, _, _ in q.answers], g, labels))
    return out


def split_of(corpus: str, seed: int, folds: int = 5) -> tuple[str, int]:
    """('learning', fold) or ('calibration', 0), by the corpus's name and the seed: a fifth is held out."""
    draw = int(hashlib.sha256(f"{seed}:{corpus}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return ("learning", int(draw / 0.8 * folds)) if draw < 0.8 else ("calibration", 0)


def _normalise(text: str) -> str:
    """SQuAD's answer normalisation, as the eval's "answer has gold"."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def has_gold(answer: str, gold: Sequence[str]) -> bool:
    folded = _normalise(answer)
    return any(_normalise(g) and _normalise(g) in folded for g in gold)


class Fitted(Models):
    """Models held in memory while training (the engine's `Models` reads the same from files)."""

    def __init__(self, ranker: Any, confidence: Any = None,
                 calibration: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        super().__init__()
        self._ranker, self._confidence, self._calibration = ranker, confidence, calibration

    def _load(self) -> tuple[Any, Any, tuple[np.ndarray, np.ndarray]]:
        return self._ranker, self._confidence, self._calibration or (np.array([0.0, 1.0]), np.array([0.0, 1.0]))


# A better reading (logit) or a bigger lead over the question's best makes a sentence no less likely to
# answer: monotone constraints keep the trees to that on text unlike the training data's.
_RISING = {"logit": 1, "logit_gap": 1, "blend": 1, "blend_gap": 1, "logit_rank": -1, "coverage_gap": 1}
RANKER = {"objective": "binary", "monotone_constraints": [_RISING.get(f, 0) for f in FEATURES],
          "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 40,
          "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
          "verbose": -1, "deterministic": True, "force_row_wise": True, "num_threads": 2}
CONFIDENCE_PARAMS = {"objective": "binary", "learning_rate": 0.03, "num_leaves": 7, "min_data_in_leaf": 40,
                     "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 2.0,
                     "verbose": -1, "deterministic": True, "force_row_wise": True, "num_threads": 2}


def train_ranker(records: list[Record], seed: int, rounds: int) -> Any:
    import lightgbm

    usable = [r for r in records if r.gathered is not None and r.gathered.candidates]
    rows = np.vstack([features(r.gathered.signals, r.gathered.asked) for r in usable])  # type: ignore[union-attr]
    labels = np.concatenate([r.labels for r in usable])
    data = lightgbm.Dataset(rows, labels, feature_name=FEATURES, free_raw_data=False)
    return lightgbm.train({**RANKER, "seed": seed}, data, num_boost_round=rounds)


def answers(records: list[Record], models: Models) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    """Per record: the confidence model's input for the ranker's answer, whether it holds the gold, whether cited."""
    rows, right, cited = [], [], []
    for r in records:
        g = r.gathered
        if g is None or not g.candidates:
            continue
        chosen, _, row = choose(g, models)
        text = " ".join(c.text for c in chosen)
        rows.append(row)
        right.append(r.kind == "answerable" and has_gold(text, r.gold))
        cited.append(r.kind == "answerable" and _cites(r, chosen))
    return np.vstack(rows), np.array(right, dtype=np.int8), cited


def _cites(record: Record, chosen: Sequence[Any]) -> bool:
    """Whether the answer's first sentence is one of the candidates labelled as holding the gold answer."""
    g = record.gathered
    assert g is not None
    first = chosen[0]
    return any(label and c.citation.n == first.citation.n and c.span.start >= first.span.start
               and c.span.end <= first.span.end for c, label in zip(g.candidates, record.labels, strict=True))


def reliability(probabilities: np.ndarray, outcomes: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per bin of predicted probability: its mean prediction, the observed rate, and its count."""
    out = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = (probabilities >= low) & ((probabilities < high) if b < bins - 1 else (probabilities <= high))
        if inside.any():
            out.append({"low": low, "high": high, "predicted": float(probabilities[inside].mean()),
                        "observed": float(outcomes[inside].mean()), "count": int(inside.sum())})
    return out


def calibration_error(probabilities: np.ndarray, outcomes: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the count-weighted gap between prediction and outcome over the bins."""
    table = reliability(probabilities, outcomes, bins)
    total = sum(b["count"] for b in table)
    return float(sum(b["count"] * abs(b["predicted"] - b["observed"]) for b in table) / max(1, total))


def plot(report: dict[str, Any], target: Path) -> None:
    """The reliability diagram and the risk-coverage curve of the held-out corpora, as PNG files.

    Each half of the held-out corpora is calibrated by the other half's isotonic fit for the diagram:
    the shipped fit, made on all of them, would match its own data by construction.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = report["calibration"]["reliability_cross_fitted"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="perfect")
    ax.plot([b["predicted"] for b in table], [b["observed"] for b in table], marker="o", color="#1f5fa8",
            label=f"held-out corpora, cross-fitted (ECE {report['calibration']['ece_cross_fitted']:.3f})")
    for b in table:
        ax.annotate(str(b["count"]), (b["predicted"], b["observed"]), textcoords="offset points", xytext=(4, -10),
                    fontsize=7, color="#555")
    ax.set_xlabel("confidence (calibrated)")
    ax.set_ylabel("share of answers that hold the gold answer")
    ax.set_title("Reliability of `confidence`")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(target / "reliability.png")
    plt.close(fig)
    curve = report["calibration"]["risk_coverage"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    ax.plot([p["coverage"] for p in curve], [p["risk"] for p in curve], color="#a8401f")
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("risk (share of those answers without the gold)")
    ax.set_title("Risk-coverage, held-out corpora")
    fig.tight_layout()
    fig.savefig(target / "risk-coverage.png")
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--paragraphs", type=int, default=60, help="paragraphs per corpus")
    parser.add_argument("--removed", type=float, default=0.15, help="share of questions whose answer is taken out")
    parser.add_argument("--corpora", type=int, default=50,
                        help="corpora drawn (0: all, about two hours); 50 keep `make train-ranker` near 25 minutes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--cache", type=Path, help="keep the gathered candidates here, and read them from here")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import lightgbm
    from sklearn.isotonic import IsotonicRegression

    began = time.time()
    if args.cache and args.cache.is_file():
        records: list[Record] = pickle.loads(args.cache.read_bytes())
        log.info("%d questions read from %s", len(records), args.cache)
    else:
        seen = reader_questions()
        log.info("%d questions the reading model was trained on are left out (%.0f s)", len(seen), time.time() - began)
        chosen = corpora(seen, args.seed, paragraphs=args.paragraphs, removed=args.removed, limit=args.corpora or None)
        kinds: dict[str, int] = {}
        for c in chosen:
            for q in c.questions:
                kinds[q.kind] = kinds.get(q.kind, 0) + 1
        log.info("%d corpora, questions: %s", len(chosen), kinds)
        records = []
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.workers, maxtasksperchild=8) as pool:
            for n, done in enumerate(pool.imap_unordered(gather_corpus, chosen), start=1):
                records += done
                if n % 10 == 0 or n == len(chosen):
                    log.info("gathered %d of %d corpora, %d questions (%.0f s)", n, len(chosen), len(records),
                             time.time() - began)
        records.sort(key=lambda r: (r.corpus, r.gathered.question if r.gathered else ""))
        if args.cache:
            args.cache.write_bytes(pickle.dumps(records))
    gathering = time.time() - began
    parts: dict[str, list[Record]] = {"learning": [], "calibration": []}
    folds: dict[int, list[Record]] = {}
    for r in records:
        part, fold = split_of(r.corpus, args.seed)
        parts[part].append(r)
        if part == "learning":
            folds.setdefault(fold, []).append(r)
    ranker = train_ranker(parts["learning"], args.seed, args.rounds)
    fitted = Fitted(ranker)
    # The confidence model learns from answers chosen by rankers that did not see their corpora (five
    # folds by corpus), as the shipped ranker meets new corpora.
    chunks = []
    for fold in sorted(folds):
        others = [r for k, rs in folds.items() if k != fold for r in rs]
        chunks.append(answers(folds[fold], Fitted(train_ranker(others, args.seed, args.rounds))))
    rows = np.vstack([c[0] for c in chunks])
    right = np.concatenate([c[1] for c in chunks])
    confidence = lightgbm.train({**CONFIDENCE_PARAMS, "seed": args.seed},
                                lightgbm.Dataset(rows, right, feature_name=CONFIDENCE), num_boost_round=200)
    held_rows, held_right, held_cited = answers(parts["calibration"], fitted)
    raw = confidence.predict(held_rows, num_threads=2)
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True).fit(raw, held_right)
    x = np.asarray(isotonic.X_thresholds_, dtype=float)
    y = np.asarray(isotonic.y_thresholds_, dtype=float)
    calibrated = np.interp(raw, x, y)
    # The calibration's own error measured honestly: each half of the held-out corpora calibrated by an
    # isotonic fit on the other half.
    half = np.array([int(hashlib.sha256(r.corpus.encode()).hexdigest()[:2], 16) % 2 for r in parts["calibration"]
                     if r.gathered is not None and r.gathered.candidates])
    crossed = np.zeros_like(raw)
    for h in (0, 1):
        fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw[half != h], held_right[half != h])
        crossed[half == h] = fit.predict(raw[half == h])
    report = measure(parts, calibrated, held_right, held_cited, records)
    report["calibration"].update(ece_cross_fitted=round(calibration_error(crossed, held_right), 4),
                                 reliability_cross_fitted=reliability(crossed, held_right))
    report.update(seed=args.seed, rounds=args.rounds, paragraphs=args.paragraphs, removed=args.removed,
                  gathering_minutes=round(gathering / 60, 1), minutes=round((time.time() - began) / 60, 1),
                  ranker_params=RANKER, confidence_params=CONFIDENCE_PARAMS,
                  importance=dict(sorted(zip(FEATURES, ranker.feature_importance("gain").round(1).tolist(),
                                             strict=True), key=lambda kv: -kv[1])[:12]))
    args.out.mkdir(parents=True, exist_ok=True)
    ranker.save_model(str(args.out / "ranker.txt"))
    confidence.save_model(str(args.out / "confidence.txt"))
    (args.out / "calibration.json").write_text(json.dumps({"x": [round(v, 6) for v in x],
                                                           "y": [round(v, 6) for v in y]}) + "\n")
    (args.out / "training-report.json").write_text(json.dumps(report, indent=2) + "\n")
    DOCS.mkdir(exist_ok=True)
    plot(report, DOCS)
    log.info("wrote %s (%.1f min): %s", args.out, (time.time() - began) / 60,
             json.dumps({k: v for k, v in report.items() if k in ("questions", "held_out")}))


def measure(parts: dict[str, list[Record]], calibrated: np.ndarray, right: np.ndarray,
            cited: list[bool], records: list[Record]) -> dict[str, Any]:
    """Figures of the held-out (calibration) corpora: choice, reliability, risk-coverage."""
    held = [r for r in parts["calibration"] if r.gathered is not None and r.gathered.candidates]
    answerable = np.array([r.kind == "answerable" for r in held])
    reachable = np.array([bool(r.labels.any()) for r in held])
    cited_arr = np.array(cited)
    order = np.argsort(-calibrated, kind="stable")
    curve = []
    for k in range(1, len(order) + 1, max(1, len(order) // 50)):
        top = order[:k]
        curve.append({"coverage": round(k / len(order), 4), "risk": round(1 - float(right[top].mean()), 4),
                      "threshold": round(float(calibrated[order[k - 1]]), 4)})
    counts: dict[str, int] = {}
    for r in records:
        counts[f"{r.source}/{r.kind}"] = counts.get(f"{r.source}/{r.kind}", 0) + 1
    tiers = {}
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        given = calibrated >= threshold
        tiers[str(threshold)] = {
            "answers_hold_gold": round(float(right[given].mean()), 4) if given.any() else None,
            "answerable_covered": round(float((given & answerable).sum() / max(1, answerable.sum())), 4),
            "unanswerable_given": round(float((given & ~answerable).sum() / max(1, (~answerable).sum())), 4)}
    # The tiers' thresholds this split suggests: the lowest confidence from which the answers given hold the
    # gold 95 % of the time, and the highest below which at most 4 % of answerable questions fall.
    precise = [t for t in np.unique(np.round(calibrated, 3))
               if right[calibrated >= t].mean() >= 0.95 and (calibrated >= t).sum() >= 50]
    low = np.sort(calibrated[answerable])
    # Rounded down, so that the confidence level a threshold was read at stays on its side of it.
    def down(value: float) -> float:
        return math.floor(value * 1000) / 1000

    suggested = {"answer_threshold": down(float(min(precise))) if precise else None,
                 "tentative_threshold": down(float(low[int(0.04 * len(low))])) if len(low) else None}
    return {
        "suggested_thresholds": suggested,
        "questions": counts,
        "splits": {k: len(v) for k, v in parts.items()},
        "held_out": {
            "questions": len(held), "answerable": int(answerable.sum()),
            "gold_among_candidates": round(float(reachable[answerable].mean()), 4),
            "first_sentence_is_gold": round(float(cited_arr[answerable].mean()), 4),
            "answer_has_gold": round(float(right[answerable].mean()), 4),
            "by_threshold": tiers,
        },
        "calibration": {"ece": round(calibration_error(calibrated, right), 4),
                        "reliability": reliability(calibrated, right), "risk_coverage": curve},
    }


if __name__ == "__main__":
    main()
