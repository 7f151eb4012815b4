"""Site furniture in scraped article text: the sentences a page carries that are not the article.

Text saved by scrapers (plain .txt of a whole page) holds, between the article's sentences, the
site's own: "Sign up for breaking news…", "When you purchase through links on our site, we may earn
an affiliate commission", "This issue is preventing our website from loading properly", stock
tickers ("+ 62.97 + 25.45 -10.00"), navigation lists ("Home News Sport Business …"), share and
cookie prompts, embedded-tweet bylines. They answer nothing, yet they share words with questions,
so the engine could quote them. Chunking leaves them out (index/chunking.py): the file is never
rewritten, the kept sentences keep their exact offsets, and a chunk never spans across what was
left out.

Rules, not a trained model: each names one kind of furniture, is checked on one sentence at a time,
and is written narrowly enough that a news sentence about subscriptions or markets is kept (see
tests/test_furniture.py for both sides). Pages fetched by `articlebot add URL` are already cleaned
by trafilatura; these rules are for files that arrive as they were scraped.
"""

from __future__ import annotations

import re

from index.text import Span, sentences

# Phrases that only site furniture says. Each must be specific: "subscribers" alone is news.
_PHRASES = re.compile(
    r"|".join([
        r"\bsign up (?:for|to) (?:our|breaking|daily|weekly|free)\b",
        r"\bsubscribe (?:to|for) (?:our|the) (?:newsletter|channel|podcast)\b",
        r"\byou are now subscribed\b", r"\bnewsletter sign-?up\b", r"\bthank you for (?:subscribing|signing up)\b",
        r"\bget (?:our|the) (?:free )?newsletter\b", r"\balready (?:a subscriber|have an account)\b",
        r"\bpurchase through links on our site\b", r"\bmay earn an affiliate commission\b",
        r"\baffiliate links?\b.*\bcommission\b",
        r"\ball rights reserved\b", r"\bcopyright ©", r"©\s?\d{4}",
        r"\bclick here\b", r"^\s*(?:also read|read more|read also|recommended|related stories|related articles|"
        r"most popular|trending now|watch|listen|advertisement)\s*[:|-]",
        r"\bfollow us on\b", r"\bshare (?:this|on) (?:article|story|facebook|twitter|x|whatsapp|linkedin)\b",
        r"\bdownload (?:the|our) app\b", r"\bstory continues below\b", r"\bcontinue reading\b",
        r"\bskip to (?:main )?content\b", r"\b(?:accept|manage) (?:all )?cookies\b",
        r"\bthis (?:web)?site uses cookies\b",
        r"\bcookie (?:policy|settings)\b", r"\b(?:enable|turn on) javascript\b", r"\bad ?blocker\b",
        r"\[email(?:&#160;|\s)protected\]", r"\bpreventing our website from loading\b",
        r"\btroubleshooting tips\b", r"\bby submitting your (?:email|information)\b",
        r"^\s*subscribe to (?:our|the)\b", r"\bin your inbox\b", r"\bget whatsapp alerts\b",
        r"\bjoin our (?:whatsapp |telegram )?channel\b", r"\bstay updated with notifications\b",
        r"\bpic\.twitter\.com/", r"\(@\w{1,15}\)\s+(?:January|February|March|April|May|June|July|August|September"
        r"|October|November|December) \d{1,2}, \d{4}",
    ]),
    re.IGNORECASE,
)
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|"
          r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
# A block that is only when the page was published: "August 12, 2025 18:11 IST", "Updated: 12 Aug 2025,
# 10:30 AM". A date alone is not enough (a heading may be one); the time of day marks the site's stamp.
_STAMP = (rf"(?:(?:published|updated|last updated|posted)(?: on)?\s*[:|-]?\s*)?"
          rf"(?:\w+day,?\s+)?(?:{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}})"
          rf",?\s*(?:at\s+)?\d{{1,2}}[:.]\d{{2}}(?:\s*[ap]\.?m\.?)?")
