"""What the tests share besides fixtures: paths and a configuration for a throw-away corpus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.config import Config, load_config

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "corpus" / "us-diplomat-visits-belarus.txt"
SHARED_EVAL = REPO.parent / "shared" / "eval"


def make_config(corpus: Path, index_dir: Path, **answer: Any) -> Config:
    """A configuration for a test corpus and index, ignoring the environment; `answer` overrides [answer] keys."""
    return load_config(None, environ={}, overrides={"index": {"corpus_dir": corpus, "index_dir": index_dir},
                                                    "answer": answer})


async def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Wait until `predicate()` is true, looking every tenth of a second (for what the fake Discord does not see)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)
