"""The PostgreSQL store beside the embedded one on the shared eval sets: the same answers? how fast?

    .venv/bin/python benchmarks/bench_pg_store.py     # a few minutes on 2 cores

Starts a PostgreSQL 18 with pgvector for the run (tests/pg_support.py: a unix socket, stopped at
the end). For each eval set (the SQuAD pair as one corpus, as `make eval` has it; news-dev) it
builds the embedded index, copies it into the database as one corpus (PgStore.import_snapshot),
asks every question and the off-topic ones of both stores (a PgSnapshot opened per question, as
the bot would), and scores both with index/evaluate.score. Prints a table and writes
benchmarks/results-pg-store.json: each store's metrics, the answers that differ, and timings:
server start, the copy, rewriting one article, and per question the BM25 and dense searches.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import HERE, REPO, make_config, percentile

sys.path.insert(0, str(REPO))

EVAL = REPO.parent / "shared" / "eval"
SETS = {
    "squad": ([EVAL / "squad-dev" / "corpus", EVAL / "squad-train" / "corpus"],
              [EVAL / "squad-dev" / "questions.jsonl", EVAL / "squad-train" / "questions.jsonl"]),
    "news-dev": ([EVAL / "news-dev" / "corpus"], [EVAL / "news-dev" / "questions.jsonl"]),
}
OFFTOPIC = HERE / "offtopic-questions.txt"


class PostgresAsker:
    """`ask` as Engine.ask answers, from the corpus in PostgreSQL: one read transaction per question."""

    def __init__(self, engine: Any, store: Any, corpus: str) -> None:
        self.engine, self.store, self.corpus = engine, store, corpus

    def ask(self, question: str) -> Any:
        from tests.pg_support import ask

        with self.store.snapshot(self.corpus) as snapshot:
            return ask(self.engine, snapshot, question)


def ms(values: list[float]) -> dict[str, float]:
    """p50 and p95 of durations in seconds, as milliseconds."""
    return {"p50_ms": round(percentile([v * 1000 for v in values], 50), 2),
            "p95_ms": round(percentile([v * 1000 for v in values], 95), 2)}


def plain(value: Any) -> Any:
    """`value` with NaN (a metric with nothing to measure) as null, so the file is strict JSON."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return None if isinstance(value, float) and value != value else value