_DATELINE = re.compile(rf"^{_STAMP}(?:\s+[A-Z]{{2,4}})?\s*$", re.IGNORECASE)
# The same stamp glued before the article's sentence: "August 18, 2025 13:35 IST 'In consultations, …".
# Its time zone, if any, in capitals, so that the sentence's first word is never taken for one.
_DATELINE_BEFORE = re.compile(rf"^\s*{_STAMP}(?-i:\s+[A-Z]{{2,4}}\b)?\s+", re.IGNORECASE)
# A scrape's separator between blocks: "**********", "======".
_SEPARATOR = re.compile(r"(?<!\S)[*=_~#•·]{3,}(?!\S)")
# A block that ends in a picture's credit: "Nayib Bukele (Casa Presidencial El Salvador via Flickr)",
# "Fans at the stadium. Photo: Reuters", "(AP Photo/Jane Doe)". A caption, not the article's prose.
_PHOTO_CREDIT = re.compile(
    r"(?:\((?:[^()]{0,80}\bvia (?:Flickr|Wikimedia(?: Commons)?|Getty Images|Reuters|AP|AFP|X|Twitter|Instagram)"
    r"|(?:AP|AFP|Reuters|PTI|ANI|Getty)?\s*(?:Photo|Image|Picture)s?\s*(?:/|:|by|credit:?)[^()]{0,60})\)"
    r"|\b(?:Photo|Image|Picture)\s*(?:credit)?\s*:\s*[^.!?]{1,60}"
    r"|\bGetty Images)\s*$",
    re.IGNORECASE,
)
# A wire service's exchange-rate note closing a story: "($1 = 87.5080 Indian rupees)".
_RATE_NOTE = re.compile(r"\(\s?[$€£¥]\s?1\s?=\s?[$€£¥]?\s?\d[\d.,]*\s[^()]{1,40}\)\s*$")
_NUMBERISH = re.compile(r"^[+\-−–]?[$€£¥]?\d[\d,.]*%?$|^[+\-−–%]$")
_TOKEN = re.compile(r"\S+")
# Four or more numbers in a row, signed or with signs between: a market ticker's run of quotes.
_NUMBER = r"[+\-−–]?\s?[$€£¥]?\d[\d,.]*%?"
_TICKER = re.compile(rf"(?<!\S){_NUMBER}(?:\s+(?:[+\-−–]\s+)?{_NUMBER}){{3,}}(?!\S)")


# A sentence that matches a phrase but runs on for more words than this is a scrape that glued the
# site's line to the article's ("…sign-up was successful Australia vs South Africa T20 at Cazaly's
# Stadium…"): it is kept, since leaving it out would lose the article's words.
_MOST_WORDS = 40
_GAP = re.compile(r"[ \t\u00a0]{2,}|\t")  # scrapers join a page's blocks with runs of spaces


# A photo caption glued before the article's opening sentence, which names the same person: "Ann
# Lee made her debut for Kent aged 16 Ann Lee will miss the rest of the season…". The caption opens
# with a name (two or three capitalised words) that recurs within its first 30 words as a sentence
# would open: not after a word or mark that would join it to what came before ("to", "but", a
# comma), and followed by a lower-case word that is not one either; or its surname recurs after a
# title that follows a lower-case word or a number ("… at Lord's in 2017 All-rounder Lee replaced …").
# On the qa-train passages (55,325 sentences of Wikipedia, Reddit and reviews) this fires on none.
_CAPITALISED = re.compile(r"[A-Z][\w'’.-]*")
_NOT_A_NAME = frozenset("The A An In On At This That These Those It He She They We I For From By With After Before "
                        "When While As".split())
_JOINING = frozenset("for to of in on at by with and or but so yet nor from as that which who whom whose than into "
                     "over after before about against because while since although if then when where".split())
