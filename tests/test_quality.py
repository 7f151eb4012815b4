"""Answer quality with the real model: the seed article's questions, and a slice of the shared SQuAD eval.

The slice's floors sit a little below what the engine measures on it (see docs/quality.md, "In the test suite"), so a
change that makes answers worse fails the suite rather than only the docs' table.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.answering.answer_types import Kind, expected_kind, highlight
from index.articles.text import sentences
from index.embedders import Embedder
from index.engine import Engine
from index.evaluate import Prediction, _bm25_baseline, articlebot_predictions, load_questions, read_lines, score
from tests.support import REPO, SEED, SHARED_EVAL, make_config

SEED_ANSWERS = {
    "who was released?": "three political prisoners",
    "Who visited Belarus?": "a senior U.S. diplomat made an unannounced visit to Belarus",
    "When did Smith arrive in Minsk?": "On February 14, 2025, Christopher W. Smith",
    "Who was freed?": "three political prisoners",
    "Who arrived in Minsk?": "Christopher W. Smith",
    "How many prisoners were released?": "three political prisoners",
    "Which U.S. official visited Minsk?": "Christopher W. Smith",  # the issue's; the opening sentence reads lower
}
# Answered with the right sentence and trusted: the tier "answer". The others above are given as
# tentative (the right sentence, the reader's logit for it modest: "who was released?" reads 0.17).
SURE = {"When did Smith arrive in Minsk?", "Who arrived in Minsk?", "How many prisoners were released?"}


@pytest.mark.parametrize("question", sorted(SEED_ANSWERS))
def test_seed_questions_are_answered_with_the_right_sentence(seed_engine: Engine, question: str) -> None:
    answer = seed_engine.ask(question)
    text = SEED.read_text("utf-8")
    assert not answer.declined
    assert answer.confidence is not None
    assert answer.confidence >= seed_engine.config.answer.tentative_threshold
    assert answer.tier == ("answer" if question in SURE else "tentative")
    assert answer.to_json()["confidence"] == round(answer.confidence, 4)
    assert SEED_ANSWERS[question] in answer.sentences[0].text
    for sentence in answer.sentences:
        assert text[sentence.start:sentence.end] == sentence.text
        if sentence.highlight:
            assert answer.tier == "answer"
            assert 0 <= sentence.highlight[0] < sentence.highlight[1] <= len(sentence.text)
    for citation in answer.citations:
        assert text[citation.start:citation.end] == citation.quote
    assert len({c.quote for c in answer.citations}) == len(answer.citations)


def test_a_question_the_seed_article_does_not_answer_is_declined(seed_engine: Engine) -> None:
    answer = seed_engine.ask("What is the capital of Australia?")
    assert answer.declined
    assert "could not find" in answer.text
    assert answer.citations  # the nearest passages, shown as such


@pytest.mark.parametrize("question", ["How much did the trip cost?", "What is the capital of Australia?"])
def test_a_question_about_the_article_that_it_does_not_answer_is_declined(seed_engine: Engine, question: str) -> None:
    answer = seed_engine.ask(question)
    assert answer.declined, answer.text
    assert answer.citations  # the nearest passages, labelled as not answering


def test_a_question_for_a_number_the_article_does_not_give_is_not_answered_as_sure(seed_engine: Engine) -> None:
    """The sentence about the KGB officials holds no number: at most the closest sentence, said to be tentative."""
    answer = seed_engine.ask("How many KGB officials did Smith meet?")
    assert answer.tier in ("tentative", "declined"), answer.text
    assert all(s.highlight is None for s in answer.sentences)


def test_without_the_reading_model_the_word_overlap_scorer_answers(real_embedder: Embedder, tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    shutil.copy(SEED, tmp_path / "corpus" / SEED.name)
    engine = Engine.from_config(make_config(tmp_path / "corpus", tmp_path / "index", reader=False), real_embedder)
    engine.rebuild()
    assert engine.reader is None
    answer = engine.ask("who was released?")
    assert not answer.declined
    assert "three political prisoners" in answer.sentences[0].text


def test_the_date_is_marked_in_a_when_answer(seed_engine: Engine) -> None:
    sentence = seed_engine.ask("When did Smith arrive in Minsk?").sentences[0]
    assert sentence.highlight is not None
    assert sentence.text[sentence.highlight[0]:sentence.highlight[1]] == "February 14, 2025"


@pytest.mark.parametrize(("question", "kind"), [
    ("When was the game played?", Kind.DATE), ("What year did it open?", Kind.DATE),
    ("How many prisoners were released?", Kind.NUMBER), ("Who was freed?", Kind.NAME),
    ("Which NFL team won?", Kind.NAME), ("Where was media day held?", Kind.PLACE), ("What was discussed?", None),
])
def test_question_kinds(question: str, kind: Kind | None) -> None:
    assert expected_kind(question) is kind


def test_highlight_skips_what_the_question_already_says() -> None:
    sentence = "Denver linebacker Von Miller was named Super Bowl MVP, recording five solo tackles."
    span = highlight(Kind.NUMBER, sentence, "How many solo tackles did Von Miller record?")
    assert span is not None
    assert sentence[span[0]:span[1]] == "five"


def test_a_word_that_only_opens_a_sentence_is_the_last_choice_for_a_name() -> None:
    text = ("Three prisoners — including an American — were released from detention, paving the way for a "
            "gesture of goodwill. Following their release, the envoy commended the operation.")
    span = highlight(Kind.NAME, text, "Who was released?")
    assert span is not None
    assert text[span[0]:span[1]] == "American"


@pytest.fixture(scope="module")
def squad_engine(real_embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One engine over both shared SQuAD articles as one corpus."""
    if not SHARED_EVAL.is_dir():
        pytest.skip(f"the shared eval set is not at {SHARED_EVAL}")
    root = tmp_path_factory.mktemp("squad")
    (root / "corpus").mkdir()
    for article in sorted(SHARED_EVAL.glob("squad-*/corpus/*")):
        shutil.copy(article, root / "corpus" / article.name)
    engine = Engine.from_config(make_config(root / "corpus", root / "index"), real_embedder)
    engine.rebuild()
    return engine


