"""One typed, frozen configuration, loaded once from TOML plus environment variables.

Every value is validated at load time, and a bad value is reported with the key that holds it.
The Discord token is deliberately *not* part of this object: it comes from the environment only.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from index.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BACKENDS = ("onnx", "onnx-int8", "torch", "torch-bf16")
DEFAULT_API_BASE_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg"
DEFAULT_USER_AGENT = "articlebot/0.1 (fetches the articles its operator adds; honours robots.txt)"
STORES = ("embedded", "postgres")


def default_model_cache() -> Path:
    """$XDG_CACHE_HOME/articlebot, or ~/.cache/articlebot."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "articlebot"


@dataclass(frozen=True)
class IndexConfig:
    """Where the articles are, where the index lives, and how it is built."""

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("data/index")
    model: str = DEFAULT_MODEL
    # How the model runs: "onnx" (onnxruntime, float32: the same vectors as torch, faster, no torch
    # at query time), "onnx-int8" (8-bit weights: faster still, cosine ~0.99 to float32), "torch"
    # (sentence-transformers, float32) or "torch-bf16" (the same in bfloat16: ~1.9x faster builds).
    backend: str = "onnx"
    # Where the ONNX backends keep the model they export from `model` (once per machine, ~110 MB).
    model_cache_dir: Path = field(default_factory=default_model_cache)
    # Word pieces per chunk, title prefix included. all-MiniLM-L6-v2 reads 256 (254 + 2 specials).
    max_tokens: int = 254
    # Paragraphs shorter than this many words are merged with their neighbour into one chunk.
    min_chunk_words: int = 40
    batch_size: int = 32
    # Files larger than this are skipped (and reported), not indexed.
    max_file_mb: float = 10.0
    # Articles that make more passages than this are skipped (and reported), not indexed.
    max_chunks_per_article: int = 2_000
    # Above this many chunks the dense index is an HNSW graph instead of exact search: exact costs
    # about 7 ms per 100k chunks per question, HNSW about 1 ms at a million (recall@10 >= 0.95).
    approximate_above: int = 50_000
    # HNSW search width: higher finds more true neighbours and costs more time (at least 50 are fetched).
    hnsw_ef_search: int = 64
    # The embedded index grows by segments (index/store/embedded/merging.py): when this many segments
    # are of about the same size (within this factor of one another), a build merges them into one.
    merge_factor: int = 10
    # No merge makes a segment of more live passages than this (rebuilding a graph that big costs
    # minutes); a full build writes one segment of any size.
    max_merged_passages: int = 500_000
    # A build does not read again a file it finds with the size and modification time it had when it
    # was indexed (and last modified over a second before): at 100,000 files, reading and hashing
    # them all took most of a build that changes one. false: read every file at every build (for
    # file systems whose modification times cannot be trusted). `articlebot index --reread` once.
    trust_file_times: bool = True
    # Leave site furniture of scraped pages (newsletter prompts, copyright lines, tickers, navigation
    # lists: index/articles/furniture.py) out of the chunks. The files are never changed either way.
    skip_furniture: bool = True
    # The bot (/reindex, /add, /remove, feeds) builds in a process of its own, started for each build
    # (1-3 s more), so that the bot keeps none of the build's memory; false: in a thread of the bot.
    build_in_subprocess: bool = True
    # Minutes a build in its own process may take before it is killed (the index served stays as it
    # was). `articlebot index` in a shell has no deadline: a first build of a large corpus belongs there.
    build_timeout_minutes: float = 60.0
    # Whether corpus_dir (the shared corpus) is visible to every Discord server, besides the servers'
    # own corpora ([guilds.<id>] tables), and to DMs; false: to none of them.
    share_corpus: bool = True
    # Not a key of the file: set in a server's own configuration (Config.for_guild) to the shared
    # corpus folder, whose articles that server's index then holds too, under SHARED_PREFIX.
    shared_corpus_dir: Path | None = None
    # Where the index lives: "embedded" (files in index_dir, one process writes and reads them) or
    # "postgres" (PostgreSQL with pgvector at database_url, shared by every bot process that names it).
    store: str = "embedded"
    # The PostgreSQL connection URL of store = "postgres" (or env ARTICLEBOT_DATABASE_URL); its
    # password never appears in reprs or logs.
    database_url: str = field(default="", repr=False)
    # Not a key of the file: which corpus of the database this configuration reads and writes, ""
    # the shared one; a server's own configuration (Config.for_guild) names it by the server's id.
    corpus_key: str = ""

    def __post_init__(self) -> None:
        _check(self.max_file_mb > 0, "index.max_file_mb", "must be more than 0")
        _check(self.max_chunks_per_article >= 1, "index.max_chunks_per_article", "must be at least 1")
        _check(16 <= self.max_tokens <= 8192, "index.max_tokens", "must be between 16 and 8192")
        _check(0 <= self.min_chunk_words <= 1000, "index.min_chunk_words", "must be between 0 and 1000")
        _check(1 <= self.batch_size <= 4096, "index.batch_size", "must be between 1 and 4096")
        _check(bool(self.model.strip()), "index.model", "must name a sentence-transformers model or path")
        _check(self.backend in BACKENDS, "index.backend", f"must be one of {', '.join(BACKENDS)}")
        _check(0 < self.build_timeout_minutes <= 10_080, "index.build_timeout_minutes",
               "must be more than 0 and at most 10080 (a week)")
        _check(self.approximate_above >= 0, "index.approximate_above", "must be 0 or more")
        _check(1 <= self.hnsw_ef_search <= 4096, "index.hnsw_ef_search", "must be between 1 and 4096")
        _check(2 <= self.merge_factor <= 1000, "index.merge_factor", "must be between 2 and 1000")
        _check(self.max_merged_passages >= 1, "index.max_merged_passages", "must be at least 1")
        _check(self.store in STORES, "index.store", f"must be one of {', '.join(STORES)}, not {self.store!r}")
        _check(self.store != "postgres" or bool(self.database_url.strip()), "index.database_url",
               "is needed with index.store = \"postgres\": a PostgreSQL connection URL such as "
               "postgresql://articlebot@db.example.org/articlebot (or set ARTICLEBOT_DATABASE_URL)")

    def __repr__(self) -> str:
        shown = (f"{f.name}={redact_url(self.database_url) if f.name == 'database_url' else getattr(self, f.name)!r}"
                 for f in fields(self))
        return f"IndexConfig({', '.join(shown)})"

    @property
    def uses_database(self) -> bool:
        """Whether the index lives in PostgreSQL (index.store = "postgres") rather than in index_dir."""
        return self.store == "postgres"