# A related story's headline glued before the article's sentence, in the style "'Quote' - Person on
# topic": "'Budget cuts hit hard' - Lee on The Cup and League Ann Lee replaced…". The headline runs
# on through capitalised words and the small words of titles; its last word after the last small
# one ("League") ends it, and the article's sentence opens with the capitalised words after it.
_RELATED = re.compile(r"^['‘\"“][^.!?]{3,80}?['’\"”]\s+[-–]\s+[A-Z][\w'’.-]*\s+on\s+")
_TITLE_WORDS = frozenset("and of the a an in on for to at vs v &".split())
# Related stories' headlines run together, the last a question: "Ann Lee: England head coach on
# World Cup hopes Who should be in England team for World Cup?". A question word opening after a
# lower-case word with no stop between them: the part before has no end of its own, as a headline.
# Headlines do not speak as "I" or to "you": a forum post's run-on question does ("… within budget
# What is your budget?"), and is kept.
_HEADLINES = re.compile(r"\b[a-z][\w'’-]*\s+(?:Who|What|Why|How|When|Where|Which)\b[^.!?]*\?\s*$")
_PERSONAL = re.compile(r"\b(?:I|me|my|you|your|we|our|us)\b", re.IGNORECASE)


def is_furniture(sentence: str) -> bool:
    """Whether one sentence (or block) is the site's, not the article's."""
    tokens = _TOKEN.findall(sentence)
    if _PHRASES.search(sentence) and len(tokens) <= _MOST_WORDS:
        return True
    stripped = sentence.strip()
    if _DATELINE.match(stripped) or _RATE_NOTE.fullmatch(stripped):
        return True
    if _HEADLINES.search(sentence) and len(tokens) <= 30 and not _PERSONAL.search(sentence):
        return True
    if _PHOTO_CREDIT.search(sentence) and len(tokens) <= 20:
        return True
    if len(tokens) >= 4:
        numeric = sum(bool(_NUMBERISH.match(t)) for t in tokens)
        if numeric >= 4 and numeric >= 0.5 * len(tokens):  # a ticker: "+ 62.97 + 25.45 -10.00 …"
            return True
    words = [t.strip(",.;:|»·•") for t in tokens if any(c.isalpha() for c in t)]
    if len(words) >= 10 and not re.search(r"[.!?]\s*$", sentence):
        capitalised = sum(w[:1].isupper() for w in words if w)
        if capitalised >= 0.85 * len(words):  # a navigation list: "Home News Sport Business …"
            return True
    return False


def article_spans(text: str, within: Span) -> list[Span]:
    """The runs of `within` left once furniture is taken out (all of it when there is none).

    The units judged are sentences, cut again where the scrape joined blocks with a run of spaces.
    """
    judged = [part for sentence in sentences(text, within) for block in _blocks(text, sentence)
              for part in _judged(text, block)]
    parts = [part for part, _ in judged]
    flags = [furniture for _, furniture in judged]
    if not any(flags):
        return [within]
    kept: list[Span] = []
    start: int | None = None
    end = 0
    for part, furniture in zip(parts, flags, strict=True):
        if furniture:
            if start is not None:
                kept.append(Span(start, end))
                start = None
            continue
        if start is None:
            start = part.start
        end = part.end
    if start is not None:
        kept.append(Span(start, end))
    return kept


