"""Configuration: typed, validated at load, errors name the key, no token in files."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from index.config import ENVIRONMENT, load_config
from index.errors import ConfigError
from tests.support import REPO


def test_the_example_config_loads_and_matches_the_defaults() -> None:
    config = load_config(REPO / "config.example.toml", environ={})
    assert config.index.model == "all-MiniLM-L6-v2"
    assert config.index.corpus_dir == REPO / "corpus"
    assert config.discord.api_base_url == "https://discord.com/api/v10"


@pytest.mark.parametrize(("toml", "key"), [
    ("[index]\nmax_tokens = 5\n", "index.max_tokens"),
    ("[index]\nbackend = 'cuda'\n", "index.backend"),
    ("[answer]\ntop_k = 'many'\n", "answer.top_k"),
    ("[discord]\ngateway_url = 'http://x'\n", "discord.gateway_url"),
    ("[index]\nunknown_key = 1\n", "unknown_key"),
    ("[nonsense]\na = 1\n", "nonsense"),
    ("[fetch]\nmax_bytes = 10\n", "fetch.max_bytes"),
    ("[fetch]\ntimeout_seconds = 0\n", "fetch.timeout_seconds"),
    ("[fetch]\nmax_redirects = -1\n", "fetch.max_redirects"),
    ('[fetch]\nuser_agent = "a\\nb"\n', "fetch.user_agent"),
    ("[fetch]\nproxy = 'x'\n", "proxy"),
])
def test_bad_values_are_reported_with_their_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=key):
        load_config(path, environ={})


def test_a_token_in_the_config_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[discord]\ntoken = 'abc.def.ghi'\n")
    with pytest.raises(ConfigError, match="DISCORD_TOKEN") as caught:
        load_config(path, environ={})
    assert "abc.def.ghi" not in str(caught.value)


def test_environment_overrides_the_file_and_paths_resolve_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[index]\ncorpus_dir = 'articles'\nindex_dir = 'idx'\n")
    config = load_config(path, environ={"ARTICLEBOT_INDEX_DIR": "/srv/index"})
    assert config.index.corpus_dir == tmp_path / "articles"
    assert config.index.index_dir == Path("/srv/index")


def test_the_example_config_documents_every_key_with_its_default() -> None:
    import tomllib

    from index.config import AnswerConfig, DiscordConfig, FetchConfig, IndexConfig, RecordConfig, file_keys

    with open(REPO / "config.example.toml", "rb") as f:
        documented = tomllib.load(f)
    # A key whose default depends on the machine is documented by a commented-out example line.
    commented = set(re.findall(r"^# (\w+) = ", (REPO / "config.example.toml").read_text("utf-8"), re.M))
    tables = (("index", IndexConfig), ("answer", AnswerConfig), ("discord", DiscordConfig), ("fetch", FetchConfig),
              ("record", RecordConfig))
    for table, cls in tables:
        assert set(documented[table]) | commented >= set(file_keys(cls)), table
        assert set(documented[table]) <= set(file_keys(cls)), table
    assert set(documented["discord"]) == set(file_keys(DiscordConfig)), "every [discord] key is written out"
    config = load_config(REPO / "config.example.toml", environ={})
    assert (config.answer, config.discord, config.fetch, config.record) == (
        AnswerConfig(), DiscordConfig(), FetchConfig(), RecordConfig())


def test_the_example_config_documents_feeds_and_follows_none() -> None:
    config = load_config(REPO / "config.example.toml", environ={})
    assert config.fetch.feed_interval_minutes == 30
    assert config.feeds == ()
    assert "[[feeds]]" in (REPO / "config.example.toml").read_text("utf-8")


GUILD = 123456789012345678


def test_a_server_with_its_own_corpus_gets_its_own_folder_and_index(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[index]\nshare_corpus = true\n[guilds.{GUILD}]\ncorpus = 'corpora/newsroom'\n")
    config = load_config(path, environ={})
    assert [(g.id, g.corpus) for g in config.guilds] == [(GUILD, tmp_path / "corpora" / "newsroom")]
    own = config.for_guild(GUILD)
    assert own is not None
    assert own.index.corpus_dir == tmp_path / "corpora" / "newsroom"
    assert own.index.index_dir == tmp_path / "data" / "index" / "guilds" / str(GUILD)
    assert own.index.shared_corpus_dir == tmp_path / "corpus"
    assert own.record_path.parent == own.feed_state_path.parent == own.index.index_dir
    # Any other server, and a DM, is answered from the shared corpus: today's configuration itself.
    assert config.for_guild(987654321098765432) is config
    assert config.for_guild(None) is config


def test_without_sharing_only_the_servers_with_a_corpus_have_one(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[index]\nshare_corpus = false\n[guilds.{GUILD}]\ncorpus = '/srv/newsroom'\n")
    config = load_config(path, environ={})
    own = config.for_guild(GUILD)
    assert own is not None
    assert own.index.corpus_dir == Path("/srv/newsroom")
    assert own.index.shared_corpus_dir is None
    assert config.for_guild(987654321098765432) is None
    assert config.for_guild(None) is None


def test_without_guild_tables_nothing_changes() -> None:
    config = load_config(REPO / "config.example.toml", environ={})
    assert config.guilds == ()
    assert config.index.share_corpus
    assert config.index.shared_corpus_dir is None
    assert config.for_guild(GUILD) is config


@pytest.mark.parametrize(("toml", "message"), [
    ("[guilds.newsroom]\ncorpus = 'a'\n", r"\[guilds.newsroom\]: a server is named by its id"),
    (f"[guilds.{GUILD}]\nfolder = 'a'\n", f"guilds.{GUILD}.*unknown key.*folder"),
    (f"[guilds.{GUILD}]\n", f"guilds.{GUILD}.*has no corpus"),
    (f"[guilds.{GUILD}]\ncorpus = 5\n", f"guilds.{GUILD}.corpus = 5"),
    ("guilds = 5\n", "'guilds' must be tables"),
    ("[index]\nshare_corpus = false\n", "share_corpus = false leaves every server without articles"),
    (f"[guilds.{GUILD}]\ncorpus = 'corpus'\n", f"guilds.{GUILD}.corpus is the same folder as index.corpus_dir"),
    (f"[guilds.{GUILD}]\ncorpus = 'corpus/newsroom'\n", f"guilds.{GUILD}.corpus lies inside index.corpus_dir"),
    (f"[index]\ncorpus_dir = 'corpora/shared'\n[guilds.{GUILD}]\ncorpus = 'corpora'\n",
     f"index.corpus_dir lies inside guilds.{GUILD}.corpus"),
    (f"[guilds.{GUILD}]\ncorpus = 'a'\n[guilds.2]\ncorpus = 'a/b'\n", f"guilds.2.corpus lies inside guilds.{GUILD}"),
    (f"[guilds.{GUILD}]\ncorpus = 'a'\n[guilds.2]\ncorpus = 'a'\n", "guilds.2.corpus is the same folder"),
])
def test_bad_guild_tables_are_refused_with_their_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


def test_the_worked_out_shared_folder_is_not_a_key_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[index]\nshared_corpus_dir = 'elsewhere'\n")
    with pytest.raises(ConfigError, match="unknown key.*shared_corpus_dir"):
        load_config(path, environ={})


def test_without_shard_settings_the_bot_is_not_sharded() -> None:
    config = load_config(REPO / "config.example.toml", environ={})
    assert (config.discord.shard_count, config.discord.shard_ids) == (0, ())
    assert not config.discord.sharded
    assert config.discord.runs_shard_zero


def test_shard_settings_come_from_the_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[discord]\nshard_count = 4\nshard_ids = [2, 3]\n")
    config = load_config(path, environ={})
    assert (config.discord.shard_count, config.discord.shards) == (4, (2, 3))
    assert not config.discord.runs_shard_zero
    config = load_config(path, environ={"ARTICLEBOT_SHARD_COUNT": "3", "ARTICLEBOT_SHARD_IDS": "0, 1"})
    assert (config.discord.shard_count, config.discord.shard_ids) == (3, (0, 1))
    assert config.discord.runs_shard_zero
    everything = load_config(None, environ={"ARTICLEBOT_SHARD_COUNT": "2"})
    assert everything.discord.shards == (0, 1), "without shard_ids a process runs every shard"


@pytest.mark.parametrize(("toml", "message"), [
    ("shard_ids = [0]", "discord.shard_ids needs discord.shard_count"),
    ("shard_count = 2\nshard_ids = [2]", r"discord.shard_ids holds 2, .*numbered 0 to 1"),
    ("shard_count = 2\nshard_ids = [-1]", "discord.shard_ids holds -1"),
    ("shard_count = 3\nshard_ids = [1, 1]", r"discord.shard_ids names a shard twice \(1, 1\)"),
    ("shard_count = -1", "discord.shard_count must be 0"),
    ("shard_count = 'two'", "discord.shard_count"),
])
def test_bad_shard_settings_are_refused_naming_the_keys(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[discord]\n{toml}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


def test_the_index_store_is_embedded_unless_postgres_is_named_with_a_database(tmp_path: Path) -> None:
    assert load_config(None, environ={}).index.store == "embedded"
    path = tmp_path / "config.toml"
    path.write_text("[index]\nstore = 'postgres'\ndatabase_url = 'postgresql://bot@db.example.org/articles'\n")
    index = load_config(path, environ={}).index
    assert (index.store, index.uses_database, index.database_url) == (
        "postgres", True, "postgresql://bot@db.example.org/articles")
    assert index.corpus_key == ""
    # The environment gives the URL when the file does not (and overrides it when it does).
    path.write_text("[index]\nstore = 'postgres'\n")
    url = "postgresql://bot:pw@db/articles"
    assert load_config(path, environ={"ARTICLEBOT_DATABASE_URL": url}).index.database_url == url
    with pytest.raises(ConfigError, match=r"index.database_url is needed with index.store = \"postgres\""):
        load_config(path, environ={})
    path.write_text("[index]\nstore = 'sqlite'\n")
    with pytest.raises(ConfigError, match="index.store must be one of embedded, postgres, not 'sqlite'"):
        load_config(path, environ={})


@pytest.mark.parametrize("url", [
    "postgresql://bot:s3cret-pw@db.example.org:5432/articles",
    "postgresql://bot@db.example.org/articles?sslmode=require&password=s3cret-pw",
    "host=db.example.org user=bot password=s3cret-pw dbname=articles",
    "host=db.example.org password='s3cret-pw' dbname=articles",
])
def test_the_database_password_never_shows_in_the_configuration(url: str) -> None:
    config = load_config(None, environ={"ARTICLEBOT_DATABASE_URL": url}, overrides={"index": {"store": "postgres"}})
    assert config.index.database_url == url  # the value itself is whole, for the driver
    for shown in (repr(config), repr(config.index), str(config), f"{config.index}"):
        assert "s3cret-pw" not in shown
        assert "<redacted>" in shown
        assert "db.example.org" in shown


def test_a_servers_corpus_is_a_key_of_the_same_database(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[index]\nstore = 'postgres'\ndatabase_url = 'postgresql:///articles'\n"
                    f"[guilds.{GUILD}]\ncorpus = 'corpora/newsroom'\n")
    config = load_config(path, environ={})
    own = config.for_guild(GUILD)
    assert own is not None
    assert (own.index.store, own.index.database_url, own.index.corpus_key) == (
        "postgres", "postgresql:///articles", str(GUILD))
    assert config.for_guild(None) is config
    assert config.index.corpus_key == ""
    path.write_text("[index]\ncorpus_key = '42'\n")  # worked out, never read from the file
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(path, environ={})


def test_a_retired_key_is_accepted_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[index]\nbm25_postings_budget = 8192\nhnsw_ef_search = 80\n")
    with caplog.at_level(logging.WARNING, logger="index.config"):
        config = load_config(path, environ={})
    assert config.index.hnsw_ef_search == 80
    assert "[index] bm25_postings_budget is no longer used" in caplog.text


@pytest.mark.parametrize(("toml", "key"), [
    ("[fetch]\nallow_private_addresses = \"maybe\"\n", "fetch.allow_private_addresses"),
    ("[fetch]\nrespect_robots = \"treu\"\n", "fetch.respect_robots"),
    ("[fetch]\nrespect_robots = \"false\"\n", "fetch.respect_robots"),  # a string, even one that reads right
    ("[index]\nskip_furniture = 0\n", "index.skip_furniture"),
    ("[record]\ncli = \"yes\"\n", "record.cli"),
])
def test_a_boolean_key_takes_only_true_or_false(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)} = .* is not true or false"):
        load_config(path, environ={})
    path.write_text(toml.replace(toml.split("= ")[1], "false\n"))
    table, _, name = key.partition(".")
    assert getattr(getattr(load_config(path, environ={}), table), name) is False


def test_environment_variables_are_refused_by_name_when_their_value_cannot_be_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"^ARTICLEBOT_SHARD_COUNT = 'two' \(it sets discord.shard_count\)"):
        load_config(None, environ={"ARTICLEBOT_SHARD_COUNT": "two"})
    # No variable sets a boolean today; one that did would take the usual spellings and nothing else.
    monkeypatch.setitem(ENVIRONMENT, "ARTICLEBOT_RESPECT_ROBOTS", ("fetch", "respect_robots"))
    for word, meaning in (("0", False), ("No", False), ("off", False), ("1", True), ("TRUE", True), ("yes", True)):
        config = load_config(None, environ={"ARTICLEBOT_RESPECT_ROBOTS": word})
        assert config.fetch.respect_robots is meaning, word
    with pytest.raises(ConfigError, match=r"^ARTICLEBOT_RESPECT_ROBOTS = 'treu' \(it sets fetch.respect_robots\)"):
        load_config(None, environ={"ARTICLEBOT_RESPECT_ROBOTS": "treu"})


def test_the_example_configs_header_lists_every_environment_variable_the_code_reads() -> None:
    example = (REPO / "config.example.toml").read_text("utf-8")
    header = " ".join(line.removeprefix("#").strip() for line in example.split("\n\n")[0].splitlines())
    read = {name for folder in ("index", "bot") for path in (REPO / folder).rglob("*.py")
            for name in re.findall(r"\bARTICLEBOT_[A-Z_]+\b", path.read_text("utf-8"))}
    assert {"ARTICLEBOT_CONFIG", *ENVIRONMENT} <= read  # the scan finds what it should
    assert set(re.findall(r"\bARTICLEBOT_[A-Z_]+\b", header)) == read
    assert "DISCORD_TOKEN" in header
    for name, (table, key) in ENVIRONMENT.items():  # and says which key each one sets
        assert f"{name} ({table}.{key}" in header, name
