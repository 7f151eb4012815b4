"""LexicalIndex.search sums bm25s' stored weights itself; it must rank exactly as bm25s does."""

from __future__ import annotations

import numpy as np
import pytest

from index.articles.text import sentences
from index.store.lexical import LexicalIndex
from tests.support import SEED

QUESTIONS = [
    "who was released?",
    "Which U.S. diplomat visited Belarus and met Lukashenko?",
    "political prisoners released prisoners",  # a repeated word counts twice, in both
    "foreign policy toward Belarus and Russia",
    "Lukashenko",
    "the of and",  # only stop words: nothing to search for
    "quantum chromodynamics",  # words the index never saw
]


@pytest.fixture(scope="module")
def passages() -> list[str]:
    text = SEED.read_text("utf-8")
    return [text[s.start:s.end] for s in sentences(text)]


@pytest.mark.parametrize("question", QUESTIONS)
def test_search_scores_as_bm25s_does(passages: list[str], question: str) -> None:
    index = LexicalIndex.build(passages)
    (terms,) = index.terms([question])
    ids, scores = index.search(question, 10)
    if not terms:
        assert len(ids) == 0
        assert len(scores) == 0
        return
    assert len(ids) > 0
    expected_ids, expected_scores = index._retriever.retrieve([terms], k=10, show_progress=False, n_threads=1)
    expected_ids, expected_scores = expected_ids[0], expected_scores[0]
    keep = expected_scores > 0
    np.testing.assert_allclose(scores, expected_scores[keep], rtol=1e-5)
    # Passages with equal scores may come in either order; every score must belong to the same passage.
    all_ids, all_scores = index._retriever.retrieve([terms], k=len(passages), show_progress=False, n_threads=1)
    full = {int(i): float(s) for i, s in zip(all_ids[0], all_scores[0], strict=True)}
    for passage, score in zip(ids.tolist(), scores.tolist(), strict=True):
        assert full[passage] == pytest.approx(score, rel=1e-5)
    assert np.all(np.diff(scores) <= 0), "best first"


def test_search_asks_for_more_than_there_is(passages: list[str]) -> None:
    index = LexicalIndex.build(passages[:3])
    ids, scores = index.search("Belarus Lukashenko prisoners", 50)
    assert len(ids) <= 3
    assert np.all(scores > 0)
    assert index.search("Belarus", 0)[0].size == 0


def test_questions_of_unseen_words_do_not_grow_the_tokenizer_without_bound() -> None:
    import random
    import string

    from index.store.lexical import _STEM_CACHE_SLACK

    index = LexicalIndex.build(["The harbour opened in 1901.", "A lighthouse keeper rang the bell at dawn."])
    rng = random.Random(0)
    before = index.terms(["When did the harbour open?"])
    for _ in range(3 * _STEM_CACHE_SLACK // 8):
        index.terms([" ".join("".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(8))])
        index.unknown_words("zyxwvut " + "".join(rng.choices(string.ascii_lowercase, k=9)))
    assert len(index._tokenizer.word_to_stem) <= len(index._indexed_stems) + _STEM_CACHE_SLACK + 16
    assert index.terms(["When did the harbour open?"]) == before  # the same terms after a reset
