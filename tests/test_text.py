"""Paragraph and sentence spans: exact offsets, whatever the text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.articles.text import MAX_SENTENCE_CHARS, is_markup, paragraphs, sentences


def _texts(text: str, spans: list) -> list[str]:
    return [text[s.start:s.end] for s in spans]


def test_one_paragraph_per_line_when_the_text_has_no_blank_lines() -> None:
    text = "Title Line\nFirst paragraph here.\n<image>x</image>\nSecond one."
    assert _texts(text, paragraphs(text)) == ["Title Line", "First paragraph here.", "<image>x</image>", "Second one."]


def test_blank_line_paragraphs_join_hard_wrapped_lines() -> None:
    text = "# Heading\n\nThis sentence is wrapped\nacross two lines.\nAnd this follows.\n\nLast paragraph."
    assert _texts(text, paragraphs(text)) == [
        "# Heading", "This sentence is wrapped\nacross two lines.", "And this follows.", "Last paragraph."]


def test_markup_only_paragraphs_are_recognised() -> None:
    assert is_markup('<image>' + 'data:image/png;base64,AAAA' + '</image>')
    assert is_markup('<img src="a.png" alt="x"/>')
    assert is_markup("![a chart](chart.png)")
    assert not is_markup("The <b>bold</b> claim was made in Minsk.")


def test_sentences_respect_initials_and_abbreviations() -> None:
    text = ("On February 14, 2025, Christopher W. Smith, a deputy assistant secretary of state, arrived in Minsk. "
            "The U.S. Embassy said Mr. Smith left. \"Peace,\" he said! Is it over? Yes.")
    assert _texts(text, sentences(text)) == [
        "On February 14, 2025, Christopher W. Smith, a deputy assistant secretary of state, arrived in Minsk.",
        "The U.S. Embassy said Mr. Smith left.", "\"Peace,\" he said!", "Is it over?", "Yes."]


def test_a_sentence_never_runs_over_a_blank_line_or_a_heading() -> None:
    text = ("# Harvest festival\n\nThe festival drew 4,000 visitors\n\nnobody counted them. It rained.\n"
            "## Later\nIt stopped.")
    assert _texts(text, sentences(text)) == [
        "# Harvest festival", "The festival drew 4,000 visitors", "nobody counted them.", "It rained.", "## Later",
        "It stopped."]
    hashtag = "Fans wrote\n#SuperBowl50 all night."  # a hashtag opening a line is no heading
    assert _texts(hashtag, sentences(hashtag)) == [hashtag]


_ALPHABET = st.sampled_from(list("abc XYZ.!?\n\n\t'\"”1<>/é—#") + ["Mr.", "U.S.", " W. ", "\r\n", "# "])


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=200).map("".join))
def test_spans_are_ordered_trimmed_slices_of_the_text(text: str) -> None:
    for spans in (paragraphs(text), sentences(text)):
        previous_end = 0
        for span in spans:
            piece = text[span.start:span.end]
            assert 0 <= previous_end <= span.start < span.end <= len(text)
            assert piece == piece.strip()
            assert piece
            previous_end = span.end
    for paragraph in paragraphs(text):
        for sentence in sentences(text, paragraph):
            assert paragraph.start <= sentence.start < sentence.end <= paragraph.end


def test_a_line_without_sentence_ends_is_cut_between_words_into_bounded_pieces() -> None:
    words = [f"budget{i % 97}" for i in range(60_000)]  # 560 kB on one line, no full stop
    text = " ".join(words) + " " + "x" * 5_000 + " end"
    parts = sentences(text)
    assert max(s.end - s.start for s in parts) <= MAX_SENTENCE_CHARS
    assert "".join("".join(t.split()) for t in _texts(text, parts)) == "".join(text.split())  # all of it, once
    assert all(s.end == len(text) or text[s.end].isspace() for s in parts if text[s.start] != "x")  # words whole
    assert _texts(text, parts)[-3:] == ["x" * MAX_SENTENCE_CHARS, "x" * MAX_SENTENCE_CHARS,
                                        "x" * (5_000 - 2 * MAX_SENTENCE_CHARS) + " end"]  # cut where it must be
    prose = "The council met on Tuesday. It agreed the budget. The mayor said so."
    assert _texts(prose, sentences(prose)) == ["The council met on Tuesday.", "It agreed the budget.",
                                               "The mayor said so."]


@pytest.mark.parametrize(("text", "expected"), [
    # blocks of a page joined with no space at all: the sentence opens where the next block does
    ("You have no new alerts at this timeBOSTON — The council met.",
     ["You have no new alerts at this time", "BOSTON — The council met."]),
    ("By Ann Lee, Staff WriterThe council met on Monday.", ["By Ann Lee, Staff Writer", "The council met on Monday."]),
    ("The board met.Think we got something wrong? Let us know.Topic:Tennis",
     ["The board met.", "Think we got something wrong?", "Let us know.", "Topic:Tennis"]),
    ("(Harbour Gazette/Tom Reyes)The ferry left at noon.", ["(Harbour Gazette/Tom Reyes)", "The ferry left at noon."]),
    ("Prices rose in 2024.Exports fell.", ["Prices rose in 2024.", "Exports fell."]),
    # names in camel case and abbreviations glued to a name are one sentence
    ("He met DeSantis at McDonald's in St.Louis with an iPhone, a PlayStation and NordVPN on LinkedIn In May.",
     ["He met DeSantis at McDonald's in St.Louis with an iPhone, a PlayStation and NordVPN on LinkedIn In May."]),
    ("The U.S.Army said no.", ["The U.S.Army said no."]),
])
def test_a_sentence_opens_where_a_scrape_glued_two_blocks_without_a_space(text: str, expected: list[str]) -> None:
    assert [text[s.start:s.end] for s in sentences(text)] == expected
