"""What the tests share besides fixtures: paths and a configuration for a throw-away corpus."""

from __future__ import annotations

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
