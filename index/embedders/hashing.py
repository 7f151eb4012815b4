"""A deterministic stand-in embedder for fast plumbing tests; it is never used to judge answer quality."""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from index.articles.text import words


class HashEmbedder:
    """A deterministic bag-of-words embedder for plumbing tests: fast, no model, no meaning."""

    def __init__(self, dimension: int = 64) -> None:
        self._dimension = dimension

    @property
    def name(self) -> str:
        """A name that can never be mistaken for a real model."""
        return f"hash-{self._dimension}"

    @property
    def backend(self) -> str:
        """No model runs at all."""
        return "hash"

    @property
    def dimension(self) -> int:
        """The vector length chosen at construction."""
        return self._dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Sum of one pseudo-random unit vector per word, normalised."""
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row] += np.random.default_rng(seed).standard_normal(self._dimension, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Roughly the word-piece count of English: 1.3 per word."""
        return [int(len(words(t)) * 1.3) + 1 for t in texts]
