"""The dense index: exact below the size threshold, HNSW above it, saved in the generation and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.config import IndexConfig
from index.errors import ConfigError
from index.store.embedded.dense import GRAPH_FILE, DenseIndex


def _text_like_vectors(n: int, dimension: int = 64, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors, as text embeddings are (topics), not uniform noise."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((40, dimension)).astype(np.float32)
    vectors = topics[rng.integers(0, len(topics), n)] + 0.5 * rng.standard_normal((n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_small_index_is_exact_and_writes_no_file(tmp_path: Path) -> None:
    vectors = _text_like_vectors(500)
    index = DenseIndex.build(vectors, approximate_above=1000)
    assert not index.approximate
    index.save(tmp_path)
    assert not (tmp_path / GRAPH_FILE).exists()
    ids, scores = DenseIndex.load(tmp_path, vectors).search(vectors[7], 3)
    assert ids[0] == 7
    assert scores[0] == pytest.approx(1.0, abs=1e-5)


def test_large_index_is_hnsw_agrees_with_exact_and_survives_save_and_load(tmp_path: Path) -> None:
    vectors = _text_like_vectors(3000)
    rng = np.random.default_rng(1)
    # Questions lie near passages that answer them; random directions would test nothing real.
    queries = vectors[rng.integers(0, len(vectors), 50)] + 0.1 * rng.standard_normal((50, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = DenseIndex.build(vectors, approximate_above=len(vectors))
    graph = DenseIndex.build(vectors, approximate_above=1000, ef_search=64)
    assert graph.approximate
    assert len(graph) == len(vectors)
    graph.save(tmp_path)
    loaded = DenseIndex.load(tmp_path, vectors, ef_search=64)
    assert loaded.approximate
    recall = []
    for query in queries:
        truth, truth_scores = exact.search(query, 10)
        found, found_scores = loaded.search(query, 10)
        assert found[0] == truth[0]
        assert found_scores[0] == pytest.approx(truth_scores[0], abs=1e-5)
        recall.append(len(set(truth.tolist()) & set(found.tolist())) / 10)
    assert np.mean(recall) >= 0.95


def test_loading_a_graph_of_other_vectors_fails(tmp_path: Path) -> None:
    vectors = _text_like_vectors(1200)
    DenseIndex.build(vectors, approximate_above=100).save(tmp_path)
    with pytest.raises(ValueError, match="vectors"):
        DenseIndex.load(tmp_path, vectors[:1000])


def test_empty_index_answers_nothing() -> None:
    ids, scores = DenseIndex.build(np.zeros((0, 8), dtype=np.float32), approximate_above=0).search(np.ones(8), 5)
    assert len(ids) == len(scores) == 0


@pytest.mark.parametrize(("key", "value"), [("approximate_above", -1), ("hnsw_ef_search", 0)])
def test_bad_dense_settings_name_their_key(key: str, value: int) -> None:
    with pytest.raises(ConfigError, match=f"index.{key}"):
        IndexConfig(**{key: value})
