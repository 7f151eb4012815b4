"""Answers about the seed article with the real model: right sentence, exact quotes, plain declines."""

from __future__ import annotations

import pytest

from index.engine import Engine
from index.errors import QuestionError
from tests.conftest import SEED

TEXT = SEED.read_text("utf-8")


@pytest.mark.parametrize(("question", "expected"), [
    ("who was released?", "three political prisoners — including an American — were released"),
    ("Who visited Belarus?", "a senior U.S. diplomat made an unannounced visit to Belarus"),
    ("When did Smith arrive in Minsk?", "On February 14, 2025, Christopher W. Smith"),
    ("What did Smith discuss with the Belarusian president?", "easing repressions"),
    ("How long has Lukashenko been in power?", "nearly three decades"),
])
def test_questions_the_article_answers_get_the_right_sentence(seed_engine: Engine, question: str,
                                                              expected: str) -> None:
    answer = seed_engine.ask(question)
    assert not answer.abstained
    assert expected in answer.sentences[0].text
    assert answer.text.endswith("]")


@pytest.mark.parametrize("question", ["What is the capital of Australia?", "How do I bake sourdough bread?",
                                      "Who won the 2018 World Cup?"])
def test_off_topic_questions_are_declined_plainly(seed_engine: Engine, question: str) -> None:
    answer = seed_engine.ask(question)
    assert answer.abstained and "could not find" in answer.text and not answer.sentences


def test_every_quote_is_exactly_in_the_article_and_never_repeated(seed_engine: Engine) -> None:
    questions = ["who was released?", "What did Smith say about the release?", "What is the West's view?",
                 "Trump peace through strength", "relations with Russia", "KGB"]
    for answer in seed_engine.ask_many(questions, top_k=5):
        quotes = [c.quote for c in answer.citations]
        assert len(quotes) == len(set(quotes))
        for citation in answer.citations:
            assert TEXT[citation.start:citation.end] == citation.quote
            assert citation.source == SEED.name and citation.title.startswith("Quiet Diplomatic Shift")
        for sentence in answer.sentences:
            assert TEXT[sentence.start:sentence.end] == sentence.text
            cited = answer.citations[sentence.citation - 1]
            assert cited.start <= sentence.start and sentence.end <= cited.end


def test_citation_json_has_the_documented_fields(seed_engine: Engine) -> None:
    data = seed_engine.ask("who was released?").to_json()
    assert {"question", "answer", "abstained", "citations"} <= set(data)
    assert set(data["citations"][0]) >= {"n", "source", "title", "url", "start", "end", "quote", "score"}
    assert [c["n"] for c in data["citations"]] == list(range(1, len(data["citations"]) + 1))


@pytest.mark.parametrize("question", ["", "   ", "?!...", "x" * 5000])
def test_questions_that_cannot_be_asked_get_plain_reasons(seed_engine: Engine, question: str) -> None:
    with pytest.raises(QuestionError) as caught:
        seed_engine.ask(question)
    assert str(caught.value) and "Traceback" not in str(caught.value)


def test_questions_in_other_languages_or_with_markup_still_get_an_answer_object(seed_engine: Engine) -> None:
    for question in ["¿Quién fue liberado?", "**who** was <@123> released @everyone", "日本の首都は？"]:
        answer = seed_engine.ask(question)
        assert answer.text and (answer.abstained or answer.sentences)
