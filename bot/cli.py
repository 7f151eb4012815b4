"""The `articlebot` command: index, add, remove, ask, show, sources, eval and run (the Discord bot).

Heavy libraries (torch, sentence-transformers, faiss) are imported only by the commands that
need them, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, TextIO

from bot.excerpt import excerpt, place
from index import LOG_FORMAT, Answer, ArticlebotError, BuildProgress, BuildReport, Config, ConfigError, load_config

if TYPE_CHECKING:
    from index import Engine

log = logging.getLogger("articlebot")

_EPILOG = """\
examples:
  articlebot index                          build or update the index of corpus/
  articlebot add https://example.com/story  fetch a page into corpus/ and index it (or add FILE)
  articlebot remove story-title.md          remove an article (by path or URL) from corpus/ and the index
  articlebot feeds sync                     add the new entries of the [[feeds]] in the config, then index
  articlebot ask "who was released?"        answer with numbered, quoted sources
  articlebot ask --json --questions q.txt   one JSON object per question, per line
  articlebot run                            start the Discord bot (token in DISCORD_TOKEN)
  articlebot ask --guild 1234 "who won?"    answer from one server's corpus ([guilds.1234] in the config)

Settings come from --config FILE (see config.example.toml), then the environment
(ARTICLEBOT_CONFIG, ARTICLEBOT_CORPUS, ARTICLEBOT_INDEX_DIR, ARTICLEBOT_MODEL, ... : the top of
config.example.toml lists them all), then flags.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="articlebot", description="Answer questions about a folder of articles, with exact quoted sources.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"articlebot {_version()}")
    _add_global_options(parser)
    # The same options again on every subcommand, so `articlebot run --config c.toml -v` works as
    # `articlebot -v --config c.toml run` does. SUPPRESS as their default there: a subcommand that
    # is not given one leaves the value given before the subcommand in place instead of resetting it.
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str, example: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=summary, epilog=f"example:\n  {example}",
                                  formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common])
        sub.add_argument("--index-dir", type=Path, metavar="DIR", help="index directory (default: data/index)")
        if name in _GUILD_COMMANDS:
            add_guild(sub)
        return sub

    index = command("index", "Build or update the index of the corpus folder (only changed articles are embedded).",
                    "articlebot index --corpus corpus/")
    index.add_argument("--corpus", type=Path, metavar="DIR", help="folder of articles (default: corpus/)")
    index.add_argument("--check", action="store_true",
                       help="verify the index's files against their checksums instead of building (exit 1 if damaged)")
    index.add_argument("--reread", action="store_true",
                       help="read every file again, even those found as they were when indexed "
                            "(index.trust_file_times)")

    add = command("add", "Add articles to the corpus folder and index them: web pages by link (fetched, their main "
                  "text kept as Markdown) or local .txt, .md, .html and .pdf files (copied).",
                  "articlebot add https://example.com/news/story.html   or   articlebot add notes/interview.md")
    add.add_argument("items", nargs="+", metavar="URL|FILE", help="links to web pages, or files to copy")
    add.add_argument("--refresh", action="store_true",
                     help="fetch links already in the corpus again and replace them when they changed")
    add.add_argument("--corpus", type=Path, metavar="DIR", help="folder of articles (default: corpus/)")

    remove = command("remove", "Remove articles from the corpus folder and the index.",
                     "articlebot remove story-title.md   or   articlebot remove https://example.com/news/story.html")
    remove.add_argument("targets", nargs="+", metavar="SOURCE|URL",
                        help="an article's path in the corpus folder, or its URL (see `articlebot sources`)")
    remove.add_argument("--corpus", type=Path, metavar="DIR", help="folder of articles (default: corpus/)")

    feeds = commands.add_parser("feeds", help="Follow RSS and Atom feeds: list them, or add their new entries now.",
                                description="Follow RSS and Atom feeds ([[feeds]] in the config, or /feeds in "
                                "Discord): list them, or add their new entries now.", parents=[common])
    feed_commands = feeds.add_subparsers(dest="feeds_command", metavar="ACTION")
    for name, summary in (("sync", "Fetch every feed once, add the pages of its new entries to the corpus folder, "
                                   "and update the index. Exits 1 when no feed could be read."),
                          ("list", "List the feeds followed, and how each fared last time.")):
        sub = feed_commands.add_parser(name, help=summary, description=summary, parents=[common])
        sub.add_argument("--index-dir", type=Path, metavar="DIR", help="index directory (default: data/index)")
        sub.add_argument("--corpus", type=Path, metavar="DIR", help="folder of articles (default: corpus/)")
        add_guild(sub)

    ask = command("ask", "Answer questions from the index, with numbered sources quoted exactly.",
                  'articlebot ask "who was released?"   or   articlebot ask --json --questions q.txt')
    ask.add_argument("question", nargs="?", help="the question (or use --questions)")
    ask.add_argument("--questions", type=Path, metavar="FILE",
                     help="file with one question per line, or JSON Lines with a 'question' field")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question, one per line")
    ask.add_argument("--top-k", type=_top_k, metavar="K", help="sources to cite, 1-20 (default from config: 3)")
    ask.add_argument("--corpus", type=Path, metavar="DIR",
                     help="folder of the articles, read to give each quote's line (default: corpus/)")

    show = command("show", "Print the text an article's citation offsets refer to (HTML, PDF: the extracted text).",
                   "articlebot show us-diplomat-visits-belarus.txt")
    show.add_argument("source", help="the article's path relative to the corpus folder")
    show.add_argument("--corpus", type=Path, metavar="DIR", help="folder of articles (default: corpus/)")
    show.add_argument("--furniture", action="store_true",
                      help="list what the passages leave out as site furniture, and why, instead of the text")

    command("sources", "List the indexed articles.", "articlebot sources")

    gaps = command("gaps", "The questions the articles did not answer well (declined, or voted down in Discord), "
                   "alike ones grouped, most asked first; read from the question record beside the index.",
                   "articlebot gaps --days 7")
    gaps.add_argument("--days", type=_days, default=30, metavar="N", help="how many days back to look (default 30)")
    gaps.add_argument("--corpus", type=Path, metavar="DIR", help="folder of articles (default: corpus/)")
    gaps.add_argument("--json", action="store_true", help="print the groups as one JSON object")

    evaluate = command("eval", "Measure answer quality against questions with gold answers, beside two baselines.",
                       "articlebot eval --corpus eval-corpus/ --questions questions.jsonl")
    evaluate.add_argument("--corpus", type=Path, metavar="DIR", required=True, action="append",
                          help="folder of the articles asked about (repeatable: all form one corpus)")
    evaluate.add_argument("--questions", type=Path, metavar="FILE", required=True, action="append",
                          help="questions in the shared eval format (repeatable)")
    evaluate.add_argument("--offtopic", type=Path, metavar="FILE",
                          help="questions the corpus cannot answer, one per line (measures declining)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    evaluate.add_argument("--limit", type=int, metavar="N", help="only the first N questions of each file")

    run = command("run", "Start the Discord bot (the token comes from the DISCORD_TOKEN environment variable).",
                  "DISCORD_TOKEN=... articlebot run --config config.toml")
    run.add_argument("--corpus", type=Path, metavar="DIR", help="folder of articles (default: corpus/)")
    # What a command line that names no command (or `feeds` without an action) is answered with.
    parser.set_defaults(show_help=parser.print_help)
    feeds.set_defaults(show_help=feeds.print_help)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, *, default: Any = None) -> None:
    """-v and --config, which every command takes, before or after its name."""
    parser.add_argument("-v", "--verbose", action="store_true", default=False if default is None else default,
                        help="log what happens, for debugging")
    parser.add_argument("--config", type=Path, metavar="FILE", default=default,
                        help="TOML configuration file (default: $ARTICLEBOT_CONFIG, else none)")


