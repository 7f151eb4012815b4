"""The embedded index in segments at scale (issue #38): one article added, updated, removed; ask; memory; merges.

    .venv/bin/python benchmarks/bench_segments.py --size 100000 --keep /work/seg100k --compare
    .venv/bin/python benchmarks/bench_segments.py --size 1000000 --keep /work/seg1m

For one size, the synthetic corpus of bench_pg_scale.py (benchmarks/synthetic.py: articles of
shuffled real sentences, about 3 passages each) is built by the real build path with
`SyntheticEmbedder` standing in for the model (embedding a million passages takes half a day
here): build throughput is everything but the embedding. `--keep` keeps the corpus and the index,
and a later run measures them again instead of building. Then, with the real model:

- **changes**: a new article added, an article's file changed, a file removed, each followed by
  `Engine.rebuild` in this process (the model loaded, as in a serving bot: the changed article is
  embedded by it), three times each, medians: checking every file (`articlebot index`), then told
  which file changed (as /add, /remove and the feeds tell it); then an addition indexed by
  `articlebot index` in a fresh process (starting Python and loading the model included), and the
  time a process serving the index takes to open the new generation;
- **ask**: `Engine.ask` on the shared eval questions with the reading model off (300, then 300
  others), and the dense and BM25 searches alone; recall@10 of the dense search against exact
  search over the live passages;
- **memory**: a fresh process loads the model, opens the index and answers 200 questions (RSS and
  its own, unshared memory); a second one does the same while the first still runs: what the
  second adds is its unshared memory (the mapped files' pages are the first's too);
- **merges** (`--merges`): ten segments of each size tried, merged as the policy does, timed;
- `--compare` also merges a copy of the index into one segment (what a build in one go writes, with
  the same vectors) and checks that BM25 (the top 50's scores, to the bit), the dense neighbours and
  the answers are the same.

Writes RESULTS.md's `segments` section and results-segments.json (other sizes kept).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import HERE, REPO, ask_latencies, make_config, replace_section
from bench_pg_scale import cpu_model, ms, revision, search_ms

sys.path.insert(0, str(REPO))

BEGIN, END = "<!-- segments: begin -->", "<!-- segments: end -->"


def memory_of(pid: int | str = "self") -> dict[str, float]:
    """A process's resident memory and its unshared part (private pages), in MB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value) / 1024
    return {"rss_mb": round(fields["Rss"]), "private_mb": round(fields["Private_Clean"] + fields["Private_Dirty"]),
            "pss_mb": round(fields["Pss"])}


def config_for(corpus: Path, index_dir: Path, **index: Any) -> Any:
    """The benchmark's configuration: the reading model off, no question record."""
    config = make_config(corpus, index_dir, **index)
    return replace(config, answer=replace(config.answer, reader=False), record=replace(config.record, enabled=False))


def build(corpus: Path, index_dir: Path, embedder: Any, stuff: Any) -> dict[str, Any]:
    """A full build with synthetic vectors, timed."""
    from synthetic import SyntheticEmbedder

    from index import Engine

    load = os.getloadavg()[0]
    stages: dict[str, float] = {}  # when each stage was first reported

    def progress(update: Any) -> None:
        stages.setdefault(update.stage, time.perf_counter())

    with Engine(config_for(corpus, index_dir), SyntheticEmbedder(embedder, stuff.sentence_vectors)) as builder:
        began = time.perf_counter()
        report = builder.rebuild(progress)
        seconds = time.perf_counter() - began
    marks = sorted((*stages.items(), ("done", began + seconds)), key=lambda item: item[1])
    return {"passages": report.chunks_total, "build_s": round(seconds, 1),
            "build_passages_per_s": round(report.chunks_total / seconds, 1),
            "build_stages_s": {stage: round(after - at, 1)
                               for (stage, at), (_, after) in zip(marks, marks[1:], strict=False)},
            "build_load": [round(load, 2), round(os.getloadavg()[0], 2)]}


