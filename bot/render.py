"""Pure functions from engine results to Discord messages that always fit Discord's limits.

Everything taken from articles or users is escaped twice: markdown, so a quote renders as the
article's text, and mentions, so nothing in it can ever ping (allowed_mentions is none as well).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence
from urllib.parse import quote as percent_encode

import discord
from discord.utils import escape_markdown, escape_mentions

from bot.excerpt import Excerpt, excerpt, place
from index import (
    Addition,
    Answer,
    AnswerSentence,
    ArticlebotError,
    ArticleInfo,
    BuildProgress,
    BuildReport,
    Citation,
    FeedConfig,
    FeedHealth,
    Gap,
    IndexDatabaseError,
    IndexStatus,
    Removal,
    Summary,
    gap_lines,
)

if TYPE_CHECKING:
    from bot.shards import Shards

# Discord's limits, https://discord.com/developers/docs/resources/message#create-message
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_LIMIT = 25
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10

ELLIPSIS = "…"
SOURCES_PER_PAGE = 10
# A text-fragment link longer than this is left out rather than crowding out the quote.
LINK_LIMIT = 400
# Words of a long quote used to find its start and its end in the browser.
FRAGMENT_WORDS = 5

log = logging.getLogger(__name__)
APOLOGY = "Sorry, something went wrong on my side while doing that. It has been logged; please try again later."
DATABASE_APOLOGY = ("Sorry, I cannot reach my index database just now. The bot's operator has the details in its "
                    "log; please try again later.")


def error_text(error: ArticlebotError) -> str:
    """What a Discord user is told of an engine error: its own words, except for an error meant for the operator.

    An IndexDatabaseError names the database, its host or socket path and its user, which are the
    operator's business: the user gets an apology, and the log keeps the details.
    """
    if isinstance(error, IndexDatabaseError):
        log.error("the index database failed: %s", error)
        return DATABASE_APOLOGY
    return str(error)
NO_MENTIONS = discord.AllowedMentions.none()
ANSWER_COLOUR = discord.Colour.blurple()
DECLINED_COLOUR = discord.Colour.light_grey()


@dataclass(frozen=True)
class Reply:
    """One Discord message, already within every limit (send it with allowed_mentions=NO_MENTIONS)."""

    content: str
    embeds: tuple[discord.Embed, ...] = field(default_factory=tuple)


def escape(text: str) -> str:
    """Text as Discord should show it literally: markdown escaped and mentions defused."""
    return escape_mentions(escape_markdown(text))


def fit(text: str, limit: int) -> str:
    """Escape `text` and, if needed, trim it at a word boundary (ending in …) to at most `limit` characters."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    # Escaping only ever lengthens text, so the raw prefix that fits is found by bisection.
    low, high = 0, min(len(text), limit)
    while low < high:
        mid = (low + high + 1) // 2
        if len(escape(text[:mid])) + len(ELLIPSIS) <= limit:
            low = mid
        else:
            high = mid - 1
    cut = text[:low]
    space = cut.rfind(" ")
    if space > low * 2 // 3:
        cut = cut[:space]
    return escape(cut.rstrip()) + ELLIPSIS


def fragment_link(url: str, quote: str) -> str:
    """The article URL with a text fragment (`#:~:text=`) that makes browsers scroll to and highlight the quote."""
    lines = [line.split() for line in quote.splitlines() if line.split()]
    if not lines:
        return url
    first, last = lines[0], lines[-1]
    if len(lines) == 1 and len(first) <= 2 * FRAGMENT_WORDS:
        directive = _fragment_term(" ".join(first))
    else:
        # A long quote is matched by its first and last words ("start,end"); a single start term
        # may not cross a paragraph, so the start comes from the first line and the end from the last.
        start = " ".join(first[:FRAGMENT_WORDS])
        end = " ".join(last[-FRAGMENT_WORDS:])
        directive = f"{_fragment_term(start)},{_fragment_term(end)}"
    return f"{url}{':~:' if '#' in url else '#:~:'}text={directive}"


def linkable(url: str | None) -> bool:
    """Whether a URL can go into a markdown link safely: http(s), short, no spaces, brackets or mentions."""
    if not url or len(url) > LINK_LIMIT or not url.startswith(("http://", "https://")):
        return False
    return not any(c.isspace() or c in "<>" for c in url) and escape_mentions(url) == url


