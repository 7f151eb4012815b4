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
_DATELINE = re.compile(
    rf"^(?:(?:published|updated|last updated|posted)(?: on)?\s*[:|-]?\s*)?"
    rf"(?:\w+day,?\s+)?(?:{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}})"
    rf",?\s*(?:at\s+)?\d{{1,2}}[:.]\d{{2}}(?:\s*[ap]\.?m\.?)?(?:\s+[A-Z]{{2,4}})?\s*$",
    re.IGNORECASE,
)
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


def is_furniture(sentence: str) -> bool:
    """Whether one sentence (or block) is the site's, not the article's."""
    tokens = _TOKEN.findall(sentence)
    if _PHRASES.search(sentence) and len(tokens) <= _MOST_WORDS:
        return True
    stripped = sentence.strip()
    if _DATELINE.match(stripped) or _RATE_NOTE.fullmatch(stripped):
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
    parts: list[Span] = []
    flags: list[bool] = []
    for sentence in sentences(text, within):
        for block in _blocks(text, sentence):
            unit = text[block.start:block.end]
            ticker = _TICKER.search(unit)
            if ticker and len(re.findall(r"[+\-−–]", ticker.group())) >= 2:  # "… first game. + 62.97 + 25.45 …"
                pieces = [(block.start, block.start + ticker.start(), False),
                          (block.start + ticker.start(), block.start + ticker.end(), True),
                          (block.start + ticker.end(), block.end, False)]
                for first, last, furniture in pieces:
                    if text[first:last].strip():
                        parts.append(Span(first, last))
                        flags.append(furniture)
                continue
            note = _RATE_NOTE.search(unit)
            if note and unit[:note.start()].strip():  # "… has also been called off. ($1 = 87.5 rupees)"
                cut = block.start + len(unit[:note.start()].rstrip())
                parts += [Span(block.start, cut), Span(cut, block.end)]
                flags += [is_furniture(text[block.start:cut]), True]
                continue
            glued = _glued_prefix(unit)
            if glued:  # "You are now subscribed … was successful Australia vs South Africa …": keep the rest
                parts += [Span(block.start, block.start + glued), Span(block.start + glued, block.end)]
                flags += [True, False]
            else:
                parts.append(block)
                flags.append(is_furniture(unit))
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


def _glued_prefix(unit: str) -> int:
    """The length of furniture opening a long unit that goes on as the article (0 when there is none)."""
    matches = list(_PHRASES.finditer(unit))
    if not matches or unit[:matches[0].start()].strip():
        return 0
    end = matches[-1].end()
    after = re.match(r"\s*(?:was successful|is successful|now)?[\s.!:,|-]*", unit[end:])
    end += after.end() if after else 0
    return end if len(_TOKEN.findall(unit[end:])) >= 12 else 0


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
