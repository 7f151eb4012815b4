"""The shipped reading model, run as the engine runs it (onnxruntime, the embedder's tokenizer)."""

from __future__ import annotations

import pytest

from index.answering.reader import MARKER, MODEL_PATH, Reader, first_segment, lay_out
from index.config import load_config

ARRIVED = ("On February 14, 2025, Christopher W. Smith, a deputy assistant secretary of state, "
           "arrived quietly in Minsk.")
RELEASED = ("In a notable outcome of this trip, three political prisoners — including an American — were "
            "released from detention, paving the way for a symbolic gesture of goodwill amid the complex web of "
            "geopolitical shifts.")
POWER = "Lukashenko, who has been in power for nearly three decades, had not met with a U.S. official in half a decade."


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def test_the_model_ships_in_the_repository_and_is_small() -> None:
    assert MODEL_PATH.is_file()
    assert MODEL_PATH.stat().st_size < 40_000_000


@pytest.mark.parametrize(("question", "answering"), [
    ("What city did the diplomat fly into?", ARRIVED),  # "arrived quietly in Minsk": no word in common
    ("Who arrived in Minsk?", ARRIVED),
    ("How many political prisoners were released?", RELEASED),
    ("How long has Lukashenko been in power?", POWER),
])
def test_the_answering_sentence_reads_highest(reader: Reader, question: str, answering: str) -> None:
    candidates = [ARRIVED, RELEASED, POWER]
    readings = reader.read(question, candidates)
    best = max(range(len(candidates)), key=lambda i: readings[i].logit)
    assert candidates[best] == answering
    assert readings[best].probability > 0.25


def test_the_answer_is_marked_inside_the_sentence(reader: Reader) -> None:
    [reading] = reader.read("What city did the diplomat fly into?", [ARRIVED])
    assert reading.answer is not None
    start, end = reading.answer
    assert 0 <= start < end <= len(ARRIVED)
    assert "Minsk" in ARRIVED[start:end]


def test_sentences_that_do_not_say_what_is_asked_read_low(reader: Reader) -> None:
    readings = reader.read("What is the capital of Australia?", [ARRIVED, RELEASED, POWER])
    assert all(r.probability < 0.2 for r in readings)


def test_no_sentences_no_readings(reader: Reader) -> None:
    assert reader.read("anything?", []) == []


def test_the_reader_is_on_by_default_and_can_be_turned_off() -> None:
    assert load_config(environ={}).answer.reader is True
    config = load_config(environ={}, overrides={"answer": {"reader": False}})
    assert config.answer.reader is False


def test_the_sentence_before_is_read_as_context(reader: Reader) -> None:
    """A sentence that answers with "his" is read with the sentence that says whose."""
    followed = ("Focusing on reinstating diplomatic ties, his visit followed a critical conversation between "
                "President Trump and Russian President Vladimir Putin.")
    question = "What came before Smith's visit to Minsk?"
    [alone] = reader.read(question, [followed])
    [with_context] = reader.read(question, [followed], [ARRIVED])
    assert with_context.logit > alone.logit
    assert with_context.answer is not None  # marked inside the sentence, never in the context
    assert 0 <= with_context.answer[0] < with_context.answer[1] <= len(followed)


def test_the_context_is_cut_to_its_end() -> None:
    long_before = "word " * 200 + "the last words before."
    segment = first_segment("Who?", long_before)
    assert segment.startswith("Who? [SEP] ")
    assert segment.endswith("the last words before.")
    assert len(segment) < 200
    assert first_segment("Who?", "") == "Who?"


def test_reserving_the_arena_changes_no_reading() -> None:
    fresh = Reader().read("Who arrived in Minsk?", [ARRIVED, RELEASED])
    reserved = Reader()
    reserved.reserve()
    again = reserved.read("Who arrived in Minsk?", [ARRIVED, RELEASED])
    assert [r.answer for r in again] == [r.answer for r in fresh]
    assert [r.logit for r in again] == pytest.approx([r.logit for r in fresh], abs=1e-5)


def test_a_sentence_reads_the_same_whatever_is_read_beside_it(reader: Reader) -> None:
    question = "Who arrived in Minsk?"
    alone = reader.read(question, [ARRIVED], [POWER])
    among = reader.read(question, [RELEASED, ARRIVED, POWER * 3], ["", POWER, ""])
    assert among[1] == alone[0]


def test_a_passage_is_laid_out_with_a_marker_before_each_sentence() -> None:
    question = [2040, 2001]
    first = ([1037, 1038, 1039], [(0, 1), (2, 3), (4, 5)])
    second = ([1040], [(0, 4)])
    layout = lay_out(question, [first, second])
    assert layout.ids == [101, 2040, 2001, 102, MARKER, 1037, 1038, 1039, MARKER, 1040, 102]
    assert layout.types == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    assert layout.markers == [4, 8]
    assert layout.pieces == [[(5, 0, 1), (6, 2, 3), (7, 4, 5)], [(9, 0, 4)]]


def test_a_passage_too_long_keeps_what_fits_and_says_how_many_sentences_did() -> None:
    sentence = ([1037] * 10, [(i, i + 1) for i in range(10)])
    layout = lay_out([2040], [sentence, sentence, sentence], limit=30)
    assert len(layout.ids) <= 30
    assert len(layout.markers) == 3  # the third cut to what fits: 3 + 11 + 11 + 4 + [SEP]
    assert len(layout.pieces[2]) == 3
    assert len(lay_out([2040], [sentence, sentence, sentence], limit=27).markers) == 2
