"""Examples for the furniture models (index/articles/furniture_model.py): prose, news-dev's furniture, templates.

- **Prose**: the passages of ../shared/qa-train's SQuAD-format sets (SQuADShifts' Wikipedia, Reddit and
  Amazon reviews, the SQuAD 2.0 excerpt), split by passage into train / validation / test (8:1:1) by a
  hash, so that thresholds are chosen on the validation tenth and the false-cut rate is measured on the
  test tenth. The SQuAD sets under ../shared/eval are never read here: they measure false cuts too.
- **news-dev**: every unit of its pages, labelled by the rules (index/articles/furniture.py): furniture
  where the rules leave it all out, prose where they keep it all, and a glued scrap where the rules cut
  one off before a sentence. Each example carries its page's site, so that a site can be held out.
- **Templates**: pages built from qa-train prose (the train tenths only) with furniture of the kinds
  scraped pages carry written between, before and glued onto its sentences (by a space, a line break or
  nothing at all): navigation (some in capitals), section labels (printed once or twice), bylines with
  staff titles, datelines, notification widgets, feedback prompts, topic tags, photo credits, related
  headlines, teasers of other stories cut short with "…", share bars. Words are drawn at random from small lists, so
  the model learns the kinds' shapes rather than their phrases.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from index.articles.corpus import CorpusFile, read_article
from index.articles.furniture import judge, units
from index.articles.furniture_model import glue_cuts, glue_features, unit_features
from index.articles.repetition import site_of
from index.articles.text import Span, paragraphs

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
QA_SETS = ["squadshifts/new_wiki_v1.0.json", "squadshifts/reddit_v1.0.json", "squadshifts/amazon_reviews_v1.0.json",
           "squad-train/squad-v2-train-first10articles.json"]


@dataclass
class Examples:
    """Feature rows for the unit and glue models, with labels and where each came from."""

    unit_x: list[list[float]] = field(default_factory=list)
    unit_y: list[int] = field(default_factory=list)
    unit_group: list[str] = field(default_factory=list)  # "qa:train", "qa:val", "qa:test", "news:<site>", "template"
    glue_x: list[list[float]] = field(default_factory=list)
    glue_y: list[int] = field(default_factory=list)
    glue_group: list[str] = field(default_factory=list)
    glue_unit: list[int] = field(default_factory=list)  # which unit each candidate cuts (numbered across the set)
    units_seen: int = 0

    def add_unit(self, text: str, span: Span, label: int, group: str) -> None:
        """One unit example."""
        self.unit_x.append(unit_features(text, span))
        self.unit_y.append(label)
        self.unit_group.append(group)

    def add_glue(self, text: str, span: Span, true_cut: int | None, group: str) -> None:
        """Every candidate cut of a unit: positive at `true_cut` (an offset in the unit), negative elsewhere."""
        unit = text[span.start:span.end]
        self.units_seen += 1
        if len(unit.split()) < 8:
            return
        for cut in glue_cuts(unit):
            self.glue_x.append(glue_features(text, span, cut))
            self.glue_y.append(int(cut == true_cut))
            self.glue_group.append(group)
            self.glue_unit.append(self.units_seen)

    def extend(self, other: Examples) -> None:
        """Append another set's examples."""
        for name in ("unit_x", "unit_y", "unit_group", "glue_x", "glue_y", "glue_group"):
            getattr(self, name).extend(getattr(other, name))
        self.glue_unit.extend(self.units_seen + u for u in other.glue_unit)
        self.units_seen += other.units_seen


