"""Synthetic corpora and indexes made from real text, for the benchmarks.

Articles are shuffled sentences of the shared SQuAD articles. For indexes too large to embed on
this machine, a chunk's vector is the normalised mean of its sentences' real embeddings plus a
little noise: it lies where a real passage embedding would, which is what approximate search
must be judged on (uniformly random vectors are every ANN index's worst case and say nothing).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index import ArticleInfo, IndexConfig
from index.articles.chunking import Chunk
from index.articles.text import paragraphs, sentences
from index.store.embedded.generations import SEGMENTS, publish, write_generation
from index.store.embedded.segment import Segment, SegmentArticle, write_segment
from index.store.manifest import Manifest

EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"


@dataclass(frozen=True)
class Material:
    """Real sentences, their embeddings, and real questions with theirs."""

    sentences: list[str]
    sentence_vectors: np.ndarray
    questions: list[str]
    question_vectors: np.ndarray


def real_sentences() -> list[str]:
    """Every sentence of the shared evaluation articles, titles left out."""
    found = []
    for path in sorted(EVAL.glob("*/corpus/*.md")):
        text = path.read_text("utf-8")
        for paragraph in paragraphs(text):
            body = text[paragraph.start:paragraph.end]
            if body.startswith("#"):
                continue
            spans = sentences(text, paragraph)
            found.extend(piece for piece in (text[s.start:s.end] for s in spans) if len(piece) > 20)
    return found


def real_questions() -> list[str]:
    """The shared evaluation questions that have an answer."""
    found = []
    for path in sorted(EVAL.glob("*/questions.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            if not row.get("impossible"):
                found.append(row["question"])
    return found


def material(embedder) -> Material:  # type: ignore[no-untyped-def]
    """Embed the real sentences and questions once."""
    pool = real_sentences()
    questions = real_questions()
    return Material(pool, embedder.encode(pool), questions, embedder.encode(questions))


def write_articles(folder: Path, count: int, pool: list[str], *, seed: int = 0) -> None:
    """`count` Markdown articles of 2-4 paragraphs of 3-6 shuffled real sentences each."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        body = []
        for _ in range(int(rng.integers(2, 5))):
            picks = rng.choice(len(pool), size=int(rng.integers(3, 7)), replace=False)
            body.append(" ".join(pool[i] for i in picks))
        (folder / f"article-{number:06d}.md").write_text(f"# Article {number}\n\n" + "\n\n".join(body) + "\n", "utf-8")


def realistic_vectors(picks: np.ndarray, sentence_vectors: np.ndarray, rng: np.random.Generator,
                      noise: float = 0.25) -> np.ndarray:
    """Per row of sentence numbers: their embeddings' mean plus noise, renormalised."""
    out = np.zeros((len(picks), sentence_vectors.shape[1]), dtype=np.float32)
    for column in range(picks.shape[1]):
        out += sentence_vectors[picks[:, column]]
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    out += rng.standard_normal(out.shape, dtype=np.float32) * (noise / np.sqrt(out.shape[1]))
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def write_index(config: IndexConfig, settings: dict[str, object], model: str, backend: str, chunks: int,
                stuff: Material, *, per_article: int = 10, per_chunk: int = 3, seed: int = 0) -> dict[str, float]:
    """Write and publish an index of `chunks` synthetic chunks directly (no embedding of texts): one segment.

    Returns the seconds spent on each part of building it.
    """
    import time

    rng = np.random.default_rng(seed)
    pool = stuff.sentences
    picks = rng.integers(0, len(pool), size=(chunks, per_chunk))
    timings: dict[str, float] = {}
    began = time.perf_counter()
    vectors = realistic_vectors(picks, stuff.sentence_vectors, rng)
    timings["vectors"] = time.perf_counter() - began

    began = time.perf_counter()
    articles = []
    for n, first in enumerate(range(0, chunks, per_article)):
        source = f"article-{n:06d}.md"
        texts = [" ".join(pool[s] for s in picks[c]) for c in range(first, min(chunks, first + per_article))]
        info = ArticleInfo(source, f"Article {n}", None, None, None, hashlib.sha256(str(n).encode()).hexdigest(),
                           len(texts))
        articles.append(SegmentArticle(info, [Chunk(source, 0, len(t), p, t) for p, t in enumerate(texts)],
                                       vectors[first:first + len(texts)]))
    # The segment: its postings, its graph above approximate_above passages, its files.
    name = write_segment(config.index_dir / SEGMENTS, articles, int(vectors.shape[1]),
                         approximate_above=config.approximate_above, ef_search=config.hnsw_ef_search)
    timings["segment"] = time.perf_counter() - began
    began = time.perf_counter()
    manifest = Manifest(model=model, backend=backend, dimension=int(vectors.shape[1]), settings=dict(settings),
                        built_at="synthetic", versions={}, articles=(), skipped=(), chunks=chunks)
    folder, _ = write_generation(config.index_dir, manifest, [(Segment(config.index_dir / SEGMENTS / name), ())])
    publish(config.index_dir, folder)
    timings["write"] = time.perf_counter() - began
    return timings


class SyntheticEmbedder:
    """Carries the real model's name and tokenizer but returns realistic synthetic vectors.

    Used only to lay down the *previous* index of the no-change reindex benchmark quickly; the
    timed reindex runs with the real model (and must not load it).
    """

    def __init__(self, real, sentence_vectors: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        self._real = real
        self._vectors = sentence_vectors
        self._rng = np.random.default_rng(1)

    @property
    def name(self) -> str:
        """The real model's name, so the index counts as built by it."""
        return str(self._real.name)

    @property
    def backend(self) -> str:
        """The real model's backend, likewise."""
        return str(self._real.backend)

    @property
    def dimension(self) -> int:
        """The real model's dimension."""
        return int(self._vectors.shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Synthetic vectors near real sentence embeddings."""
        picks = self._rng.integers(0, len(self._vectors), size=(len(texts), 3))
        return realistic_vectors(picks, self._vectors, self._rng)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """The real tokenizer's counts."""
        return list(self._real.count_tokens(texts))
