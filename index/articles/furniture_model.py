"""A tiny learned judge of site furniture, from the shape of a unit of text rather than its words.

index/articles/furniture.py's rules know the phrases of the sites they were written from; a new site
brings new ones. This model looks at what does not depend on the wording: how long a unit is, whether
it has the small words and verbs of a sentence, how many of its words are capitalised or numbers,
how it ends, the runs of spaces and tabs around it, where on the page it stands and what it is glued
to. Two gradient-boosted models (LightGBM, a few dozen shallow trees each, in index/models/furniture/,
trained by training/train_furniture.py, described in its MODEL_CARD.md):

- the unit model: the probability that a whole unit (a sentence, cut at runs of spaces) is furniture;
- the glue model: for each place a unit could be cut before a capitalised word, the probability that
  what lies before it is a scrap of the page (byline, dateline, caption, section label) glued to the
  article's sentence without a break.

Both decide only above thresholds chosen on held-out prose so that almost no sentence is cut
(the card gives the rates). Wording enters through closed classes only: function words and auxiliaries,
which every English sentence uses, never a site's phrases.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.articles.text import Span, is_heading, joins

if TYPE_CHECKING:
    import lightgbm

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "furniture"
# Changing the features or the model changes what is left out: the index's chunk settings name this.
VERSION = 2

_TOKEN = re.compile(r"\S+")
# Closed classes of English: the words that hold a sentence together, whatever it is about.
_FUNCTION = frozenset("the a an of to in and or for on that with as by at it from is was are were be been this "
                      "which who his her their its has have had not but than into about after over when will "
                      "would can could should may might also they he she we there more".split())
_AUXILIARY = frozenset("is was are were be been being has have had do does did will would can could should may "
                       "might must said says say told says according".split())
_CAPITALISED_OPENERS = frozenset("The A An In On At This That These It He She They We But And As After When "
                                 "While For From With By If".split())
_JOINING = frozenset("for to of in on at by with and or but so nor from as that which who than into over after "
                     "before about against because while since if then when where the a an".split())
# Words a scrap cannot end with: they join what follows to them ("Organizations like | The Black Swamp …").
_CANNOT_END = _JOINING | frozenset("like unlike including via per between among through during without within "
                                   "under near such its their his her our your my this these those is was are "
                                   "were be been".split())
SENTENCE_END = re.compile(r"""[.!?…]["'”’)\]]*$""")
# A wire dateline opening the article's first sentence: "BOSTON — ", "LONDON (Reuters) - ", "NEW DELHI: ",
# "Kyiv, May 3 — ". What stands before one on the same line is not the article's. Its place in capitals
# and region ("KYIV, Ukraine") serve the rules too (index/articles/furniture.py).
_CAPITALS = r"[A-Z][A-Z.'’-]+(?: [A-Z][A-Z.'’-]+)*"
_REGION = r"(?:, [A-Z][\w.]+(?: [A-Z][\w.]+)?)?"
DATELINE_PLACE = _CAPITALS + _REGION
_DATELINE_OPENS = re.compile(rf"(?:{_CAPITALS}|[A-Z][a-z]+, [A-Z][a-z]+\.? \d{{1,2}}){_REGION}"
                             r"(?: \([^()]{1,30}\))?\s?(?:[—–:]|--?)\s")
# How a byline opens, in any English newspaper: "By Ann Lee", "Written by Ann Lee".
_BYLINE = re.compile(r"(?:By|BY|Written by|Words by|Reported by)\s+[A-Z]")
# A teaser cut short: "… to clean long-distance trains:…", "… to make…" (an ellipsis straight after a word).
_TRUNCATED = re.compile(r"[\w,:;]\s?(?:…|\.\.\.)$")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_CLOCK = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
_MARKS = "|•»·/#@©"


def _context(text: str, at: int, step: int) -> tuple[float, float, float, float, float]:
    """What lies just before (step -1) or after (step 1) a unit: line break, tab, run of spaces, one space
    or none, no space at all ("…at this timeBOSTON —": a scrape that joined two blocks)."""
    i = at - 1 if step < 0 else at
    spaces = 0
    while 0 <= i < len(text) and text[i] in " \u00a0":
        spaces += 1
        i += step
    if not 0 <= i < len(text):
        return (1.0, 0.0, 0.0, 0.0, 0.0)
    c = text[i]
    joined = c not in "\n\r\t"
    return (float(c in "\n\r"), float(c == "\t"), float(spaces >= 2), float(spaces <= 1 and joined),
            float(spaces == 0 and joined))


