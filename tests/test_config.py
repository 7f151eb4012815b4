"""Configuration: typed, validated at load, errors name the key, no token in files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.config import load_config
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
    from dataclasses import fields

    from index.config import AnswerConfig, IndexConfig

    with open(REPO / "config.example.toml", "rb") as f:
        documented = tomllib.load(f)
    # A key whose default depends on the machine is documented by a commented-out example line.
    commented = set(re.findall(r"^# (\w+) = ", (REPO / "config.example.toml").read_text("utf-8"), re.M))
    for table, cls in (("index", IndexConfig), ("answer", AnswerConfig)):
        assert set(documented[table]) | commented >= {f.name for f in fields(cls)}, table
        assert set(documented[table]) <= {f.name for f in fields(cls)}, table
    config = load_config(REPO / "config.example.toml", environ={})
    assert config.answer == AnswerConfig()