@dataclass(frozen=True)
class AnswerConfig:
    """How many sources to cite and when to decline."""

    top_k: int = 3
    # Below this relevance (0..1, see index/answering/answer.py) a question is declined instead of answered.
    min_relevance: float = 0.28
    max_question_chars: int = 500
    # The reading model (index/answering/reader.py) reads the best candidate sentences; the learned ranker
    # (index/answering/ranking.py) chooses the answer from what it read, and the confidence model says how sure
    # that answer is. false: the word-overlap scorer alone (faster, for the smallest machines).
    reader: bool = True
    # Candidate sentences the reading model reads per question (the best by the word-overlap scorer).
    reader_candidates: int = 16
    # The answer's tier by its calibrated confidence (the probability that it holds the answer):
    # at or above answer_threshold it is given as the answer; at or above tentative_threshold it is
    # given as "The articles may not say this directly. Closest: ..."; below, the question is declined.
    answer_threshold: float = 0.854
    tentative_threshold: float = 0.113

    def __post_init__(self) -> None:
        _check(1 <= self.top_k <= 20, "answer.top_k", "must be between 1 and 20")
        _check(1 <= self.reader_candidates <= 200, "answer.reader_candidates", "must be between 1 and 200")
        _check(0.0 <= self.tentative_threshold <= 1.0, "answer.tentative_threshold", "must be between 0 and 1")
        _check(self.tentative_threshold <= self.answer_threshold <= 1.0, "answer.answer_threshold",
               "must be between answer.tentative_threshold and 1")
        _check(0.0 <= self.min_relevance <= 1.0, "answer.min_relevance", "must be between 0 and 1")
        _check(1 <= self.max_question_chars <= 4000, "answer.max_question_chars", "must be between 1 and 4000")


