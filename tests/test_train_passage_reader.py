"""The passage model's training examples, laid out as the engine lays out a passage (the tests never train)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from index.answering.reader import MARKER, PASSAGE_LENGTH
from index.embedders import resolve_model_path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))

from train_passage_reader import Encoder, Passage  # noqa: E402

ARRIVED = "On February 14, 2025, Christopher W. Smith arrived quietly in Minsk."
MET = "He met the president."
LEFT = "The visit ended on Friday."


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    tokenizer = Tokenizer.from_file(str(Path(resolve_model_path("all-MiniLM-L6-v2")) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return Encoder(tokenizer)


def test_each_sentence_gets_its_label_at_its_marker_and_the_answer_its_word_pieces(encoder: Encoder) -> None:
    start = ARRIVED.index("Minsk")
    passage = Passage([MET, ARRIVED, LEFT], [0, 1, 0], [None, (start, start + len("Minsk")), None])
    laid = encoder.row(encoder.question("Where did Smith arrive?"), passage, None)
    assert [laid.ids[m] for m in laid.markers] == [MARKER] * 3
    assert laid.labels == [0, 1, 0]
    assert laid.markers[0] < laid.start <= laid.end < laid.markers[2]
    answer = encoder.tokenizer.decode(laid.ids[laid.start:laid.end + 1])
    assert answer == "minsk"


def test_a_passage_too_long_is_cut_to_the_sentences_around_its_answer(encoder: Encoder) -> None:
    filler = [f"Sentence number {n} says nothing at all about the visit or the city or anything else."
              for n in range(40)]
    start = ARRIVED.index("Minsk")
    sentences = filler[:30] + [ARRIVED] + filler[30:]
    labels = [0] * 30 + [1] + [0] * 10
    answers: list[tuple[int, int] | None] = [None] * 41
    answers[30] = (start, start + len("Minsk"))
    laid = encoder.row(encoder.question("Where did Smith arrive?"), Passage(sentences, labels, answers),
                           random.Random(1))
    assert len(laid.ids) <= PASSAGE_LENGTH
    assert 1 in laid.labels
    assert 0 < laid.labels.index(1) < len(laid.labels) - 1  # sentences on both sides
    assert encoder.tokenizer.decode(laid.ids[laid.start:laid.end + 1]) == "minsk"


def test_the_engine_reads_an_exported_passage_model_one_reading_per_sentence(tmp_path: Path) -> None:
    """Untrained heads on the base weights, exported as training exports: the engine's side of the format."""
    from train_passage_reader import build_model, export

    from index.answering.reader import Reader

    model = build_model(Path(resolve_model_path("all-MiniLM-L6-v2")))
    model.eval()
    model.transformer.set_attn_implementation("eager")
    export(model, tmp_path / "passage.onnx", per_piece=True)
    reader = Reader(tmp_path / "passage.onnx")
    assert reader.whole_passages
    long = [f"Sentence {n} of a long passage tells of the city of Minsk and of the visit there." for n in range(30)]
    short = [ARRIVED, MET]
    readings = reader.read_passages("Where did Smith arrive?", [long, short])
    assert [len(r) for r in readings] == [30, 2]  # the long one read on in a second run
    for passage, found in zip([long, short], readings, strict=True):
        for sentence, reading in zip(passage, found, strict=True):
            assert reading.answer is not None
            start, end = reading.answer
            assert 0 <= start < end <= len(sentence)
    again = reader.read_passages("Where did Smith arrive?", [short])
    assert again[0] == readings[1]  # a passage reads the same whatever is read beside it
