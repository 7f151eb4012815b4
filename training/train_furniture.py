"""Train the furniture models (index/articles/furniture_model.py) and write them to index/models/furniture/.

    make train-furniture     # about a minute on 2 cores; fixed seeds

Examples come from training/furniture_data.py: qa-train's prose (train tenth of passages), news-dev's
units labelled by the rules, and pages of template furniture. Two small LightGBM models are trained
(the unit model and the glue model), and each one's threshold is the lowest that cuts at most
`--max-cut` of the validation tenth's prose units. The test tenth's false-cut rate and the models'
sizes go to index/models/furniture/training-report.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from training.furniture_data import (  # noqa: E402
    Examples,
    news_examples,
    news_pages,
    prose_examples,
    qa_passages,
    template_examples,
)

OUT = REPO / "index" / "models" / "furniture"
PARAMS: dict[str, Any] = {"objective": "binary", "learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 20,
                          "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1, "seed": 7,
                          "num_threads": 2, "verbose": -1, "deterministic": True, "force_row_wise": True}
ROUNDS = 40
# Models averaged per judge: the thresholds sit far in the tail of prose's scores, where one model's
# scores moved from seed to seed enough to keep or cut the same byline, and three models' enough, when
# two labels changed, to cut a live blog's line ("Australia have won the toss and will bowl …").
SEEDS = 5
# At most this share of the validation prose's units may be cut by the unit model, and of its candidate
# cuts by the glue model (the target is 0.2 % of sentences in all, and no gold answer). The glue
# model is held tighter: at 0.1 % it cut Reddit posts' openings ("Seriously | I shopped …") holding answers.
MAX_CUT = 0.001
MAX_GLUE_CUT = 0.0005
# A threshold below this would let the model leave out what it is unsure of.
MIN_THRESHOLD = 0.5
TEMPLATE_PAGES = 6000


def examples(shared: Path | None = None) -> Examples:
    """Every example: prose, news-dev by the rules, templates."""
    kwargs = {"shared": shared} if shared else {}
    passages = qa_passages(**kwargs)
    ex = prose_examples(passages)
    ex.extend(news_examples(news_pages(**kwargs)))
    ex.extend(template_examples(passages, TEMPLATE_PAGES))
    return ex


class Ensemble:
    """LightGBM binary models trained alike on different seeds, their raw scores averaged (as
    index/articles/furniture_model.py's Trees walks them)."""

    def __init__(self, boosters: list[Any]) -> None:
        self.boosters = boosters

    def predict(self, x: np.ndarray) -> np.ndarray:
        raw = np.mean([b.predict(x, raw_score=True) for b in self.boosters], axis=0)
        return np.asarray(1.0 / (1.0 + np.exp(-raw)))


def _fit(x: np.ndarray, y: np.ndarray) -> Ensemble:
    """SEEDS LightGBM binary models, classes weighted to balance."""
    import lightgbm

    positive = max(1, int(y.sum()))
    weight = np.where(y == 1, (len(y) - positive) / positive, 1.0)
    return Ensemble([lightgbm.train({**PARAMS, "seed": PARAMS["seed"] + i}, lightgbm.Dataset(x, y, weight=weight),
                                    num_boost_round=ROUNDS) for i in range(SEEDS)])


def threshold(scores: np.ndarray, max_cut: float) -> float:
    """The lowest threshold (at least MIN_THRESHOLD) that cuts at most `max_cut` of these prose scores."""
    if not len(scores):
        return MIN_THRESHOLD
    allowed = int(max_cut * len(scores))
    ordered = np.sort(scores)[::-1]
    # Above the (allowed+1)-th highest prose score, at most `allowed` prose units are cut.
    return float(max(MIN_THRESHOLD, np.nextafter(ordered[min(allowed, len(ordered) - 1)], 1.0)))


def train(ex: Examples, leave_out: str | None = None, max_cut: float = MAX_CUT,
          max_glue_cut: float = MAX_GLUE_CUT) -> tuple[Any, Any, float, float]:
    """The unit and glue models and their thresholds, trained without the group `leave_out` (a held-out site)."""
    def part(x: list[list[float]], y: list[int], groups: list[str], keep: str) -> tuple[np.ndarray, np.ndarray]:
        rows = [i for i, g in enumerate(groups) if _role(g, leave_out) == keep]
        return np.asarray([x[i] for i in rows], dtype=np.float64), np.asarray([y[i] for i in rows])

    ux, uy = part(ex.unit_x, ex.unit_y, ex.unit_group, "train")
    gx, gy = part(ex.glue_x, ex.glue_y, ex.glue_group, "train")
    unit, glue = _fit(ux, uy), _fit(gx, gy)
    vux, _ = part(ex.unit_x, ex.unit_y, ex.unit_group, "val")
    unit_threshold = threshold(unit.predict(vux), max_cut)
    # A prose unit is cut by the glue model when its best candidate scores above the threshold: the
    # threshold is set on each validation unit's best score, units without a candidate scoring 0.
    rows = [i for i, g in enumerate(ex.glue_group) if g == "qa:val"]
    best: dict[int, float] = {}
    if rows:
        for i, score in zip(rows, glue.predict(np.asarray([ex.glue_x[i] for i in rows])), strict=True):
            best[ex.glue_unit[i]] = max(best.get(ex.glue_unit[i], 0.0), float(score))
    unit_scores = np.asarray(list(best.values()) + [0.0] * (len(vux) - len(best)))
    glue_threshold = threshold(unit_scores, max_glue_cut)
    return unit, glue, unit_threshold, glue_threshold


def _role(group: str, leave_out: str | None) -> str:
    """What an example is for: "train", "val" (prose for thresholds), "test" or "held out"."""
    if group == "qa:val":
        return "val"
    if group == "qa:test" or (leave_out is not None and group == leave_out):
        return "test"
    return "train"


def main() -> None:
    """Train on everything (no site held out) and write the models, thresholds and report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    ex = examples()
    unit, glue, unit_threshold, glue_threshold = train(ex)
    args.out.mkdir(parents=True, exist_ok=True)
    for old in [*args.out.glob("unit*.txt"), *args.out.glob("glue*.txt")]:
        old.unlink()
    for name, ensemble in (("unit", unit), ("glue", glue)):
        for i, booster in enumerate(ensemble.boosters, 1):
            booster.save_model(str(args.out / f"{name}-{i}.txt"))
    (args.out / "thresholds.json").write_text(json.dumps(
        {"unit_threshold": round(unit_threshold, 6), "glue_threshold": round(glue_threshold, 6)}, indent=2) + "\n")
    groups = {g.split(":")[0] for g in ex.unit_group}
    report = {
        "unit_examples": {g: sum(1 for x in ex.unit_group if x.split(":")[0] == g) for g in sorted(groups)},
        "unit_furniture_examples": int(sum(ex.unit_y)), "glue_candidates": len(ex.glue_y),
        "glue_positive": int(sum(ex.glue_y)), "unit_threshold": unit_threshold, "glue_threshold": glue_threshold,
        "rounds": ROUNDS, "seeds": SEEDS, "params": PARAMS, "template_pages": TEMPLATE_PAGES,
        "bytes": {f.name: f.stat().st_size for f in sorted(args.out.iterdir()) if f.suffix in (".txt", ".json")},
    }
    (args.out / "training-report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
