"""What the tests share besides fixtures: paths, a configuration for a throw-away corpus, small helpers.

The other support modules: tests/commandline.py (running `articlebot`), tests/website.py (a web site on
loopback), tests/two_servers.py (two servers' corpora), tests/pg_support.py (PostgreSQL),
tests/discord_fixtures.py (the bot against the fake Discord), tests/fakediscord/ (the fake Discord).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.config import Config, load_config

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "corpus" / "us-diplomat-visits-belarus.txt"
SHARED_EVAL = REPO.parent / "shared" / "eval"
# An article whose answer to "Who lit the lanterns on the north pier?" ("Mira Kovac", marked by the
# reading model) lies past the first 300 characters of its passage, which spans lines 1-5.
HARBOUR = """Brellin harbour reopens

The town council of Brellin met on Monday to mark the end of two years of work on the harbour.

The old stone pier, damaged in the storms of the winter before last, has been rebuilt with granite from the \
quarry above the town. Fishing boats returned to their moorings on Saturday morning, and the fish market on the \
quay opened its doors again for the first time since the storms. Traders said the first catches were small but \
the mood was cheerful. At dusk the lanterns along the north pier were lit by Mira Kovac, the harbour master's \
daughter, as the town band played on the quay.

The council will meet again in the spring to decide on the opening hours of the market.
"""


def make_config(corpus: Path, index_dir: Path, **answer: Any) -> Config:
    """A configuration for a test corpus and index, ignoring the environment; `answer` overrides [answer] keys."""
    return load_config(None, environ={}, overrides={"index": {"corpus_dir": corpus, "index_dir": index_dir},
                                                    "answer": answer})


def state(root: Path) -> dict[str, bytes]:
    """Everything in the corpus and index folders under `root`, to show that nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and (p.relative_to(root).parts[0] == "corpus" or p.name in ("CURRENT", "manifest.json"))}


async def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Wait until `predicate()` is true, looking every tenth of a second (for what the fake Discord does not see)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)


def pdf_bytes(pages: list[list[str]], *, title: str | None = None, author: str | None = None) -> bytes:
    """A small PDF whose pages hold these lines of text (Helvetica, one line under another), with metadata.

    Written out by hand, object by object with its cross-reference table, because the tests need a
    PDF whose text is known exactly and pypdf (which reads them) does not lay out text.
    """
    def literal(text: str) -> str:
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    objects: list[str] = []
    page_numbers = [4 + 2 * i for i in range(len(pages))]
    objects.append("<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{' '.join(f'{n} 0 R' for n in page_numbers)}] /Count {len(pages)} >>")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for number, lines in zip(page_numbers, pages, strict=True):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       f"/Resources << /Font << /F1 3 0 R >> >> /Contents {number + 1} 0 R >>")
        shown = " T* ".join(f"{literal(line)} Tj" for line in lines)
        stream = f"BT /F1 11 Tf 14 TL 72 720 Td {shown} ET"
        objects.append(f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream")
    info = " ".join(f"/{key} {literal(value)}" for key, value in (("Title", title), ("Author", author)) if value)
    objects.append(f"<< {info} >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("latin-1")
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode("latin-1")
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode("latin-1")
    return bytes(out)


def settings_as_written(monkeypatch: Any, index_dir: Path) -> None:
    """Build with the chunk settings the index in `index_dir` was written with (a fixture from an older
    version): its conversion to the current format is then checked to embed nothing again, as it would
    for an index whose settings have not changed since."""
    import json

    from index.store import build

    (manifest,) = index_dir.glob("gen-*/manifest.json")
    settings = json.loads(manifest.read_text("utf-8"))["settings"]
    monkeypatch.setattr(build, "chunk_settings", lambda _config: settings)
