"""Dense search: inner product over unit vectors (cosine similarity) with FAISS."""

from __future__ import annotations

import numpy as np


class DenseIndex:
    """Exact search over the passage vectors; FAISS runs single-threaded for single queries."""

    def __init__(self, vectors: np.ndarray) -> None:
        import faiss

        faiss.omp_set_num_threads(1)  # one query at a time: OpenMP start-up costs more than it saves
        self._index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest passages to one unit query vector: (ids, cosines), best first."""
        k = min(k, len(self))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep]
