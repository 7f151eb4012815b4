"""What part of a passage is shown: around the answer sentence, within the room, only the article's text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.excerpt import excerpt, place
from index.types import AnswerSentence, Citation

WORDS = st.lists(st.sampled_from(["The", "pier", "was", "rebuilt.", "Mira", "Kovac", "lit", "it,", "\n", "\n\n",
                                  "a" * 40, "—", "…"]), min_size=1, max_size=120).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(st.data(), WORDS, st.integers(1, 400), st.booleans())
def test_an_excerpt_holds_the_answer_sentence_within_its_room(data: st.DataObject, quote: str, room: int,
                                                               whole: bool) -> None:
    offset = 77
    a = data.draw(st.integers(0, len(quote) - 1))
    b = data.draw(st.integers(a + 1, len(quote)))
    h0 = data.draw(st.integers(0, b - a - 1))
    h1 = data.draw(st.integers(h0 + 1, b - a))
    cited = Citation(1, "a.txt", "T", None, offset, offset + len(quote), quote, 0.5, 2)
    said = AnswerSentence(quote[a:b], 1, offset + a, offset + b, (h0, h1))
    shown = excerpt(cited, [said], room, whole_sentence=whole)
    # Its pieces are the passage's own text, in order, and the marks lie inside the answer sentence.
    assert "".join(text for text, _ in shown.pieces()) == quote[shown.start:shown.end]
    assert all(a + h0 <= m0 < m1 <= a + h1 for m0, m1 in shown.marks)
    assert shown.end - shown.start <= max(room, b - a if whole else 0)
    if whole or b - a <= room:  # the sentence is shown whole (but for whitespace at its edges)
        assert shown.start <= a + len(said.text) - len(said.text.lstrip())
        assert shown.end >= b - (len(said.text) - len(said.text.rstrip()))
        assert len(shown.marks) == 1
    # A citation no sentence points to shows its opening.
    other = excerpt(cited, [AnswerSentence(said.text, 2, said.start, said.end)], room)
    assert other.start == len(quote) - len(quote.lstrip())


def test_the_place_of_a_quote_is_its_lines_else_its_paragraph() -> None:
    quote = "one\ntwo\nthree"
    assert place(Citation(1, "a.txt", "T", None, 0, 13, quote, 0.5, 2, line=4)) == "lines 4–6"
    assert place(Citation(1, "a.txt", "T", None, 0, 3, "one", 0.5, 2, line=4)) == "line 4"
    assert place(Citation(1, "a.txt", "T", None, 0, 3, "one", 0.5, 2)) == "paragraph 2"


def test_two_answer_sentences_of_one_passage_are_shown_together_when_they_fit() -> None:
    quote = "Opening words here. Kovac lit the lanterns. The band played. Olsen rang the bell. Closing words."
    cited = Citation(1, "a.txt", "T", None, 10, 10 + len(quote), quote, 0.5, 1)

    def said(text: str, phrase: str) -> AnswerSentence:
        at = 10 + quote.index(text)
        return AnswerSentence(text, 1, at, at + len(text), (text.index(phrase), text.index(phrase) + len(phrase)))

    first, second = said("Kovac lit the lanterns.", "Kovac"), said("Olsen rang the bell.", "Olsen")
    shown = excerpt(cited, [first, second], 70)
    assert [text for text, marked in shown.pieces() if marked] == ["Kovac", "Olsen"]
    assert quote[shown.start:shown.end].startswith(("Kovac", "here. Kovac", "words here. Kovac"))
    # Without room for both, the first is shown, the second left to be cut.
    alone = excerpt(cited, [first, second], 30)
    assert [text for text, marked in alone.pieces() if marked] == ["Kovac"]
