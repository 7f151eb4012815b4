"""Lexical search: BM25 over stemmed words, through bm25s."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Sequence

import bm25s
import numpy as np
import Stemmer

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG


def _tokenizer() -> bm25s.tokenization.Tokenizer:
    return bm25s.tokenization.Tokenizer(stemmer=Stemmer.Stemmer("english"), stopwords="en")


class LexicalIndex:
    """A BM25 index of passages, with the term statistics that sentence scoring reuses."""

    def __init__(self, retriever: bm25s.BM25, tokenizer: bm25s.tokenization.Tokenizer) -> None:
        self._retriever = retriever
        self._tokenizer = tokenizer
        indptr = np.asarray(retriever.scores["indptr"])
        documents = max(1, int(retriever.scores["num_docs"]))
        frequency = np.diff(indptr).astype(np.float64)
        # The same smoothed idf as BM25's, per term id: rare words count for more.
        self._idf = np.log(1.0 + (documents - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)
        self._documents = documents

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        """Index passages; ids are positions in `texts`."""
        tokenizer = _tokenizer()
        ids = tokenizer.tokenize(list(texts), return_as="ids", update_vocab=True, show_progress=False)
        retriever = bm25s.BM25()
        retriever.index(ids, show_progress=False)
        return cls(retriever, tokenizer)

    def save(self, folder: Path) -> None:
        """Write the index and its vocabulary into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        self._retriever.save(str(folder))
        self._tokenizer.save_vocab(str(folder))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read an index written by `save`."""
        retriever = bm25s.BM25.load(str(folder), mmap=False)
        tokenizer = _tokenizer()
        tokenizer.load_vocab(str(folder))
        return cls(retriever, tokenizer)

    def terms(self, texts: Sequence[str]) -> list[list[int]]:
        """Term ids of each text (stemmed, stop words out); words the index never saw are dropped."""
        ids = self._tokenizer.tokenize(list(texts), return_as="ids", update_vocab=False, show_progress=False)
        return [[t for t in row if t != 0] for row in ids]

    def idf(self, term: int) -> float:
        """How informative a term is; unknown terms count as the rarest."""
        if 0 <= term < len(self._idf):
            return float(self._idf[term])
        return math.log(1.0 + self._documents)

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best passages for a query: (ids, BM25 scores), best first; zero scores dropped."""
        (terms,) = self.terms([query])
        if not terms:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        k = min(k, self._documents)
        ids, scores = self._retriever.retrieve([terms], k=k, show_progress=False, n_threads=1)
        ids, scores = np.asarray(ids[0]), np.asarray(scores[0], dtype=np.float32)
        keep = scores > 0
        return ids[keep].astype(np.int64), scores[keep]

    def unknown_words(self, text: str) -> int:
        """How many informative words of a text the index never saw (a question about other things has many)."""
        tokens = [w for w in self._tokenizer.splitter(text.lower()) if w not in self._tokenizer.stopwords]
        if not tokens:
            return 0
        ids = self._tokenizer.tokenize(tokens, return_as="ids", update_vocab=False, show_progress=False)
        return sum(1 for row in ids if not any(t != 0 for t in row))
