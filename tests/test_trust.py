"""Answers you can trust: the learned choice, the calibrated confidence, the tiers and the two honesty rules.

With the real model, the shipped ranker and confidence model (index/models/ranker/), over the real CLI
where a user would meet them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.answering.answer import TENTATIVE, _comparable, _trusted_highlight, tier_of
from index.answering.answer_types import Kind
from index.answering.ranking import CONFIDENCE, FEATURES, MODEL_DIR, Asked, Signals, features, names, shared_models
from index.config import AnswerConfig, ConfigError, load_config
from index.embedders import Embedder
from index.engine import Engine
from index.evaluate import Prediction, Question, calibration_error, reliability, score
from tests.commandline import run_articlebot
from tests.support import SEED, make_config


def test_the_models_ship_in_the_repository_small_and_with_their_report() -> None:
    for name in ("ranker.txt", "confidence.txt", "calibration.json", "training-report.json"):
        assert (MODEL_DIR / name).is_file(), name
    assert sum((MODEL_DIR / n).stat().st_size for n in ("ranker.txt", "confidence.txt")) < 2_000_000
    table = json.loads((MODEL_DIR / "calibration.json").read_text("utf-8"))
    assert table["x"] == sorted(table["x"])
    assert table["y"] == sorted(table["y"])  # isotonic: more confident never means less likely right
    assert table["y"][0] >= 0.0
    assert table["y"][-1] <= 1.0
    report = json.loads((MODEL_DIR / "training-report.json").read_text("utf-8"))
    assert report["calibration"]["ece"] < 0.05


def test_the_models_read_the_features_the_engine_writes() -> None:
    models = shared_models()
    signal = Signals(passage_rank=0, cosine=0.6, bm25=1.0, fused=0.7, coverage=0.8, neighbours=0.1, prescore=2.0,
                     position=0, opens_paragraph=True, chars=120, kind_in_sentence=True, read=True, logit=2.0,
                     span=9.0, kind_in_span=True, span_asked=0.0, span_words=2, names_in_sentence=1.0,
                     names_in_passage=1.0, same_article_as_top=True, article_passages=3)
    unread = Signals(**{**signal.__dict__, "read": False, "logit": float("nan"), "span": float("nan"),
                        "coverage": 0.1, "passage_rank": 2})
    rows = features([signal, unread], Asked(Kind.NAME, 5, 5, 2))
    assert rows.shape == (2, len(FEATURES))
    assert np.isnan(rows[1, FEATURES.index("logit")])
    probabilities = models.rank(rows)
    assert probabilities.shape == (2,)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert probabilities[0] > probabilities[1]  # read, covering, of the asked kind: more likely than unread
    assert len(CONFIDENCE) == len(FEATURES) + 6


def test_tiers_follow_the_two_thresholds() -> None:
    settings = AnswerConfig(answer_threshold=0.6, tentative_threshold=0.3)
    assert [tier_of(c, settings) for c in (0.9, 0.6, 0.45, 0.3, 0.29, 0.0)] == [
        "answer", "answer", "tentative", "tentative", "declined", "declined"]


def test_thresholds_out_of_order_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[answer]\nanswer_threshold = 0.2\ntentative_threshold = 0.5\n")
    with pytest.raises(ConfigError, match="answer.answer_threshold"):
        load_config(path, environ={})


def test_retired_answer_keys_are_accepted_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[answer]\nreader_threshold = 0.08\nreader_min_relevance = 0.25\n")
    config = load_config(path, environ={})
    assert config.answer.tentative_threshold == AnswerConfig().tentative_threshold
    assert "[answer] reader_threshold is no longer used" in caplog.text


def test_every_answer_has_a_tier_and_abstained_means_declined(seed_engine: Engine) -> None:
    for question in ["who was released?", "What is the capital of Australia?",
                     "What is the name of the American who was released?", "How long has Lukashenko been in power?"]:
        answer = seed_engine.ask(question)
        data = answer.to_json()
        assert data["tier"] in ("answer", "tentative", "declined")
        assert data["abstained"] is (data["tier"] == "declined")
        assert answer.confidence is not None
        assert 0.0 <= answer.confidence <= 1.0
        if data["tier"] == "tentative":
            assert data["answer"].startswith(TENTATIVE)
        if data["tier"] == "answer":
            assert answer.confidence >= seed_engine.config.answer.answer_threshold


def test_the_unnamed_american_is_not_answered_as_if_named(seed_engine: Engine) -> None:
    """The article never names the released American: no confident answer, and no name marked as the answer."""
    answer = seed_engine.ask("What is the name of the American who was released?")
    assert answer.tier in ("tentative", "declined")
    for sentence in answer.sentences:
        assert sentence.highlight is None


def test_a_tentative_answer_says_so_on_the_command_line(tmp_path: Path) -> None:
    """The real CLI, with thresholds that make every answer tentative: the text says so, the JSON too."""
    config = tmp_path / "config.toml"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / SEED.name).write_text(SEED.read_text("utf-8"), "utf-8")
    config.write_text(f'[index]\ncorpus_dir = "{corpus}"\nindex_dir = "{tmp_path / "index"}"\n'
                      "[answer]\nanswer_threshold = 1.0\ntentative_threshold = 0.0\n")
    run_articlebot("index", "--config", str(config), check=True)
    shown = run_articlebot("ask", "--config", str(config), "who was released?", check=True)
    assert shown.stdout.startswith(TENTATIVE)
    data = json.loads(run_articlebot("ask", "--config", str(config), "--json", "who was released?", check=True).stdout)
    assert data["tier"] == "tentative"
    assert data["abstained"] is False
    assert all(s["highlight"] is None for s in data["sentences"])  # nothing marked in an answer not trusted


def test_a_mark_that_holds_no_phrase_of_the_asked_kind_is_not_shown() -> None:
    from index.answering.answer import _Candidate
    from index.articles.text import Span
    from index.types import Citation

    text = "Following their release, Smith commended the operation."
    citation = Citation(1, "a.txt", "A", None, 0, len(text), text, 1.0, 1)
    marked = _Candidate(citation, 0, Span(0, len(text)), text, 0.5, 0.0, 0, marked=Span(25, 30))  # "Smith"
    assert _trusted_highlight(marked, Kind.NAME, "Who commended the operation?") == (25, 30)
    assert _trusted_highlight(marked, Kind.DATE, "When was the operation commended?") is None
    assert _trusted_highlight(marked, None, "What happened after the release?") == (25, 30)


@pytest.mark.parametrize(("first", "other", "same"), [
    ("The flood has killed 12 people, officials said.", "The flood has killed 31 people, officials said.", True),
    ("The flood has killed 12 people.", "At least 20 have died in the flood.", True),
    ("The EU pledged 18 million euros of aid to the region.", "The storm damaged 340 estates in the region.", False),
    ("The bridge cost $45 million.", "The bridge cost 40 million euros.", False),
    ("Turnout was 61 percent.", "Some 61,000 people voted.", False),
])
def test_sources_differ_only_over_values_of_the_same_thing(first: str, other: str, same: bool) -> None:
    assert _comparable(Kind.NUMBER, first, other, "How many?") is same


def _news(folder: Path) -> None:
    """Three short news pages of one region: a bridge's cost, flood aid in euros, and damaged estates."""
    folder.mkdir()
    (folder / "meridian-bridge.md").write_text(
        "---\ndate: 2025-03-02\n---\n# Meridian Bridge opens to traffic\n\nThe Meridian Bridge over the Vel river "
        "opened to traffic on Saturday after four years of work. The crossing cost 212 million dollars, "
        "according to the regional transport office, and carries four lanes and a cycle path.\n\n"
        "Commuters from the eastern suburbs will save about twenty minutes a day, the mayor said.\n", "utf-8")
    (folder / "flood-aid.md").write_text(
        "---\ndate: 2025-03-04\n---\n# EU pledges flood aid\n\nThe European Union pledged 18 million euros of aid "
        "to the Vel valley on Tuesday, after the spring floods damaged homes and farms along the river. "
        "The money will go to repairing roads and drainage, the commission said.\n", "utf-8")
    (folder / "estates.md").write_text(
        "---\ndate: 2025-03-05\n---\n# Flood damage counted\n\nInspectors counted 340 estates damaged by the Vel "
        "valley floods, the regional council said on Wednesday. Most of the damage was in the lower valley, "
        "where the river rose two metres in a night.\n", "utf-8")