def run_set(name: str, folders: list[Path], question_files: list[Path], store: Any, embedder: Any,
            tmp: Path) -> dict[str, Any]:
    from index import Engine
    from index.answering.retrieval import CANDIDATES
    from index.evaluate import articlebot_predictions, load_questions, merge_corpora, read_lines, score

    corpus = tmp / name / "corpus"
    merge_corpora(folders, corpus)
    config = make_config(corpus, tmp / name / "index")
    config = replace(config, record=replace(config.record, enabled=False))
    engine = Engine.from_config(config, embedder)
    engine.rebuild()
    snapshot = engine.store.current()
    began = time.perf_counter()
    store.import_snapshot(name, snapshot)
    copy_seconds = time.perf_counter() - began
    generation = store.live_generation(name)
    rewrites = []
    for info in snapshot.manifest.articles:  # an incremental build's work: one changed article, rewritten
        chunks, vectors = snapshot.chunks_of(info.source)
        began = time.perf_counter()
        store.replace_article(generation, info, chunks, vectors, extracted=snapshot.extracted.get(info.source))
        rewrites.append(time.perf_counter() - began)

    questions = load_questions(question_files)
    texts = [q.question for q in questions]
    offtopic = read_lines(OFFTOPIC)
    asker = PostgresAsker(engine, store, name)
    predictions = {"embedded": articlebot_predictions(engine, texts), "postgres": articlebot_predictions(asker, texts)}
    declined = {"embedded": [p.declined for p in articlebot_predictions(engine, offtopic)],
                "postgres": [p.declined for p in articlebot_predictions(asker, offtopic)]}
    metrics = {k: score(questions, predictions[k], declined[k]) for k in predictions}
    quality = [m for m in metrics["embedded"] if not m.startswith(("latency", "median"))]  # shares, 0..1
    differing = [{"question": q, "embedded": e.answer, "postgres": p.answer,
                  "embedded_citations": e.citations, "postgres_citations": p.citations}
                 for q, e, p in zip(texts, predictions["embedded"], predictions["postgres"], strict=True)
                 if (e.answer, e.citations, e.declined) != (p.answer, p.citations, p.declined)]

    queries = engine.embedder.encode(texts)
    timings: dict[str, list[float]] = {"open": [], "bm25": [], "dense": [], "embedded bm25": [], "embedded dense": []}
    for text, query in zip(texts, queries, strict=True):
        began = time.perf_counter()
        with store.snapshot(name) as pg:
            opened = time.perf_counter()
            pg.lexical.search(text, CANDIDATES)
            searched = time.perf_counter()
            pg.dense.search(query, CANDIDATES)
            timings["dense"].append(time.perf_counter() - searched)
        timings["open"].append(opened - began)
        timings["bm25"].append(searched - opened)
        began = time.perf_counter()
        snapshot.lexical.search(text, CANDIDATES)
        searched = time.perf_counter()
        snapshot.dense.search(query, CANDIDATES)
        timings["embedded bm25"].append(searched - began)
        timings["embedded dense"].append(time.perf_counter() - searched)
    return {
        "articles": len(snapshot.manifest.articles), "chunks": len(snapshot), "questions": len(texts),
        "offtopic_questions": len(offtopic), "metrics": metrics,
        "largest_difference_points": max(abs(metrics["postgres"][m] - metrics["embedded"][m]) * 100
                                         for m in quality if metrics["embedded"][m] == metrics["embedded"][m]),
        "answers_differing": len(differing), "differing": differing[:20],
        "copy_seconds": round(copy_seconds, 3),
        "rewrite_one_article_ms": round(statistics.median(rewrites) * 1000, 1),
        "search": {k: ms(v) for k, v in timings.items()},
    }


def main() -> None:
    from index.store.postgres.store import connect
    from tests.pg_support import running_postgres

    result: dict[str, Any] = {}
    embedder = None
    with tempfile.TemporaryDirectory(prefix="articlebot-pg-bench-") as tmp, running_postgres() as server:
        result["server_start_seconds"] = round(server.seconds_to_start, 2)
        began = time.perf_counter()
        store = connect(server.url(), max_connections=2)
        result["connect_and_migrate_seconds"] = round(time.perf_counter() - began, 3)
        try:
            for name, (folders, question_files) in SETS.items():
                if embedder is None:
                    from index import make_embedder

                    embedder = make_embedder(make_config(Path(tmp), Path(tmp)).index)
                result[name] = run_set(name, folders, question_files, store, embedder, Path(tmp))
        finally:
            store.close()
    (HERE / "results-pg-store.json").write_text(json.dumps(plain(result), indent=1, default=str) + "\n")
    print(f"server start {result['server_start_seconds']} s, connect and migrate "
          f"{result['connect_and_migrate_seconds']} s")
    for name in SETS:
        r = result[name]
        print(f"\n{name}: {r['articles']} articles, {r['chunks']} chunks, {r['questions']} questions; "
              f"{r['answers_differing']} answers differ; largest metric difference "
              f"{r['largest_difference_points']:.2f} points; copy {r['copy_seconds']} s, one article rewritten "
              f"in {r['rewrite_one_article_ms']} ms (median)")
        columns = list(r["metrics"]["embedded"])
        print("| store | " + " | ".join(columns) + " |")
        for store_name, metrics in r["metrics"].items():
            print(f"| {store_name} | " + " | ".join(f"{metrics[c]:g}" for c in columns) + " |")
        print("search, p50/p95 ms: " + ", ".join(f"{k} {v['p50_ms']}/{v['p95_ms']}" for k, v in r["search"].items()))


if __name__ == "__main__":
    main()
