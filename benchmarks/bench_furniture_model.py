"""How well the learned furniture judge generalises: leave-one-site-out recall and prose false cuts.

    .venv/bin/python benchmarks/bench_furniture_model.py     # a few minutes on 2 cores

1. **Leave-one-site-out recall on news-dev.** The furniture the v4 rules find on news-dev is the
   reference. One site at a time (the URL's host; a page without a URL is its own site, as their outlets
   vary) is held out: the models are trained again without its pages (training/train_furniture.py's
   `train`), and on its pages the classifier, the glue model and repetition (counted over news-dev as
   the index counts it) run without the rules. Reported: the share of the rules' furniture characters
   and units they leave out, and the share of what the rules keep that they leave out too.
2. **Prose false cuts** of the shipped judge (rules + classifier + glue) on text it never learnt from:
   qa-train's test tenth (training/furniture_data.py's split) and the SQuAD eval articles: the share of
   sentences (units) with anything left out, and the gold answers that lie in what was left out.

Writes benchmarks/results-furniture-model.json and prints tables.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from index.articles.corpus import CorpusFile, read_article  # noqa: E402
from index.articles.furniture import judge, units  # noqa: E402
from index.articles.furniture_model import FurnitureModel, Trees  # noqa: E402
from index.articles.repetition import RepetitionCounts, page_keys, site_of  # noqa: E402
from index.articles.text import Span, paragraphs  # noqa: E402
from training.furniture_data import SHARED, news_pages, qa_passages, split_of  # noqa: E402
from training.train_furniture import examples, train  # noqa: E402


def _cut(parts: list[Any]) -> list[Span]:
    return [span for span, why in parts if why]


def _overlap(a: list[Span], b: list[Span]) -> int:
    return sum(max(0, min(x.end, y.end) - max(x.start, y.start)) for x in a for y in b)


def leave_one_site_out() -> dict[str, Any]:
    """Per held-out site: rule furniture found without the rules, and rule-kept text cut."""
    ex = examples()
    pages = news_pages()
    counts = RepetitionCounts()
    for source, _, text, spans in pages:  # the index's site: the URL's host, else the folder
        article_url = _url(source)
        counts.add(source, site_of(article_url, source), page_keys(
            text[u.start:u.end] for p in spans for u in units(text, p)))
    by_site: dict[str, list[tuple[str, str, list[Span]]]] = defaultdict(list)
    for source, site, text, spans in pages:
        by_site[site].append((source, text, spans))
    rows = []
    by_kind: dict[str, list[int]] = {}  # the rule that found it -> [units, found without the rules]
    for site in sorted(by_site):
        rule_chars = found_chars = kept_chars = extra_chars = rule_units = found_units = 0
        reference = [(s, t, p, [[w for _, w in judge(t, para, learned=False) if w] for para in p])
                     for s, t, p in by_site[site]]
        if not any(cuts for *_, per in reference for cuts in per):
            continue
        began = time.perf_counter()
        unit, glue, ut, gt = train(ex, leave_out=f"news:{site}")
        model = FurnitureModel(Trees(*unit.boosters), Trees(*glue.boosters), ut, gt)
        for source, text, spans, per_paragraph in reference:
            repeated = counts.repeated_on(source)
            for para, rule_found in zip(spans, per_paragraph, strict=True):
                rule_cut = [w.span for w in rule_found]
                found = _cut(judge(text, para, rules=False, model=model, repeated=repeated))
                for w in rule_found:
                    kind = by_kind.setdefault(w.reason.removeprefix("rule: "), [0, 0])
                    kind[0] += 1
                    kind[1] += _overlap([w.span], found) >= 0.5 * (w.span.end - w.span.start)
                rule_chars += sum(s.end - s.start for s in rule_cut)
                found_chars += _overlap(rule_cut, found)
                rule_units += len(rule_cut)
                found_units += sum(_overlap([r], found) >= 0.5 * (r.end - r.start) for r in rule_cut)
                kept = [k for k in _complement(para, rule_cut)]
                kept_chars += sum(k.end - k.start for k in kept)
                extra_chars += _overlap(kept, found)
        rows.append({"site": site, "pages": len(by_site[site]), "rule_units": rule_units, "found_units": found_units,
                     "rule_chars": rule_chars, "found_chars": found_chars, "kept_chars": kept_chars,
                     "kept_chars_cut": extra_chars, "seconds": round(time.perf_counter() - began, 1)})
        print(rows[-1], flush=True)
    total = {k: sum(r[k] for r in rows) for k in ("rule_units", "found_units", "rule_chars", "found_chars",
                                                  "kept_chars", "kept_chars_cut")}
    return {"sites": rows, "total": total, "by_rule": {k: {"units": v[0], "found": v[1]} for k, v in by_kind.items()},
            "unit_recall": round(total["found_units"] / max(1, total["rule_units"]), 4),
            "char_recall": round(total["found_chars"] / max(1, total["rule_chars"]), 4),
            "macro_char_recall": round(sum(r["found_chars"] / max(1, r["rule_chars"]) for r in rows) / len(rows), 4),
            "kept_cut_rate": round(total["kept_chars_cut"] / max(1, total["kept_chars"]), 4)}


def _url(source: str) -> str | None:
    path = SHARED / "eval" / "news-dev" / "corpus" / source
    data = path.read_bytes()
    return read_article(CorpusFile(source, path, "", data)).url


def _complement(within: Span, cut: list[Span]) -> list[Span]:
    out, start = [], within.start
    for c in sorted(cut, key=lambda s: s.start):
        if c.start > start:
            out.append(Span(start, c.start))
        start = max(start, c.end)
    if start < within.end:
        out.append(Span(start, within.end))
    return out


def false_cuts(texts: list[tuple[str, list[Span], list[tuple[int, int]]]], *, learned: bool) -> dict[str, Any]:
    """The share of sentences with anything left out, and the gold answers left out (even in part)."""
    sentences = touched = answers = answers_cut = 0
    examples_cut: list[str] = []
    for text, spans, gold in texts:
        cut: list[Span] = []
        for para in spans:
            left_out = _cut(judge(text, para, learned=learned))
            for unit in units(text, para):
                sentences += 1
                parts = [s for s in left_out if s.start < unit.end and unit.start < s.end]
                if parts:
                    touched += 1
                    cut.extend(parts)
                    if len(examples_cut) < 40:
                        examples_cut.append(" | ".join(text[s.start:s.end] for s in parts)[:200])
        for start, end in gold:
            answers += 1
            answers_cut += _overlap([Span(start, end)], cut) > 0
    return {"sentences": sentences, "sentences_cut": touched, "rate": round(touched / max(1, sentences), 5),
            "gold_answers": answers, "gold_answers_cut": answers_cut, "examples": examples_cut}


def _squad_eval() -> list[tuple[str, list[Span], list[tuple[int, int]]]]:
    out = []
    for name in ("squad-dev", "squad-train"):
        folder = SHARED / "eval" / name
        gold: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for line in (folder / "questions.jsonl").read_text("utf-8").splitlines():
            q = json.loads(line)
            gold[q["article"]].extend((a["start"], a["end"]) for a in q["answers"])
        for path in sorted((folder / "corpus").iterdir()):
            data = path.read_bytes()
            article = read_article(CorpusFile(path.name, path, "", data))
            out.append((article.text, [p.span for p in article.paragraphs], gold[path.name]))
    return out


def main() -> None:
    """Run both measurements and write the results."""
    qa_test = [(text, paragraphs(text), answers) for text, answers in qa_passages() if split_of(text) == "test"]
    squad = _squad_eval()
    result: dict[str, Any] = {"prose": {}}
    for name, texts in (("qa-train test tenth", qa_test), ("SQuAD eval (squad-dev + squad-train)", squad)):
        result["prose"][name] = {"rules": false_cuts(texts, learned=False),
                                 "rules + classifier": false_cuts(texts, learned=True)}
        print(name, {k: {x: y for x, y in v.items() if x != "examples"} for k, v in result["prose"][name].items()},
              flush=True)
    result["leave_one_site_out"] = leave_one_site_out()
    (HERE / "results-furniture-model.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    loso = result["leave_one_site_out"]
    print(f"leave-one-site-out: unit recall {loso['unit_recall']:.1%}, character recall {loso['char_recall']:.1%} "
          f"(macro {loso['macro_char_recall']:.1%}), rule-kept text cut {loso['kept_cut_rate']:.2%}")


if __name__ == "__main__":
    main()
