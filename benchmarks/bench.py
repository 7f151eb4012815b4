"""Speed and scale of articlebot, against the targets of issue 5, in one command.

    .venv/bin/python benchmarks/bench.py            # the full run (about 15 minutes on 2 cores)
    .venv/bin/python benchmarks/bench.py --quick    # smaller sizes, fewer runs, no 1M index

Measures build throughput against raw sentence-transformers encoding, the no-change reindex,
ask latency at 10k/100k/1M chunks with dense recall against exact search, memory and start-up,
and writes benchmarks/RESULTS.md. Child processes measure what must start cold (start-up,
memory, a reindex that must not load the model).
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
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))


def rss_mb() -> float:
    """Resident set size of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def spread(values: list[float]) -> str:
    """'median (min-max)' of a list of measurements."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def make_config(corpus: Path, index_dir: Path, **index: Any):  # type: ignore[no-untyped-def]
    """A configuration for a corpus and index folder."""
    from index.config import load_config

    return load_config(environ={}, overrides={"index": {"corpus_dir": corpus, "index_dir": index_dir, **index}})


# ---------------------------------------------------------------------------------------------
# Child processes: each prints one JSON line.

def child_reindex(corpus: str, index_dir: str) -> None:
    """A no-change reindex in a fresh process with the real (unloaded) embedder."""
    began = time.perf_counter()
    from index.build import build_index
    from index.embedding import SentenceEmbedder

    imported = time.perf_counter()
    config = make_config(Path(corpus), Path(index_dir))
    embedder = SentenceEmbedder(config.index.model)
    report = build_index(config.index, embedder)
    done = time.perf_counter()
    print(json.dumps({"seconds": done - imported, "with_imports": done - began, "changed": report.changed_anything,
                      "model_loaded": embedder.loaded(), "torch_imported": "torch" in sys.modules,
                      "sentence_transformers_imported": "sentence_transformers" in sys.modules}))


def child_startup(corpus: str, index_dir: str, started: str) -> None:
    """Start an engine on a built index and answer one question; seconds since `started` (epoch)."""
    from index.engine import Engine

    engine = Engine.from_config(make_config(Path(corpus), Path(index_dir)))
    engine.ensure_index()
    engine.ask("who was released?")
    print(json.dumps({"seconds": time.time() - float(started)}))


def child_memory(index_dir: str, model: str) -> None:
    """RSS before and after opening an index and answering questions; and of the model alone."""
    import numpy as np

    from index.store import load_snapshot

    out: dict[str, float] = {"base": rss_mb()}
    if model == "1":
        from index.embedding import SentenceEmbedder

        embedder = SentenceEmbedder()
        embedder.encode(["warm up"])
        out["model"] = rss_mb() - out["base"]
    else:
        import bm25s  # noqa: F401
        import faiss  # noqa: F401 -- libraries are not the index: count them in the base

        out["base"] = rss_mb()
        snapshot = load_snapshot(Path(index_dir), warm=True)
        out["opened"] = rss_mb() - out["base"]
        rng = np.random.default_rng(0)
        from index.retrieval import search

        for _ in range(200):
            vector = rng.standard_normal(snapshot.manifest.dimension).astype(np.float32)
            search(snapshot, "super bowl touchdown university", vector / np.linalg.norm(vector), 10)
        out["after_questions"] = rss_mb() - out["base"]
    print(json.dumps(out))


def run_child(*args: str) -> dict[str, Any]:
    """Run this script as a child and parse its JSON line."""
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if done.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# The benchmarks.

def bench_build(work: Path, embedder, stuff, articles: int, runs: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """`build_index` on a fresh corpus versus raw `SentenceTransformer.encode` of the same texts."""
    from synthetic import write_articles

    from index.build import build_index
    from index.chunking import embedding_prefix
    from index.store import load_snapshot

    corpus = work / "build-corpus"
    write_articles(corpus, articles, stuff.sentences, seed=7)
    model = embedder._load()
    builds, raws = [], []
    # An untimed build first: it finds the exact texts to encode and warms torch for their shapes.
    config = make_config(corpus, work / "build-index-warm-up")
    build_index(config.index, embedder)
    snapshot = load_snapshot(config.index.index_dir)
    texts = [embedding_prefix(snapshot.article(i).title) + snapshot.chunk(i).text for i in range(len(snapshot))]
    for run in range(runs):
        index_dir = work / f"build-index-{run}"
        config = make_config(corpus, index_dir)
        began = time.perf_counter()
        report = build_index(config.index, embedder)
        builds.append(time.perf_counter() - began)
        began = time.perf_counter()
        model.encode(texts, batch_size=config.index.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                     show_progress_bar=False)
        raws.append(time.perf_counter() - began)
        shutil.rmtree(index_dir)
    ratios = [b / r for b, r in zip(builds, raws)]
    tokens = embedder.count_tokens(texts)
    return {"articles": articles, "chunks": report.chunks_total, "mean_tokens": sum(tokens) / len(tokens),
            "build_s": builds, "raw_s": raws, "ratio": ratios,
            "passages_per_s": [len(texts) / b for b in builds], "raw_passages_per_s": [len(texts) / r for r in raws]}


def bench_reindex(work: Path, embedder, stuff, sizes: list[int], runs: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """A no-change reindex of N articles, in a fresh process that must not load the model."""
    from synthetic import SyntheticEmbedder, write_articles

    from index.build import build_index

    rows = []
    for size in sizes:
        corpus, index_dir = work / f"reindex-corpus-{size}", work / f"reindex-index-{size}"
        write_articles(corpus, size, stuff.sentences, seed=size)
        began = time.perf_counter()
        build_index(make_config(corpus, index_dir).index, SyntheticEmbedder(embedder, stuff.sentence_vectors))
        prepared = time.perf_counter() - began
        results = [run_child("reindex", str(corpus), str(index_dir)) for _ in range(runs)]
        rows.append({"articles": size, "prepare_s": prepared, "seconds": [r["seconds"] for r in results],
                     "with_imports": [r["with_imports"] for r in results],
                     "model_loaded": any(r["model_loaded"] or r["changed"] for r in results),
                     "torch_imported": any(r["torch_imported"] for r in results)})
    return rows


def bench_ask(work: Path, embedder, stuff, sizes: list[int], questions: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Ask latency in-process at each size, dense recall@10 against exact search, and memory."""
    import numpy as np
    from synthetic import write_index

    from index.build import chunk_settings
    from index.dense import DenseIndex
    from index.engine import Engine
    from index.retrieval import CANDIDATES

    rows = []
    asked = stuff.questions[:questions]
    for size in sizes:
        index_dir = work / f"ask-index-{size}"
        config = make_config(work / "no-corpus", index_dir)
        timings = write_index(config.index, chunk_settings(config.index), embedder.name, embedder.backend, size, stuff)
        engine = Engine(config, embedder)
        began = time.perf_counter()
        snapshot = engine.snapshot()
        open_s = time.perf_counter() - began
        for question in asked[:5]:  # warm caches, as a serving bot would be
            engine.ask(question)
        latencies = []
        for question in asked:
            began = time.perf_counter()
            engine.ask(question)
            latencies.append((time.perf_counter() - began) * 1000)
        # Where the time goes, per part, on the same questions.
        vectors = stuff.question_vectors[:questions]
        parts: dict[str, list[float]] = {"embed": [], "dense": [], "lexical": []}
        for question, vector in zip(asked, vectors):
            began = time.perf_counter()
            embedder.encode([question])
            parts["embed"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            snapshot.dense.search(vector, CANDIDATES)
            parts["dense"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            snapshot.lexical.search(question, CANDIDATES)
            parts["lexical"].append((time.perf_counter() - began) * 1000)
        exact = DenseIndex.exact(np.asarray(snapshot.vectors))
        recall, exact_ms = [], []
        for vector in vectors:
            began = time.perf_counter()
            truth, _ = exact.search(vector, 10)
            exact_ms.append((time.perf_counter() - began) * 1000)
            found, _ = snapshot.dense.search(vector, 10)
            recall.append(len(set(truth.tolist()) & set(found.tolist())) / 10)
        del exact
        memory = run_child("memory", str(index_dir), "0")
        disk = sum(p.stat().st_size for p in snapshot.folder.rglob("*") if p.is_file()) / 1e6
        rows.append({
            "chunks": size, "approximate": snapshot.dense.approximate, "build": timings, "open_s": open_s,
            "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "parts_p50": {k: percentile(v, 50) for k, v in parts.items()},
            "parts_p95": {k: percentile(v, 95) for k, v in parts.items()},
            "exact_dense_p50": percentile(exact_ms, 50), "recall10": float(np.mean(recall)),
            "memory": memory, "disk_mb": disk,
        })
        del snapshot, engine
        shutil.rmtree(index_dir)
        print(f"  ask @ {size}: {rows[-1]}", flush=True)
    return rows


def bench_startup(work: Path, runs: int) -> dict[str, Any]:
    """Seconds from process start to a first answer on the bundled corpus (index already built)."""
    corpus, index_dir = REPO / "corpus", work / "startup-index"
    from index.build import build_index
    from index.embedding import SentenceEmbedder

    build_index(make_config(corpus, index_dir).index, SentenceEmbedder())
    seconds = [run_child("startup", str(corpus), str(index_dir), repr(time.time()))["seconds"] for _ in range(runs)]
    model = run_child("memory", "", "1")
    return {"seconds": seconds, "model_mb": model["model"], "base_mb": model["base"]}


def bench_bf16(embedder, stuff) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Speed and cosine-to-fp32 of the same model in bfloat16 (informational)."""
    import numpy as np
    import torch

    texts = stuff.sentences[:256]
    model = embedder._load()
    began = time.perf_counter()
    fp32 = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    fp32_s = time.perf_counter() - began
    model.to(torch.bfloat16)
    try:
        began = time.perf_counter()
        bf16 = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_tensor=True)
        bf16_s = time.perf_counter() - began
    finally:
        model.to(torch.float32)
    bf16_np = bf16.float().numpy()
    bf16_np /= np.linalg.norm(bf16_np, axis=1, keepdims=True)
    return {"fp32_s": fp32_s, "bf16_s": bf16_s, "cosine": float(np.mean(np.sum(fp32 * bf16_np, axis=1)))}


# ---------------------------------------------------------------------------------------------

def main() -> int:
    """Run every benchmark and write RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs (a few minutes)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="where to write the results")
    args = parser.parse_args()
    if args.child:
        children: dict[str, Callable[..., None]] = {
            "reindex": child_reindex, "startup": child_startup, "memory": child_memory}
        children[args.child[0]](*args.child[1:])
        return 0

    from synthetic import material

    from index.embedding import SentenceEmbedder

    quick = args.quick
    began = time.perf_counter()
    embedder = SentenceEmbedder()
    stuff = material(embedder)
    results: dict[str, Any] = {"quick": quick, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="articlebot-bench-") as tmp:
        work = Path(tmp)
        print("build throughput ...", flush=True)
        results["build"] = bench_build(work, embedder, stuff, 40 if quick else 100, 2 if quick else 3)
        print(f"  {results['build']}", flush=True)
        print("no-change reindex ...", flush=True)
        results["reindex"] = bench_reindex(work, embedder, stuff, [1_000] if quick else [1_000, 10_000],
                                           2 if quick else 3)
        print(f"  {results['reindex']}", flush=True)
        print("start-up and model memory ...", flush=True)
        results["startup"] = bench_startup(work, 2 if quick else 3)
        print(f"  {results['startup']}", flush=True)
        print("bfloat16 encoding ...", flush=True)
        results["bf16"] = bench_bf16(embedder, stuff)
        print("ask latency ...", flush=True)
        sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
        results["ask"] = bench_ask(work, embedder, stuff, sizes, 100 if quick else 300)
    results["seconds"] = time.perf_counter() - began
    results["load_after"] = os.getloadavg()
    (HERE / "results.json").write_text(json.dumps(results, indent=1))
    args.out.write_text(render(results))
    print(args.out.read_text())
    return 0


def render(r: dict[str, Any]) -> str:
    """RESULTS.md from the measurements."""
    machine = subprocess.run("lscpu | head -n 15", shell=True, capture_output=True, text=True).stdout.strip()
    b = r["build"]
    lines = [
        "# Benchmarks", "",
        f"Measured {datetime.date.today().isoformat()} with `.venv/bin/python benchmarks/bench.py"
        f"{' --quick' if r['quick'] else ''}` ({r['seconds'] / 60:.0f} min). Figures are median (min-max). "
        f"Load average before/after: {r['load_before'][0]:.1f} / {r['load_after'][0]:.1f} on 2 cores "
        "(above 1, other processes were competing for the CPU and the figures are pessimistic).", "",
        "```", machine, "```", "",
        "| target | measured | met |", "|---|---|---|",
    ]

    def row(target: str, measured: str, ok: bool) -> None:
        lines.append(f"| {target} | {measured} | {'yes' if ok else '**no**'} |")

    ratio = statistics.median(b["ratio"])
    row(f"build ≤ 1.15× raw encode ({b['chunks']} chunks, {b['mean_tokens']:.0f} word pieces avg)",
        f"{spread(b['ratio'])}× ({spread(b['build_s'])} s vs {spread(b['raw_s'])} s)", ratio <= 1.15)
    for x in r["reindex"]:
        per = statistics.median(x["seconds"]) / (x["articles"] / 1000)
        row(f"no-change reindex, {x['articles']:,} articles ≤ 1 s / 1,000, model not loaded",
            f"{spread(x['seconds'])} s in-process, {spread(x['with_imports'])} s with imports; "
            f"model loaded: {x['model_loaded']}, torch imported: {x['torch_imported']}",
            per <= 1 and not x["model_loaded"] and not x["torch_imported"])
    for a in r["ask"]:
        n = a["chunks"]
        if n == 100_000:
            row("ask @ 100k: p50 ≤ 20 ms, p95 ≤ 50 ms", f"p50 {a['p50']:.1f} ms, p95 {a['p95']:.1f} ms",
                a["p50"] <= 20 and a["p95"] <= 50)
        if n == 1_000_000:
            row("ask @ 1M: p95 ≤ 100 ms, dense recall@10 ≥ 0.95",
                f"p95 {a['p95']:.1f} ms, recall@10 {a['recall10']:.3f}", a["p95"] <= 100 and a["recall10"] >= 0.95)
    s = r["startup"]
    row("start-up to first answer, bundled corpus ≤ 10 s", f"{spread(s['seconds'])} s",
        statistics.median(s["seconds"]) <= 10)

    lines += ["", "## Ask latency (in-process, real query embedding, 1 thread for FAISS and BM25)", "",
              "| chunks | dense index | p50 ms | p95 ms | embed p50 | BM25 p50/p95 | dense p50 | exact dense p50 | "
              "recall@10 | RSS MB (open / after 200 q) | disk MB | build s (bm25 / dense / write) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for a in r["ask"]:
        m, t = a["memory"], a["build"]
        lines.append(
            f"| {a['chunks']:,} | {'HNSW' if a['approximate'] else 'exact'} | {a['p50']:.1f} | {a['p95']:.1f} | "
            f"{a['parts_p50']['embed']:.1f} | {a['parts_p50']['lexical']:.1f} / {a['parts_p95']['lexical']:.1f} | "
            f"{a['parts_p50']['dense']:.2f} | {a['exact_dense_p50']:.2f} | {a['recall10']:.3f} | "
            f"{m['opened']:.0f} / {m['after_questions']:.0f} | {a['disk_mb']:.0f} | "
            f"{t['bm25']:.0f} / {t['dense']:.0f} / {t['write']:.0f} |")
    per100k = [a["memory"]["after_questions"] / (a["chunks"] / 100_000) for a in r["ask"] if a["chunks"] >= 100_000]
    lines += ["", f"Memory: the index costs about {min(per100k, default=float('nan')):.0f}-"
              f"{max(per100k, default=float('nan')):.0f} MB of RSS per 100k chunks once questions have touched it "
              f"(vectors are memory-mapped, BM25 is read whole); the model (torch, sentence-transformers, weights) "
              f"adds {s['model_mb']:.0f} MB to a {s['base_mb']:.0f} MB interpreter.", "",
              "## Build throughput", "",
              f"{b['articles']} synthetic articles, {b['chunks']} chunks: `build_index` "
              f"{spread(b['passages_per_s'])} passages/s, raw `SentenceTransformer.encode` of the same texts "
              f"{spread(b['raw_passages_per_s'])} passages/s.", "",
              "## No-change reindex", ""]
    for x in r["reindex"]:
        lines.append(f"- {x['articles']:,} articles: {spread(x['seconds'])} s (fresh process; "
                     f"{spread(x['with_imports'])} s counting its imports).")
    f = r["bf16"]
    lines += ["", "## bfloat16 encoding (not enabled)", "",
              f"256 real sentences: fp32 {f['fp32_s']:.2f} s, bf16 {f['bf16_s']:.2f} s "
              f"({f['fp32_s'] / f['bf16_s']:.2f}×), mean cosine to fp32 {f['cosine']:.5f}.", "",
              "## How the large indexes are made", "",
              "Texts are shuffled sentences of the shared SQuAD articles (3 per chunk, 10 chunks per article, "
              "titles `Article N`), so BM25 sees real words and a vocabulary that grows with the corpus. Vectors "
              "for 10k-1M chunks are not embedded: each is the mean of its sentences' real MiniLM embeddings plus "
              "noise, renormalised, so they lie where passage embeddings lie. Questions are the shared SQuAD "
              "questions, embedded by the real model at ask time.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
