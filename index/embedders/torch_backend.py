"""The sentence-transformers backend: the model on torch (float32, or bfloat16 for faster builds)."""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from index.config import DEFAULT_MODEL
from index.embedders.base import offline, resolve_model_path
from index.errors import ConfigError


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
                SentenceTransformer = _torch_extra("sentence_transformers").SentenceTransformer

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
                AutoTokenizer = _torch_extra("transformers").AutoTokenizer

                path = resolve_model_path(self._model_name)
                try:
                    self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
                except (OSError, ValueError) as e:
                    raise ConfigError(
                        f"index.model = {self._model_name!r}: no tokenizer in local files ({e})") from None
            return self._tokenizer


def _torch_extra(module: str) -> Any:
    """A module of the [torch] extra, or a message saying how to install it (the runtime alone has no torch)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            "index.backend = 'torch' and 'torch-bf16' need torch and sentence-transformers: "
            "pip install 'articlebot[torch]', or set index.backend = 'onnx'"
        ) from None
