"""The embedding backends: the ONNX graph gives torch's vectors, int8 stays close, torch stays out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.articles.text import paragraphs
from index.config import load_config
from index.embedders import Embedder, SentenceEmbedder, make_embedder
from index.embedders.onnx_runtime import OnnxEmbedder, _export, _ModelSpec, cached_files
from index.errors import ConfigError
from tests.support import REPO, SEED


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """The seed article's paragraphs (up to the model's window and past it) and a few questions."""
    text = SEED.read_text("utf-8")
    found = [text[p.start:p.end] for p in paragraphs(text)]
    return found + [" ".join(found), "who was released?", "When did the visit happen?", "x"]


@pytest.fixture(scope="module")
def torch_vectors(texts: list[str]) -> np.ndarray:
    """The reference: sentence-transformers on torch, float32."""
    return SentenceEmbedder().encode(texts)


def test_onnx_gives_the_same_vectors_as_torch(real_embedder: Embedder, texts: list[str],
                                              torch_vectors: np.ndarray) -> None:
    assert real_embedder.backend == "onnx"
    vectors = real_embedder.encode(texts)
    assert vectors.shape == torch_vectors.shape
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert float(np.min(np.sum(vectors * torch_vectors, axis=1))) > 0.9999


@pytest.fixture(scope="module")
def varied_texts(texts: list[str]) -> list[str]:
    """Three dozen texts of every length and kind: the seed's paragraphs, questions, odd scripts and symbols."""
    return texts + [
        "The quick brown fox jumps over the lazy dog.", "WHO WAS RELEASED?", "who   was\treleased\n?",
        "Zürich's Café Ünïcödé naïve résumé", "東京は日本の首都です。", "Москва — столица России.",
        "مرحبا بالعالم", "🙂 emoji 🚀 and symbols ©®™", "3.14159 26535 89793 23846", "$1,234.56 on 2024-01-31",
        "a", "?", "the the the the the the the the", "e-mail: someone@example.com, https://example.org/x?y=1",
        "Q: When did the visit happen? A: In March.", "tHiS iS mIxEd CaSe", "[CLS] [SEP] [PAD] [MASK]",
        "supercalifragilisticexpialidocious antidisestablishmentarianism", "word " * 300,
        "Line one.\n\nLine two after a blank line.", "(parenthesised) {braced} <angled> 'quoted' \"double\"",
    ]


def test_the_graph_written_without_torch_gives_torch_exports_vectors(
        real_embedder: Embedder, varied_texts: list[str], tmp_path: Path) -> None:
    """Indexes built on the old export stay valid: the same vectors, to float32 rounding."""
    config = load_config(environ={}).index
    spec = _ModelSpec.read(config.model)
    assert spec.built_without_torch()
    _export(spec, cached_files(spec, tmp_path)[0])  # torch's export, where the embedder will look for its file
    exported = OnnxEmbedder(config.model, cache_dir=tmp_path).encode(varied_texts)
    np.testing.assert_allclose(real_embedder.encode(varied_texts), exported, rtol=0, atol=1e-5)


def test_the_graph_written_without_torch_gives_sentence_transformers_vectors(
        real_embedder: Embedder, varied_texts: list[str]) -> None:
    np.testing.assert_allclose(real_embedder.encode(varied_texts), SentenceEmbedder().encode(varied_texts),
                               rtol=0, atol=1e-5)


