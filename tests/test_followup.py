"""Reading a follow-up with the exchange before it (index/answering/followup.py), and the engine's use of it."""

from __future__ import annotations

import pytest

from index.answering.followup import Turn, in_context, refers_back
from index.engine import Engine
from index.types import Answer, AnswerSentence


@pytest.mark.parametrize(("question", "leans"), [
    ("When did he arrive?", True),
    ("and why?", True),
    ("When was that?", True),
    ("Who else was freed?", True),
    ("Where?", True),
    ("How many of them were there?", True),
    ("When did that happen?", True),
    ("How many statues will there be?", True),
    ("Who visited Belarus?", False),
    ("What city did the diplomat fly into?", False),
    ("Which company that sells phones was fined?", False),
])
def test_what_refers_back(question: str, leans: bool) -> None:
    assert refers_back(question) is leans


def test_the_context_is_the_earlier_question_and_the_phrase_that_answered_it() -> None:
    sentence = "On February 14, 2025, Christopher W. Smith arrived quietly in Minsk."
    answer = Answer("Who arrived in Minsk?", sentence, False, (),
                    (AnswerSentence(sentence, 1, 0, len(sentence), (22, 42)),))
    before = Turn("Who arrived in Minsk?", answer)
    assert in_context("When did he arrive?", before) == "When did he arrive? arrived minsk christopher w smith"
    assert in_context("Who visited Belarus?", before) == "Who visited Belarus?"  # on its own
    assert in_context("When did he arrive?", None) == "When did he arrive?"


def test_the_engine_answers_a_follow_up_from_the_conversation(seed_engine: Engine) -> None:
    first = seed_engine.ask("Who visited Belarus?")
    alone = seed_engine.ask("When did he arrive?")
    after = seed_engine.ask("When did he arrive?", before=Turn("Who visited Belarus?", first))
    assert after.question == "When did he arrive?"  # the answer keeps the asker's words
    assert "February 14, 2025" in after.text
    # On its own, "he" is nobody: at most the closest sentence, not a sure answer.
    assert alone.tier != "answer"
    assert after.confidence is not None
    assert alone.confidence is not None
    assert after.confidence > alone.confidence


def test_a_remembered_exchange_keeps_what_a_follow_up_reads_and_drops_the_passages(seed_engine: Engine) -> None:
    answer = seed_engine.ask("Who arrived in Minsk?")
    assert answer.citations
    turn = Turn("Who arrived in Minsk?", answer)
    kept = turn.compact()
    assert kept.answer.citations == ()
    assert kept.answer.sentences == answer.sentences[:1]
    for follow_up in ("When did he arrive?", "and why?", "What did Smith discuss?"):
        assert in_context(follow_up, kept) == in_context(follow_up, turn)
    assert len(repr(kept)) < len(repr(turn)) / 3
