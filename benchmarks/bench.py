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
import re
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
BACKENDS = ("onnx", "onnx-int8", "torch", "torch-bf16")  # the default first
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


_SECTION = re.compile(r"<!-- ([\w-]+): begin -->.*?<!-- \1: end -->", re.DOTALL)


def replace_section(results: Path, begin: str, end: str, section: str) -> None:
    """Replace the part of `results` between the markers `begin` and `end` with `section` (markers included),
    or append it; the rest of the file is left as it is."""
    text = results.read_text() if results.exists() else ""
    if begin in text and end in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    results.write_text(text)


def ask_latencies(engine: Any, asked: list[str]) -> list[float]:
    """Milliseconds per question, after five unmeasured ones warm the caches as a serving bot's are."""
    for question in asked[:5]:
        engine.ask(question)
    latencies = []
    for question in asked:
        began = time.perf_counter()
        engine.ask(question)
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def make_config(corpus: Path, index_dir: Path, **index: Any):  # type: ignore[no-untyped-def]
    """A configuration for a corpus and index folder."""
    from index import load_config

    return load_config(environ={}, overrides={"index": {"corpus_dir": corpus, "index_dir": index_dir, **index}})


# ---------------------------------------------------------------------------------------------
# Child processes: each prints one JSON line.

def child_reindex(corpus: str, index_dir: str) -> None:
    """A no-change reindex in a fresh process with the configured (unloaded) embedder."""
    began = time.perf_counter()
    from index import make_embedder
    from index.store.embedded.build import build_index

    imported = time.perf_counter()
    config = make_config(Path(corpus), Path(index_dir))
    embedder = make_embedder(config.index)
    report = build_index(config.index, embedder)
    done = time.perf_counter()
    print(json.dumps({"seconds": done - imported, "with_imports": done - began, "changed": report.changed_anything,
                      "model_loaded": embedder.loaded(), "torch_imported": "torch" in sys.modules,  # type: ignore[attr-defined]
                      "sentence_transformers_imported": "sentence_transformers" in sys.modules}))


def child_startup(corpus: str, index_dir: str, backend: str, started: str) -> None:
    """Start an engine on a built index and answer one question; seconds since `started` (epoch)."""
    from index import Engine

    engine = Engine.from_config(make_config(Path(corpus), Path(index_dir), backend=backend))
    engine.ensure_index()
    engine.ask("who was released?")
    print(json.dumps({"seconds": time.time() - float(started), "torch_imported": "torch" in sys.modules}))


def child_memory(index_dir: str, backend: str) -> None:
    """RSS before and after opening an index and answering questions; or of the model alone."""
    import numpy as np

    out: dict[str, float] = {"base": rss_mb()}
    if backend:
        from index import make_embedder

        make_embedder(make_config(Path("."), Path(index_dir), backend=backend).index).encode(["warm up"])
        out["model"] = rss_mb() - out["base"]
    else:
        import bm25s  # noqa: F401
        import faiss  # noqa: F401 -- libraries are not the index: count them in the base

        from index.answering.retrieval import search
        from index.store.embedded.generations import load_snapshot

        out["base"] = rss_mb()
        snapshot = load_snapshot(Path(index_dir), warm=True)
        out["opened"] = rss_mb() - out["base"]
        rng = np.random.default_rng(0)
        for _ in range(200):
            vector = rng.standard_normal(snapshot.vectors.shape[1]).astype(np.float32)
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

