"""Answers about the seed article with the real model: right sentence, exact quotes, plain declines."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.embedders import Embedder
from index.engine import Engine
from index.errors import QuestionError
from tests.support import SEED, make_config

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
    assert not answer.declined
    assert expected in answer.sentences[0].text
    assert answer.text.endswith("]")


@pytest.mark.parametrize("question", ["What is the capital of Australia?", "How do I bake sourdough bread?",
                                      "Who won the 2018 World Cup?"])
def test_off_topic_questions_are_declined_plainly(seed_engine: Engine, question: str) -> None:
    answer = seed_engine.ask(question)
    assert answer.declined
    assert "could not find" in answer.text
    assert not answer.sentences


def test_every_quote_is_exactly_in_the_article_and_never_repeated(seed_engine: Engine) -> None:
    questions = ["who was released?", "What did Smith say about the release?", "What is the West's view?",
                 "Trump peace through strength", "relations with Russia", "KGB"]
    for answer in seed_engine.ask_many(questions, top_k=5):
        quotes = [c.quote for c in answer.citations]
        assert len(quotes) == len(set(quotes))
        for citation in answer.citations:
            assert TEXT[citation.start:citation.end] == citation.quote
            assert citation.source == SEED.name
            assert citation.title.startswith("Quiet Diplomatic Shift")
        for sentence in answer.sentences:
            assert TEXT[sentence.start:sentence.end] == sentence.text
            cited = answer.citations[sentence.citation - 1]
            assert cited.start <= sentence.start
            assert sentence.end <= cited.end


def test_citation_json_has_the_documented_fields(seed_engine: Engine) -> None:
    data = seed_engine.ask("who was released?").to_json()
    assert {"question", "answer", "abstained", "citations"} <= set(data)
    assert set(data["citations"][0]) >= {"n", "source", "title", "url", "start", "end", "quote", "score"}
    assert [c["n"] for c in data["citations"]] == list(range(1, len(data["citations"]) + 1))


@pytest.mark.parametrize("question", ["", "   ", "?!...", "x" * 5000])
def test_questions_that_cannot_be_asked_get_plain_reasons(seed_engine: Engine, question: str) -> None:
    with pytest.raises(QuestionError) as caught:
        seed_engine.ask(question)
    assert str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_questions_in_other_languages_or_with_markup_still_get_an_answer_object(seed_engine: Engine) -> None:
    for question in ["¿Quién fue liberado?", "**who** was <@123> released @everyone", "日本の首都は？"]:
        answer = seed_engine.ask(question)
        assert answer.text
        assert (answer.declined or answer.sentences)


def _flood_reports(folder: Path) -> None:
    """Two dated reports of the same flood that give different tolls, and one undated bystander."""
    folder.mkdir()
    (folder / "flood-monday.md").write_text(
        "---\ndate: 2024-01-08\n---\n# River valley flood\n\nThe river valley flood has killed 12 people, "
        "officials said on Monday. Rescue teams searched the villages along the river for survivors.\n", "utf-8")
    (folder / "flood-friday.md").write_text(
        "---\ndate: January 12, 2024\n---\n# River valley flood\n\nThe river valley flood has killed 31 people, "
        "officials said on Friday. Rescue teams searched the villages along the river for survivors.\n", "utf-8")
    (folder / "harvest.md").write_text(
        "# Harvest festival\n\nThe harvest festival drew 4,000 visitors to the old market square this year, "
        "the organisers said, and the pumpkin contest was won by a local farmer.\n", "utf-8")


def test_a_latest_question_answers_from_the_newest_article_and_says_the_sources_differ(
        tmp_path: Path, real_embedder: Embedder) -> None:
    _flood_reports(tmp_path / "corpus")
    engine = Engine.from_config(make_config(tmp_path / "corpus", tmp_path / "index"), real_embedder)
    engine.rebuild()
    answer = engine.ask("How many people has the river valley flood killed so far?")
    assert not answer.declined
    first, second = answer.sentences
    assert answer.citations[first.citation - 1].source == "flood-friday.md"
    assert "31" in first.text
    assert answer.citations[second.citation - 1].source == "flood-monday.md"
    assert "12" in second.text
    assert answer.note == ('Sources differ; the newest is given first: [1] (2024-01-12) says "31"; '
                           '[2] (2024-01-08) says "12".')
    assert answer.text.endswith(answer.note)
    for sentence in answer.sentences:  # the note quotes only what the cited sentences say
        citation = answer.citations[sentence.citation - 1]
        assert sentence.text in citation.quote


@pytest.mark.parametrize("question", ["How many people has the river valley flood killed?",
                                      "How many people died in the river valley flood?",
                                      "What is the latest death toll of the river valley flood?"])
def test_each_article_that_answers_differently_is_given_with_its_own_citation(
        tmp_path: Path, real_embedder: Embedder, question: str) -> None:
    _flood_reports(tmp_path / "corpus")
    (tmp_path / "corpus" / "flood-wednesday.md").write_text(
        "---\ndate: 2024-01-10\n---\n# Flood toll rises\n\nAt least 20 people have died in the river valley "
        "flood, the regional governor said on Wednesday, as the water began to recede.\n", "utf-8")
    engine = Engine.from_config(make_config(tmp_path / "corpus", tmp_path / "index"), real_embedder)
    engine.rebuild()
    answer = engine.ask(question)
    given = {answer.citations[s.citation - 1].source: s.text for s in answer.sentences}
    # Three reports, three tolls, each quoted from its own article; the harvest festival's 4,000
    # visitors are a number too, but of another story.
    assert set(given) == {"flood-monday.md", "flood-wednesday.md", "flood-friday.md"}
    assert "12" in given["flood-monday.md"]
    assert "20" in given["flood-wednesday.md"]
    assert "31" in given["flood-friday.md"]
    assert answer.note is not None
    if "latest" in question:  # the newest first, and the older reports still given
        assert answer.note.startswith("Sources differ; the newest is given first: [1] (2024-01-12)")
    else:
        assert answer.note.startswith("Sources differ: ")
    for number, when in (("12", "2024-01-08"), ("20", "2024-01-10"), ("31", "2024-01-12")):
        assert f'({when}) says "{number}"' in answer.note
    for sentence in answer.sentences:
        citation = answer.citations[sentence.citation - 1]
        assert sentence.text in citation.quote
        assert not sentence.text.startswith("#")


def test_a_question_that_does_not_ask_for_the_latest_gets_no_note(tmp_path: Path, real_embedder: Embedder) -> None:
    _flood_reports(tmp_path / "corpus")
    engine = Engine.from_config(make_config(tmp_path / "corpus", tmp_path / "index"), real_embedder)
    engine.rebuild()
    answer = engine.ask("Who won the pumpkin contest at the harvest festival?")
    assert not answer.declined
    assert answer.note is None
    assert answer.citations[0].source == "harvest.md"
    # The heading above the paragraph names the story; it is not part of the answer's sentence.
    assert answer.sentences[0].text.startswith("The harvest festival drew 4,000 visitors")


def test_the_engine_serves_what_another_process_publishes(tmp_path: Path) -> None:
    """`articlebot index` beside a running bot: the bot answers from the new generation, not the removed one."""
    from index.embedders import HashEmbedder
    from index.store.embedded.generations import current_generation

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# Harbour\n\nThe harbour opened in 1901 after years of building.\n", "utf-8")
    config = make_config(corpus, tmp_path / "index", reader=False)
    serving = Engine.from_config(config, HashEmbedder())
    serving.rebuild()
    first = serving.store.current().folder

    (corpus / "b.md").write_text("# Lighthouse\n\nThe lighthouse keeper rang the bell at dawn.\n", "utf-8")
    Engine.from_config(config, HashEmbedder()).rebuild()  # the other process: publishes, removes `first`
    assert current_generation(config.index.index_dir) != first
    assert not first.exists()

    assert serving.store.current().folder == current_generation(config.index.index_dir)
    assert {a.source for a in serving.sources()} == {"a.md", "b.md"}
    report = serving.rebuild()  # nothing changed since the other process's build: still the newest served
    assert not report.changed_anything
    assert serving.store.current().folder == current_generation(config.index.index_dir)


def test_locate_counts_lines_in_the_text_the_offsets_refer_to(real_embedder: Embedder, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    filler = " ".join(f"The committee heard report number {i} on the state of the harbour walls." for i in range(8))
    (corpus / "pier.html").write_text(
        "<html><head><title>Brellin pier</title></head><body><nav><a href='/'>Home</a></nav><article>"
        f"<h1>Brellin pier</h1><p>{filler}</p><p>{filler}</p>"
        "<p>At dusk the lanterns along the north pier were lit by Mira Kovac, the harbour master's daughter.</p>"
        "</article></body></html>", encoding="utf-8")
    engine = Engine.from_config(make_config(corpus, tmp_path / "index"), real_embedder)
    engine.rebuild()
    answer = engine.locate(engine.ask("Who lit the lanterns on the north pier?"))
    # An HTML article's offsets refer to its extracted text (`articlebot show`), and so do its lines.
    text = engine.article_text("pier.html")
    assert "<p>" not in text
    for citation in answer.citations:
        assert citation.line is not None
        assert text.split("\n")[citation.line - 1].startswith(citation.quote.split("\n")[0])
    assert max(c.line or 0 for c in answer.citations) > 1