def changes(engine: Any, corpus: Path, stuff: Any, runs: int, *, told: bool) -> dict[str, Any]:
    """One article added, updated, removed, each then indexed: seconds per run.

    `told`: the rebuild is told which file changed, as /add, /remove and the feeds tell it; otherwise it
    checks every file, as `articlebot index` does.
    """
    out: dict[str, Any] = {}
    files = sorted(corpus.glob("article-*.md"))
    for kind in ("added", "updated", "removed"):
        seconds = []
        for run in range(runs):
            if kind == "added":
                path = corpus / f"added-{run}-{time.time_ns()}.md"
                path.write_text(f"# Added {run}\n\n{stuff.sentences[run]} {stuff.sentences[run + 1]}\n\n"
                                f"{stuff.sentences[run + 2]} {stuff.sentences[run + 3]}\n", "utf-8")
            elif kind == "updated":
                path = files[(run + 1) * len(files) // (runs + 2) + (2 if told else 0)]
                path.write_text(path.read_text("utf-8") + f"\n{stuff.sentences[run]} (Updated, run {run}.)\n", "utf-8")
            else:
                path = files[(run + 1) * len(files) // (runs + 2) + (3 if told else 1)]
                path.unlink()
            began = time.perf_counter()
            report = engine.rebuild(changed=[path.name] if told else None)
            seconds.append(time.perf_counter() - began)
            assert getattr(report, "changed" if kind == "updated" else kind) == (path.name,), report
        out[kind] = {"seconds": [round(s, 2) for s in seconds], "median_s": round(statistics.median(seconds), 2)}
    return out


def cli_addition(corpus: Path, index_dir: Path, stuff: Any) -> dict[str, Any]:
    """One article added, then `articlebot index` in a fresh process (Python started and the model loaded)."""
    path = corpus / f"added-cli-{time.time_ns()}.md"
    path.write_text(f"# Added by a script\n\n{stuff.sentences[10]} {stuff.sentences[11]}\n", "utf-8")
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot.cli", "index", "--corpus", str(corpus), "--index-dir",
                           str(index_dir)], cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return {"seconds": round(seconds, 2), "output": done.stdout.strip().splitlines()[-1:]}


def recall(snapshot: Any, queries: Any) -> float:
    """Mean share of the exact 10 nearest live passages that the dense search finds (exact: every segment's
    vectors against all queries, a slice of rows at a time)."""
    import numpy as np

    queries = np.asarray(queries, dtype=np.float32)
    best = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    for segment, live, base in zip(snapshot.segments, snapshot.live, snapshot.bases, strict=False):
        for first in range(0, len(segment), 100_000):
            scores = np.asarray(segment.vectors[first:first + 100_000]) @ queries.T  # rows x queries
            if live is not None:
                scores[~live[first:first + 100_000]] = -np.inf
            ids = np.arange(first, first + len(scores)) + base
            merged = np.concatenate([best, scores.T], axis=1)
            merged_ids = np.concatenate([best_ids, np.broadcast_to(ids, (len(queries), len(ids)))], axis=1)
            top = np.argpartition(-merged, 9, axis=1)[:, :10]
            best, best_ids = np.take_along_axis(merged, top, 1), np.take_along_axis(merged_ids, top, 1)
    found = [len(set(truth.tolist()) & set(snapshot.dense.search(query, 10)[0].tolist())) / 10
             for truth, query in zip(best_ids, queries, strict=True)]
    return round(float(np.mean(found)), 4)


def asking(engine: Any, stuff: Any, questions: int) -> dict[str, Any]:
    """Ask latency (reader off), the searches alone, and dense recall@10."""
    asked = stuff.questions[:questions]
    out: dict[str, Any] = {"ask_ms": ms(ask_latencies(engine, asked)),
                           "ask_next_ms": ms(ask_latencies(engine, stuff.questions[questions:2 * questions]))}
    with engine.snapshot() as snapshot:
        out["dense_ms"], out["bm25_ms"] = search_ms(snapshot, asked, stuff.question_vectors[:questions])
        out["recall10"] = recall(snapshot, stuff.question_vectors[:questions])
        out["segments"] = [{"passages": len(s), "live": len(s) if live is None else int(live.sum()),
                            "graph": s.dense is not None} for s, live in zip(snapshot.segments, snapshot.live,
                                                                             strict=True)]
    return out


def compare(engine: Any, corpus: Path, work: Path, embedder: Any, stuff: Any, questions: int) -> dict[str, Any]:
    """The same index merged into one segment: BM25 (every score of the top 50, to the bit), dense neighbours and
    answers compared with the segmented index's.

    The one segment is made by merging a copy of the index (its passages and vectors copied, its postings and
    graph built anew from them): what a build of the same corpus in one go writes, with the same vectors
    (synthetic vectors are drawn anew by each build, and the changed articles were embedded by the model).
    """
    from index import Engine
    from index.store.embedded.generations import build_lock
    from index.store.embedded.merging import merge_segments

    one_dir = work / "one-segment"
    shutil.rmtree(one_dir, ignore_errors=True)
    shutil.copytree(engine.config.index.index_dir, one_dir)
    config = config_for(corpus, one_dir)
    began = time.perf_counter()
    with build_lock(one_dir):
        merge_segments(config.index, into_one=True)
    out: dict[str, Any] = {"merged_into_one_s": round(time.perf_counter() - began, 1), "questions": questions}
    bm25_same = dense_same = answers_same = 0
    with Engine(config, embedder) as one:
        with engine.snapshot() as got, one.snapshot() as want:
            assert len(one.store.current().segments) == 1
            for question, vector in zip(stuff.questions[:questions], stuff.question_vectors, strict=False):
                a = sorted((-float(s), got.chunk(int(i)).source, got.chunk(int(i)).start)
                           for i, s in zip(*got.lexical.search(question, 50), strict=True))
                b = sorted((-float(s), want.chunk(int(i)).source, want.chunk(int(i)).start)
                           for i, s in zip(*want.lexical.search(question, 50), strict=True))
                bm25_same += a[:40] == b[:40]  # the last of the 50 may differ among passages that tie at the cut
                g, w = got.dense.search(vector, 10)[0], want.dense.search(vector, 10)[0]
                dense_same += len({(got.chunk(int(i)).source, got.chunk(int(i)).start) for i in g}
                                  & {(want.chunk(int(i)).source, want.chunk(int(i)).start) for i in w})
        for question in stuff.questions[:questions]:
            answers_same += engine.ask(question).text == one.ask(question).text
    out.update({"bm25_top40_equal": bm25_same, "dense_top10_shared": round(dense_same / (10 * questions), 4),
                "answers_equal": answers_same})
    shutil.rmtree(one_dir)
    return out


def merges(work: Path, embedder: Any, stuff: Any, sizes: list[int]) -> list[dict[str, Any]]:
    """Ten segments of each size, built one after another, then merged as the policy does: seconds."""
    from synthetic import SyntheticEmbedder, write_articles

    from index import Engine
    from index.store.embedded.generations import build_lock
    from index.store.embedded.merging import merge_segments

    rows = []
    for size in sizes:
        corpus, index_dir = work / f"merge-corpus-{size}", work / f"merge-index-{size}"
        shutil.rmtree(corpus, ignore_errors=True)
        shutil.rmtree(index_dir, ignore_errors=True)
        config = config_for(corpus, index_dir, merge_factor=1000)
        with Engine(config, SyntheticEmbedder(embedder, stuff.sentence_vectors)) as builder:
            for batch in range(10):
                write_articles(corpus / f"batch-{batch}", max(1, size // 3), stuff.sentences, seed=batch)
                builder.rebuild()
        merging = replace(config.index, merge_factor=10)
        with build_lock(index_dir):
            done = merge_segments(merging)
        rows.append({"segments": 10, "passages_each": size,
                     "merged": [{"segments": m.segments, "passages": m.passages, "seconds": round(m.seconds, 2)}
                                for m in done]})
        print(f"  merge of 10 x {size:,}: {rows[-1]}", flush=True)
        shutil.rmtree(corpus)
        shutil.rmtree(index_dir)
    return rows


def child_memory(corpus: str, index_dir: str, questions: str, hold: str) -> None:
    """In a fresh process: memory with the model loaded, then after opening the index and answering questions.

    With `hold`, waits for a line on its standard input before it exits (the second process measures meanwhile).
    """
    from synthetic import real_questions

    from index import Engine, make_embedder

    config = config_for(Path(corpus), Path(index_dir))
    embedder = make_embedder(config.index)
    embedder.encode(["warm up"])
    before = memory_of()
    with Engine(config, embedder) as engine:
        began = time.perf_counter()
        engine.store.current()
        opened_s = time.perf_counter() - began
        for question in real_questions()[:int(questions)]:
            engine.ask(question)
        after = memory_of()
        print(json.dumps({"model_loaded": before, "after_questions": after, "open_s": round(opened_s, 2),
                          "index_rss_mb": after["rss_mb"] - before["rss_mb"],
                          "index_private_mb": after["private_mb"] - before["private_mb"]}), flush=True)
        if hold == "hold":
            sys.stdin.readline()


def two_processes(corpus: Path, index_dir: Path, questions: int) -> dict[str, Any]:
    """The memory of a first process serving the index, and of a second one started while it runs."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, __file__, "--child", str(corpus), str(index_dir), str(questions)]
    first = subprocess.Popen([*command, "hold"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert first.stdout is not None
        assert first.stdin is not None
        one = json.loads(first.stdout.readline())
        second = subprocess.run([*command, "exit"], capture_output=True, text=True, check=True, env=env)
        two = json.loads(second.stdout.strip().splitlines()[-1])
        first.stdin.write("done\n")
        first.stdin.flush()
    finally:
        first.wait(timeout=60)
    return {"first": one, "second": two}


def main() -> int:
    """Build (or reuse) one size, measure it, and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="passages (default 100000)")
    parser.add_argument("--keep", type=Path, required=False, help="folder for the corpus and the index, kept")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3, help="additions, updates and removals measured (default 3)")
    parser.add_argument("--compare", action="store_true", help="merge a copy of the index into one segment and "
                        "compare BM25, dense neighbours and answers")
    parser.add_argument("--merges", type=int, nargs="*", help="merge ten segments of each of these sizes")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_memory(*args.child)
        return 0

    from synthetic import material, write_articles

    from index import Engine, make_embedder

    work = args.keep or Path(f"/tmp/articlebot-segments-{args.size}")
    work.mkdir(parents=True, exist_ok=True)
    corpus, index_dir = work / "corpus", work / "index"
    embedder = make_embedder(make_config(REPO / "corpus", REPO / "unused").index)
    stuff = material(embedder)
    row: dict[str, Any] = {"date": datetime.date.today().isoformat(), "cpu": cpu_model(), "revision": revision()}
    if not (work / "corpus.written").exists():
        write_articles(corpus, args.size // 3, stuff.sentences, seed=args.size)
        (work / "corpus.written").touch()
    built = work / "built.json"
    if not built.exists():
        print(f"building {args.size:,} passages ...", flush=True)
        built.write_text(json.dumps(build(corpus, index_dir, embedder, stuff)) + "\n")
    row.update(json.loads(built.read_text()))
    print(row, flush=True)
    if args.build_only:
        return 0
    row["load_before"] = round(os.getloadavg()[0], 2)
    with Engine(config_for(corpus, index_dir), embedder) as engine:
        engine.store.current()
        row["changes"] = changes(engine, corpus, stuff, args.runs, told=False)
        row["changes_told"] = changes(engine, corpus, stuff, args.runs, told=True)
        print(row["changes"], row["changes_told"], flush=True)
        row["cli_addition"] = cli_addition(corpus, index_dir, stuff)
        began = time.perf_counter()
        engine.store.current()  # the generation the CLI published: only its new segment is opened
        row["reopen_s"] = round(time.perf_counter() - began, 3)
        row.update(asking(engine, stuff, args.questions))
        print({k: row[k] for k in ("ask_ms", "ask_next_ms", "dense_ms", "bm25_ms", "recall10")}, flush=True)
        if args.compare:
            row["compare"] = compare(engine, corpus, work, embedder, stuff, args.questions)
            print(row["compare"], flush=True)
    row["memory"] = two_processes(corpus, index_dir, 200)
    print(row["memory"], flush=True)
    if args.merges:
        row["merges"] = merges(work, embedder, stuff, args.merges)
    row["disk_mb"] = round(sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) / 1e6)
    row["load_after"] = round(os.getloadavg()[0], 2)
    saved = args.out.parent / "results-segments.json"
    results = json.loads(saved.read_text()) if saved.exists() else {"sizes": {}}
    # What this run did not measure (--compare, --merges) is kept from the last run at this size.
    results["sizes"][str(args.size)] = {**results["sizes"].get(str(args.size), {}), **row}
    saved.write_text(json.dumps(results, indent=1) + "\n")
    replace_section(args.out, BEGIN, END, render(results))
    print(render(results))
    return 0


def render(results: dict[str, Any]) -> str:
    """The RESULTS.md section."""
    lines = [BEGIN, "## The embedded index in segments (`benchmarks/bench_segments.py`, issue #38)", "",
             "Synthetic corpus of bench_pg_scale (articles of shuffled real sentences, ~3 passages each), built "
             "through the real build path with synthetic vectors; changes indexed with the real model (the "
             "changed article embedded by it), in a process that has the model loaded; the reading model off "
             "for ask. Memory: a fresh process with the model loaded, then after opening the index and answering "
             "200 questions (RSS, and its unshared pages); a second process doing the same while the first runs.",
             "",
             "| passages | build (passages/s) | add / update / remove one article: told what changed (/add, feeds) "
             "| the same, every file checked | `articlebot index` (fresh process) "
             "| ask p50 / p95 (next) | BM25 p50 / p95 | dense p50 / p95 | recall@10 | segments "
             "| RSS after 200 questions | second process adds | on disk |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, x in sorted(results["sizes"].items(), key=lambda item: int(item[0])):
        c, t, m = x["changes"], x.get("changes_told"), x["memory"]
        told = (f"{t['added']['median_s']:.2f} / {t['updated']['median_s']:.2f} / {t['removed']['median_s']:.2f} s"
                if t else "–")
        lines.append(
            f"| {int(size):,} ({x['passages']:,}) | {x['build_passages_per_s']:,.0f} ({x['build_s']:,.0f} s) | {told} "
            f"| {c['added']['median_s']:.2f} / {c['updated']['median_s']:.2f} / {c['removed']['median_s']:.2f} s "
            f"| {x['cli_addition']['seconds']:.1f} s "
            f"| {x['ask_ms']['p50']:.1f} / {x['ask_ms']['p95']:.1f} ms ({x['ask_next_ms']['p50']:.1f} / "
            f"{x['ask_next_ms']['p95']:.1f}) | {x['bm25_ms']['p50']:.1f} / {x['bm25_ms']['p95']:.1f} ms "
            f"| {x['dense_ms']['p50']:.1f} / {x['dense_ms']['p95']:.1f} ms | {x['recall10']:.3f} "
            f"| {len(x['segments'])} | {m['first']['after_questions']['rss_mb']:,} MB "
            f"(index {m['first']['index_rss_mb']:+,}) | {m['second']['after_questions']['private_mb']:,} MB unshared "
            f"(index {m['second']['index_private_mb']:+,}) | {x['disk_mb']:,} MB |")
    lines += ["", "Measured:", ""]
    for size, x in sorted(results["sizes"].items(), key=lambda item: int(item[0])):
        notes = [f"{x['date']}, commit {x['revision']}, load {x['load_before']} before and {x['load_after']} after",
                 f"built under load {x['build_load'][0]}–{x['build_load'][1]}",
                 f"a process serving the index opened the generation `articlebot index` published in "
                 f"{x['reopen_s']:.2f} s"]
        if "compare" in x:
            k = x["compare"]
            notes.append(f"against the same index merged into one segment ({k['merged_into_one_s']:,.0f} s), "
                         f"{k['questions']} questions: BM25's top 40 (passages and scores) equal for "
                         f"{k['bm25_top40_equal']}, dense top 10 shared {k['dense_top10_shared']:.1%}, answers equal "
                         f"for {k['answers_equal']}")
        for merge in x.get("merges", []):
            notes.append(f"merging 10 segments of {merge['passages_each']:,} passages: " + ", ".join(
                f"{d['segments']} into {d['passages']:,} in {d['seconds']:.1f} s" for d in merge["merged"]))
        lines.append(f"- {int(size):,}: " + "; ".join(notes) + ".")
    lines.append(END)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