def shape(unit: str) -> list[float]:
    """The features of a unit's own text (no context): length, small words, capitals, numbers, how it ends."""
    tokens = _TOKEN.findall(unit)
    n = max(1, len(tokens))
    words = [t.strip(",.;:!?\"'“”‘’()[]|") for t in tokens]
    alpha = [w for w in words if any(c.isalpha() for c in w)] or [""]
    lower = [w.lower() for w in alpha]
    capitalised = sum(w[:1].isupper() for w in alpha) / len(alpha)
    all_caps = sum(len(w) >= 2 and w.isupper() for w in alpha) / len(alpha)
    numeric = sum(any(c.isdigit() for c in t) and not any(c.isalpha() for c in t) for t in tokens) / n
    function = sum(w in _FUNCTION for w in lower) / len(alpha)
    verbs = sum(w in _AUXILIARY or (len(w) > 4 and (w.endswith("ed") or w.endswith("ing"))) for w in lower)
    run = longest = 0
    for w in alpha:
        run = run + 1 if w[:1].isupper() else 0
        longest = max(longest, run)
    stripped = unit.strip()
    last = stripped[-1:] or " "
    first = stripped[:1] or " "
    doubled = float(any(a == b and a[:1].isupper() for a, b in zip(alpha, alpha[1:], strict=False))
                    or (len(alpha) >= 2 and len(alpha) % 2 == 0 and alpha[:len(alpha) // 2] == alpha[len(alpha) // 2:]))
    return [
        math.log1p(len(tokens)), math.log1p(len(stripped)), capitalised, all_caps, numeric, function,
        float(verbs > 0), verbs / n, longest / n, float(bool(SENTENCE_END.search(stripped))),
        float(last == ":"), float(last == ")"), float(last == "?"), float(last in "\"”’'"),
        float(first.isupper()), float(first in "\"“‘'"), float(first.isdigit()), float(first.islower()),
        sum(stripped.count(c) for c in _MARKS) / n, float("(" in stripped), stripped.count(",") / n,
        sum(len(w) for w in alpha) / len(alpha), float(bool(_YEAR.search(stripped))),
        float(bool(_CLOCK.search(stripped))), doubled, float(":" in stripped[:-1]),
        sum(not c.isalnum() and not c.isspace() for c in stripped) / max(1, len(stripped)),
        float(bool(_TRUNCATED.search(stripped))), float(bool(_BYLINE.match(stripped))),
    ]


def _neighbours(text: str, span: Span) -> tuple[str, str]:
    """The nearest non-space characters before and after a span ("" at the text's ends)."""
    before = text[max(0, span.start - 200):span.start].rstrip()
    after = text[span.end:span.end + 200].lstrip()
    return before[-1:], after[:1]


def continues(text: str, span: Span) -> bool:
    """Whether the sentence goes on past the unit: what follows opens in lower case ("The generic term  callable
    unit is …", a formula "… {x}  where …"), so the unit is part of a sentence the scrape broke, not a block."""
    return _neighbours(text, span)[1].islower()


def unit_features(text: str, span: Span) -> list[float]:
    """The features of one unit in its page: its shape, what it is glued to, where it stands."""
    before, after = _neighbours(text, span)
    return [*shape(text[span.start:span.end]), *_context(text, span.start, -1), *_context(text, span.end, 1),
            span.start / max(1, len(text)), float(after.islower()), float(before.isalpha() or before == ",")]


def glue_cuts(unit: str) -> list[int]:
    """Where a unit could be cut into a scrap and the sentence it is glued before: at a seam of the page.

    A seam is where a sentence could open after something that did not end like one: after a closing
    bracket, colon, bar or quote; or before a capitalised opener ("The", "In"), a quote, a word in
    capitals ("LONDON") or a capitalised word followed by a number (a date); or where the scrape glued
    two blocks with no space at all (index/articles/text.py's `joins`: "… Staff WriterThe council").
    Never inside a run of capitalised words that goes on as a name ("Prime Minister Narendra | Modi"),
    nor before a name that follows a lower-case word ("Former England captain | Edwards vowed"), nor
    after a word that joins what follows to it ("Organizations like | The Black Swamp Conservancy"):
    those cuts cost prose.
    """
    tokens = list(_TOKEN.finditer(unit))
    cuts = []
    for i in range(1, min(30, len(tokens) - 5)):
        word, before, then = tokens[i].group(), tokens[i - 1].group(), tokens[i + 1].group()
        if SENTENCE_END.search(before) or not (word[:1].isupper() or word[:1] in "\"“‘'" or word[:1].isdigit()):
            continue
        if before.lower() in _CANNOT_END:
            continue
        seam = (before[-1:] in ")]:|\"”’" or word in _CAPITALISED_OPENERS or word[:1] in "\"“‘'"
                or (len(word) >= 3 and word.isupper()) or (word[:1].isupper() and then[:1].isdigit()))
        if seam:
            cuts.append(tokens[i].start())
    for at in joins(unit):  # blocks glued with no space: "By Ann Lee, Staff WriterThe council …"
        i = next((n for n, t in enumerate(tokens) if t.start() < at < t.end()), 30)
        if i < 30 and len(tokens) - i > 5 and unit[tokens[i].start():at].lower() not in _CANNOT_END:
            cuts.append(at)
    return sorted(cuts)


def glue_features(text: str, span: Span, cut: int) -> list[float]:
    """The features of cutting `span` at `cut` (an offset in the unit): scrap before, rest after, the seam."""
    unit = text[span.start:span.end]
    scrap, rest = unit[:cut].rstrip(), unit[cut:]
    before = scrap.split()[-1] if scrap.split() else ""
    after = rest.split()[0] if rest.split() else ""
    names = re.findall(r"[A-Z][\w'’-]+", scrap)
    return [
        *shape(scrap), *shape(rest), *_context(text, span.start, -1), *_context(text, span.start + cut, -1),
        span.start / max(1, len(text)),
        float(before[-1:] in ")]:|,;\"”’'"), float(before[:1].islower()), float(before.lower() in _JOINING),
        float(before[:1].isdigit()), float(after in _CAPITALISED_OPENERS), float(len(after) >= 2 and after.isupper()),
        float(any(name in rest.split()[:12] for name in names)), len(scrap.split()) / max(1, len(unit.split())),
        float(bool(_DATELINE_OPENS.match(rest))),
    ]


class Trees:
    """LightGBM binary models walked in Python, their raw scores averaged (a few trained alike on other seeds:
    one alone moves the scores near the thresholds from seed to seed). One row costs about 9 µs a model,
    where a call into LightGBM costs about a millisecond (most units are judged one at a time, as the rules
    leave them)."""

    def __init__(self, *boosters: lightgbm.Booster) -> None:
        self._trees = [self._compile(t["tree_structure"]) for b in boosters for t in b.dump_model()["tree_info"]]
        self._scale = 1.0 / len(boosters)

    @staticmethod
    def _compile(node: dict[str, Any]) -> Any:
        """A tree as nested tuples: (feature, threshold, left, right) for a split, a float for a leaf."""
        if "leaf_value" in node:
            return float(node["leaf_value"])
        if node.get("decision_type", "<=") != "<=":
            raise ValueError(f"unsupported split {node.get('decision_type')!r} in the furniture model")
        return (int(node["split_feature"]), float(node["threshold"]),
                Trees._compile(node["left_child"]), Trees._compile(node["right_child"]))

    def predict(self, rows: list[list[float]]) -> list[float]:
        """The probability for each row of features."""
        out = []
        for row in rows:
            total = 0.0
            for node in self._trees:
                while isinstance(node, tuple):
                    node = node[2] if row[node[0]] <= node[1] else node[3]
                total += node
            out.append(1.0 / (1.0 + math.exp(-total * self._scale)))
        return out


@dataclass(frozen=True)
class FurnitureModel:
    """The unit and glue models with the thresholds above which they leave text out."""

    unit: Trees
    glue: Trees
    unit_threshold: float
    glue_threshold: float
    # A unit shorter than this many words is not cut: the scrap and the sentence each need a few.
    glue_min_words: int = 8

    @classmethod
    def load(cls, folder: Path = MODEL_DIR) -> FurnitureModel:
        """The models in `folder` (unit-*.txt, glue-*.txt, thresholds.json)."""
        import lightgbm

        settings: dict[str, Any] = json.loads((folder / "thresholds.json").read_text("utf-8"))
        def trees(name: str) -> Trees:
            return Trees(*(lightgbm.Booster(model_file=str(f)) for f in sorted(folder.glob(f"{name}-*.txt"))))

        return cls(trees("unit"), trees("glue"),
                   float(settings["unit_threshold"]), float(settings["glue_threshold"]))

    def judges(self, text: str, span: Span) -> bool:
        """Whether the model may leave the unit out at all: not a Markdown heading (the author's), not a
        fragment of fewer than two letters (a formula's symbol), not part of a sentence that goes on after it."""
        unit = text[span.start:span.end]
        return (sum(c.isalpha() for c in unit) >= 2 and not is_heading(unit) and not continues(text, span))

    def score(self, text: str, span: Span) -> float:
        """The probability that the unit `span` of `text` is furniture (0 for a unit it does not judge)."""
        if not self.judges(text, span):
            return 0.0
        return self.unit.predict([unit_features(text, span)])[0]

    def glued(self, text: str, span: Span) -> tuple[Span, Span, float] | None:
        """A scrap glued before the unit's sentence, the rest of the unit, and the glue model's score; or None."""
        unit = text[span.start:span.end]
        if len(unit.split()) < self.glue_min_words:
            return None
        cuts = glue_cuts(unit)
        if not cuts:
            return None
        scores = self.glue.predict([glue_features(text, span, cut) for cut in cuts])
        best = max(range(len(cuts)), key=lambda i: scores[i])
        if scores[best] < self.glue_threshold:
            return None
        cut = span.start + cuts[best]
        scrap_end = span.start + len(unit[:cuts[best]].rstrip())
        return Span(span.start, scrap_end), Span(cut, span.end), float(scores[best])


_loaded: FurnitureModel | None = None
_lock = threading.Lock()


def default_model() -> FurnitureModel:
    """The shipped model (index/models/furniture/), loaded once per process."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = FurnitureModel.load()
        return _loaded
