"""Sweep the answer settings that sit on top of the reading model, on the shared eval sets.

The model's readings are cached per (question, sentence), so each setting costs only the cheap
parts of answering. Prints one line of metrics per setting and set; used to choose the defaults
in index/answer.py and index/config.py (see README, "Answer quality").

    .venv/bin/python training/tune_reader.py
    .venv/bin/python training/tune_reader.py --model /tmp/passage/passage.onnx --mix 1,3 --threshold 0.08
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.config import load_config  # noqa: E402
from index.engine import Engine  # noqa: E402
from index.evaluate import _articlebot, _lines, _merge_corpora, load_questions, score  # noqa: E402
from index.reader import MODEL_PATH, Reader, Reading  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"


class CachedReader(Reader):
    def __init__(self, model: Path = MODEL_PATH) -> None:
        super().__init__(model)
        self.cache: dict[tuple[str, str, str], Reading] = {}
        self.whole: dict[tuple[str, tuple[str, ...]], list[Reading]] = {}

    def read(self, question: str, sentences: Sequence[str], previous: Sequence[str] | None = None) -> list[Reading]:
        before = list(previous) if previous is not None else [""] * len(sentences)
        keys = list(zip(sentences, before, strict=True))
        missing = [k for k in dict.fromkeys(keys) if (question, *k) not in self.cache]
        readings = super().read(question, [s for s, _ in missing], [p for _, p in missing])
        for (s, p), r in zip(missing, readings, strict=True):
            self.cache[(question, s, p)] = r
        return [self.cache[(question, s, p)] for s, p in keys]

    def read_passages(self, question: str, passages: Sequence[Sequence[str]]) -> list[list[Reading]]:
        keys = [(question, tuple(p)) for p in passages]
        missing = [k for k in dict.fromkeys(keys) if k not in self.whole]
        for key, readings in zip(missing, super().read_passages(question, [k[1] for k in missing]), strict=True):
            self.whole[key] = readings
        return [self.whole[k] for k in keys]


def engine_for(folders: list[Path], tmp: Path, model: Path = MODEL_PATH) -> tuple[Engine, dict[str, str]]:
    corpus = tmp / "corpus"
    _merge_corpora(folders, corpus)
    config = load_config(None)
    config = replace(config, index=replace(config.index, corpus_dir=corpus, index_dir=tmp / "index"))
    engine = Engine.from_config(config)
    engine.reader = CachedReader(model)
    engine.rebuild()
    return engine, {p.name: p.read_text("utf-8") for p in corpus.iterdir()}


def run(engine: Engine, questions: Any, offtopic: list[str]) -> dict[str, float]:
    predictions = _articlebot(engine, [q.question for q in questions])
    declined = [p.declined for p in _articlebot(engine, offtopic)]
    return score(questions, predictions, declined)


def main() -> None:
    offtopic = _lines(ROOT / "benchmarks" / "offtopic-questions.txt")
    sets = {
        "squad": ([EVAL / "squad-dev" / "corpus", EVAL / "squad-train" / "corpus"],
                  [EVAL / "squad-dev" / "questions.jsonl", EVAL / "squad-train" / "questions.jsonl"]),
        "news": ([EVAL / "news-dev" / "corpus"], [EVAL / "news-dev" / "questions.jsonl"]),
    }
    keys = ["cite@1", "cite@3", "answer_has_gold", "highlight_f1", "median_answer_chars", "declined_answerable",
            "declined_impossible", "declined_offtopic", "latency_p50_ms"]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODEL_PATH, help="the reading model (default: %(default)s)")
    parser.add_argument("--mix", default="0.5,1,2,3", help="reader_mix values, comma-separated")
    parser.add_argument("--threshold", default="0.1,0.2,0.3,0.4,0.5", help="reader_threshold values")
    parser.add_argument("--quick", action="store_true", help="the first setting only")
    parser.add_argument("--news", action="store_true", help="news-dev only")
    parser.add_argument("--every", type=int, default=3, help="every Nth SQuAD question (default: a third)")
    args = parser.parse_args()
    grid = list(itertools.product([float(x) for x in args.mix.split(",")], [1.0], [0.3],
                                  [float(x) for x in args.threshold.split(",")], [16]))
    if args.quick:
        grid = grid[:1]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (folders, files) in sets.items():
            if args.news and name != "news":
                continue
            engine, _ = engine_for(folders, Path(tmp) / name, args.model)
            questions = load_questions(files)[::args.every if name == "squad" else 1]
            for mix, second, cost, threshold, candidates in grid:
                engine.weights = replace(engine.weights, reader_mix=mix, reader_second=second,
                                         reader_length_cost=cost)
                answer = replace(engine.config.answer, reader_threshold=threshold, reader_candidates=candidates)
                engine.config = replace(engine.config, answer=answer)
                m = run(engine, questions, offtopic)
                print(name, f"mix={mix} second={second} cost={cost} threshold={threshold} n={candidates}",
                      " ".join(f"{k}={m[k]}" for k in keys), flush=True)


if __name__ == "__main__":
    main()