def _fragment_term(text: str) -> str:
    # '-', ',' and '&' separate the parts of a text directive, so each must be percent-encoded.
    return percent_encode(text, safe="").replace("-", "%2D")


def answer_reply(answer: Answer) -> Reply:
    """The message for an answer: the answer text with [n] markers, then its sources (or nearest passages)."""
    content = fit(answer.text or "(no answer)", CONTENT_LIMIT)
    if not answer.citations:
        return Reply(content)
    return Reply(content, (citations_embed(answer.citations, declined=answer.declined,
                                           tentative=answer.tier == "tentative", sentences=answer.sentences),))


def citations_embed(citations: Sequence[Citation], *, declined: bool, tentative: bool = False,
                    sentences: Sequence[AnswerSentence] = ()) -> discord.Embed:
    """One embed listing the citations: title and line, the quote (around its answer sentence) trimmed to fit,
    a link to it."""
    if declined:
        title = "Nearest passages (these do not answer the question)"
        footer = "The articles do not seem to answer this; these passages came closest."
    elif tentative:
        title = "Closest sources"
        footer = "The articles may not say this directly. Quotes are the articles' exact words."
    else:
        title = "Sources"
        footer = "Quotes are the articles' exact words."
    embed = discord.Embed(title=title, colour=DECLINED_COLOUR if declined else ANSWER_COLOUR)
    embed.set_footer(text=footer)
    shown = list(citations)[:FIELDS_LIMIT]
    budget = EMBED_TOTAL_LIMIT - len(title) - len(footer)
    for i, citation in enumerate(shown):
        # Share what is left equally among the fields still to come; a third at most for the name.
        share = budget // (len(shown) - i)
        label = f"Passage {i + 1}:" if declined else f"[{citation.n}]"
        name = fit(f"{label} {citation.title} ({place(citation)})",
                   min(FIELD_NAME_LIMIT, max(len(label) + 4, share // 3)))
        value = _citation_value(citation, sentences, min(FIELD_VALUE_LIMIT, share - len(name)))
        embed.add_field(name=name, value=value, inline=False)
        budget -= len(name) + len(value)
    while len(embed) > EMBED_TOTAL_LIMIT and embed.fields:  # safety net; the shares above should hold
        embed.remove_field(-1)
    return embed


def _citation_value(citation: Citation, sentences: Sequence[AnswerSentence], limit: int) -> str:
    """A blockquote of the citation (around its answer sentence, if any), then a link to it when there is room."""
    link = ""
    if citation.url and linkable(citation.url):
        target = fragment_link(citation.url, citation.quote)
        if linkable(target) and len(target) + 40 <= limit // 2:
            link = f"\n[Open the article at this quote](<{target}>)"
    quote = _excerpt_quote(citation, sentences, limit - len(link))
    return (quote + link) if quote.strip("> ") else (link.strip() or ELLIPSIS)


def _excerpt_quote(citation: Citation, sentences: Sequence[AnswerSentence], limit: int) -> str:
    """The citation's excerpt as a blockquote of at most `limit` characters, its answering phrase in bold.

    Escaping lengthens text by an amount known only once it is escaped, so the excerpt is made
    smaller by what overflowed until it fits (each try at least one character smaller).
    """
    room = limit
    while room > 0:
        shown = _marked_blockquote(excerpt(citation, sentences, room))
        if len(shown) <= limit:
            return shown
        room -= len(shown) - limit
    return ""


def _marked_blockquote(shown: Excerpt) -> str:
    """An excerpt as a markdown blockquote: escaped, the answering phrases **bold**, "…" where it is cut.

    Bold may not run across lines of a blockquote, so a phrase over a line break is bolded line by line;
    whitespace at a phrase's edges stays outside the stars, where markdown would not see them as bold.
    """
    lines: list[str] = [ELLIPSIS if shown.cut_before else ""]
    for text, marked in shown.pieces():
        for i, part in enumerate(text.split("\n")):
            if i:
                lines.append("")
            if marked and part.strip():
                core = part.strip()
                lead, trail = part[:len(part) - len(part.lstrip())], part[len(part.rstrip()):]
                lines[-1] += f"{lead}**{escape(core)}**{trail}"
            else:
                lines[-1] += escape(part)
    if shown.cut_after:
        lines[-1] += ELLIPSIS
    return "\n".join("> " + line for line in lines)


def _blockquote(text: str, limit: int) -> str:
    """`text` as a markdown blockquote ("> " before each line), escaped and trimmed to `limit` characters."""
    out: list[str] = []
    used = 0
    for line in text.strip().splitlines():
        room = limit - used - len("> ") - (1 if out else 0)
        if room < 2:
            # No room for this line: mark the quote as cut, keeping within the limit.
            if out and not out[-1].endswith(ELLIPSIS):
                out[-1] = out[-1][:-1] + ELLIPSIS
            break
        piece = fit(line, room)
        out.append("> " + piece)
        used += len(out[-1]) + (1 if len(out) > 1 else 0)
        if piece != escape(line):
            break
    return "\n".join(out)


def sources_page(articles: Sequence[ArticleInfo], page: int) -> discord.Embed:
    """One page (0-based, clamped) of the indexed articles: title (linked when it has a URL) and date."""
    pages = page_count(len(articles))
    page = min(max(page, 0), pages - 1)
    shown = articles[page * SOURCES_PER_PAGE:(page + 1) * SOURCES_PER_PAGE]
    lines = [_article_line(a) for a in shown] or ["No articles are indexed yet."]
    per_line = DESCRIPTION_LIMIT // SOURCES_PER_PAGE - 1
    embed = discord.Embed(title=f"Indexed articles ({len(articles)})", colour=ANSWER_COLOUR,
                          description="\n".join(line[:per_line] for line in lines))
    embed.set_footer(text=f"Page {page + 1} of {pages}")
    return embed


def page_count(items: int) -> int:
    """How many pages of sources there are (at least one)."""
    return max(1, -(-items // SOURCES_PER_PAGE))


def _article_line(article: ArticleInfo) -> str:
    limit = DESCRIPTION_LIMIT // SOURCES_PER_PAGE - 1
    details = " · ".join(fit(x, 60) for x in (article.date, article.author) if x)
    tail = f" — {details}" if details else ""
    title = fit(article.title, 150)
    if article.url and linkable(article.url):
        linked = f"• [{title}](<{article.url}>){tail}"
        if len(linked) <= limit:
            return linked
    return f"• {title}{tail} ({fit(article.source, 100)})"


def status_embed(status: IndexStatus, uptime: dt.timedelta, summary: Summary | None = None,
                 feeds: Sequence[FeedHealth] = (), shards: Shards | None = None) -> discord.Embed:
    """The index being served, how long the bot has been up, (with the record on) the last days' answers, the
    feeds, and (when the bot is sharded) this process's shards."""
    embed = discord.Embed(title="Index status", colour=ANSWER_COLOUR)
    embed.add_field(name="Articles", value=str(status.articles))
    embed.add_field(name="Chunks", value=str(status.chunks))
    model = f"{status.model} ({status.dimension} dimensions, {status.backend})"
    embed.add_field(name="Model", value=fit(model, FIELD_VALUE_LIMIT))
    embed.add_field(name="Index built", value=_when(status.built_at))
    embed.add_field(name="Uptime", value=duration(uptime))
    if shards is not None:
        embed.add_field(name="Shards", value=shards_text(shards), inline=False)
    if summary is not None:
        embed.add_field(name=f"Last {summary.days} days",
                        value=f"{summary.answered} answered, {summary.declined} declined; "
                              f"votes: {summary.up} 👍, {summary.down} 👎", inline=False)
    if status.skipped:
        names = ", ".join(f"{s.source} ({s.reason})" for s in status.skipped)
        embed.add_field(name=f"Skipped files ({len(status.skipped)})", value=fit(names, FIELD_VALUE_LIMIT),
                        inline=False)
    failing = [h for h in feeds if h.failures]
    if feeds:
        embed.add_field(name="Feeds", value=f"{len(feeds)} followed, {len(failing)} failing")
    if failing:
        lines = [f"{h.feed.title}: failed {h.failures} time{'s' if h.failures != 1 else ''} in a row ({h.error})"
                 + (f"; next try {discord.utils.format_dt(h.retry_at, 'R')}" if h.retry_at else "") for h in failing]
        embed.add_field(name=f"Failing feeds ({len(failing)})", value=_escaped_lines(lines, FIELD_VALUE_LIMIT),
                        inline=False)
    return embed


def shards_text(shards: Shards) -> str:
    """'Here: shard 1 of 2 · this process runs 0 (41 ms), 1 (40 ms)': the shard of the question, and each
    shard of this process with its heartbeat latency."""
    def latency(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms" if math.isfinite(seconds) else "no heartbeat yet"

    runs = ", ".join(f"{shard} ({latency(seconds)})" for shard, seconds in shards.latencies) or "none connected"
    return fit(f"Here: shard {shards.here} of {shards.count} · this process runs {runs}", FIELD_VALUE_LIMIT)


def _escaped_lines(lines: Sequence[str], limit: int) -> str:
    """Lines escaped (but for <t:…> timestamps, which contain nothing to escape), as many as fit."""
    return listing([escape(line) for line in lines], limit)


def listing(lines: Sequence[str], limit: int = CONTENT_LIMIT, *, head: str = "") -> str:
    """Lines already escaped, under an optional head, as many as fit in `limit`; then how many were left out."""
    out = [head] if head else []
    for i, line in enumerate(lines):
        more = f"… and {len(lines) - i} more"
        if len("\n".join([*out, line])) + (len(more) + 1 if i < len(lines) - 1 else 0) > limit:
            out.append(more)
            break
        out.append(line)
    return "\n".join(out)[:limit]


def article_link(title: str, url: str | None) -> str:
    """An article's title, escaped, linked to its page when the URL is safe to link (no preview)."""
    name = fit(title, 200)
    return f"[{name}](<{url}>)" if linkable(url) else name


def feed_news_text(feed: FeedConfig, additions: Sequence[Addition]) -> str:
    """The one message a feed's channel gets after a poll added articles."""
    lines = [f"• {article_link(a.title, a.url)}" for a in additions]
    plural = "s" if len(additions) != 1 else ""
    return listing(lines, head=f"{len(additions)} new article{plural} from {fit(feed.title, 300)}:")


def addition_text(addition: Addition, index_error: str | None = None) -> str:
    """The /add reply: what was added (or that it was there already), and whether the index has it."""
    what = f"{article_link(addition.title, addition.url)} (`{fit(addition.source, 300)}`)"
    if addition.outcome == "present":
        return f"Already in the corpus: {what}. Nothing changed."
    if index_error is not None:
        return fit_lines([f"Added {addition.source} ({addition.title}), but the index could not be updated: "
                          f"{index_error}. An administrator's /reindex adds it once that is fixed."], CONTENT_LIMIT)
    return f"Added {what}. It is indexed: questions can be answered from it now."


def removal_text(removals: Sequence[Removal], index_error: str | None = None) -> str:
    """The /remove reply."""
    names = ", ".join(f"{r.title} ({r.source})" for r in removals)
    if index_error is not None:
        return fit(f"Removed {names}, but the index could not be updated: {index_error}. "
                   "An administrator's /reindex finishes it once that is fixed.", CONTENT_LIMIT)
    return fit(f"Removed {names}. It is no longer cited.", CONTENT_LIMIT)


def feeds_text(feeds: Sequence[FeedHealth], *, configured: Sequence[str], interval_minutes: float) -> str:
    """The /feeds list reply: each feed, where it announces, whether it came from the config, how it fares."""
    if not feeds:
        return ("No feeds are followed. Follow one with /feeds add, or list it as [[feeds]] in the bot's "
                "configuration file.")
    lines = []
    for h in feeds:
        line = f"• {escape(h.feed.title)}"
        if h.feed.title != h.feed.url:
            line += f" <{h.feed.url}>" if linkable(h.feed.url) else f" ({escape(h.feed.url)})"
        if h.feed.channel_id:
            line += f" → <#{h.feed.channel_id}>"
        if h.feed.url in configured:
            line += " (config file)"
        if h.failures:
            line += f": failing, {h.failures} time{'s' if h.failures != 1 else ''} in a row ({escape(h.error or '')})"
        elif h.last_read is not None:
            line += f": read {discord.utils.format_dt(h.last_read, 'R')}"
        lines.append(line)
    return listing(lines, head=f"Feeds followed (polled every {interval_minutes:g} min):")


def _when(built_at: str) -> str:
    """A Discord timestamp (shown in the reader's time zone) when `built_at` is ISO 8601, else the text."""
    try:
        moment = dt.datetime.fromisoformat(built_at)
    except ValueError:
        return fit(built_at, FIELD_VALUE_LIMIT) or "unknown"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return f"{discord.utils.format_dt(moment, 'f')} ({discord.utils.format_dt(moment, 'R')})"


def duration(span: dt.timedelta) -> str:
    """A short human duration: '3 d 4 h', '2 h 5 min', '40 s'."""
    seconds = int(span.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


def progress_text(progress: BuildProgress | None) -> str:
    """The reindex message while it runs."""
    if progress is None or progress.total <= 0:
        return "Reindexing the articles… (questions are still answered from the current index)"
    what = {"reading": "reading articles", "embedding": "embedding passages", "writing": "writing the index"}
    stage = what.get(progress.stage, progress.stage)
    return (f"Reindexing the articles… {stage}: {progress.done}/{progress.total} "
            "(questions are still answered from the current index)")


def report_text(report: BuildReport) -> str:
    """The reindex message when it is done: counts of added, changed, removed and skipped, then the names."""
    lines = [
        f"Reindex finished in {report.seconds:.1f} s: {len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.removed)} removed, {len(report.skipped)} skipped "
        f"({len(report.unchanged)} unchanged, {report.chunks_total} passages in the index).",
    ]
    if not report.changed_anything:
        lines.append("Nothing changed; the index was already up to date.")
    for label, names in (("Added", report.added), ("Changed", report.changed), ("Removed", report.removed)):
        if names:
            lines.append(f"{label}: " + ", ".join(names))
    if report.skipped:
        lines.append("Skipped: " + "; ".join(f"{s.source} ({s.reason})" for s in report.skipped))
    return fit_lines(lines, CONTENT_LIMIT)


def fit_lines(lines: Sequence[str], limit: int) -> str:
    """Escape and join lines, each trimmed to an equal share of what the lines before it left."""
    out: list[str] = []
    budget = limit
    for i, line in enumerate(lines):
        room = budget // (len(lines) - i)
        piece = fit(line, max(0, room - (1 if out else 0)))
        if piece:
            out.append(piece)
            budget -= len(piece) + (1 if len(out) > 1 else 0)
    return "\n".join(out)


def failure_text(action: str, message: str) -> str:
    """A plain message for an engine error the user should see."""
    return fit(f"{action}: {message}", CONTENT_LIMIT)


def help_text(name: str) -> str:
    """What a bare mention gets back."""
    return fit(
        f"Hi! Ask me about the articles I have read and I'll answer with exact quotes.\n"
        f"• Mention me with a question, like: @{name} who was released?\n"
        "• Or use /ask (add private:true to see the answer alone), /sources for the articles, /status for the index.",
        CONTENT_LIMIT,
    )


FORGOTTEN = "That answer is no longer in the record (it is older than the record keeps), so I can't do that for it."


def vote_text(up: bool, kept: bool) -> str:
    """The private reply to a vote."""
    if not kept:
        return FORGOTTEN
    if up:
        return "Thanks! Your 👍 is recorded. You can change it any time."
    return "Thanks: your 👎 is recorded, and the server's admins will see this question in /gaps. You can change it."


def more_sources_embed(citations: Sequence[Citation]) -> discord.Embed:
    """The passages after the cited ones, numbered on from them."""
    embed = citations_embed(citations, declined=False)
    embed.title = "More sources (the passages after those cited)"
    return embed


def passage_embed(citation: Citation) -> discord.Embed:
    """One cited passage in full (as much as an embed holds), with a link to it when the article has a URL."""
    title = fit(f"[{citation.n}] {citation.title} ({place(citation)})", TITLE_LIMIT)
    link = ""
    if citation.url and linkable(citation.url):
        target = fragment_link(citation.url, citation.quote)
        if linkable(target):
            link = f"\n\n[Open the article at this passage](<{target}>)"
    embed = discord.Embed(title=title, description=_blockquote(citation.quote, DESCRIPTION_LIMIT - len(link)) + link,
                          colour=ANSWER_COLOUR)
    where = f"{citation.source}, characters {citation.start}-{citation.end}"
    embed.set_footer(text=fit(f"{where}: the article's exact words.", FOOTER_LIMIT))
    return embed


def gaps_text(gaps: Sequence[Gap], days: int) -> str:
    """What the articles did not answer in the last `days` days: groups of alike questions, most asked first."""
    return fit_lines(gap_lines(gaps, days)[:30], CONTENT_LIMIT)


def thread_name(question: str) -> str:
    """A thread's name from the question it answers (Discord allows 100 characters)."""
    name = " ".join(question.split()) or "Question"
    return name if len(name) <= 90 else name[:89].rstrip() + ELLIPSIS
