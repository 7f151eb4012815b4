"""The same sentence-transformers model, run by onnxruntime instead of torch.

A mean-pooled BERT model (all-MiniLM-L6-v2 is one) becomes an ONNX file once, kept in the model
cache keyed by the weights it came from: written straight from its safetensors weights with the
`onnx` package (index/embedders/bert_graph.py), so neither building nor answering needs torch. A model that
builder cannot read is exported with torch's exporter instead, when the [torch] extra is installed.
After that, answering needs only `tokenizers`, `onnxruntime` and numpy: no torch import (seconds
saved at start-up), a short query in a few milliseconds instead of about twelve, and passages about
1.3x faster, with vectors equal to torch's to a cosine of 0.9999999. The `onnx-int8` variant quantises
the weights to 8 bits: faster again, at a cosine of about 0.993 (see benchmarks/RESULTS.md)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from index.embedders.base import offline, resolve_model_path
from index.embedders.bert_graph import BUILDER_VERSION, build_bert_onnx, can_build
from index.errors import ConfigError

log = logging.getLogger(__name__)
# Bump when torch's export changes, so a cached file from an older export is never reused.
_EXPORT_VERSION = 2


class OnnxEmbedder:
    """A mean-pooled sentence-transformers model run by onnxruntime; exported on first use."""

    def __init__(self, model: str, *, cache_dir: Path, quantized: bool = False, batch_size: int = 32) -> None:
        self._model_name = model
        self._cache_dir = cache_dir
        self._quantized = quantized
        self._batch_size = batch_size
        self._session: Any = None
        self._tokenizer: Any = None
        self._counter: Any = None
        self._spec: _ModelSpec | None = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._run_options: Any = None

    @property
    def name(self) -> str:
        """The configured model name."""
        return self._model_name

    @property
    def backend(self) -> str:
        """How the model is run, as recorded in the index manifest."""
        return "onnx-int8" if self._quantized else "onnx"

    @property
    def dimension(self) -> int:
        """The model's output dimension (reads the model's configuration only)."""
        return self._model_spec().dimension

    @property
    def max_tokens(self) -> int:
        """How many word pieces the model reads, special tokens excluded."""
        return self._model_spec().max_seq_length - 2

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as unit vectors, in batches of similar length, one batch at a time.

        The lock is taken per batch, so a question's one-text batch slips in between the batches
        of a long rebuild instead of waiting for all of it.
        """
        session, tokenizer = self._load()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        output = session.get_outputs()[0].name  # the token vectors
        first = 0
        while first < len(order):
            width = len(encodings[order[first]].ids)
            rows = order[first:first + max(1, min(self._batch_size, TOKENS_PER_BATCH // width))]
            first += len(rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            # The token vectors are written into a buffer of ours, not one from onnxruntime's memory arena:
            # an output in the arena would still be held when the run ends, pinning the region under it.
            hidden = np.empty((len(rows), width, self.dimension), dtype=np.float32)
            binding = session.io_binding()
            binding.bind_cpu_input("input_ids", ids)
            binding.bind_cpu_input("attention_mask", mask)
            binding.bind_cpu_input("token_type_ids", np.zeros_like(ids))
            binding.bind_output(output, "cpu", 0, np.float32, list(hidden.shape),
                                hidden.ctypes.data)
            with self._encode_lock:
                session.run_with_iobinding(binding, self._run_options)
            out[rows] = _mean_pooled(hidden, mask)
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, special tokens excluded (loads only the tokenizer)."""
        if not texts:
            return []
        return [len(e.ids) for e in self._load_counter().encode_batch(list(texts), add_special_tokens=False)]

    def loaded(self) -> bool:
        """Whether the model is already in memory."""
        return self._session is not None

    def _model_spec(self) -> _ModelSpec:
        if self._spec is None:
            self._spec = _ModelSpec.read(self._model_name)
        return self._spec

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                spec = self._model_spec()
                path = exported_model(spec, self._cache_dir, quantized=self._quantized)
                self._tokenizer = spec.tokenizer(truncate=True)
                self._session = cpu_session(path)
                self._run_options = handing_back()
            return self._session, self._tokenizer

    def _load_counter(self) -> Any:
        with self._lock:
            if self._counter is None:
                self._counter = self._model_spec().tokenizer(truncate=False)
            return self._counter


def cpu_session(path: Path) -> Any:
    """An onnxruntime session for a model file, sized to share two cores with FAISS and BM25."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    # Spinning threads would compete with FAISS and BM25 for the same two cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def handing_back() -> Any:
    """Run options that hand the arena's free regions back after every run.

    Without them the arena keeps every region it ever grew: a question whose batch found no free
    room took a new 32 MB region and kept it until a larger batch's run happened to free it, so a
    bot's resident size stepped by ~30 MB and back as questions came (benchmarks/soak.py, issue 15).
    Handing them back costs a question nothing measurable (one question embedded 200 times: 4.6-5.8
    ms either way).
    """
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


def _mean_pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average of the token vectors under the mask, normalised to unit length."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


# Word pieces per batch (rows x the longest row), within the configured batch size. onnxruntime's
# arena grows to the largest batch it runs, in regions that double (4, 8, 16, 32 MB...), and the
# attention's memory grows with the square of the row: 32 passages of 256 word pieces needed ~250 MB
# for one run. At 1,024, a run of the longest passages takes 4 rows and a few tens of MB, and a
# build embeds ~15 % faster on 2 cores (smaller attention matrices stay in cache; 189 passages of
# news-dev: 9.5 s at 8,192, 8.1 s at 1,024, the same vectors).
TOKENS_PER_BATCH = 1024


class _ModelSpec:
    """What the ONNX path needs to know about a sentence-transformers model folder."""

    def __init__(self, name: str, folder: Path, dimension: int, max_seq_length: int) -> None:
        self.name = name
        self.folder = folder
        self.dimension = dimension
        self.max_seq_length = max_seq_length

    @classmethod
    def read(cls, name: str) -> _ModelSpec:
        """Read and check the model's folder; only mean-pooled transformer models can run here."""
        folder = Path(resolve_model_path(name))
        unsupported = (f"index.model = {name!r} cannot run with index.backend = 'onnx' ({{}}); "
                       "set index.backend = 'torch'")
        try:
            modules = json.loads((folder / "modules.json").read_text())
            kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
            pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
            pooling = json.loads((folder / pooling_dir / "config.json").read_text())
            bert = json.loads((folder / "sentence_bert_config.json").read_text())
        except (OSError, ValueError, KeyError, StopIteration) as e:
            raise ConfigError(unsupported.format(f"not a sentence-transformers folder with files: {e}")) from None
        if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
            raise ConfigError(unsupported.format(f"its modules are {kinds}"))
        if not pooling.get("pooling_mode_mean_tokens") or sum(bool(v) for k, v in pooling.items()
                                                              if k.startswith("pooling_mode")) != 1:
            raise ConfigError(unsupported.format("it is not mean-pooled"))
        if not (folder / "tokenizer.json").is_file():
            raise ConfigError(unsupported.format("it has no tokenizer.json"))
        return cls(name, folder, int(pooling["word_embedding_dimension"]), int(bert["max_seq_length"]))

    def tokenizer(self, *, truncate: bool) -> Any:
        """The model's fast tokenizer, without padding; truncated to what the model reads if asked."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tokenizer.no_padding()
        if truncate:
            tokenizer.enable_truncation(self.max_seq_length)
        else:
            tokenizer.no_truncation()
        return tokenizer

    def built_without_torch(self) -> bool:
        """Whether index/embedders/bert_graph.py can write this model's graph (else torch's exporter is needed)."""
        return can_build(self.folder)

    def weights_key(self) -> str:
        """A short digest naming these exact weights and the code that turns them into ONNX.

        The weights' contents, not their path: one model installed in two virtual environments
        shares one cached file, and a file changed in place is never mistaken for the old one.
        """
        route = f"bert_onnx-{BUILDER_VERSION}" if self.built_without_torch() else f"torch-{_EXPORT_VERSION}"
        weights = sorted(p for p in self.folder.iterdir() if p.suffix in (".safetensors", ".bin"))
        stamp = [route] + [f"{p.name}:{_sha256(p)}" for p in weights]
        return hashlib.blake2b("\n".join(stamp).encode(), digest_size=8).hexdigest()


_digests: dict[tuple[str, int, int], str] = {}
_digests_lock = threading.Lock()


def _sha256(path: Path) -> str:
    """The file's SHA-256, read once per process (90 MB: about 0.15 s) while its size and time hold."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _digests_lock:
        if key not in _digests:
            with path.open("rb") as f:
                _digests[key] = hashlib.file_digest(f, "sha256").hexdigest()
        return _digests[key]


def cached_files(spec: _ModelSpec, cache_dir: Path) -> tuple[Path, Path]:
    """Where the float32 and the 8-bit ONNX files for these weights are kept in `cache_dir`."""
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in spec.name)[-60:]
    base = cache_dir / f"{slug}-{spec.weights_key()}"
    return base.with_suffix(".onnx"), Path(f"{base}-int8.onnx")


def exported_model(spec: _ModelSpec, cache_dir: Path, *, quantized: bool) -> Path:
    """The ONNX file for these weights in `cache_dir`, built (and quantised) the first time."""
    fp32, int8 = cached_files(spec, cache_dir)
    if not fp32.is_file():
        if spec.built_without_torch():
            log.info("writing %s as ONNX (once, into %s)", spec.name, cache_dir)
            _atomic(fp32, lambda tmp: build_bert_onnx(spec.folder, tmp))
        else:
            log.info("exporting %s to ONNX with torch (once, into %s)", spec.name, cache_dir)
            _atomic(fp32, lambda tmp: _export(spec, tmp))
    if not quantized:
        return fp32
    if not int8.is_file():
        log.info("quantising %s to 8 bits (once)", spec.name)
        _atomic(int8, lambda tmp: _quantize(fp32, tmp))
    return int8


def _atomic(target: Path, write: Any) -> None:
    """Write a file through a temporary name beside it, so no reader ever sees half of it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        write(Path(name))
        os.chmod(name, 0o644)
        os.replace(name, target)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def _export(spec: _ModelSpec, target: Path) -> None:
    """Trace the transformer (not the pooling) into ONNX with dynamic batch and sequence axes, on torch.

    Only for models index/embedders/bert_graph.py cannot read; the default model never comes here.
    """
    offline()
    try:
        import torch
        from transformers import AutoModel
    except ImportError:
        raise ConfigError(
            f"index.model = {spec.name!r} is not a BERT model with model.safetensors, so turning it into ONNX "
            "needs torch: pip install 'articlebot[torch]'"
        ) from None

    # Eager attention traces the padding mask as a computation; the fused kernels may specialise it away.
    transformer = AutoModel.from_pretrained(str(spec.folder), local_files_only=True,
                                            attn_implementation="eager").eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    mask[1, 5:] = 0
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHiddenState(), (ids, mask, torch.zeros_like(ids)), str(target),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "last_hidden_state": axes},
                          opset_version=17, dynamo=False)


def _quantize(source: Path, target: Path) -> None:
    """Dynamic 8-bit quantisation of the weights, one scale per output channel (activations stay float).

    One scale per whole tensor loses too much: cosine to float32 about 0.96 against 0.993 per channel.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # It logs advice about pre-processing to the root logger; the advice does not apply here.
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QUInt8, per_channel=True)
    finally:
        logging.disable(previous)