def test_the_right_article_answers_and_unlike_values_are_not_set_against_each_other(
        tmp_path: Path, real_embedder: Embedder) -> None:
    _news(tmp_path / "corpus")
    engine = Engine.from_config(make_config(tmp_path / "corpus", tmp_path / "index"), real_embedder)
    engine.rebuild()
    cost = engine.ask("How much did the Meridian Bridge cost?")
    assert not cost.declined
    assert cost.citations[cost.sentences[0].citation - 1].source == "meridian-bridge.md"
    assert "212 million dollars" in cost.sentences[0].text
    for question in ["How much aid was pledged for the Vel valley?", "How many estates did the floods damage?",
                     "How much damage did the Vel valley floods do?"]:
        answer = engine.ask(question)
        assert answer.note is None, (question, answer.text)


def test_the_eval_reports_tiers_and_calibration() -> None:
    questions = [Question("q1", "a.md", (("Smith", 0, 5),), False), Question("q2", "a.md", (("June", 10, 14),), False),
                 Question("q3", "a.md", (), True)]
    predictions = [Prediction("Smith arrived.", (("a.md", 0, 20),), False, 0.01, None, 0.9, "answer"),
                   Prediction("It rained.", (("a.md", 0, 20),), False, 0.01, None, 0.4, "tentative"),
                   Prediction("", (("a.md", 0, 20),), True, 0.01, None, 0.1, "declined")]
    metrics = score(questions, predictions, [])
    assert metrics["answer_tier_has_gold"] == 1.0
    assert metrics["answer_tier_coverage"] == 0.5
    assert metrics["tentative"] == round(1 / 3, 4)
    rated = [(0.9, True), (0.4, False), (0.1, False)]
    assert metrics["calibration_error"] == round(calibration_error(rated), 4)
    assert [b["count"] for b in reliability(rated)] == [1, 1, 1]
    assert calibration_error([(0.25, False), (0.25, False), (0.25, True), (0.25, False)]) == 0.0


def test_names_are_the_questions_proper_nouns_and_numbers() -> None:
    assert names("Who did Smith meet in Minsk in 2025?") == {"smith", "minsk", "2025"}
    assert names("What did the president say?") == set()