def _version() -> str:
    """The installed articlebot's version (from its package metadata), or "unknown" when run from a bare checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("articlebot")
    except PackageNotFoundError:
        return "unknown"


# The commands that act on one corpus, and so on one server's with --guild.
_GUILD_COMMANDS = ("index", "add", "remove", "ask", "show", "sources", "gaps")


def add_guild(parser: argparse.ArgumentParser) -> None:
    """--guild ID: act on that server's own corpus and index instead of the main ones."""
    parser.add_argument("--guild", type=_guild_id, metavar="ID",
                        help="act on the corpus of this Discord server ([guilds.ID] in the config; "
                             "default: the main corpus)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command is None or (args.command == "feeds" and args.feeds_command is None):
        args.show_help()  # the whole help, not argparse's one-line "arguments are required"
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format=LOG_FORMAT)
    try:
        config = load_config(args.config, overrides={"index": {
            "corpus_dir": getattr(args, "corpus", None), "index_dir": args.index_dir}})
        if getattr(args, "guild", None) is not None:
            config = guild_config(config, args.guild)
        handler = {"index": _index, "add": _add, "remove": _remove, "ask": _ask, "show": _show, "sources": _sources,
                   "eval": _eval, "run": _run, "gaps": _gaps, "feeds": _feeds}[args.command]
        return handler(config, args)
    except ArticlebotError as e:
        print(f"articlebot: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`articlebot ask ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 141


def guild_config(config: Config, guild_id: int) -> Config:
    """The configuration of a server with its own corpus; refused for one the config does not name."""
    own = config.for_guild(guild_id)
    if config.guild(guild_id) is None or own is None:
        named = ", ".join(str(g.id) for g in config.guilds) or "none"
        raise ConfigError(f"server {guild_id} has no corpus of its own: the configuration names no [guilds.{guild_id}] "
                          f"table (servers with one: {named}); without --guild the command acts on the main corpus")
    return own


def _guild_id(value: str) -> int:
    """--guild: a Discord server id, a positive whole number."""
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a server id (a number: with Developer Mode on, "
                                         "right-click the server icon → Copy Server ID)")
    return int(value)


def _engine(config: Config) -> Engine:
    """The engine of the configured index (it opens the index database, if any, on first use; close it after)."""
    from index import Engine

    return Engine.from_config(config)


def _index(config: Config, args: argparse.Namespace) -> int:
    if args.check:
        with _engine(config) as engine:
            problems = engine.store.check()
            where = engine.where
        if problems:
            print(f"articlebot: the index in {where} is damaged:", *(f"  {p}" for p in problems),
                  "run `articlebot index` to rebuild it", sep="\n", file=sys.stderr)
            return 1
        print(f"index OK: {where}")
        return 0
    if args.reread:
        config = replace(config, index=replace(config.index, trust_file_times=False))
    print_report(_rebuild(config), sys.stdout)
    return 0


def _rebuild(config: Config) -> BuildReport:
    """Bring the index up to date with the corpus, with a progress bar on a terminal."""
    progress = _ProgressBar() if sys.stderr.isatty() else None
    try:
        with _engine(config) as engine:
            return engine.rebuild(progress)
    finally:
        if progress:
            progress.close()


def _add(config: Config, args: argparse.Namespace) -> int:
    from index import IngestError, add, is_url

    changed = refused = done = 0
    said: set[str] = set()
    for item in args.items:
        try:
            addition = add(config, item, refresh=args.refresh)
        except IngestError as e:
            print(f"articlebot add: {item}: {e}", file=sys.stderr)
            refused += 1
            continue
        changed += addition.changed
        done += addition.outcome != "present"  # added, refreshed, or refreshed and found the same
        said.add(addition.source)
        title = f"{addition.source} ({addition.title})"
        print({"added": f"added: {title}" + (f" from {addition.url}" if addition.url else ""),
               "refreshed": f"refreshed: {title}",
               "unchanged": f"unchanged: {title} is the same as before",
               "present": f"already in the corpus: {item} is {title}; nothing changed"
                          + ("" if args.refresh or not is_url(item) else " (--refresh fetches it again)"),
               }[addition.outcome])
    status = _update_index(config, said) if changed else 0
    if not done and not refused:
        print("articlebot add: nothing added: " + ("it is" if len(args.items) == 1 else "they are")
              + " already in the corpus", file=sys.stderr)
    return status or (1 if refused or not done else 0)


def _remove(config: Config, args: argparse.Namespace) -> int:
    from index import IngestError, remove

    changed = refused = 0
    said: set[str] = set()
    for target in args.targets:
        try:
            removals = remove(config, target)
        except IngestError as e:
            print(f"articlebot remove: {e}", file=sys.stderr)
            refused += 1
            continue
        for removal in removals:
            print(f"removed: {removal.source} ({removal.title})")
            said.add(removal.source)
            changed += 1
    status = _update_index(config, said) if changed else 0
    return status or (1 if refused else 0)


def _feeds(config: Config, args: argparse.Namespace) -> int:
    from index.articles import feeds

    how = ("add [[feeds]] tables to the config file (see config.example.toml), or use /feeds add in Discord"
           if args.guild is None else "a server's feeds are those added there with /feeds add in Discord")
    if args.feeds_command == "list":
        followed = feeds.health(config)
        if not followed:
            print(f"no feeds are followed: {how}")
        for h in followed:
            where = f" → channel {h.feed.channel_id}" if h.feed.channel_id else ""
            line = f"{h.feed.title}{'' if h.feed.title == h.feed.url else f' ({h.feed.url})'}{where}"
            if h.failures:
                line += f": failing ({h.failures} in a row): {h.error}"
            elif h.last_read:
                line += f": last read {h.last_read.isoformat(timespec='seconds')}"
            print(line)
        return 0
    if not feeds.feeds(config):
        print(f"articlebot feeds sync: no feeds are followed: {how}", file=sys.stderr)
        return 1
    runs = feeds.sync(config)
    said: set[str] = set()
    for run in runs:
        name = run.feed.title
        if run.outcome == "failed":
            print(f"articlebot feeds sync: {name}: failed: {run.error}", file=sys.stderr)
            continue
        for addition in run.added:
            print(f"{name}: added {addition.source} ({addition.title})" + (f" from {addition.url}" if addition.url
                                                                             else ""))
            said.add(addition.source)
        for link, why in run.refused:
            print(f"articlebot feeds sync: {name}: {link} not added: {why}", file=sys.stderr)
        if not run.added:
            print(f"{name}: {'unchanged since the last sync' if run.outcome == 'unchanged' else 'nothing new'}")
    status = _update_index(config, said) if any(run.added for run in runs) else 0
    return status or (1 if all(run.outcome == "failed" for run in runs) else 0)


def _update_index(config: Config, said: set[str]) -> int:
    """Rebuild after `add` or `remove` changed the corpus; a failure says the corpus changed all the same.

    `said`: the articles the command has already listed, which the build's report does not list again.
    """
    try:
        print_report(_rebuild(config), sys.stdout, said=said)
    except ArticlebotError as e:
        print(f"articlebot: the corpus folder changed as listed, but the index could not be updated: {e}; "
              "`articlebot index` updates it once that is fixed", file=sys.stderr)
        return 2
    return 0


def print_report(report: BuildReport, out: TextIO, *, said: set[str] | frozenset[str] = frozenset()) -> None:
    """Say what a build did, naming every skipped file and why, and every changed article not in `said`."""
    for label, sources in (("added", report.added), ("changed", report.changed), ("removed", report.removed)):
        for source in sources:
            if source not in said:  # the corpus also changed by hand since the last build
                print(f"  {label}: {source}", file=out)
    for skipped in report.skipped:
        print(f"  skipped: {skipped.source} — {skipped.reason}", file=out)
    state = "index updated" if report.changed_anything else "index already up to date"
    print(f"{state}: {report.summary()}", file=out)


class _ProgressBar:
    """A tqdm bar per build stage (and eval's "asking"), on stderr, only when it is a terminal."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._stage = ""

    def __call__(self, progress: BuildProgress) -> None:
        from tqdm import tqdm

        if progress.stage != self._stage:
            self.close()
            self._stage = progress.stage
            unit = {"embedding": "chunk", "asking": "question"}.get(progress.stage, "file")
            self._bar = tqdm(total=progress.total, desc=progress.stage, unit=unit, file=sys.stderr, leave=False)
        self._bar.n = progress.done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _ask(config: Config, args: argparse.Namespace) -> int:
    if (args.question is None) == (args.questions is None):
        print("articlebot ask: give a question, or --questions FILE (not both)", file=sys.stderr)
        return 2
    questions = [args.question] if args.question is not None else read_questions(args.questions)
    if not questions:
        print(f"articlebot ask: {args.questions} holds no questions", file=sys.stderr)
        return 2
    with _engine(config) as engine:
        answers = [a if isinstance(a, str) else engine.locate(a) for a in _answer_each(engine, questions, args.top_k)]
    if config.record.enabled and config.record.cli:
        _record(config, [a for a in answers if not isinstance(a, str)], args.guild)
    for i, answer in enumerate(answers):
        if isinstance(answer, str):  # a question that could not be asked
            if args.json:
                print(_json_line({"question": questions[i], "answer": None, "abstained": True, "declined": True,
                                  "error": answer, "citations": []}))
            else:
                print(f"articlebot: {answer}", file=sys.stderr)
            continue
        if args.json:
            print(_json_line(answer.to_json()))
        else:
            if len(questions) > 1:
                print(f"Q: {answer.question}")
            print(render_answer(answer))
            if i < len(answers) - 1:
                print()
    return 0 if all(not isinstance(a, str) for a in answers) else 1


def _record(config: Config, answers: list[Answer], guild: int | None) -> None:
    """Keep the command line's questions in the question record, as the bot keeps its own ([record] cli = true)."""
    from index import Record

    record = Record(config.record_path, retention_days=config.record.retention_days)
    for answer in answers:
        record.add(answer, guild=guild)


def _top_k(value: str) -> int:
    """--top-k: a whole number of sources from 1 to 20; anything else is refused, not silently replaced."""
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= k <= 20:
        raise argparse.ArgumentTypeError(f"{k} sources cannot be cited; give 1 to 20")
    return k


# Written as \uXXXX escapes, though JSON allows them raw: U+0085, U+2028 and U+2029, which some readers
# (Python's str.splitlines, JavaScript before ES2019) take for line ends, and lone surrogates, which
# cannot be written as UTF-8 at all.
_ESCAPED = re.compile("[\u0085\u2028\u2029\ud800-\udfff]")


def _json_line(value: Any) -> str:
    """One JSON object on one line, for every reader of lines, and writable as UTF-8 whatever it holds."""
    return _ESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))


