"""Lexical search: BM25 over stemmed words, indexed by bm25s.

bm25s builds the index: every (term, passage) BM25 weight computed once, stored by term. A query's
scores are the sums of its terms' weights per passage. bm25s sums them with `np.add.at`, term by
term, unless numba compiles its loop; at a million passages that took 200 ms for a question of
common words. `search` sums the same weights with one `np.bincount` (25 ms there), to the same
scores.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

import bm25s
import numpy as np
import Stemmer

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
# bm25s' tokenizer caches the stem of every word it is given, even with update_vocab=False, so a
# long-running bot's questions would grow it without end. Past this many words beyond the index's
# own vocabulary the cache is reset to that vocabulary (a cache miss only costs a stemmer call).
_STEM_CACHE_SLACK = 20_000
# BM25's term-frequency saturation and length normalisation (bm25s' defaults, its Lucene variant).
# index/store/postgres/snapshot.py computes the same scores from PostgreSQL's postings with these two.
K1 = 1.5
B = 0.75


def new_tokenizer() -> bm25s.tokenization.Tokenizer:
    """A fresh BM25 tokenizer: English stemming and stop words, as every index uses."""
    return bm25s.tokenization.Tokenizer(stemmer=Stemmer.Stemmer("english"), stopwords="en")


def passage_text(title: str, text: str) -> str:
    """What a passage is indexed under: its article's title, then its text."""
    return f"{title}\n{text}"


def stems(texts: Sequence[str]) -> list[list[str]]:
    """Each text's terms as LexicalIndex indexes them: lower-cased words, stop words out, stemmed, in order.

    A text without any such word is `[""]`: bm25s indexes it as one empty term, so it is one term long.
    """
    tokenizer = new_tokenizer()
    ids = tokenizer.tokenize(list(texts), return_as="ids", update_vocab=True, show_progress=False)
    stem_of = {sid: stem for stem, sid in tokenizer.stem_to_sid.items()}
    return [[stem_of[i] for i in row] for row in ids]


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
        # bm25s' default (Lucene) variant gives a passage nothing for a term it lacks, so a query's
        # score is exactly the sum of its terms' stored weights.
        assert retriever.nonoccurrence_array is None, "only BM25 variants without a non-occurrence score"
        self._weights = np.asarray(retriever.scores["data"])
        self._passages = np.asarray(retriever.scores["indices"])
        self._starts = indptr
        self._indexed_stems = dict(tokenizer.word_to_stem)

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        """Index passages; ids are positions in `texts`."""
        tokenizer = new_tokenizer()
        ids = tokenizer.tokenize(list(texts), return_as="ids", update_vocab=True, show_progress=False)
        retriever = bm25s.BM25(k1=K1, b=B)
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
        tokenizer = new_tokenizer()
        tokenizer.load_vocab(str(folder))
        return cls(retriever, tokenizer)

    def terms(self, texts: Sequence[str]) -> list[list[int]]:
        """Term ids of each text (stemmed, stop words out); words the index never saw are dropped."""
        ids = self._tokenizer.tokenize(list(texts), return_as="ids", update_vocab=False, show_progress=False)
        self._bound_cache()
        return [[t for t in row if t != 0] for row in ids]

    def _bound_cache(self) -> None:
        if len(self._tokenizer.word_to_stem) > len(self._indexed_stems) + _STEM_CACHE_SLACK:
            self._tokenizer.word_to_stem = dict(self._indexed_stems)

    def idf(self, term: int) -> float:
        """How informative a term is; unknown terms count as the rarest."""
        if 0 <= term < len(self._idf):
            return float(self._idf[term])
        return math.log(1.0 + self._documents)

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best passages for a query: (ids, BM25 scores), best first; zero scores dropped."""
        (terms,) = self.terms([query])
        if not terms or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        runs = [slice(self._starts[t], self._starts[t + 1]) for t in terms]
        passages = np.concatenate([self._passages[run] for run in runs])
        weights = np.concatenate([self._weights[run] for run in runs])
        scores = np.bincount(passages, weights=weights, minlength=self._documents)
        return best_passages(scores, k)

    def unknown_words(self, text: str) -> int:
        """How many informative words of a text the index never saw (a question about other things has many)."""
        tokens = [w for w in self._tokenizer.splitter(text.lower()) if w not in self._tokenizer.stopwords]
        if not tokens:
            return 0
        ids = self._tokenizer.tokenize(tokens, return_as="ids", update_vocab=False, show_progress=False)
        self._bound_cache()
        return sum(1 for row in ids if not any(t != 0 for t in row))


def best_passages(scores: np.ndarray, k: int, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best of passages' summed scores: (ids, scores as float32), best first, ties by id; zeros dropped.

    `ids[i]` is the passage scoring `scores[i]` (ascending; the positions themselves when None).
    Every passage scoring at least the k-th best is kept, then the first k of them by score and id,
    so which of tied passages make the cut does not depend on how they were partitioned.
    """
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    # Partition the negated scores: with many passages scoring 0, selecting the largest k directly
    # degrades on the ties.
    least = -np.partition(-scores, k - 1)[k - 1]
    best = np.flatnonzero((scores >= least) & (scores > 0))
    best = best[np.argsort(-scores[best], kind="stable")][:k]  # positions ascend, and so do ids
    chosen = best if ids is None else ids[best]
    return chosen.astype(np.int64), scores[best].astype(np.float32)