@dataclass(frozen=True)
class DiscordConfig:
    """The Discord side: where to sync commands, who is an admin, how often people may ask."""

    guild_ids: tuple[int, ...] = ()
    admin_role_ids: tuple[int, ...] = ()
    admin_user_ids: tuple[int, ...] = ()
    cooldown_questions: int = 3
    cooldown_seconds: float = 30.0
    max_concurrent_per_guild: int = 4
    api_base_url: str = DEFAULT_API_BASE_URL
    gateway_url: str = DEFAULT_GATEWAY_URL
    guild_ready_timeout: float = 2.0
    # Seconds Discord has to answer the login (one request) before the bot gives up and says so; an
    # API that accepts the connection and never answers would otherwise hold the bot for minutes.
    login_timeout: float = 30.0
    # Answer each @mention in a new thread named from the question (keeps busy channels readable),
    # in these servers (all their channels) and these channels. Questions asked in such a thread
    # are follow-ups of the conversation there.
    thread_guild_ids: tuple[int, ...] = ()
    thread_channel_ids: tuple[int, ...] = ()
    # Sharding, for a bot in more servers than one gateway connection serves (Discord asks for it
    # from 2,500): the bot's servers are split into shard_count shards, and this process runs the
    # shards shard_ids (all of them when empty). Every process of the bot is given the same
    # shard_count and the same index; together they run every shard once. 0: not sharded.
    shard_count: int = 0
    shard_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check(self.cooldown_questions >= 1, "discord.cooldown_questions", "must be at least 1")
        _check(self.cooldown_seconds >= 0, "discord.cooldown_seconds", "must be 0 or more")
        _check(self.max_concurrent_per_guild >= 1, "discord.max_concurrent_per_guild", "must be at least 1")
        _check(self.api_base_url.startswith(("http://", "https://")), "discord.api_base_url",
               "must start with http:// or https://")
        _check(self.gateway_url.startswith(("ws://", "wss://")), "discord.gateway_url",
               "must start with ws:// or wss://")
        _check(self.guild_ready_timeout >= 0, "discord.guild_ready_timeout", "must be 0 or more")
        _check(0 < self.login_timeout <= 600, "discord.login_timeout", "must be more than 0 and at most 600")
        _check(self.shard_count >= 0, "discord.shard_count", "must be 0 (not sharded) or more")
        _check(not self.shard_ids or self.shard_count > 0, "discord.shard_ids",
               "needs discord.shard_count: how many shards all the bot's processes run together")
        for shard_id in self.shard_ids:
            _check(0 <= shard_id < self.shard_count, "discord.shard_ids",
                   f"holds {shard_id}, but with discord.shard_count = {self.shard_count} the shards are "
                   f"numbered 0 to {self.shard_count - 1}")
        _check(len(set(self.shard_ids)) == len(self.shard_ids), "discord.shard_ids",
               f"names a shard twice ({', '.join(map(str, self.shard_ids))}): each runs in one process only")

    @property
    def sharded(self) -> bool:
        """Whether the bot runs in shards (discord.shard_count is set)."""
        return self.shard_count > 0

    @property
    def shards(self) -> tuple[int, ...]:
        """The shards this process runs: shard_ids, else every shard (none when not sharded)."""
        return self.shard_ids or tuple(range(self.shard_count))

    @property
    def runs_shard_zero(self) -> bool:
        """Whether this process does the bot's once-only work (syncing the commands, polling the feeds).

        That is the process that runs shard 0 (Discord's shard for direct messages too), or the only
        process of a bot that is not sharded.
        """
        return not self.sharded or 0 in self.shards


