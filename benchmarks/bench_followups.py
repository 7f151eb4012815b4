"""Follow-up questions answered right, with and without the conversation before them.

    .venv/bin/python benchmarks/bench_followups.py     # about a minute on 2 cores

benchmarks/followups.jsonl holds pairs written by hand on the bundled article ("seed") and on
../shared/eval/news-dev: a first question, a follow-up that leans on it ("when did he arrive?"), and
the gold phrase the follow-up's answer must hold. Each follow-up is asked alone and after the
first question's answer (index/answering/followup.py); "right" means not declined and the answer's sentences
hold the gold phrase. Prints a table and writes benchmarks/results-followups.json.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import HERE, REPO, make_config

CORPORA = {"seed": REPO / "corpus", "news-dev": REPO.parent / "shared" / "eval" / "news-dev" / "corpus"}


def normalise(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower().replace("\\", "")))


def main() -> None:
    from index import Engine
    from index.answering.followup import Turn, refers_back

    pairs = [json.loads(line) for line in (HERE / "followups.jsonl").read_text("utf-8").splitlines() if line.strip()]
    rows: list[dict[str, Any]] = []
    embedder = None
    with tempfile.TemporaryDirectory(prefix="articlebot-followups-") as tmp:
        for name, corpus in CORPORA.items():
            config = make_config(corpus, Path(tmp) / name)
            config = replace(config, record=replace(config.record, enabled=False))
            engine = Engine.from_config(config, embedder)
            embedder = engine.embedder
            engine.ensure_index()
            for pair in (p for p in pairs if p["corpus"] == name):
                first = engine.ask(pair["question"])
                alone = engine.ask(pair["followup"])
                after = engine.ask(pair["followup"], before=Turn(pair["question"], first))
                gold = normalise(pair["gold"])
                rows.append({**pair, "refers_back": refers_back(pair["followup"]),
                             "alone": not alone.declined and gold in normalise(alone.text),
                             "with_conversation": not after.declined and gold in normalise(after.text),
                             "answer_with_conversation": after.text})
    result: dict[str, Any] = {"pairs": len(rows), "sets": {}}
    for name in [*CORPORA, "all"]:
        chosen = [r for r in rows if name in ("all", r["corpus"])]
        result["sets"][name] = {
            "pairs": len(chosen),
            "right_alone": round(sum(r["alone"] for r in chosen) / len(chosen), 3),
            "right_with_conversation": round(sum(r["with_conversation"] for r in chosen) / len(chosen), 3),
            "detected_as_follow_up": round(sum(r["refers_back"] for r in chosen) / len(chosen), 3),
        }
    result["rows"] = rows
    (HERE / "results-followups.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print("| set | pairs | right alone | right with the conversation | read as follow-ups |")
    print("|---|---|---|---|---|")
    for name, s in result["sets"].items():
        print(f"| {name} | {s['pairs']} | {s['right_alone']:.2f} | {s['right_with_conversation']:.2f} "
              f"| {s['detected_as_follow_up']:.2f} |")
    for r in rows:
        if not r["with_conversation"]:
            print(f"wrong with conversation: {r['followup']!r} -> {r['answer_with_conversation'][:120]!r}")


if __name__ == "__main__":
    main()
