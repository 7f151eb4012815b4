"""Extracting the article from an HTML page (trafilatura), within bounds that hostile markup cannot break.

trafilatura's time grows faster than the page on some markup: one table row of 120,000 cells took
43 s, 100,000 `<span>`s in one paragraph 131 s, 110,000 list links 11 s (benchmarks/RESULTS.md).
Two bounds hold it:

- A guard before extraction: the page is parsed once with lxml (linear, about 0.2 s for 1.5 MB)
  and refused when it holds more than MAX_ELEMENTS elements, or an element with more than
  MAX_CHILDREN children. Pages of news and essays hold a few thousand; the guard's worst case
  measured under both limits is a few seconds.
- Pages added by the bot (a link, an upload) are extracted in a child process of their own, whose
  CPU time and memory are capped with resource limits and whose wall-clock time is capped too, so
  that markup slow in some way the guard does not foresee costs the bot a bounded time, and never
  its memory. The child costs about 0.3 s to start. Building the index extracts in its own process
  (with `articlebot index`, or the bot's build child and its deadline), with the guard alone.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any

# Limits of the guard; see the module's docstring for what they cost at worst.
MAX_ELEMENTS = 50_000
MAX_CHILDREN = 5_000
# Limits of the extraction child.
CPU_SECONDS = 20
MEMORY_BYTES = 2 * 1024 ** 3
WALL_SECONDS = 40.0
FIELDS = ("text", "title", "url", "date", "author")


class ExtractionRefused(Exception):
    """The page's markup is refused, or its extraction broke a limit or failed; the message says why."""


def extract(html: str | bytes, *, url: str | None = None, isolated: bool = False) -> dict[str, str]:
    """The page's main text, title, canonical URL, date and author (those it has), as trafilatura finds them.

    `isolated` runs trafilatura in a child process with CPU, memory and time limits (for the bot's
    own process). Raises ExtractionRefused saying why not.
    """
    check_markup(html)
    return _in_child(html, url) if isolated else _extract_here(html, url)


def check_markup(html: str | bytes) -> None:
    """Refuse markup whose size of tree would make extraction slow (see MAX_ELEMENTS, MAX_CHILDREN)."""
    import lxml.etree
    import lxml.html

    # As bytes: lxml refuses a str that opens with an XML declaration, which would let such a page
    # past the guard (trafilatura reads it all the same).
    data = html.encode("utf-8", errors="replace") if isinstance(html, str) else html
    if not data.strip():
        return
    try:
        root = lxml.html.document_fromstring(data)
    except (lxml.etree.ParserError, ValueError):
        return  # nothing lxml can build a tree from: trafilatura finds nothing in it either, quickly
    for elements, element in enumerate(root.iter(), start=1):
        if elements > MAX_ELEMENTS:
            raise ExtractionRefused(f"the page holds more than {MAX_ELEMENTS:,} HTML elements, too many to read "
                                    "safely (pages of articles hold a few thousand)")
        if len(element) > MAX_CHILDREN:
            raise ExtractionRefused(f"one <{element.tag}> element of the page holds {len(element):,} others, "
                                    f"more than the {MAX_CHILDREN:,} that can be read safely")


def _extract_here(html: str | bytes, url: str | None) -> dict[str, str]:
    import trafilatura  # imported here: only HTML pays for it

    try:
        document = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                               include_tables=True)
    except MemoryError:
        raise
    except Exception as e:  # trafilatura and lxml raise many kinds on broken markup
        raise ExtractionRefused(f"the page could not be read as HTML ({type(e).__name__}: {e})") from None
    found: dict[str, str] = {}
    for name in FIELDS:
        value = document.get(name) if isinstance(document, dict) else getattr(document, name, None)
        if value:
            found[name] = str(value)
    return found


def _in_child(html: str | bytes, url: str | None) -> dict[str, str]:
    """`_extract_here` in a fresh interpreter held to CPU_SECONDS, MEMORY_BYTES and WALL_SECONDS."""
    limits = (f"{CPU_SECONDS} s of processor time, {MEMORY_BYTES // 1024 ** 2:,} MB of memory or "
              f"{WALL_SECONDS:g} s")
    try:
        done = subprocess.run([sys.executable, "-m", __name__],
                              input=pickle.dumps((html, url, CPU_SECONDS, MEMORY_BYTES)),
                              capture_output=True, timeout=WALL_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise ExtractionRefused(f"reading the page took more than {WALL_SECONDS:g} s, so it was given up") from None
    if done.returncode != 0 or not done.stdout:
        raise ExtractionRefused(f"reading the page broke the limits it is read within ({limits}), "
                                f"so it was given up (exit status {done.returncode})")
    outcome, value = pickle.loads(done.stdout)
    if outcome == "refused":
        raise ExtractionRefused(value)
    return dict(value)


def _child() -> None:
    """The child's work: limits first, then extraction; the outcome is pickled to standard output."""
    import resource

    html, url, cpu_seconds, memory_bytes = pickle.load(sys.stdin.buffer)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything a library prints must not mix with the answer
    result: tuple[str, Any]
    try:
        result = ("done", _extract_here(html, url))
    except ExtractionRefused as e:
        result = ("refused", str(e))
    except MemoryError:
        result = ("refused", f"reading the page needed more than {memory_bytes // 1024 ** 2:,} MB of memory, "
                             "so it was given up")
    out.write(pickle.dumps(result))
    out.flush()


if __name__ == "__main__":
    _child()