@dataclass(frozen=True)
class FetchConfig:
    """How `articlebot add URL` fetches pages: its limits, its name, and its manners."""

    # Pages (and robots.txt files) larger than this many bytes are refused.
    max_bytes: int = 5_000_000
    # Seconds fetching one page or feed may take in all: every redirect and robots.txt included.
    timeout_seconds: float = 15.0
    # Redirects followed per page; each hop is checked like the first URL.
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    # Read each site's robots.txt and fetch nothing it disallows for this user agent.
    respect_robots: bool = True
    # Off: loopback, private, link-local (cloud metadata) and other non-public addresses are refused.
    allow_private_addresses: bool = False
    # Minutes between two polls of each feed by the running bot (a failing feed waits longer and longer).
    feed_interval_minutes: float = 30.0
    # A feed's newest entries looked at per poll; older ones are left alone (so a first sync stays small).
    feed_max_entries: int = 20

    def __post_init__(self) -> None:
        _check(1 <= self.feed_interval_minutes <= 10_080, "fetch.feed_interval_minutes",
               "must be between 1 and 10080 (a week)")
        _check(1 <= self.feed_max_entries <= 500, "fetch.feed_max_entries", "must be between 1 and 500")
        _check(1_000 <= self.max_bytes <= 1_000_000_000, "fetch.max_bytes", "must be between 1000 and 1000000000")
        _check(0 < self.timeout_seconds <= 600, "fetch.timeout_seconds", "must be more than 0 and at most 600")
        _check(0 <= self.max_redirects <= 20, "fetch.max_redirects", "must be between 0 and 20")
        _check(bool(self.user_agent.strip()) and self.user_agent.isprintable(), "fetch.user_agent",
               "must be one line of printable text")


@dataclass(frozen=True)
class FeedConfig:
    """An RSS or Atom feed whose new entries are added to the corpus (a `[[feeds]]` table)."""

    url: str
    # How the feed is called in messages; default: its URL.
    name: str = ""
    # The Discord channel told about the articles each poll adds; 0: none.
    channel_id: int = 0

    def __post_init__(self) -> None:
        _check(self.url.strip().lower().startswith(("http://", "https://")), "feeds.url",
               f"must be an http or https link, not {self.url!r}")
        _check(self.channel_id >= 0, "feeds.channel_id", "must be a channel id (or 0 for none)")

    @property
    def title(self) -> str:
        """The name said in messages."""
        return self.name.strip() or self.url


@dataclass(frozen=True)
class RecordConfig:
    """The question record kept beside the index: questions, answers or declines, and votes (index/record.py)."""

    # Off: nothing is recorded, answers carry no buttons, and /gaps and `articlebot gaps` have nothing to show.
    enabled: bool = True
    # Questions (and their votes) older than this many days are deleted.
    retention_days: int = 90
    # Also record the questions of `articlebot ask`. Off by default: on the command line they are
    # mostly the operator trying the index, and a batch (--questions) would fill /gaps with them.
    cli: bool = False

    def __post_init__(self) -> None:
        _check(1 <= self.retention_days <= 3650, "record.retention_days", "must be between 1 and 3650")


@dataclass(frozen=True)
class GuildConfig:
    """A Discord server with a corpus of its own (a `[guilds.<id>]` table)."""

    id: int
    # Its articles' folder; its index lives in <index_dir>/guilds/<id>.
    corpus: Path

    def __post_init__(self) -> None:
        _check(self.id > 0, f"guilds.{self.id}", "must be named by a server id (a positive number)")


