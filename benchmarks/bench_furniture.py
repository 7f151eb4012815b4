"""Site furniture in answers on the scraped news set, with index.skip_furniture on and off.

    .venv/bin/python benchmarks/bench_furniture.py     # about two minutes on 2 cores

Indexes ../shared/eval/news-dev twice (furniture left out, the default; and kept), asks every
question, and counts the answers whose quoted sentences, and the first citations whose passage,
hold site furniture as index/articles/furniture.py judges it (sentence by sentence, blocks split where the
scrape joined them). With the rules on that count is 0 by construction, so the script also writes
every answer to benchmarks/results-furniture.json, to be read by a person for furniture the rules
miss. Prints a table.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import HERE, REPO, make_config

NEWS = REPO.parent / "shared" / "eval" / "news-dev"


def holds_furniture(text: str) -> bool:
    from index.articles.furniture import article_spans
    from index.articles.text import Span

    kept = article_spans(text, Span(0, len(text)))
    return sum(s.end - s.start for s in kept) < len(text.strip()) - 1 or not kept


def main() -> None:
    from index import Engine
    from index.evaluate import load_questions

    questions = load_questions([NEWS / "questions.jsonl"])
    result: dict[str, Any] = {"questions": len(questions), "runs": {}}
    embedder = None
    with tempfile.TemporaryDirectory(prefix="articlebot-furniture-") as tmp:
        for name, skip in (("furniture left out", True), ("furniture kept", False)):
            config = make_config(NEWS / "corpus", Path(tmp) / name.replace(" ", "-"), skip_furniture=skip)
            config = replace(config, record=replace(config.record, enabled=False))
            engine = Engine.from_config(config, embedder)
            embedder = engine.embedder
            engine.ensure_index()
            rows = []
            for q in questions:
                answer = engine.ask(q.question)
                rows.append({"question": q.question, "declined": answer.declined,
                             "answer": answer.text,
                             "answer_furniture": not answer.declined
                             and any(holds_furniture(s.text) for s in answer.sentences),
                             "first_citation_furniture": bool(answer.citations)
                             and holds_furniture(answer.citations[0].quote)})
            given = [r for r in rows if not r["declined"]]
            result["runs"][name] = {
                "answers": len(given),
                "answers_quoting_furniture": sum(r["answer_furniture"] for r in rows),
                "first_citations_holding_furniture": sum(r["first_citation_furniture"] for r in rows),
                "rows": rows,
            }
    (HERE / "results-furniture.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print("| news-dev, 93 questions | answers given | answers quoting furniture | first citations holding furniture |")
    print("|---|---|---|---|")
    for name, run in result["runs"].items():
        print(f"| {name} | {run['answers']} | {run['answers_quoting_furniture']} "
              f"| {run['first_citations_holding_furniture']} |")


if __name__ == "__main__":
    main()
