"""Dense search: inner product over unit vectors (cosine similarity) with FAISS.

Small indexes are searched exactly (`IndexFlatIP`); above a configurable number of passages an
HNSW graph is built instead, because exact search grows linearly (about 7 ms per 100k passages on
one core) while HNSW stays near a millisecond at a million with recall@10 above 0.95 on text
embeddings (see benchmarks/RESULTS.md). The graph keeps its own copy of the vectors in 8 bits
(`IndexHNSWSQ`): a quarter of the memory of float32 copies, and the ranking barely moves because
retrieval re-scores every candidate with its exact cosine from `vectors.npy` (on 200k MiniLM-like
vectors, 99.3 % of the true top 10 were among the 50 candidates, as with float32 copies; the index
file shrank from 361 to 131 MB and built faster). The exact index is rebuilt at load from
`vectors.npy`; the graph is expensive to build, so it is saved in the generation as `dense.faiss`
and read once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

GRAPH_FILE = "dense.faiss"
# Neighbours per HNSW node and build-time beam width: recall 0.95+ at efSearch 64 on MiniLM-like
# vectors, at about 1.2 kB of graph per passage on top of the vectors.
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 40
# Vectors the 8-bit quantiser learns its per-dimension ranges from (a sample is as good as all).
QUANTISER_SAMPLE = 100_000


def _faiss() -> Any:
    import faiss

    faiss.omp_set_num_threads(1)  # one query at a time: OpenMP start-up costs more than it saves
    return faiss


class DenseIndex:
    """Nearest passages to a query vector: exact below a size threshold, HNSW above it."""

    def __init__(self, index: Any, vectors: Any = None) -> None:
        self._index = index
        self._vectors = vectors  # the float32 originals, to give exact cosines for an 8-bit graph's hits

    @classmethod
    def exact(cls, vectors: np.ndarray) -> DenseIndex:
        """An exact inner-product index over `vectors` (copied into FAISS)."""
        faiss = _faiss()
        index = faiss.IndexFlatIP(int(vectors.shape[1]))
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    @classmethod
    def build(cls, vectors: np.ndarray, *, approximate_above: int, ef_search: int = 64,
              threads: int | None = None) -> DenseIndex:
        """The index for `vectors`: exact when there are at most `approximate_above` of them, else HNSW."""
        if len(vectors) <= approximate_above:
            return cls.exact(vectors)
        faiss = _faiss()
        index = faiss.IndexHNSWSQ(int(vectors.shape[1]), faiss.ScalarQuantizer.QT_8bit, HNSW_NEIGHBOURS,
                                  faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = ef_search
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        sample = np.random.default_rng(0).choice(len(vectors), min(len(vectors), QUANTISER_SAMPLE), replace=False)
        # Building is a batch job: let it use every core, then go back to one thread for queries.
        faiss.omp_set_num_threads(threads or faiss.omp_get_max_threads() or 1)
        try:
            index.train(vectors[np.sort(sample)])
            index.add(vectors)
        finally:
            faiss.omp_set_num_threads(1)
        return cls(index, vectors)

    @property
    def approximate(self) -> bool:
        """Whether searches may miss a true neighbour (HNSW) or are exact."""
        return not isinstance(self._index, _faiss().IndexFlat)

    def save(self, folder: Path) -> None:
        """Write the graph into `folder`; an exact index writes nothing (it is rebuilt from vectors.npy)."""
        if self.approximate:
            _faiss().write_index(self._index, str(folder / GRAPH_FILE))

    @classmethod
    def load(cls, folder: Path, vectors: Any, *, ef_search: int | None = None) -> DenseIndex:
        """The index saved in `folder` by `save`, or an exact one over `vectors` when none was saved.

        `vectors`: an array, or anything giving rows by index (index/store/embedded/segment.py `FileArray`).
        """
        path = folder / GRAPH_FILE
        if not path.exists():
            return cls.exact(vectors)
        faiss = _faiss()
        # The graph's 8-bit codes are mapped in place (shared by every process serving the index);
        # its neighbour lists are read. Not every index type can be mapped; reading it whole always works.
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:
            index = faiss.read_index(str(path))
        if index.ntotal != len(vectors) or index.d != vectors.shape[1]:
            raise ValueError(f"{GRAPH_FILE} holds {index.ntotal} vectors of {index.d}, "
                             f"vectors.npy {vectors.shape[0]} of {vectors.shape[1]}")
        if ef_search is not None:
            faiss.downcast_index(index).hnsw.efSearch = ef_search
        return cls(index, vectors)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def _ef_search(self) -> int:
        return int(_faiss().downcast_index(self._index).hnsw.efSearch)

    def search(self, query: np.ndarray, k: int, *, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest passages to one unit query vector: (ids, cosines), best first.

        `allowed` (a bitmap of the passages to consider, little-endian bits as np.packbits writes
        them) filters passages out inside the search, so k allowed ones are still found.
        """
        k = min(k, len(self))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = None
        if allowed is not None:
            faiss = _faiss()
            selector = faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(allowed))
            params = (faiss.SearchParametersHNSW(sel=selector, efSearch=self._ef_search()) if self.approximate
                      else faiss.SearchParameters(sel=selector))
        scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k,
                                         params=params)
        keep = ids[0] >= 0
        if self._vectors is None:
            return ids[0][keep].astype(np.int64), scores[0][keep]
        found = np.sort(ids[0][keep].astype(np.int64))  # ascending: memory-mapped rows read in order
        exact = np.asarray(self._vectors[found]) @ query.astype(np.float32)
        order = np.argsort(-exact, kind="stable")
        return found[order], exact[order]
