"""Chunks fit the model's window and quote their article exactly."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.articles.chunking import chunk_article, embedding_prefix
from index.articles.corpus import Article, Paragraph
from index.articles.furniture import article_spans
from index.articles.text import paragraphs
from index.embedders import Embedder, HashEmbedder
from tests.support import SEED, SHARED_EVAL


def _article(text: str, title: str = "A title") -> Article:
    spans = paragraphs(text)
    return Article("a.txt", "0", text, title, None, None, None,
                   tuple(Paragraph(s, i + 1) for i, s in enumerate(spans)))


def test_no_chunk_exceeds_the_model_window(real_embedder: Embedder) -> None:
    texts = [SEED.read_text("utf-8")] + [p.read_text("utf-8") for p in sorted(SHARED_EVAL.glob("*/corpus/*.md"))]
    long_paragraph = " ".join(f"Sentence number {i} talks about the budget of the city council." for i in range(120))
    run_on = "word " * 900
    texts += [long_paragraph, run_on]
    for text in texts:
        article = _article(text)
        chunks = chunk_article(article, real_embedder.count_tokens, max_tokens=254, min_words=40)
        assert chunks
        embedded = [embedding_prefix(article.title) + c.text for c in chunks]
        assert max(real_embedder.count_tokens(embedded)) <= 254
        for chunk in chunks:
            assert chunk.text == text[chunk.start:chunk.end]


def test_short_paragraphs_merge_but_never_across_dropped_markup(corpus_dir: Path) -> None:
    from index.articles.corpus import read_article, scan_corpus

    files, _ = scan_corpus(corpus_dir, max_bytes=10**7)
    article = read_article(files[0])
    chunks = chunk_article(article, HashEmbedder().count_tokens, max_tokens=254, min_words=40)
    assert not any("image" in c.text for c in chunks)
    released = [c for c in chunks if "three political prisoners" in c.text]
    assert len(released) == 1
    assert released[0].paragraph == 6


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab cd EF. ?!\n\n—é")), max_size=600),
       max_tokens=st.integers(min_value=16, max_value=80), min_words=st.integers(min_value=0, max_value=30))
def test_every_chunk_quotes_its_article_exactly(text: str, max_tokens: int, min_words: int) -> None:
    article = _article(text)
    if not article.paragraphs:
        return
    chunks = chunk_article(article, HashEmbedder().count_tokens, max_tokens=max_tokens, min_words=min_words)
    covered = "".join(c.text for c in chunks)
    for chunk in chunks:
        assert chunk.text == text[chunk.start:chunk.end]
        assert chunk.text.strip() == chunk.text
    assert sorted(c.start for c in chunks) == [c.start for c in chunks]
    assert all(a.end <= b.start for a, b in pairwise(chunks))
    # nothing lost but what the furniture judge leaves out (a lone "EE" reads as a label), nothing twice
    kept = "".join(text[s.start:s.end] for p in article.paragraphs for s in article_spans(text, p.span))
    assert len("".join(covered.split())) == len("".join(kept.split()))


@pytest.mark.parametrize("size", [16, 254])
def test_chunk_budget_counts_the_title_line(size: int) -> None:
    counter = HashEmbedder().count_tokens
    article = _article("One two three four five six seven eight nine ten. " * 20, title="Long " * 5)
    for chunk in chunk_article(article, counter, max_tokens=size, min_words=0):
        assert counter([embedding_prefix(article.title) + chunk.text])[0] <= max(size, 8 + counter([article.title])[0])


def test_a_file_of_one_long_line_is_chunked_without_counting_it_whole(real_embedder: Embedder) -> None:
    text = " ".join(f"budget{i % 97} council" for i in range(120_000))  # 1.7 MB on one line, no full stop
    counted: list[int] = []

    def count_tokens(texts: Sequence[str]) -> list[int]:
        counted.extend(len(t) for t in texts)
        return real_embedder.count_tokens(texts)

    article = _article(text)
    chunks = chunk_article(article, count_tokens, max_tokens=254, min_words=40)
    assert max(counted) <= 200_000  # the tokenizer never sees the whole line (1.5 GB at 9.2 MB before)
    assert "".join("".join(c.text.split()) for c in chunks) == "".join(text.split())
    sizes = real_embedder.count_tokens([embedding_prefix(article.title) + c.text for c in chunks])
    assert max(sizes) <= 254
