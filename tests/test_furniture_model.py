"""The shipped furniture model (index/models/furniture/) on furniture the rules do not know, and on near misses.

The pages here are written for these tests in wordings the rules' phrases and the training templates do
not hold; the model is the real one, loaded from the repository.
"""

from __future__ import annotations

import pytest

from index.articles.furniture import article_spans, judge, left_out
from index.articles.furniture_model import default_model
from index.articles.repetition import key
from index.articles.text import Span, paragraphs


def _cut(text: str, **options: object) -> list[str]:
    return [text[w.span.start:w.span.end] for p in paragraphs(text) for w in left_out(text, p, **options)]


def _kept(text: str) -> list[str]:
    return [text[s.start:s.end] for p in paragraphs(text) for s in article_spans(text, p)]


@pytest.mark.parametrize("sentence", [
    "Manchester United Beat Liverpool 2-1 at Old Trafford on Sunday.",
    "The President Signed The Bill Into Law On Friday.",
    "Prime Minister Narendra Modi on Sunday sought the cooperation of all State governments.",
    "Former England captain Edwards vowed to change the team's attitude.",
    "Rain Stops Play As England Slump To 120 For 6 At Lord's.",
    "Indian Prime Minister Narendra Modi and US President Donald Trump once paraded a close alliance.",
])
def test_a_real_sentence_that_looks_like_a_headline_is_kept(sentence: str) -> None:
    page = f"{sentence}\n\nThe talks continue next week, officials said, and a decision is expected by June."
    assert _cut(page) == []
    assert default_model().score(page, Span(0, len(sentence))) < default_model().unit_threshold


@pytest.mark.parametrize(("page", "scrap"), [
    ("Nothing new in your alerts at this time\n\nThe harbour authority said on Monday it would close the quay.",
     "Nothing new in your alerts at this time"),
    ("Opinion      Opinion\n\nThe council voted on Tuesday to close the old bridge for repairs.", "Opinion"),
    ("Marta Ilves    Senior Health Correspondent\n\nHospitals reported a sharp rise in admissions, officials said.",
     "Senior Health Correspondent"),
    ("The ferry company said it would add two sailings a day from next month.\n\nTom Reyes | Harbour Gazette",
     "Tom Reyes | Harbour Gazette"),
])
def test_furniture_in_wordings_no_rule_knows_is_left_out(page: str, scrap: str) -> None:
    assert _cut(page, learned=False) == []  # the rules alone keep it: it is the model that finds it
    cut = _cut(page)
    assert scrap in cut
    assert all(c.strip() and c in page for c in cut)
    assert any(s.startswith(("The ", "Hospitals")) for s in _kept(page))


@pytest.mark.parametrize("scrap", ["Culture Culture", "By Marta Ilves, Staff Reporter", "Tom Reyes | Harbour Gazette"])
def test_a_scrap_glued_before_a_sentence_is_cut_off_and_the_sentence_kept_exactly(scrap: str) -> None:
    sentence = "The festival opened on Friday with a concert by the city orchestra in the old market square."
    page = f"{scrap} {sentence}"
    parts = judge(page, Span(0, len(page)))
    why = [w for _, w in parts if w]
    assert [page[w.span.start:w.span.end] for w in why] == [scrap]
    assert why[0].reason == "glued scrap"
    assert why[0].score is not None
    assert _kept(page) == [sentence]
    assert article_spans(page, Span(0, len(page))) == [Span(len(scrap) + 1, len(page))]


@pytest.mark.parametrize("seam", ["", "\n"])
@pytest.mark.parametrize("scrap", ["Culture Culture", "By Marta Ilves, Staff Reporter"])
def test_a_scrap_glued_with_no_space_or_a_line_break_is_cut_off_and_the_sentence_kept(scrap: str, seam: str) -> None:
    sentence = "The festival opened on Friday with a concert by the city orchestra in the old market square."
    page = f"{scrap}{seam}{sentence}"
    assert _cut(page) == [scrap]
    assert _kept(page) == [sentence]


def test_a_name_that_opens_a_sentence_is_not_taken_for_a_glued_scrap() -> None:
    page = ("Prime Minister Narendra Modi on Sunday sought cooperation of all State governments to implement the "
            "Centre's proposed reforms, which he said were aimed at simplifying tax slabs.")
    assert _cut(page) == []


def test_a_line_repeated_on_the_site_is_left_out_with_its_reason() -> None:
    page = "Our reporting is paid for by readers like you. Thank you for reading.\n\nThe final was postponed."
    assert _cut(page) == []  # it reads like prose: only repetition across the site's pages gives it away
    repeated = frozenset({key("Our reporting is paid for by readers like you."), key("Thank you for reading.")})
    found = [w for p in paragraphs(page) for w in left_out(page, p, repeated=repeated)]
    assert [page[w.span.start:w.span.end] for w in found] == ["Our reporting is paid for by readers like you.",
                                                               "Thank you for reading."]
    assert {w.reason for w in found} == {"repeated on the site"}


def test_a_sentence_broken_by_a_run_of_spaces_and_a_markdown_heading_are_not_cut() -> None:
    page = ("# Super Bowl 50\n\n"
            "A subroutine may be called a procedure.  The generic term  callable unit is sometimes used.")
    assert _cut(page) == []


def test_the_article_title_line_is_never_taken_for_a_headline() -> None:
    page = "Brellin harbour reopens\n\nThe town council of Brellin met on Monday to mark the end of the works."
    assert _cut(page) == ["Brellin harbour reopens"]  # alone, it is shaped like a related story's headline
    found = [w for p in paragraphs(page) for w in left_out(page, p, title="Brellin harbour reopens")]
    assert found == []