def _answer_each(engine: Any, questions: list[str], top_k: int | None) -> list[Answer | str]:
    """Answer all askable questions in one batch; a question that cannot be asked yields its reason."""
    from index import QuestionError

    reasons: dict[int, str] = {}
    for i, question in enumerate(questions):
        try:
            engine.check_question(question)
        except QuestionError as e:
            reasons[i] = str(e)
    askable = [q for i, q in enumerate(questions) if i not in reasons]
    answered = iter(engine.ask_many(askable, top_k=top_k) if askable else [])
    return [reasons[i] if i in reasons else next(answered) for i in range(len(questions))]


def read_questions(path: Path) -> list[str]:
    """Questions from a file: one per line, or JSON Lines with a 'question' field."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ArticlebotError(f"cannot read questions from {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ArticlebotError(f"cannot read questions from {path}: byte {e.start} is not UTF-8 text") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                record = json.loads(line)
                questions.append(str(record["question"]))
            except (ValueError, KeyError, TypeError):
                raise ArticlebotError(f"{path}, line {number}: a JSON line needs a \"question\" field") from None
        else:
            questions.append(line)
    return questions


# The answering phrase in a quote is set in «guillemets»: one character each side, so the quote's
# wrapping hardly moves; readable in any terminal, whatever its colours, and in a file or a pipe,
# where bold escape codes would be noise; never confused with the straight quotes around the whole
# quote; and, unlike **bold**, not markdown that a terminal leaves raw and a .md article may itself hold.
MARK_OPEN, MARK_CLOSE = "«", "»"
ELLIPSIS = "…"


def render_answer(answer: Answer, *, quote_chars: int = 300) -> str:
    """An answer for a terminal: the answer, then the numbered sources, each with its line and its quote.

    A source an answer sentence comes from shows that sentence whole, with as much of the passage
    around it as `quote_chars` leaves, the answering phrase «marked»; any other shows its opening.
    """
    lines = [answer.text, ""]
    if answer.declined and answer.citations:
        lines.append("Nearest passages (they do not answer it):")
    for c in answer.citations:
        where = f"{c.title}, {place(c)}" + (f" — {c.url}" if c.url else f" ({c.source})")
        lines.append(f"[{c.n}] {where}")
        shown = excerpt(c, answer.sentences, quote_chars, whole_sentence=True)
        quote = "".join(f"{MARK_OPEN}{text}{MARK_CLOSE}" if marked else text for text, marked in shown.pieces())
        quote = (ELLIPSIS if shown.cut_before else "") + quote + (ELLIPSIS if shown.cut_after else "")
        lines.extend(textwrap.wrap(f'"{quote}"', width=100, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines).rstrip()


def _show(config: Config, args: argparse.Namespace) -> int:
    if args.furniture:
        return _show_furniture(config, args.source)
    with _engine(config) as engine:
        text = engine.article_text(args.source)
        if engine.changed_since_indexed(args.source):
            print(f"warning: {args.source} changed since it was indexed, so the offsets of its citations may not "
                  "fit this text; run `articlebot index`", file=sys.stderr)
    sys.stdout.write(text)
    return 0


def _show_furniture(config: Config, source: str) -> int:
    from index.articles.lines import line_at

    with _engine(config) as engine:
        text, parts = engine.furniture(source)
    print(f"{source}: {len(parts)} part(s) left out of its passages as site furniture")
    for part in parts:
        score = f" {part.score:.2f}" if part.score is not None else ""
        quote = " ".join(text[part.span.start:part.span.end].split())
        print(f"line {line_at(text, part.span.start)}, {part.span.start}-{part.span.end}: {part.reason}{score}: "
              f"{quote[:100]!r}")
    return 0


def _sources(config: Config, _args: argparse.Namespace) -> int:
    with _engine(config) as engine:
        articles = engine.sources()
    for article in articles:
        extra = " · ".join(x for x in (article.date, article.url) if x)
        print(f"{article.source}: {article.title} ({article.chunks} chunks){' · ' + extra if extra else ''}")
    return 0


def _eval(config: Config, args: argparse.Namespace) -> int:
    from index.evaluate import evaluate, format_report  # the module, not index.evaluate the name

    progress = _ProgressBar() if sys.stderr.isatty() else None
    try:
        report = evaluate(config, args.corpus, args.questions, offtopic=args.offtopic, limit=args.limit,
                          progress=progress)
    finally:
        if progress:
            progress.close()
    print(_json_line(report) if args.json else format_report(report))
    return 0


def _gaps(config: Config, args: argparse.Namespace) -> int:
    from index import Record, gap_lines

    if not config.record.enabled:
        print("articlebot: the question record is turned off ([record] enabled = false); there is nothing to show",
              file=sys.stderr)
        return 1
    if config.record_path.is_file():
        with _engine(config) as engine:
            found = Record(config.record_path, retention_days=config.record.retention_days).gaps(engine.embedder,
                                                                                               args.days)
    else:  # nothing asked yet is an empty record, not an error; the engine (the model) is not even needed
        found = []
        if not args.json:
            print(f"No questions are recorded in {config.index.index_dir} yet: the bot records the questions it is "
                  "asked in Discord, and `articlebot ask` records its own with [record] cli = true.")
            return 0
    if args.json:
        print(_json_line({"days": args.days, "gaps": [
            {"questions": list(g.questions), "asked": g.asked, "declined": g.declined, "voted_down": g.voted_down,
             "last": g.last.isoformat()} for g in found]}))
    else:
        print("\n".join(gap_lines(found, args.days)))
    return 0


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {value!r}") from None
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError(f"must be from 1 to 3650 days, not {days}")
    return days


def _run(config: Config, _args: argparse.Namespace) -> int:
    token = os.environ.get("DISCORD_TOKEN", "").strip()
    if not token:
        print("articlebot run: set the DISCORD_TOKEN environment variable to your bot's token "
              "(see docs/discord.md)", file=sys.stderr)
        return 2
    from bot.app import run_bot

    return run_bot(config, token)


if __name__ == "__main__":
    sys.exit(main())