@pytest.mark.slow
def test_quality_on_a_slice_of_the_shared_eval(squad_engine: Engine) -> None:
    # Every 7th question of each set: 155 questions, spread over both articles.
    questions = [q for path in sorted(SHARED_EVAL.glob("squad-*/questions.jsonl")) for q in load_questions([path])[::7]]
    offtopic = read_lines(REPO / "benchmarks" / "offtopic-questions.txt")
    texts = {p.name: p.read_text("utf-8") for p in sorted(squad_engine.config.index.corpus_dir.iterdir())}
    asked = [q.question for q in questions]

    ours = score(questions, articlebot_predictions(squad_engine, asked),
                 [p.declined for p in articlebot_predictions(squad_engine, offtopic)])
    bm25: list[Prediction] = _bm25_baseline(texts)(asked)
    baseline = score(questions, bm25, [])

    # With the reading model, measured on this slice: see docs/quality.md (the floors sit just below).
    print("slice", ours, "bm25", baseline)
    assert ours["cite@1"] >= 0.76
    assert ours["cite@3"] >= 0.88
    assert ours["answer_has_gold"] >= 0.80
    # A phrase is marked only in answers of the tier "answer" (measured 0.33; before the tiers 0.55).
    assert ours["highlight_f1"] >= 0.30
    assert ours["highlight_f1"] > ours["answer_f1"] + 0.15
    assert ours["median_answer_chars"] <= 220
    assert ours["declined_answerable"] <= 0.05
    assert ours["declined_offtopic"] >= 0.9
    # The tiers: answers given as sure hold the gold (measured 0.94 over 0.43 of the questions).
    assert ours["answer_tier_has_gold"] >= 0.92
    assert ours["answer_tier_coverage"] >= 0.40
    assert ours["cite@1"] > baseline["cite@1"]
    assert ours["answer_has_gold"] > baseline["answer_has_gold"] - 0.02  # in 3x shorter answers
    assert ours["answer_f1"] > baseline["answer_f1"]


@pytest.mark.slow
def test_answers_on_the_shared_eval_are_a_sentence_or_two_quoted_exactly(squad_engine: Engine) -> None:
    questions = [q.question for path in sorted(SHARED_EVAL.glob("squad-*/questions.jsonl"))
                 for q in load_questions([path])[::7]]
    corpus = squad_engine.config.index.corpus_dir
    for answer in squad_engine.ask_many(questions):
        if answer.declined:
            continue
        assert 1 <= sum(len(sentences(s.text)) for s in answer.sentences) <= 2
        assert len({c.quote for c in answer.citations}) == len(answer.citations)
        for sentence in answer.sentences:
            cited = answer.citations[sentence.citation - 1]
            assert (corpus / cited.source).read_text("utf-8")[sentence.start:sentence.end] == sentence.text
            assert cited.start <= sentence.start
            assert sentence.end <= cited.end


@pytest.mark.slow
def test_quality_and_declining_on_scraped_news(real_embedder: Embedder, tmp_path: Path) -> None:
    """news-dev: real pages with their site furniture, and on-topic questions no article answers."""
    news = SHARED_EVAL / "news-dev"
    if not news.is_dir():
        pytest.skip(f"the shared news set is not at {news}")
    shutil.copytree(news / "corpus", tmp_path / "corpus")
    engine = Engine.from_config(make_config(tmp_path / "corpus", tmp_path / "index"), real_embedder)
    engine.rebuild()
    questions = load_questions([news / "questions.jsonl"])
    texts = {p.name: p.read_text("utf-8") for p in sorted((tmp_path / "corpus").iterdir())}
    asked = [q.question for q in questions]
    ours = score(questions, articlebot_predictions(engine, asked), [])
    baseline = score(questions, _bm25_baseline(texts)(asked), [])
    print("news", ours, "bm25", baseline)
    assert ours["cite@1"] >= 0.76
    assert ours["answer_has_gold"] >= 0.74
    assert ours["answer_has_gold"] > baseline["answer_has_gold"]
    assert ours["median_answer_chars"] <= 240
    # Declined: measured 0.19 of the 21 unanswerable (most of the others are given as tentative), 0.014 of
    # the answerable; the sure answers hold the gold 0.94 of the time, and the confidence is calibrated
    # within 0.112 on this set (expected calibration error).
    assert ours["declined_impossible"] >= 0.14
    assert ours["declined_answerable"] <= 0.05
    assert ours["answer_tier_has_gold"] >= 0.9
    assert ours["calibration_error"] <= 0.13