def split_of(passage: str) -> str:
    """The passage's tenth by hash: "test" (1 in 10), "val" (1 in 10) or "train"."""
    tenth = int(hashlib.sha256(passage.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "test" if tenth == 0 else "val" if tenth == 1 else "train"


def qa_passages(shared: Path = SHARED) -> list[tuple[str, list[tuple[int, int]]]]:
    """qa-train's passages, each with its gold answers' character spans."""
    out = []
    for name in QA_SETS:
        data = json.loads((shared / "qa-train" / name).read_text("utf-8"))
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                answers = [(a["answer_start"], a["answer_start"] + len(a["text"]))
                           for qa in paragraph["qas"] for a in qa.get("answers", [])]
                out.append((paragraph["context"], answers))
    return out


def prose_examples(passages: list[tuple[str, list[tuple[int, int]]]]) -> Examples:
    """Every unit of every passage as prose, grouped by its passage's split."""
    ex = Examples()
    for text, _ in passages:
        group = f"qa:{split_of(text)}"
        for para in paragraphs(text):
            for unit in units(text, para):
                ex.add_unit(text, unit, 0, group)
                ex.add_glue(text, unit, None, group)
    return ex


def news_pages(shared: Path = SHARED) -> list[tuple[str, str, str, list[Span]]]:
    """news-dev's pages: (source, site, text, paragraphs); a page without a URL is its own site (outlets vary)."""
    folder = shared / "eval" / "news-dev" / "corpus"
    out = []
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        article = read_article(CorpusFile(path.name, path, hashlib.sha256(data).hexdigest(), data))
        site = site_of(article.url, path.name) if article.url else f"page:{path.name}"
        out.append((path.name, site, article.text, [p.span for p in article.paragraphs]))
    return out


def news_examples(pages: list[tuple[str, str, str, list[Span]]]) -> Examples:
    """news-dev's units labelled by the rules, grouped by site."""
    ex = Examples()
    for _, site, text, spans in pages:
        group = f"news:{site}"
        for para in spans:
            judged = judge(text, para, learned=False)
            for unit in units(text, para):
                parts = [(span, why) for span, why in judged if unit.start <= span.start and span.end <= unit.end]
                flags = [why is not None for _, why in parts]
                if not parts:
                    continue
                if all(flags):
                    ex.add_unit(text, unit, 1, group)
                elif not any(flags):
                    ex.add_unit(text, unit, 0, group)
                    ex.add_glue(text, unit, None, group)
                elif flags[0] and not any(flags[1:]):  # a scrap the rules cut off before the sentence
                    rest = next(p for p, why in parts if why is None)
                    ex.add_glue(text, unit, rest.start - unit.start, group)
    return ex


# Words the templates draw from: invented or common, never a held-out site's phrases (we do not have them).
_FIRST = "Anna Ben Carla David Elena Farid Grace Hiro Ines James Kavya Liam Maria Nikhil Olga Pedro Rosa Sam".split()
_LAST = "Adeyemi Brown Chen Dubois Evans Fischer Gupta Haddad Ito Jones Kowalski Lopez Mensah Novak Okafor".split()
_SECTIONS = ("News World Politics Business Sport Culture Opinion Tech Science Health Travel Lifestyle Video "
             "Entertainment Cricket Football Tennis Markets Economy Climate Books Music Film Style").split()
_OUTLETS = "Daily Herald|The Courier|Metro Times|City Post|Reuters|AFP|Getty Images|AP|Staff|Wire".split("|")
_TITLES = ["Staff Writer", "Senior Correspondent", "Political Editor", "Sports Reporter", "Chief Reporter",
           "Special Correspondent", "Contributor", "Deputy Editor", "News Desk"]
_MONTHS = "January February March April May June July August September October November December".split()
_CITIES = "LONDON|NEW DELHI|WASHINGTON|PARIS|MUMBAI|SYDNEY|NAIROBI|TOKYO|BERLIN".split("|")


def _name(r: random.Random) -> str:
    return f"{r.choice(_FIRST)} {r.choice(_LAST)}"


def _date(r: random.Random) -> str:
    day, month, year = r.randint(1, 28), r.choice(_MONTHS), r.randint(2019, 2026)
    return r.choice([f"{month} {day}, {year}", f"{day} {month} {year}", f"{month[:3]} {day}, {year}"])


def _headline(r: random.Random, words: list[str]) -> str:
    chosen = r.sample(words, min(len(words), r.randint(4, 9)))
    return " ".join(w.capitalize() if r.random() < 0.7 else w.lower() for w in chosen)


def furniture(r: random.Random, words: list[str], other: list[str] | None = None, kind: int | None = None) -> str:
    """One piece of template furniture; `words` are words of prose to build headlines from, `other` words of
    another page, for the teasers of its stories."""
    section = r.choice(_SECTIONS)
    kind = r.randrange(14) if kind is None else kind
    if kind == 0:
        bar = " ".join(r.sample(_SECTIONS, r.randint(4, 10)))
        return bar.upper() if r.random() < 0.3 else bar
    if kind == 1:
        return r.choice([section, f"{section}{' ' * r.randint(2, 8)}{section}", f"{section} {r.choice(_SECTIONS)}"])
    if kind == 2:
        return r.choice([f"By {_name(r)}", f"By {_name(r)}, {r.choice(_TITLES)}", f"{_name(r)} {r.choice(_TITLES)}",
                         f"{_name(r)}{' ' * r.randint(2, 6)}{r.choice(_TITLES)}",
                         f"Written by {_name(r)} | Edited by {_name(r)}", f"By {_name(r)} and {_name(r)}"])
    if kind == 3:
        stamp = r.choice([_date(r),
                          f"{_date(r)} {r.randint(1, 12)}:{r.randint(10, 59)} {r.choice(['IST', 'GMT', 'ET'])}",
                          f"Updated {r.randint(1, 11)} hours ago", f"Published {_date(r)}",
                          f"{r.randint(2, 9)} min read"])
        return r.choice([stamp, f"{r.choice(_CITIES)}, {stamp}", f"{stamp} {r.choice(_CITIES)}:"])
    if kind == 4:
        thing = r.choice(["alerts", "notifications", "new messages", "saved stories", "updates"])
        return r.choice([f"There are no {thing} at this time", f"You have no {thing}", f"No {thing} right now",
                         f"Turn on {thing}", f"{thing.capitalize()} Manage {thing}",
                         f"You have no new {thing} at this time.", f"No new {thing} at this time",
                         f"{thing.capitalize()} There are no new {thing} at this time"])
    if kind == 5:
        return r.choice([f"Have a tip? Let us know at tips@{r.choice(_LAST).lower()}.com",
                         "Did we miss something? Let us know in the comments",
                         "Was this article helpful? Yes No", "What do you think? Tell us below",
                         f"Spotted an error? Contact the {section} desk"])
    if kind == 6:
        tags = r.sample(_SECTIONS, r.randint(1, 3))
        return r.choice([f"Topic:{tags[0]}", f"Topics: {', '.join(tags)}", f"Tags: {' '.join(tags)}",
                         f"Filed under {tags[0]}", f"More on {tags[0]}"])
    if kind == 7:
        outlet = r.choice(_OUTLETS)
        return r.choice([f"({outlet}/{_name(r)})", f"(Photo: {_name(r)}/{outlet})", f"{_name(r)}/{outlet}",
                         f"Image credit: {outlet}", f"(Photo by {_name(r)} / {outlet} via {r.choice(_OUTLETS)})"])
    if kind == 8:
        quote = _headline(r, words)
        return r.choice([f"'{quote}' - {r.choice(_LAST)} on {r.choice(_SECTIONS)}",
                         f"“{quote}”: {_name(r)}", " ".join(_headline(r, words) for _ in range(r.randint(2, 3)))])
    if kind == 9:
        return " ".join(r.sample(["Share", "Facebook", "Twitter", "X", "Email", "WhatsApp", "Copy link", "Save",
                                  "Print", "Comments"], r.randint(3, 6)))
    if kind == 10:
        return r.choice(["Advertisement", "Sponsored", "Story continues", "Listen to this article",
                         f"{r.randint(2, 400)} comments", "Most Read", "Trending", "Editor's picks"])
    if kind == 11:
        return f"{_name(r)} {r.choice(['speaks', 'arrives', 'gestures', 'celebrates'])} in {r.choice(_CITIES).title()}"
    if kind == 12:
        return f"{r.choice(_CITIES)} ({r.choice(['Reuters', 'AP', 'AFP', 'PTI'])}) -"
    if kind == 13 and other:  # a teaser cut short: "Railways to hire tech-enabled teams to clean…"
        start = r.randrange(max(1, len(other) - 12))
        teaser = " ".join(other[start:start + r.randint(5, 12)])
        return teaser[:1].upper() + teaser[1:] + r.choice(["…", "…", ":…", "...", " …"])
    return _headline(r, words)


def template_examples(passages: list[tuple[str, list[tuple[int, int]]]], count: int, seed: int = 7) -> Examples:
    """Pages of training prose with template furniture between and glued before its sentences."""
    r = random.Random(seed)
    prose = [text for text, _ in passages if split_of(text) == "train"]
    ex = Examples()
    for _ in range(count):
        other = [w for w in r.choice(prose).split() if w.isalpha()]  # words of another page, for headlines
        blocks: list[tuple[str, bool]] = [(furniture(r, [], other), True) for _ in range(r.randint(0, 3))]
        for n, text in enumerate(r.sample(prose, r.randint(1, 3))):
            words = [w for w in text.split() if w.isalpha()]
            if n == 0 and r.random() < 0.3:  # the article's own dateline opens its first sentence
                city = r.choice(_CITIES)
                text = r.choice([f"{city} — ", f"{city} ({r.choice(['AP', 'Reuters', 'AFP'])}) — ", f"{city}: ",
                                 f"{city.title()}, {r.choice(_MONTHS)} {r.randint(1, 28)} — "]) + text
            if r.random() < 0.5:
                blocks.append((furniture(r, words), True))
            blocks.append((text, False))
        blocks.extend((furniture(r, [], other), True) for _ in range(r.randint(0, 3)))
        blocks = [(text, is_furniture) for text, is_furniture in blocks if text]
        page = ""
        furniture_spans: list[Span] = []
        glue_at: dict[int, int] = {}  # start of a glued scrap -> where the sentence after it starts
        for text, is_furniture in blocks:
            if page:
                page += r.choice(["\n\n", "\n", "  ", "    ", "\t\t", " ", ""])
            if not is_furniture and r.random() < 0.6:  # a scrap glued before the prose's first sentence
                # bylines glue onto a story's first sentence more than anything else does
                scrap = furniture(r, [w for w in text.split() if w.isalpha()],
                                  kind=2 if r.random() < 0.25 else None) or "Advertisement"
                seam = r.choice([" ", " ", " ", "\n", ""])  # a space, a line break, or none at all
                glue_at[len(page)] = len(page) + len(scrap) + len(seam)
                furniture_spans.append(Span(len(page), len(page) + len(scrap)))
                page += scrap + seam
            start = len(page)
            page += text
            if is_furniture:
                furniture_spans.append(Span(start, len(page)))
        for para in paragraphs(page):
            for unit in units(page, para):
                inside = [f for f in furniture_spans if f.start < unit.end and unit.start < f.end]
                if not inside:
                    ex.add_unit(page, unit, 0, "template")
                    ex.add_glue(page, unit, None, "template")
                elif all(f.start <= unit.start and unit.end <= f.end for f in inside):
                    ex.add_unit(page, unit, 1, "template")
                elif unit.start in glue_at and glue_at[unit.start] < unit.end and len(inside) == 1:
                    ex.add_glue(page, unit, glue_at[unit.start] - unit.start, "template")
    return ex
