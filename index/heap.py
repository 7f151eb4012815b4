"""The C heap of a long-running process: few arenas, and large blocks handed back when freed.

glibc's malloc gives each new thread an arena of its own (up to eight per core) and, once a large
block has been freed, raises the size above which blocks are mapped on their own, so that later
large blocks come from the arenas and stay there when freed. A bot that answers in a pool of
threads, each question allocating a few MB of arrays of varying size, so grows by steps whenever
a question needs more than any before it (benchmarks/soak.py found it; one engine answering the
soak's question mix: 436 -> 560 MB over 1,500 questions). Two arenas and a fixed 1 MB threshold
hand large blocks back when they are freed; the models' own buffers stay in onnxruntime's arenas,
which both models hand back after every run (index/embedders/onnx_runtime.py
`handing_back`, used by index/answering/reader.py too).
All three together (measured when the reader's arena was still kept at full size): 404 -> 409 MB over the
same questions (1,200), flat after the first 200. Without
onnxruntime's arenas it is flatter still (286 -> 295 MB) but the reader then costs ~60 % more CPU.

Only the long-running bot calls settle(); the engine calls trim() after each build and generation
swap. glibc only (elsewhere both do nothing).
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 1 << 20


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def settle() -> bool:
    """Use at most ARENAS arenas, and map blocks of MMAP_THRESHOLD bytes or more on their own; whether it could."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    done = bool(mallopt(_M_ARENA_MAX, ARENAS)) and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not done:
        log.debug("could not set the C heap's arenas and mapping threshold")
    return done


def trim() -> None:
    """Give the C heap's free pages back to the system.

    A build, or a new generation loaded beside the old one, frees tens of MB of arrays and
    tokenizer buffers; glibc keeps such freed memory in its arenas, so a bot's resident size would
    keep each reindex's peak for good. malloc_trim hands it back (a few ms).
    """
    malloc_trim = getattr(_libc(), "malloc_trim", None)
    if malloc_trim is not None:
        malloc_trim(0)