@dataclass(frozen=True)
class Config:
    """The whole configuration; build it with `load_config`."""

    index: IndexConfig = field(default_factory=IndexConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    record: RecordConfig = field(default_factory=RecordConfig)
    feeds: tuple[FeedConfig, ...] = ()
    guilds: tuple[GuildConfig, ...] = ()

    def __post_init__(self) -> None:
        _check_separate_corpora(self.index.corpus_dir, self.guilds)

    def guild(self, guild_id: int | None) -> GuildConfig | None:
        """The server's own corpus table, or None (a DM, or a server without one)."""
        return next((g for g in self.guilds if g.id == guild_id), None) if guild_id is not None else None

    def for_guild(self, guild_id: int | None) -> Config | None:
        """The configuration questions in this server (None: a DM) are answered with; None when it has no corpus.

        A server with a [guilds.<id>] table gets its own folder and an index of its own in
        <index_dir>/guilds/<id>, holding the shared corpus's articles too (under SHARED_PREFIX) when
        index.share_corpus is on; its feeds are those added there with /feeds add. Any other server,
        and a DM, gets this configuration itself when the shared corpus is shared, else none.
        """
        own = self.guild(guild_id)
        if own is None:
            return self if self.index.share_corpus else None
        index = replace(self.index, corpus_dir=own.corpus, index_dir=self.index.index_dir / "guilds" / str(own.id),
                        shared_corpus_dir=self.index.corpus_dir if self.index.share_corpus else None,
                        corpus_key=str(own.id))
        return replace(self, index=index, feeds=(), guilds=())

    @property
    def feed_state_path(self) -> Path:
        """The feeds' state (validators, entries seen, failures, feeds added in Discord), beside the index."""
        return self.index.index_dir / "feeds.json"

    @property
    def record_path(self) -> Path:
        """The question record's SQLite file, beside the index's generations."""
        return self.index.index_dir / "record.sqlite3"


# Environment variables that override one key each: name -> (table, key).
ENVIRONMENT = {
    "ARTICLEBOT_CORPUS": ("index", "corpus_dir"),
    "ARTICLEBOT_INDEX_DIR": ("index", "index_dir"),
    "ARTICLEBOT_MODEL": ("index", "model"),
    "ARTICLEBOT_BACKEND": ("index", "backend"),
    "ARTICLEBOT_MODEL_CACHE": ("index", "model_cache_dir"),
    "ARTICLEBOT_DATABASE_URL": ("index", "database_url"),
    "ARTICLEBOT_SHARD_COUNT": ("discord", "shard_count"),
    "ARTICLEBOT_SHARD_IDS": ("discord", "shard_ids"),  # "0,1"
}

_TABLES = {"index": IndexConfig, "answer": AnswerConfig, "discord": DiscordConfig, "fetch": FetchConfig,
           "record": RecordConfig}
# Fields that are worked out, never read from the file.
_DERIVED = {"shared_corpus_dir", "corpus_key"}
_FORBIDDEN_KEYS = {"token", "discord_token", "bot_token"}
# Keys an earlier articlebot read and this one no longer needs: accepted with a warning, so that a
# configuration written for it still starts the bot.
_RETIRED = {("index", "bm25_postings_budget"): "the PostgreSQL store now reads every posting of a question's "
                                              "words in about the time the budget took; remove the key",
            ("answer", "reader_threshold"): "the learned confidence decides now: see answer.tentative_threshold",
            ("answer", "reader_min_relevance"): "the learned confidence decides now: see answer.tentative_threshold"}


def load_config(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Load the configuration: defaults, then the TOML file, then the environment, then `overrides`."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get("ARTICLEBOT_CONFIG"):
        path = Path(environ["ARTICLEBOT_CONFIG"])
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        raw = _read_toml(path)
        base = path.resolve().parent
    variables: dict[tuple[str, str], str] = {}  # the keys set from the environment, and by which variable
    for name, (table, key) in ENVIRONMENT.items():
        if environ.get(name):
            raw.setdefault(table, {})[key] = environ[name]
            variables[(table, key)] = name
    for table, values in (overrides or {}).items():
        given = {k: v for k, v in values.items() if v is not None}
        raw.setdefault(table, {}).update(given)
        for key in given:
            variables.pop((table, key), None)
    return _build(raw, base, variables)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist (copy config.example.toml to start one)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    for table, values in data.items():
        if table == "feeds":
            if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
                raise ConfigError(f"config file {path}: 'feeds' must be tables, each written [[feeds]]")
            continue
        if table == "guilds":
            if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
                raise ConfigError(f"config file {path}: 'guilds' must be tables, one per server, "
                                  "each written [guilds.<server id>]")
            continue
        if table not in _TABLES:
            raise ConfigError(f"config file {path}: unknown table [{table}] "
                              f"(known: {', '.join(_TABLES)}, feeds, guilds)")
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path}: '{table}' must be a table, like [{table}]")
        for key in values:
            if key.lower() in _FORBIDDEN_KEYS:
                raise ConfigError(
                    f"config file {path}: [{table}] {key} — the bot token must not be stored in a file; "
                    "set the DISCORD_TOKEN environment variable instead"
                )
    return data


def _build(raw: Mapping[str, Any], base: Path, variables: Mapping[tuple[str, str], str]) -> Config:
    tables = {}
    for table, cls in _TABLES.items():
        values = dict(raw.get(table, {}))
        for (retired_table, key), why in _RETIRED.items():
            if retired_table == table and values.pop(key, None) is not None:
                log.warning("[%s] %s is no longer used: %s", table, key, why)
        known = file_keys(cls)
        unknown = set(values) - set(known)
        if unknown:
            raise ConfigError(f"[{table}] has unknown key(s): {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(known)})")
        defaults = cls()
        converted = {}
        for key, value in values.items():
            converted[key] = _convert(f"{table}.{key}", value, getattr(defaults, key),
                                      variable=variables.get((table, key)))
        try:
            tables[table] = replace(defaults, **converted)
        except TypeError as e:
            raise ConfigError(f"[{table}]: {e}") from None
    index_config: IndexConfig = tables["index"]
    index_config = replace(
        index_config,
        corpus_dir=_resolve(index_config.corpus_dir, base),
        index_dir=_resolve(index_config.index_dir, base),
        model_cache_dir=_resolve(index_config.model_cache_dir, base),
    )
    guilds = _guilds(raw.get("guilds", {}), base)
    if not index_config.share_corpus and not guilds:
        raise ConfigError("index.share_corpus = false leaves every server without articles: give servers "
                          "corpora of their own in [guilds.<server id>] tables, or share the main one")
    return Config(index=index_config, answer=tables["answer"], discord=tables["discord"], fetch=tables["fetch"],
                  record=tables["record"], feeds=_feeds(raw.get("feeds", [])), guilds=guilds)


def file_keys(cls: type) -> list[str]:
    """The keys a table of the file may hold: the fields of its class, less those worked out at load."""
    return [f.name for f in fields(cls) if f.name not in _DERIVED]


def _guilds(tables: Mapping[str, Any], base: Path) -> tuple[GuildConfig, ...]:
    """The [guilds.<id>] tables, each naming its server by id and holding its corpus folder."""
    guilds = []
    for key, values in tables.items():
        where = f"[guilds.{key}]"
        if not key.isdigit() or int(key) == 0:
            raise ConfigError(f"{where}: a server is named by its id, a number (with Developer Mode on, "
                              "right-click the server icon → Copy Server ID)")
        unknown = set(values) - {"corpus"}
        if unknown:
            raise ConfigError(f"{where} has unknown key(s): {', '.join(sorted(unknown))} (known: corpus)")
        if "corpus" not in values:
            raise ConfigError(f"{where} has no corpus (the folder of this server's articles)")
        corpus = _convert(f"guilds.{key}.corpus", values["corpus"], "")
        if not corpus.strip():
            raise ConfigError(f"guilds.{key}.corpus must name a folder")
        guilds.append(GuildConfig(int(key), _resolve(Path(corpus), base)))
    return tuple(guilds)


def _check_separate_corpora(main: Path, guilds: tuple[GuildConfig, ...]) -> None:
    """Refuse corpus folders that overlap: one server's articles would show in another's answers."""
    if not guilds:
        return
    folders = [("index.corpus_dir", main.resolve())] + [(f"guilds.{g.id}.corpus", g.corpus.resolve()) for g in guilds]
    seen: set[int] = set()
    for guild in guilds:
        if guild.id in seen:
            raise ConfigError(f"[guilds.{guild.id}] is given twice")
        seen.add(guild.id)
    for n, (key, folder) in enumerate(folders):
        for other_key, other in folders[n + 1:]:
            if folder == other:
                raise ConfigError(f"{other_key} is the same folder as {key} ({folder}): each server needs a "
                                  "folder of its own (leave a server out of [guilds] to give it the main corpus)")
            if folder in other.parents or other in folder.parents:
                inner, outer = (other_key, key) if folder in other.parents else (key, other_key)
                raise ConfigError(f"{inner} lies inside {outer}: their articles would mix; give each its own "
                                  "folder, side by side")


def _feeds(tables: Any) -> tuple[FeedConfig, ...]:
    """The [[feeds]] tables, each checked, with no URL twice."""
    feeds: list[FeedConfig] = []
    known = {f.name: f for f in fields(FeedConfig)}
    for n, values in enumerate(tables, start=1):
        where = f"[[feeds]] number {n}"
        unknown = set(values) - set(known)
        if unknown:
            raise ConfigError(f"{where} has unknown key(s): {', '.join(sorted(unknown))} (known: {', '.join(known)})")
        if "url" not in values:
            raise ConfigError(f"{where} has no url")
        try:
            feed = FeedConfig(url=_convert("feeds.url", values["url"], ""),
                              name=_convert("feeds.name", values.get("name", ""), ""),
                              channel_id=_convert("feeds.channel_id", values.get("channel_id", 0), 0))
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None
        if any(f.url == feed.url for f in feeds):
            raise ConfigError(f"{where}: the feed {feed.url} is listed twice")
        feeds.append(feed)
    return tuple(feeds)


def _resolve(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base / path)


# How an environment variable may say a boolean (TOML has its own: true and false, unquoted).
_SWITCH_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
                 "off": False}


