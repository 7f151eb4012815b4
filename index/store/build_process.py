"""Building the index in a process of its own, so that the process serving questions keeps none of the build.

A build reads the changed articles, embeds their passages, and loads the previous generation beside
the one being served. Run in the bot's own process, it took the bot's resident size up by 40-47 MB
while it ran and left it 13-16 MB higher for good after the first /reindex (pages of the C heap and
of Python's allocator that the build touched stay with the process, though they are free; the
soak in benchmarks/RESULTS.md). A build in a child process hands everything back when the child
exits; the bot then opens the new generation as it opens one written by `articlebot index`.
With the index in PostgreSQL, the child opens its own connection from the configuration.

The child is a fresh interpreter (`python -m index.build_process`: forking a process with running
threads is unsafe, and multiprocessing's "spawn" would import the parent's main script again). It
reads the configuration from its standard input, makes the embedder the configuration names, and
writes its progress, then its report or its error, as pickles to a pipe of its own (standard output
is left to libraries that print). Starting it costs about 0.3 s; one that embeds loads the model
again (under a second here).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import threading
import traceback
from collections.abc import Collection
from typing import IO, Any

from index import LOG_FORMAT
from index.config import IndexConfig
from index.embedders.base import Embedder
from index.errors import ArticlebotError
from index.store.build import Progress
from index.types import BuildReport


class BuildProcessError(ArticlebotError):
    """The build's process ended without a report; the index being served is unchanged."""


def build_in_subprocess(config: IndexConfig, progress: Progress | None = None, *,
                        changed: Collection[str] | None = None) -> BuildReport:
    """A build of `config`'s store, run in a child process with the embedder the configuration names.

    Progress is passed on as it arrives; an error of the build is raised here as the child raised it.
    `changed`: the sources that changed, when known (Store.build).
    """
    notify = progress or (lambda _: None)
    limit = config.build_timeout_minutes
    reading, writing = os.pipe()
    try:
        level = str(logging.getLogger().getEffectiveLevel())  # the child logs what this process would
        child = subprocess.Popen([sys.executable, "-m", __name__, str(writing), level], stdin=subprocess.PIPE,
                                 pass_fds=(writing,), cwd=os.getcwd())
    finally:
        os.close(writing)  # the child holds the only writing end: reading then ends when it exits
    # A build that hangs (a file that takes a parser forever, a stuck database) would hold the bot's one
    # build slot for good: past the deadline the child is killed. What it half wrote is never served:
    # a generation is swapped in only once whole, and the next build removes the orphan.
    deadline = threading.Timer(limit * 60, child.kill)
    deadline.daemon = True
    deadline.start()
    try:
        with os.fdopen(reading, "rb") as messages, child:
            assert child.stdin is not None
            with contextlib.suppress(BrokenPipeError), child.stdin:  # a child that died at once: said below
                pickle.dump((config, None if changed is None else sorted(changed)), child.stdin)
            while True:
                try:
                    kind, value = pickle.load(messages)
                except EOFError:
                    status = child.wait()
                    if not deadline.is_alive() and status < 0:
                        raise BuildProcessError(
                            f"the index build took longer than {limit:g} minutes (index.build_timeout_minutes) "
                            "and was stopped; the index being served is unchanged") from None
                    raise BuildProcessError(
                        f"the index build stopped before it finished (its process ended with exit status "
                        f"{status}); the index being served is unchanged") from None
                if kind == "progress":
                    try:
                        notify(value)
                    except BaseException:  # told to stop (BuildStoppedError): the child stops too, publishing nothing
                        child.terminate()
                        raise
                elif kind == "done":
                    return value
                else:
                    raise value
    finally:
        deadline.cancel()


def _build(config: IndexConfig, changed: list[str] | None, messages: IO[bytes]) -> None:
    """The child's work: build, then send the report, or the error (as itself when it can be pickled)."""
    from index.embedders import make_embedder  # here, not at import: the parent needs no model module

    def send(kind: str, value: Any) -> None:
        pickle.dump((kind, value), messages)
        messages.flush()

    try:
        report = _build_here(config, make_embedder(config), lambda update: send("progress", update), changed)
    except BaseException as e:  # every failure goes back to the parent, which decides what to do
        send("error", _portable(e))
    else:
        send("done", report)


def _build_here(config: IndexConfig, embedder: Embedder, progress: Progress,
                changed: list[str] | None = None) -> BuildReport:
    """The build the engine would run in its own thread, in the store the configuration names (connected here)."""
    from index.store.base import open_store

    store = open_store(config, embedder)
    try:
        return store.build(progress, changed=changed)
    finally:
        store.close()


def _portable(error: BaseException) -> BaseException:
    """The error itself if it survives pickling, else a RuntimeError carrying its traceback as text."""
    try:
        if isinstance(pickle.loads(pickle.dumps(error)), type(error)):
            return error
    except Exception:  # any failure to round-trip means: send it as text
        pass
    described = "".join(traceback.format_exception(error))
    return RuntimeError(f"the index build failed in its own process:\n{described}")


if __name__ == "__main__":
    logging.basicConfig(level=int(sys.argv[2]), format=LOG_FORMAT)
    with os.fdopen(int(sys.argv[1]), "wb") as out:
        given, changed = pickle.load(sys.stdin.buffer)
        _build(given, changed, out)
