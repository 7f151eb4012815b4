"""Worst cases of hostile input after issue #34's bounds: what they cost in time and memory now.

Measures, on generated input (nothing is fetched):
- `articlebot index` (the real CLI, in a child process) of a corpus holding one 9.2 MB text file of
  one line, with and without full stops: wall time and the child's peak resident memory;
- extraction of HTML at the guard's limits (index/articles/extraction.py: the largest markup let through) and
  of markup it refuses (how fast the refusal is), in this process and in the limited child.

Run: PYTHONPATH=. python benchmarks/bench_hostile.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from index.articles.extraction import MAX_CHILDREN, MAX_ELEMENTS, ExtractionRefused, extract  # noqa: E402

STORY = ("<p>The council agreed the budget on Tuesday after a long debate in the chamber, and the mayor said "
         "the new library would open in the spring.</p>")


def one_line(size: int, *, full_stops: bool) -> str:
    """`size` characters of generated words on one line, as sentences or as one run-on."""
    vocab = "the council agreed budget on tuesday after long debate chamber mayor said new library open spring".split()
    rng = random.Random(1)
    parts: list[str] = []
    length = 0
    while length < size:
        words = " ".join(rng.choice(vocab) for _ in range(12))
        part = f"{words.capitalize()}. " if full_stops else f"{words} "
        parts.append(part)
        length += len(part)
    return "".join(parts)


def index_one_file(text: str) -> dict[str, Any]:
    """`articlebot index` of a corpus of the seed article and `text` as one file, in a child process."""
    root = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    try:
        corpus = root / "corpus"
        corpus.mkdir()
        shutil.copy(REPO / "corpus" / "us-diplomat-visits-belarus.txt", corpus)
        (corpus / "line.txt").write_text(text, "utf-8")
        began = time.perf_counter()
        with open(root / "out.txt", "wb") as out:
            child = subprocess.Popen([sys.executable, "-m", "bot.cli", "index", "--corpus", str(corpus),
                                      "--index-dir", str(root / "index")], stdout=out, stderr=subprocess.DEVNULL,
                                     cwd=REPO)
            _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory, not the largest so far
        seconds = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        lines = (root / "out.txt").read_text("utf-8").splitlines()
        line = next((x.strip() for x in lines if "line.txt" in x), "")
        return {"mb": round(len(text.encode()) / 1e6, 1), "exit": child.returncode, "seconds": round(seconds, 1),
                "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024),
                "outcome": line}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def page(body: str) -> str:
    return f"<html><head><title>Budget</title></head><body><article>{STORY * 3}{body}</article></body></html>"


def _cpu() -> float:
    """Processor seconds used by this process and its finished children: unlike wall time, not raised by load."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_extraction(name: str, html: str, *, isolated: bool) -> dict[str, Any]:
    began, cpu = time.perf_counter(), _cpu()
    try:
        extract(html, isolated=isolated)
        outcome = "extracted"
    except ExtractionRefused as e:
        outcome = f"refused: {e}"
    return {"case": name, "isolated": isolated, "kb": round(len(html) / 1000), "seconds":
            round(time.perf_counter() - began, 2), "cpu_seconds": round(_cpu() - cpu, 2), "outcome": outcome[:90]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    results: dict[str, Any] = {"extraction": [], "index": []}
    children = MAX_CHILDREN - 10
    spread = (MAX_ELEMENTS - 100) // 11
    cases = [
        (f"one <p> of {children:,} spans (at the guard)", page("<p>" + "<span>w</span>" * children + "</p>")),
        (f"one <tr> of {children:,} cells (at the guard)",
         page("<table><tr>" + "<td>x</td>" * children + "</tr></table>")),
        (f"{spread * 11:,} elements: lists of links (at the guard)",
         page(("<ul>" + "<li><a href='/x'>link</a></li>" * 5 + "</ul>") * spread)),
        (f"{spread * 11:,} elements: spans in paragraphs (at the guard)",
         page(("<p>" + "<span>w</span>" * 10 + "</p>") * spread)),
        ("one <tr> of 120,000 cells (refused)", page("<table><tr>" + "<td>x</td>" * 120_000 + "</tr></table>")),
        ("one <p> of 300,000 spans (refused)", page("<p>" + "<span>w</span>" * 300_000 + "</p>")),
    ]
    for name, html in cases:
        for isolated in (False, True):
            results["extraction"].append(time_extraction(name, html, isolated=isolated))
            print(json.dumps(results["extraction"][-1]), flush=True)
    for full_stops in (False, True):
        figures = index_one_file(one_line(9_200_000, full_stops=full_stops))
        results["index"].append({"full_stops": full_stops, **figures})
        print(json.dumps(results["index"][-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