def bench_build(work: Path, stuff, articles: int, runs: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """`build_index` on a fresh corpus, per backend, against raw `SentenceTransformer.encode` of the same texts."""
    from synthetic import write_articles

    from index.articles.chunking import embedding_prefix
    from index.embedders import SentenceEmbedder, make_embedder
    from index.store.embedded.build import build_index
    from index.store.embedded.generations import load_snapshot

    corpus = work / "build-corpus"
    write_articles(corpus, articles, stuff.sentences, seed=7)
    model = SentenceEmbedder()._load()
    embedders = {b: make_embedder(make_config(corpus, work / "unused", backend=b).index) for b in BACKENDS}
    # An untimed build per backend first: it finds the exact texts to encode and warms each runtime.
    for backend, embedder in embedders.items():
        warm_up = make_config(corpus, work / f"build-index-warm-up-{backend}", backend=backend)
        build_index(warm_up.index, embedder)
    snapshot = load_snapshot(warm_up.index.index_dir)
    texts = [embedding_prefix(snapshot.article(i).title) + snapshot.chunk(i).text for i in range(len(snapshot))]
    builds: dict[str, list[float]] = {b: [] for b in BACKENDS}
    raws = []
    for run in range(runs):
        began = time.perf_counter()
        model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        raws.append(time.perf_counter() - began)
        for backend, embedder in embedders.items():
            config = make_config(corpus, work / f"build-index-{run}-{backend}", backend=backend)
            began = time.perf_counter()
            build_index(config.index, embedder)
            builds[backend].append(time.perf_counter() - began)
            shutil.rmtree(config.index.index_dir)
    tokens = embedders["torch"].count_tokens(texts)
    return {"articles": articles, "chunks": len(texts), "mean_tokens": sum(tokens) / len(tokens),
            "raw_s": raws, "build_s": builds,
            "ratio": {b: [x / r for x, r in zip(builds[b], raws, strict=True)] for b in BACKENDS}}


def bench_backends(work: Path, stuff, runs: int, questions: int, quality: bool) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Per backend: passages/s at 256 word pieces, one question's encode, cosine to torch fp32, answer quality."""
    import numpy as np
    from synthetic import EVAL

    from index import make_embedder
    from index.evaluate import evaluate

    # Passages that fill the model's window: real sentences joined until they reach 254 word pieces.
    counter = make_embedder(make_config(work, work / "unused").index)
    passages, current = [], ""
    for sentence in stuff.sentences:
        current = f"{current} {sentence}".strip()
        if counter.count_tokens([current])[0] >= 254:
            passages.append(current)
            current = ""
        if len(passages) == 128:
            break
    asked = stuff.questions[:questions]
    rows: dict[str, Any] = {}
    reference = None
    for backend in ("torch", "torch-bf16", "onnx", "onnx-int8"):  # the reference first
        embedder = make_embedder(make_config(work, work / "unused", backend=backend).index)
        embedder.encode(passages[:8])  # load and warm up
        seconds = []
        for _ in range(runs):
            began = time.perf_counter()
            vectors = embedder.encode(passages)
            seconds.append(time.perf_counter() - began)
        single = []
        for question in asked:
            began = time.perf_counter()
            embedder.encode([question])
            single.append((time.perf_counter() - began) * 1000)
        both = np.concatenate([vectors, embedder.encode(asked)]).astype(np.float32)
        both /= np.linalg.norm(both, axis=1, keepdims=True)
        reference = both if reference is None else reference
        cosines = np.sum(both * reference, axis=1)
        row: dict[str, Any] = {"passages_per_s": [len(passages) / x for x in seconds],
                               "query_p50_ms": percentile(single, 50), "query_p95_ms": percentile(single, 95),
                               "cosine_mean": float(np.mean(cosines)), "cosine_min": float(np.min(cosines))}
        if quality:
            report = evaluate(make_config(work, work / "unused", backend=backend), sorted(EVAL.glob("*/corpus")),
                              sorted(EVAL.glob("*/questions.jsonl")))
            row["quality"] = report["systems"]["articlebot"]
        rows[backend] = row
        print(f"  {backend}: {row}", flush=True)
    return {"passages": len(passages), "questions": len(asked), "rows": rows}


def bench_reindex(work: Path, embedder, stuff, sizes: list[int], runs: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """A no-change reindex of N articles, in a fresh process that must not load the model."""
    from synthetic import SyntheticEmbedder, write_articles

    from index.store.embedded.build import build_index

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

    from index import Engine
    from index.answering.retrieval import CANDIDATES
    from index.store.build import chunk_settings
    from index.store.embedded.dense import DenseIndex

    rows = []
    asked = stuff.questions[:questions]
    for size in sizes:
        index_dir = work / f"ask-index-{size}"
        config = make_config(work / "no-corpus", index_dir)
        timings = write_index(config.index, chunk_settings(config.index), embedder.name, embedder.backend, size, stuff)
        engine = Engine(config, embedder)
        began = time.perf_counter()
        snapshot = engine.store.current()
        open_s = time.perf_counter() - began
        latencies = ask_latencies(engine, asked)
        # Where the time goes, per part, on the same questions.
        vectors = stuff.question_vectors[:questions]
        parts: dict[str, list[float]] = {"embed": [], "dense": [], "lexical": []}
        for question, vector in zip(asked, vectors, strict=True):
            began = time.perf_counter()
            embedder.encode([question])
            parts["embed"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            snapshot.dense.search(vector, CANDIDATES)
            parts["dense"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            snapshot.lexical.search(question, CANDIDATES)
            parts["lexical"].append((time.perf_counter() - began) * 1000)
        exact = DenseIndex.exact(np.concatenate([np.asarray(s.vectors) for s in snapshot.segments]))
        recall, exact_ms = [], []
        for vector in vectors:
            began = time.perf_counter()
            truth, _ = exact.search(vector, 10)
            exact_ms.append((time.perf_counter() - began) * 1000)
            found, _ = snapshot.dense.search(vector, 10)
            recall.append(len(set(truth.tolist()) & set(found.tolist())) / 10)
        del exact
        memory = run_child("memory", str(index_dir), "")
        disk = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) / 1e6
        rows.append({
            "chunks": size, "approximate": any(s.dense is not None for s in snapshot.segments),
            "build": timings, "open_s": open_s,
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
    """Seconds from process start to a first answer on the bundled corpus (index already built), per backend."""
    from index import make_embedder
    from index.store.embedded.build import build_index

    corpus = REPO / "corpus"
    out: dict[str, Any] = {}
    for backend in BACKENDS:
        index_dir = work / f"startup-index-{backend}"
        config = make_config(corpus, index_dir, backend=backend)
        build_index(config.index, make_embedder(config.index))
        results = [run_child("startup", str(corpus), str(index_dir), backend, repr(time.time())) for _ in range(runs)]
        model = run_child("memory", str(index_dir), backend)
        out[backend] = {"seconds": [r["seconds"] for r in results], "torch_imported": results[0]["torch_imported"],
                        "model_mb": model["model"], "base_mb": model["base"]}
    return out


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

    from index import make_embedder

    quick = args.quick
    began = time.perf_counter()
    embedder = make_embedder(make_config(REPO / "corpus", REPO / "unused").index)
    stuff = material(embedder)
    results: dict[str, Any] = {"quick": quick, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="articlebot-bench-") as tmp:
        work = Path(tmp)
        print("build throughput ...", flush=True)
        results["build"] = bench_build(work, stuff, 40 if quick else 100, 2 if quick else 3)
        print(f"  {results['build']}", flush=True)
        print("backends ...", flush=True)
        results["backends"] = bench_backends(work, stuff, 2 if quick else 3, 50 if quick else 200, quality=not quick)
        print("no-change reindex ...", flush=True)
        results["reindex"] = bench_reindex(work, embedder, stuff, [1_000] if quick else [1_000, 10_000],
                                           2 if quick else 3)
        print(f"  {results['reindex']}", flush=True)
        print("start-up and model memory ...", flush=True)
        results["startup"] = bench_startup(work, 2 if quick else 3)
        print(f"  {results['startup']}", flush=True)
        print("ask latency ...", flush=True)
        sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
        results["ask"] = bench_ask(work, embedder, stuff, sizes, 100 if quick else 300)
    results["seconds"] = time.perf_counter() - began
    results["load_after"] = os.getloadavg()
    (HERE / ("results-quick.json" if quick else "results.json")).write_text(json.dumps(results, indent=1))
    # bench_reader.py and soak.py write their own marked sections of the same file: keep them.
    previous = args.out.read_text() if args.out.exists() else ""
    kept = [m.group(0) for m in _SECTION.finditer(previous)]
    args.out.write_text(render(results).rstrip("\n") + "".join(f"\n\n{k}" for k in kept) + "\n")
    print(args.out.read_text())
    return 0


def render(r: dict[str, Any]) -> str:
    """RESULTS.md from the measurements."""
    machine = subprocess.run("lscpu | head -n 15", shell=True, capture_output=True, text=True).stdout.strip()
    b, s = r["build"], r["startup"]
    lines = [
        "# Benchmarks", "",
        f"Measured {datetime.date.today().isoformat()} with `.venv/bin/python benchmarks/bench.py"
        f"{' --quick' if r['quick'] else ''}` ({r['seconds'] / 60:.0f} min). Figures are median (min-max) "
        f"of several runs. Load average before/after: {r['load_before'][0]:.1f} / {r['load_after'][0]:.1f} "
        "on 2 cores (above 1, other processes were competing for the CPU and the figures are pessimistic). "
        "The default backend is `onnx`; every figure below is for it unless a row says otherwise.", "",
        "```", machine, "```", "",
        "| target | measured | met |", "|---|---|---|",
    ]

    def row(target: str, measured: str, ok: bool) -> None:
        lines.append(f"| {target} | {measured} | {'yes' if ok else '**no**'} |")

    row(f"build ≤ 1.15× raw sentence-transformers encode ({b['chunks']} chunks, {b['mean_tokens']:.0f} word pieces)",
        f"{spread(b['ratio']['onnx'])}× ({spread(b['build_s']['onnx'])} s vs {spread(b['raw_s'])} s)",
        statistics.median(b["ratio"]["onnx"]) <= 1.15)
    for x in r["reindex"]:
        per = statistics.median(x["seconds"]) / (x["articles"] / 1000)
        row(f"no-change reindex, {x['articles']:,} articles ≤ 1 s / 1,000, model not loaded",
            f"{spread(x['seconds'])} s; model loaded: {x['model_loaded']}, torch imported: {x['torch_imported']}",
            per <= 1 and not x["model_loaded"] and not x["torch_imported"])
    for a in r["ask"]:
        if a["chunks"] == 100_000:
            row("ask @ 100k: p50 ≤ 20 ms, p95 ≤ 50 ms", f"p50 {a['p50']:.1f} ms, p95 {a['p95']:.1f} ms",
                a["p50"] <= 20 and a["p95"] <= 50)
        if a["chunks"] == 1_000_000:
            row("ask @ 1M: p95 ≤ 100 ms, dense recall@10 ≥ 0.95",
                f"p95 {a['p95']:.1f} ms, recall@10 {a['recall10']:.3f}", a["p95"] <= 100 and a["recall10"] >= 0.95)
    row("start-up to first answer, bundled corpus ≤ 10 s", f"{spread(s['onnx']['seconds'])} s",
        statistics.median(s["onnx"]["seconds"]) <= 10)

    lines += ["", "## Backends", "",
              f"Passages: {r['backends']['passages']} of 254 word pieces (real sentences joined). Questions: "
              f"{r['backends']['questions']} shared SQuAD questions, one at a time. Cosine: to torch float32, over "
              "the passages and the questions (mean / min). Quality: `articlebot eval` on both shared sets as "
              "one corpus (1,079 questions), built and asked with that backend. Start-up: a fresh process "
              "until its first answer on the bundled corpus, index already built.", "",
              "| backend | passages/s | × torch | question p50 / p95 ms | cosine mean / min | cite@1 | has gold | "
              "start-up s | model RSS MB | build ÷ raw torch encode |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    rows = r["backends"]["rows"]
    torch_speed = statistics.median(rows["torch"]["passages_per_s"])
    for name, x in rows.items():
        quality, start, ratio = x.get("quality"), s.get(name), b["ratio"].get(name)
        cells = [f"{name} (default)" if name == BACKENDS[0] else name, spread(x["passages_per_s"]),
                 f"{statistics.median(x['passages_per_s']) / torch_speed:.2f}",
                 f"{x['query_p50_ms']:.1f} / {x['query_p95_ms']:.1f}",
                 f"{x['cosine_mean']:.5f} / {x['cosine_min']:.4f}",
                 f"{quality['cite@1']:.3f}" if quality else "-",
                 f"{quality['answer_has_gold']:.3f}" if quality else "-",
                 spread(start["seconds"]) if start else "-", f"{start['model_mb']:.0f}" if start else "-",
                 f"{spread(ratio)}×" if ratio else "-"]
        lines.append("| " + " | ".join(cells) + " |")

    lines += ["", "## Ask latency (in-process: query embedding, BM25, dense search, fusion, answer; one thread for "
              "FAISS and BM25)", "",
              "| chunks | dense index | p50 ms | p95 ms | embed p50 | BM25 p50/p95 | dense p50 | exact dense p50 | "
              "recall@10 | RSS MB (open / after 200 q) | disk MB | build s (bm25 / dense / write) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for a in r["ask"]:
        m, t = a["memory"], a["build"]
        lines.append(
            f"| {a['chunks']:,} | {'HNSW (8-bit)' if a['approximate'] else 'exact'} | {a['p50']:.1f} | "
            f"{a['p95']:.1f} | {a['parts_p50']['embed']:.1f} | {a['parts_p50']['lexical']:.1f} / "
            f"{a['parts_p95']['lexical']:.1f} | {a['parts_p50']['dense']:.2f} | {a['exact_dense_p50']:.2f} | "
            f"{a['recall10']:.3f} | {m['opened']:.0f} / {m['after_questions']:.0f} | {a['disk_mb']:.0f} | "
            f"{t['bm25']:.0f} / {t['dense']:.0f} / {t['write']:.0f} |")
    per100k = [a["memory"]["after_questions"] / (a["chunks"] / 100_000) for a in r["ask"] if a["chunks"] >= 100_000]
    lines += ["", f"Memory: the index costs about {min(per100k, default=float('nan')):.0f}-"
              f"{max(per100k, default=float('nan')):.0f} MB of RSS per 100k chunks once questions have touched it "
              "(vectors are memory-mapped, BM25 is read whole). The model: "
              + ", ".join(f"{k} {v['model_mb']:.0f} MB" for k, v in s.items())
              + f", on top of a {s['onnx']['base_mb']:.0f} MB interpreter.", "",
              "## Build throughput", "",
              f"{b['articles']} synthetic articles, {b['chunks']} chunks of {b['mean_tokens']:.0f} word pieces on "
              f"average: raw `SentenceTransformer.encode` of the chunk texts {spread(b['raw_s'])} s; "
              + "; ".join(f"`build_index` with {k} {spread(v)} s" for k, v in b["build_s"].items())
              + ". A build reads, chunks (counting word pieces), embeds, builds BM25 and FAISS, and writes "
              "a generation; the ratio is build time over the raw encode of the same texts.", "",
              "## No-change reindex", ""]
    for x in r["reindex"]:
        lines.append(f"- {x['articles']:,} articles: {spread(x['seconds'])} s (fresh process; "
                     f"{spread(x['with_imports'])} s counting its imports).")
    lines += ["", "## How the large indexes are made", "",
              "Texts are shuffled sentences of the shared SQuAD articles (3 per chunk, 10 chunks per article, "
              "titles `Article N`), so BM25 sees real words and a vocabulary that grows with the corpus. Vectors "
              "for 10k-1M chunks are not embedded: each is the mean of its sentences' real MiniLM embeddings plus "
              "noise, renormalised, so they lie where passage embeddings lie. Questions are the shared SQuAD "
              "questions, embedded by the real model at ask time.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