def _convert(key: str, value: Any, default: Any, *, variable: str | None = None) -> Any:
    """Coerce `value` to the type of `default`, or say which key (or environment `variable`) is wrong.

    A boolean must be one: TOML's true or false in the file, one of _SWITCH_WORDS in the
    environment. Anything else is refused rather than read as false ("treu" turned robots.txt off).
    """
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if variable is not None and isinstance(value, str) and value.strip().lower() in _SWITCH_WORDS:
            return _SWITCH_WORDS[value.strip().lower()]
        if variable is not None:
            raise ConfigError(f"{variable} = {value!r} (it sets {key}) is not a yes or no: give one of "
                              f"{', '.join(_SWITCH_WORDS)}")
        raise ConfigError(f"{key} = {value!r} is not true or false: write {key.rpartition('.')[2]} = true or "
                          f"{key.rpartition('.')[2]} = false, without quotes")
    try:
        if isinstance(default, Path):
            return Path(str(value))
        if isinstance(default, tuple):
            if isinstance(value, str):  # from the environment: "1, 2" or "1 2"
                value = value.replace(",", " ").split()
            elif isinstance(value, int):
                value = [value]
            return tuple(int(v) for v in value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(default, str):
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError):
        pass
    else:
        return value
    what = f"{variable} = {value!r} (it sets {key})" if variable is not None else f"{key} = {value!r}"
    raise ConfigError(f"{what} is not a valid {type(default).__name__}")


# A connection URL's password: postgresql://user:PASSWORD@host, ?password=PASSWORD, password=PASSWORD.
_PASSWORDS = (re.compile(r"(://[^:/@?#\s]*:)([^@/?#\s]*)(@)"), re.compile(r"([?&]password=)([^&#\s]*)()"),
              re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']+)()"))


def redact_url(url: str) -> str:
    """A connection URL with its password, if any, replaced by <redacted>: what reprs and logs may show."""
    for pattern in _PASSWORDS:
        url = pattern.sub(r"\1<redacted>\3", url)
    return url


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key} {message}")