def _judged(text: str, block: Span) -> list[tuple[Span, bool]]:
    """The parts of one unit, each with whether it is furniture; what is left of a unit is judged again."""
    unit = text[block.start:block.end]
    if not unit.strip():
        return []
    first = block.start + len(unit) - len(unit.lstrip())
    block, unit = Span(first, first + len(unit.strip())), unit.strip()
    middle = _TICKER.search(unit)
    if not (middle and len(re.findall(r"[+\-−–]", middle.group())) >= 2):  # "… first game. + 62.97 + 25.45 …"
        middle = _SEPARATOR.search(unit)  # "… Das says. ********** The tournament …"
    if middle:
        start, end = block.start + middle.start(), block.start + middle.end()
        return [*_judged(text, Span(block.start, start)), (Span(start, end), True),
                *_judged(text, Span(end, block.end))]
    note = _RATE_NOTE.search(unit)
    if note and unit[:note.start()].strip():  # "… has also been called off. ($1 = 87.5 rupees)"
        cut = block.start + len(unit[:note.start()].rstrip())
        return [*_judged(text, Span(block.start, cut)), (Span(cut, block.end), True)]
    # "You are now subscribed … was successful Australia vs South Africa …", a dateline, a caption or a
    # related story's headline before the article's sentence: the rest is judged on its own
    glued = _glued_prefix(unit) or _stamp_before(unit) or _caption_before(unit) or _related_headline(unit)
    if glued:
        return [(Span(block.start, block.start + glued), True), *_judged(text, Span(block.start + glued, block.end))]
    return [(block, is_furniture(unit))]


def _glued_prefix(unit: str) -> int:
    """The length of furniture opening a long unit that goes on as the article (0 when there is none)."""
    matches = list(_PHRASES.finditer(unit))
    if not matches or unit[:matches[0].start()].strip():
        return 0
    end = matches[-1].end()
    after = re.match(r"\s*(?:was successful|is successful|now)?[\s.!:,|-]*", unit[end:])
    end += after.end() if after else 0
    return end if len(_TOKEN.findall(unit[end:])) >= 12 else 0


def _stamp_before(unit: str) -> int:
    """The length of a dateline glued before a sentence (0 when there is none)."""
    found = _DATELINE_BEFORE.match(unit)
    return found.end() if found and len(_TOKEN.findall(unit, found.end())) >= 3 else 0


def _caption_before(unit: str) -> int:
    """The length of a caption glued before a sentence that opens with the name it opens with (0: none)."""
    tokens = list(_TOKEN.finditer(unit))
    words = [t.group() for t in tokens]
    name: list[str] = []
    for word in words[:3]:
        if not _CAPITALISED.fullmatch(word) or word in _NOT_A_NAME:
            break
        name.append(word)
    if len(name) < 2 or len(words) < 12:
        return 0
    n = len(name)
    for i in range(n + 4, min(len(words) - n - 5, 30)):
        if words[i:i + n] == name:  # "… aged 16 Ann Lee will miss …"
            opening = i
        elif words[i] == name[-1] and _CAPITALISED.fullmatch(words[i - 1]) and not words[i - 2][:1].isupper():
            opening = i - 1  # "… in 2017 All-rounder Lee replaced …": a title before the surname
        else:
            continue
        before, after = words[opening - 1], words[i + (n if opening == i else 1)]
        joined = before.lower() in _JOINING or before[-1] in ",;:.!?"
        opens = after[:1].islower() and after not in _JOINING
        return tokens[opening].start() if opens and not joined else 0
    return 0


def _related_headline(unit: str) -> int:
    """The length of a related story's headline glued before a sentence (0 when there is none)."""
    headline = _RELATED.match(unit)
    if not headline:
        return 0
    run: list[re.Match[str]] = []  # the capitalised words since the headline's last small word
    for token in _TOKEN.finditer(unit, headline.end()):
        word = token.group()
        if word[:1].isupper():
            run.append(token)
        elif word.lower() in _TITLE_WORDS:
            run = []
        else:
            break
    else:
        return 0
    if len(run) < 2:
        return 0
    opening = run[1]  # the headline's last words name one thing: "… and Ashes", "… on Budgets"
    return opening.start() if len(_TOKEN.findall(unit, opening.start())) >= 6 else 0


def _blocks(text: str, sentence: Span) -> list[Span]:
    out = []
    start = sentence.start
    for gap in _GAP.finditer(text, sentence.start, sentence.end):
        if text[start:gap.start()].strip():
            out.append(Span(start, gap.start()))
        start = gap.end()
    if text[start:sentence.end].strip():
        out.append(Span(start, sentence.end))
    return out
