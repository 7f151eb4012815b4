"""What answering a question reads of an index: one small interface that both stores' snapshots offer.

`retrieval.search` and `answer.compose` take a `SearchableIndex`: the embedded store's `Snapshot`
(index/store/embedded/generations.py, arrays in memory) or the PostgreSQL store's `PgSnapshot`
(index/store/postgres/snapshot.py, one read transaction). The protocols are structural: neither class
names them, and mypy checks that both fit.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from index.articles.chunking import Chunk
from index.store.manifest import BuiltWith, Manifest
from index.types import ArticleInfo


class DenseSearch(Protocol):
    """Nearest passages by meaning."""

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest passages to one unit query vector: (ids, cosines), best first."""
        ...


class LexicalSearch(Protocol):
    """BM25 over the passages, and the term statistics that sentence scoring reuses."""

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best passages for a query: (ids, BM25 scores), best first."""
        ...

    def terms(self, texts: Sequence[str]) -> list[list[int]]:
        """Term ids of each text; words the index never saw are dropped."""
        ...

    def idf(self, term: int) -> float:
        """How informative a term is; unknown terms count as the rarest."""
        ...

    def unknown_words(self, text: str) -> int:
        """How many informative words of a text the index never saw."""
        ...


class Vectors(Protocol):
    """Unit passage vectors by chunk id: `vectors[id]` one, `vectors[ids]` a matrix."""

    def __getitem__(self, ids: Any, /) -> Any: ...


class SearchableIndex(Protocol):
    """One corpus's index as a question reads it: searches, vectors, passages and their articles."""

    @property
    def dense(self) -> DenseSearch:
        """The vector index."""
        ...

    @property
    def lexical(self) -> LexicalSearch:
        """The BM25 index."""
        ...

    @property
    def vectors(self) -> Vectors:
        """The passages' unit vectors."""
        ...

    def __len__(self) -> int: ...

    def chunk(self, chunk_id: int) -> Chunk:
        """A passage by id, its text included."""
        ...

    def article(self, chunk_id: int) -> ArticleInfo:
        """The article a passage belongs to."""
        ...


class StoreSnapshot(SearchableIndex, Protocol):
    """One corpus's index as a store serves it: what a question searches, and what it was built from."""

    @property
    def manifest(self) -> Manifest:
        """What the index holds and was built with (with the database: one query, made on first use)."""
        ...

    @property
    def built_with(self) -> BuiltWith:
        """The model, backend and settings it was built with (cheap: no article list read)."""
        ...

    @property
    def extracted(self) -> Mapping[str, str]:
        """The extracted text of HTML and PDF articles, by source: what their offsets refer to."""
        ...

