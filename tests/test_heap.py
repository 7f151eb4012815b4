"""The bot's C heap (index/heap.py): settled or trimmed, freed large blocks go back to the system."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bot import worker
from bot.worker import Worker
from index import heap
from index.engine import Engine
from tests.support import REPO

# In a fresh process: a 16 MB block allocated, written and freed twice leaves the resident size where it
# was. Without settle(), glibc raises its threshold on the first free and the second block stays in the heap.
_PROBE = textwrap.dedent("""
    import ctypes, sys
    from index import heap
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    def rss():
        return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) // 1024
    if sys.argv[1] == "settle":
        assert heap.settle()
    before = rss()
    for _ in range(2):
        block = libc.malloc(16 << 20)
        ctypes.memset(block, 1, 16 << 20)
        libc.free(block)
    if sys.argv[1] == "trim":
        heap.trim()
    print(rss() - before)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_freed_large_blocks_go_back_to_the_system_once_settled() -> None:
    def grown(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", _PROBE, mode], cwd=REPO, capture_output=True, text=True,
                              check=True)
        return int(done.stdout.strip())

    assert grown("settle") <= 2  # MB: the block was mapped on its own and unmapped when freed
    assert grown("default") >= 12  # glibc's default kept it in the heap
    assert grown("trim") <= 2  # heap.trim(), as the engine calls after a build, handed it back


async def test_the_bot_trims_the_heap_every_few_questions(seed_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Questions reuse the heap's free chunks unevenly; every TRIM_EVERY answers the free pages go back."""
    trims: list[int] = []
    monkeypatch.setattr(worker, "TRIM_EVERY", 3)
    monkeypatch.setattr(heap, "trim", lambda: trims.append(1))
    async with Worker(seed_engine) as answering:
        for _ in range(7):
            answer = await answering.ask("Who was released?")
            assert "three political prisoners" in answer.text
    assert len(trims) == 2
