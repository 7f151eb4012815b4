"""articlebot's engine: articles in, answers with exact quotes out. It never imports discord.

The public API is what `__all__` lists, importable from `index` itself; the CLI, the bot,
the benchmarks and the training scripts use it (docs/architecture.md maps the sub-packages):

    from index import Engine, load_config
    engine = Engine.from_config(load_config(None))
    engine.rebuild()
    print(engine.ask("who was released?").text)

Two modules are used whole, for their functions: `index.articles.ingest` (adding and removing
articles) and `index.articles.feeds` (following feeds). Names are imported on first use (PEP 562),
so `import index` stays cheap and `articlebot --help` loads no model, FAISS or database driver.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# FAISS and torch both run OpenMP thread pools; with the default spin-waiting, idle threads of one
# steal the cores the other is computing on (measured: a 10 s test took 100 s on 2 cores). This
# must be set before either library loads, hence here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# How log lines look, in the CLI and the bot and in an index build's own process (index/store/build_process.py).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Public name -> the module that defines it.
_PUBLIC = {
    # The engine and its configuration
    "Engine": "index.engine",
    "Config": "index.config", "IndexConfig": "index.config", "AnswerConfig": "index.config",
    "DiscordConfig": "index.config", "FeedConfig": "index.config", "load_config": "index.config",
    # What it returns
    "Answer": "index.types", "AnswerSentence": "index.types", "Citation": "index.types",
    "ArticleInfo": "index.types", "BuildProgress": "index.types", "BuildReport": "index.types",
    "IndexStatus": "index.types", "SkippedFile": "index.types",
    # What it raises (messages written for the person at the keyboard)
    "ArticlebotError": "index.errors", "ConfigError": "index.errors", "CorpusError": "index.errors",
    "QuestionError": "index.errors", "IngestError": "index.errors", "IndexMissingError": "index.errors",
    "IndexMismatchError": "index.errors", "IndexDatabaseError": "index.errors",
    "ReindexInProgressError": "index.errors", "BuildStoppedError": "index.errors",
    # Models
    "Embedder": "index.embedders", "make_embedder": "index.embedders",
    # Articles: adding, removing, feeds
    "add": "index.articles.ingest", "remove": "index.articles.ingest", "is_url": "index.articles.ingest",
    "Addition": "index.articles.ingest", "Removal": "index.articles.ingest",
    "FeedHealth": "index.articles.feeds", "SUFFIXES": "index.articles.corpus",
    "is_shared": "index.articles.corpus",
    # Conversations and the question record (the eval is index.evaluate's `evaluate`: the module's
    # name would shadow a function of that name here)
    "Turn": "index.answering.followup", "in_context": "index.answering.followup",
    "Record": "index.record", "Entry": "index.record", "Gap": "index.record", "Summary": "index.record",
    "gap_lines": "index.record",
}

__all__ = [
    "LOG_FORMAT", "Engine", "Config", "IndexConfig", "AnswerConfig", "DiscordConfig", "FeedConfig", "load_config",
    "Answer", "AnswerSentence", "Citation", "ArticleInfo", "BuildProgress", "BuildReport", "IndexStatus",
    "SkippedFile", "ArticlebotError", "ConfigError", "CorpusError", "QuestionError", "IngestError",
    "IndexMissingError", "IndexMismatchError", "IndexDatabaseError", "ReindexInProgressError", "BuildStoppedError",
    "Embedder", "make_embedder", "add", "remove", "is_url", "Addition", "Removal", "FeedHealth", "SUFFIXES",
    "is_shared", "Turn", "in_context", "Record", "Entry", "Gap", "Summary", "gap_lines",
]  # the names of _PUBLIC, and LOG_FORMAT (tests/test_public_api.py checks both agree)

if TYPE_CHECKING:
    from index.answering.followup import Turn, in_context
    from index.articles.corpus import SUFFIXES, is_shared
    from index.articles.feeds import FeedHealth
    from index.articles.ingest import Addition, Removal, add, is_url, remove
    from index.config import AnswerConfig, Config, DiscordConfig, FeedConfig, IndexConfig, load_config
    from index.embedders import Embedder, make_embedder
    from index.engine import Engine
    from index.errors import (
        ArticlebotError,
        BuildStoppedError,
        ConfigError,
        CorpusError,
        IndexDatabaseError,
        IndexMismatchError,
        IndexMissingError,
        IngestError,
        QuestionError,
        ReindexInProgressError,
    )
    from index.record import Entry, Gap, Record, Summary, gap_lines
    from index.types import (
        Answer,
        AnswerSentence,
        ArticleInfo,
        BuildProgress,
        BuildReport,
        Citation,
        IndexStatus,
        SkippedFile,
    )


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