class Postings(NamedTuple):
    """Postings of one term: passage ids, the term's frequency in each, each passage's length in terms."""

    passages: np.ndarray  # int64
    tfs: np.ndarray
    lengths: np.ndarray


def top_bm25(postings: Mapping[int, Postings], query: Mapping[int, tuple[int, float]], average_length: float,
             k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best passages for a query: (ids, BM25 scores), best first, ties by id; zero scores dropped.

    `postings` maps each term to its postings; `query` each term to (times asked, idf). A posting's
    weight is computed as bm25s stores it (the Lucene variant with index/store/lexical.py's K1 and B,
    rounded to 32 bits) and a passage's score is the sum of its weights in 64 bits, a term asked
    twice counting twice: LexicalIndex.search's scores.
    """
    found = [(t, lists) for t, lists in postings.items() if len(lists.passages)]
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    parts = []
    for term, (_, tf, length) in found:
        times, idf = query[term]
        tfs, lengths = tf.astype(np.intp), length.astype(np.intp)
        columns = int(lengths.max()) + 1
        if (int(tfs.max()) + 1) * columns <= len(tfs):
            # Few distinct (tf, length) pairs among many postings: each pair's weight is worked out
            # once, by the same expression, and looked up (p95 25 ms instead of 29 at 1M passages).
            pairs = np.arange(int(tfs.max()) + 1)[:, None], np.arange(columns)[None, :]
            parts.append(_weights(*pairs, idf, average_length, times).ravel()[tfs * columns + lengths])
        else:
            parts.append(_weights(tfs, lengths, idf, average_length, times))
    passages, weights = np.concatenate([lists.passages for _, lists in found]), np.concatenate(parts)
    lowest, highest = int(passages.min()), int(passages.max())
    if highest - lowest < 4 * len(passages) + 65_536:
        # A generation's passage ids mostly run on from one another: sum by offset from the lowest,
        # without sorting half a million ids (what np.unique would, at 30 ms).
        best, scores = best_passages(np.bincount(passages - lowest, weights=weights), k)
        return best + lowest, scores  # positions ascend with ids, so ties still go to the lower id
    ids, position = np.unique(passages, return_inverse=True)
    return best_passages(np.bincount(position, weights=weights, minlength=len(ids)), k, ids)


def _weights(tf: np.ndarray, length: np.ndarray, idf: float, average_length: float, times: int) -> np.ndarray:
    """BM25 weights of postings as bm25s stores them (rounded to 32 bits), times the term was asked, in 64 bits."""
    frequency = tf.astype(np.float64)
    norm = K1 * ((1 - B) + B * length.astype(np.float64) / average_length)
    weight = (float(np.float32(idf)) * frequency / (norm + frequency)).astype(np.float32)
    return weight.astype(np.float64) * times
