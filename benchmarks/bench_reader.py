"""Ask latency with the reading model on and off, at 100k chunks, and where the reader's time goes.

    .venv/bin/python benchmarks/bench_reader.py     # about 3 minutes on 2 cores

Uses the same synthetic 100k-chunk index as bench.py (real SQuAD sentences, real question
embeddings at ask time) and the same questions; writes its section of benchmarks/RESULTS.md
(between the "reader" markers) and benchmarks/results-reader.json.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import HERE, make_config, percentile, replace_section

BEGIN, END = "<!-- reader: begin -->", "<!-- reader: end -->"


def main() -> None:
    from synthetic import material, write_index

    from index import Engine, make_embedder
    from index.answering.reader import Reader
    from index.store.build import chunk_settings

    embedder = make_embedder(make_config(HERE.parent / "corpus", HERE / "unused").index)
    stuff = material(embedder)
    asked = stuff.questions[:300]
    load_before = os.getloadavg()
    result: dict[str, Any] = {"date": datetime.date.today().isoformat(), "questions": len(asked), "rows": []}
    with tempfile.TemporaryDirectory(prefix="articlebot-bench-reader-") as tmp:
        size = 100_000
        config = make_config(Path(tmp) / "no-corpus", Path(tmp) / "index")
        write_index(config.index, chunk_settings(config.index), embedder.name, embedder.backend, size, stuff)
        for reader, candidates in ((False, 16), (True, 8), (True, 16), (True, 24)):
            answer = replace(config.answer, reader=reader, reader_candidates=candidates)
            engine = Engine(replace(config, answer=answer), embedder)
            if engine.reader:
                engine.reader = Reader()  # its own instance: the timing wrapper must not reach the shared one
            for question in asked[:5]:
                engine.ask(question)
            latencies, read_ms = [], []
            original = engine.reader.read if engine.reader else None
            if engine.reader and original:
                def timed(question: str, sentences: Any, previous: Any = None, _read: Any = original,
                          _ms: list[float] = read_ms) -> Any:
                    began = time.perf_counter()
                    out = _read(question, sentences, previous)
                    _ms.append((time.perf_counter() - began) * 1000)
                    return out
                engine.reader.read = timed  # type: ignore[method-assign]
            for question in asked:
                began = time.perf_counter()
                engine.ask(question)
                latencies.append((time.perf_counter() - began) * 1000)
            row = {"chunks": size, "reader": reader, "candidates": candidates if reader else None,
                   "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
                   "reader_p50": percentile(read_ms, 50) if read_ms else None,
                   "reader_p95": percentile(read_ms, 95) if read_ms else None}
            result["rows"].append(row)
            print(row, flush=True)
        shutil.rmtree(Path(tmp) / "index")
    result["load_before"], result["load_after"] = load_before, os.getloadavg()
    (HERE / "results-reader.json").write_text(json.dumps(result, indent=1) + "\n")
    write_section(result)


def write_section(r: dict[str, Any]) -> None:
    lines = [BEGIN, "## Ask latency with the reading model (100k chunks)", "",
             f"Measured {r['date']} with `.venv/bin/python benchmarks/bench_reader.py`: the 100k-chunk index above, "
             f"{r['questions']} SQuAD questions one at a time, in process, everything included (query embedding, "
             "retrieval, the reading model over the candidate sentences, the answer). Load average before/after: "
             f"{r['load_before'][0]:.1f} / {r['load_after'][0]:.1f}. The reader reads the best `reader_candidates` "
             "sentences whatever the corpus size, each in a run of its own, so its cost does not grow with the "
             "index. The synthetic chunks hold "
             "three sentences each, so five passages give 15 candidates: 24 reads no more than 16 here (real "
             "passages hold more).", "",
             "| reader | sentences read | p50 ms | p95 ms | reader p50 / p95 ms | target (p50 ≤ 120, p95 ≤ 250) |",
             "|---|---|---|---|---|---|"]
    for row in r["rows"]:
        met = "yes" if row["p50"] <= 120 and row["p95"] <= 250 else "no"
        reader = (f"{row['reader_p50']:.1f} / {row['reader_p95']:.1f}" if row["reader_p50"] is not None else "–")
        default = " (default)" if row["reader"] and row["candidates"] == 16 else ""
        lines.append(f"| {'on' if row['reader'] else 'off'}{default} | {row['candidates'] or '–'} | "
                     f"{row['p50']:.1f} | {row['p95']:.1f} | {reader} | {met if row['reader'] else '–'} |")
    lines.append(END)
    replace_section(HERE / "RESULTS.md", BEGIN, END, "\n".join(lines))


if __name__ == "__main__":
    main()