def test_both_onnx_backends_are_built_with_torch_missing(tmp_path: Path) -> None:
    """The slim install: torch, transformers and sentence-transformers cannot even be imported."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "for name in ('torch', 'transformers', 'sentence_transformers'):\n"
        "    sys.modules[name] = None  # import raises ImportError, as where they are not installed\n"
        "from index.config import DEFAULT_MODEL\n"
        "from index.embedders.onnx_runtime import OnnxEmbedder\n"
        f"for quantized in (False, True):\n"
        f"    vectors = OnnxEmbedder(DEFAULT_MODEL, cache_dir=Path({str(tmp_path)!r}), quantized=quantized)"
        ".encode(['who was released?'])\n"
        "    print(vectors.shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(1,", "384)", "(1,", "384)"]
    assert len(list(tmp_path.glob("*-int8.onnx"))) == 1
    assert len(list(tmp_path.glob("*.onnx"))) == 2


def test_a_model_only_torch_can_export_says_so_without_torch(tmp_path: Path) -> None:
    """Weights in pytorch_model.bin, not model.safetensors: the graph cannot be written without torch."""
    folder = _ModelSpec.read(load_config(environ={}).index.model).folder
    model = tmp_path / "bin-only"
    shutil.copytree(folder, model, ignore=shutil.ignore_patterns("model.safetensors"))
    (model / "pytorch_model.bin").write_bytes(b"not read")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "for name in ('torch', 'transformers', 'sentence_transformers'):\n"
        "    sys.modules[name] = None\n"
        "from index.errors import ConfigError\n"
        "from index.embedders.onnx_runtime import OnnxEmbedder\n"
        "try:\n"
        f"    OnnxEmbedder({str(model)!r}, cache_dir=Path({str(tmp_path / 'cache')!r})).encode(['who?'])\n"
        "except ConfigError as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=True)
    assert "needs torch: pip install 'articlebot[torch]'" in done.stdout
    assert not list((tmp_path / "cache").glob("*.onnx"))


def test_the_torch_backend_without_torch_says_how_to_install_it() -> None:
    script = (
        "import sys\n"
        "for name in ('torch', 'transformers', 'sentence_transformers'):\n"
        "    sys.modules[name] = None\n"
        "from index.errors import ConfigError\n"
        "from index.embedders.torch_backend import SentenceEmbedder\n"
        "for use in (lambda e: e.encode(['who?']), lambda e: e.count_tokens(['who?'])):\n"
        "    try:\n"
        "        use(SentenceEmbedder())\n"
        "    except ConfigError as e:\n"
        "        print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=True)
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert all("pip install 'articlebot[torch]'" in line for line in lines)


def test_the_cache_is_keyed_by_the_weights_not_where_they_are(tmp_path: Path) -> None:
    """One model in two virtual environments shares its ONNX file; changed weights never reuse it."""
    folder = _ModelSpec.read(load_config(environ={}).index.model).folder
    here, there = tmp_path / "here", tmp_path / "there"
    shutil.copytree(folder, here)
    shutil.copytree(folder, there)
    assert _ModelSpec.read(str(here)).weights_key() == _ModelSpec.read(str(there)).weights_key()
    with (there / "model.safetensors").open("r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    assert _ModelSpec.read(str(here)).weights_key() != _ModelSpec.read(str(there)).weights_key()


def test_one_text_embeds_as_it_does_in_a_batch(real_embedder: Embedder, texts: list[str]) -> None:
    together = real_embedder.encode(texts)
    for row, text in enumerate(texts[:4]):
        assert float(real_embedder.encode([text])[0] @ together[row]) > 0.9999


def test_int8_stays_close_to_float32(texts: list[str], torch_vectors: np.ndarray) -> None:
    config = load_config(environ={}).index
    quantized = OnnxEmbedder(config.model, cache_dir=config.model_cache_dir, quantized=True)
    assert quantized.backend == "onnx-int8"
    cosines = np.sum(quantized.encode(texts) * torch_vectors, axis=1)
    assert float(np.mean(cosines)) > 0.98
    assert float(np.min(cosines)) > 0.95


def test_token_counts_agree_between_backends(real_embedder: Embedder, texts: list[str]) -> None:
    assert real_embedder.count_tokens(texts) == SentenceEmbedder().count_tokens(texts)
    assert real_embedder.count_tokens([""]) == [0]


def test_the_export_is_made_once_and_reused(tmp_path: Path) -> None:
    config = load_config(environ={}).index
    first = OnnxEmbedder(config.model, cache_dir=tmp_path)
    first.encode(["warm up"])
    exported = sorted(tmp_path.glob("*.onnx"))
    assert len(exported) == 1
    assert not list(tmp_path.glob(".*"))
    stamp = exported[0].stat().st_mtime_ns
    OnnxEmbedder(config.model, cache_dir=tmp_path).encode(["again"])
    assert exported[0].stat().st_mtime_ns == stamp


def test_a_model_the_onnx_path_cannot_run_is_refused_in_plain_words(tmp_path: Path) -> None:
    (tmp_path / "not-a-model").mkdir()
    embedder = OnnxEmbedder(str(tmp_path / "not-a-model"), cache_dir=tmp_path / "cache")
    with pytest.raises(ConfigError, match="index.backend = 'torch'"):
        embedder.encode(["who?"])


def test_answering_with_onnx_never_imports_torch(tmp_path: Path) -> None:
    config = load_config(environ={}, overrides={"index": {"corpus_dir": SEED.parent, "index_dir": tmp_path}})
    from index.engine import Engine

    Engine.from_config(config, make_embedder(config.index)).rebuild()
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from index.config import load_config\n"
        "from index.engine import Engine\n"
        f"config = load_config(environ={{}}, overrides={{'index': {{'corpus_dir': Path({str(SEED.parent)!r}), "
        f"'index_dir': Path({str(tmp_path)!r})}}}})\n"
        "engine = Engine.from_config(config)\n"
        "engine.ensure_index()\n"
        "answer = engine.ask('who was released?')\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'declined': answer.declined,\n"
        "                  'sentence_transformers': 'sentence_transformers' in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"torch": False, "sentence_transformers": False, "declined": False}


def test_bfloat16_stays_close_to_float32(texts: list[str], torch_vectors: np.ndarray) -> None:
    embedder = SentenceEmbedder(bfloat16=True)
    assert embedder.backend == "torch-bf16"
    vectors = embedder.encode(texts)
    assert vectors.dtype == np.float32
    assert float(np.min(np.sum(vectors * torch_vectors, axis=1))) > 0.999


def test_counting_word_pieces_while_encoding_on_the_torch_backend_is_safe(texts: list[str]) -> None:
    """A /reindex counts word pieces of new articles while questions are encoded, on another thread."""
    from concurrent.futures import ThreadPoolExecutor

    embedder = SentenceEmbedder()
    embedder.encode(["warm up"])  # from here on count_tokens uses the model's own tokenizer
    long_texts = [" ".join(texts) * 3] * 8

    def count() -> None:
        for _ in range(30):
            assert all(n > 0 for n in embedder.count_tokens(long_texts))

    def encode() -> None:
        for _ in range(30):
            embedder.encode(texts[:4])

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(count), pool.submit(encode), pool.submit(count), pool.submit(encode)]:
            future.result()  # before the fix: RuntimeError("Already borrowed") from the tokenizer


@pytest.mark.parametrize("backend", ["onnx_runtime", "torch_backend", "hashing"])
def test_each_backend_builds_on_the_base_alone(backend: str) -> None:
    """No import cycle: a backend imports alone, names no other backend, and loads neither torch nor onnxruntime."""
    source = (REPO / "index" / "embedders" / f"{backend}.py").read_text("utf-8")
    others = {"onnx_runtime", "torch_backend", "hashing"} - {backend}
    assert not [o for o in others if f"index.embedders.{o}" in source or f"import {o}" in source]
    code = (f"import sys, index.embedders.{backend}; "
            "print(sorted(m for m in ('torch', 'onnxruntime', 'sentence_transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
